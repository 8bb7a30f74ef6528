//! Streams a haiku: `cargo run --example haiku -- MODEL.gguf [cpu|cuda]`.
use std::io::Write;

use llama_worker::{Backend, Context, ModelOptions, SamplingParams, Status};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 2 {
        eprintln!("usage: {} MODEL.gguf [cpu|cuda]", args[0]);
        std::process::exit(2);
    }
    let on_cpu = args.get(2).map_or(false, |backend| backend == "cpu");
    if let Err(error) = run(&args[1], on_cpu) {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}

fn run(path: &str, on_cpu: bool) -> Result<(), Status> {
    let context = if on_cpu { Context::cpu()? } else { Context::cuda(0)? };
    let backend = if on_cpu { Backend::Cpu } else { Backend::Cuda };
    let model = context.load_model(path, &ModelOptions { backend, context_length: 1024, ..ModelOptions::default() })?;
    let info = model.info()?;
    eprintln!("{} ({}): {} tokens, {} positions", info.name, info.architecture, info.vocab_size, info.context_length);

    let params = SamplingParams { chat: true, ..SamplingParams::greedy(48) };
    let mut inference = model.start("Write a haiku about a GPU.", &params)?;
    let mut stdout = std::io::stdout();
    for piece in &mut inference {
        print!("{}", piece?.text);
        let _ = stdout.flush();
    }
    println!();
    let stats = inference.stats()?;
    eprintln!("prompt {} tokens, generated {} ({:?})", stats.prompt_tokens, stats.generated_tokens, stats.stop_reason);
    Ok(())
}

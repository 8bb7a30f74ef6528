//! Load, generate, stream, determinism and stats on the CPU backend (the tiny test model).
mod common;

use llama_worker::{Backend, Context, SamplingParams, StatusCode, StopReason};

fn tokens_of(model: &llama_worker::Model<'_>, prompt: &str, params: &SamplingParams) -> Vec<i32> {
    let inference = model.start(prompt, params).expect("start");
    inference.map(|piece| piece.expect("a token").token).collect()
}

#[test]
fn a_loaded_model_reports_its_shape() {
    let context = Context::cpu().unwrap();
    let model = common::load(&context);
    let info = model.info().unwrap();
    assert_eq!(info.architecture, "phi3");
    assert_eq!(info.vocab_size, 32064);
    assert_eq!(info.context_length, 256);
    assert_eq!(info.layers, 2);
    assert_eq!(info.embedding_width, 256);
    assert_eq!(info.backend, Backend::Cpu);
    assert!(info.eos_token.is_some());
}

#[test]
fn tokens_stream_until_the_limit_and_the_stats_count_them() {
    let context = Context::cpu().unwrap();
    let model = common::load(&context);
    let mut inference = model.start("Write a haiku about a GPU.", &SamplingParams::greedy(12)).unwrap();
    let mut pieces = Vec::new();
    for piece in &mut inference {
        pieces.push(piece.unwrap());
    }
    let stats = inference.stats().unwrap();
    assert!(stats.finished);
    assert_eq!(stats.generated_tokens, pieces.len() as i64);
    assert!(stats.prompt_tokens > 0);
    match stats.stop_reason {
        StopReason::TokenLimit => assert_eq!(pieces.len(), 12),
        StopReason::EndOfGeneration => assert!(pieces.len() <= 12),
        other => panic!("unexpected stop reason {other:?}"),
    }
    // After the end the iterator stays finished: no call reaches the C API's WRONG_ORDER.
    assert!(inference.next().is_none());
    assert_eq!(inference.next_piece(), Ok(None));
}

#[test]
fn greedy_generation_is_deterministic() {
    let context = Context::cpu().unwrap();
    let model = common::load(&context);
    let params = SamplingParams::greedy(8);
    let first = tokens_of(&model, "Hello", &params);
    assert_eq!(tokens_of(&model, "Hello", &params), first);
    assert!(!first.is_empty());
    // text() and the iterator give the same text, run after run.
    let mut inference = model.start("Hello", &params).unwrap();
    let whole_text = inference.text().unwrap();
    assert_eq!(inference.stats().unwrap().generated_tokens, first.len() as i64);
    drop(inference);
    let again: String = model.start("Hello", &params).unwrap().map(|piece| piece.unwrap().text).collect();
    assert_eq!(again, whole_text);
}

#[test]
fn the_same_seed_gives_the_same_tokens_and_another_seed_others() {
    let context = Context::cpu().unwrap();
    let model = common::load(&context);
    let sampled = |seed| SamplingParams { temperature: 1.0, top_k: 0, top_p: 1.0, min_p: 0.0, seed, ..SamplingParams::greedy(16) };
    let first = tokens_of(&model, "Once upon a time", &sampled(42));
    assert_eq!(first.len(), 16);
    assert_eq!(tokens_of(&model, "Once upon a time", &sampled(42)), first);
    assert_ne!(tokens_of(&model, "Once upon a time", &sampled(43)), first);
}

#[test]
fn generation_from_token_ids_works() {
    let context = Context::cpu().unwrap();
    let model = common::load(&context);
    let tokens = tokens_of(&model, "x", &SamplingParams::greedy(4));
    let from_ids = model.start_tokens(&tokens, &SamplingParams::greedy(4)).unwrap();
    let continuation: Vec<i32> = from_ids.map(|piece| piece.unwrap().token).collect();
    assert!(!continuation.is_empty());
}

#[test]
fn the_residency_check_is_unsupported_on_the_cpu_backend() {
    let context = Context::cpu().unwrap();
    let model = common::load(&context);
    let error = model.check_vram_residency().unwrap_err();
    assert_eq!(error.code(), StatusCode::Unsupported);
    assert!(!error.message().is_empty());
}

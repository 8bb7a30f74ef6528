//! Threads: cancel from another thread, inferences moved across threads, models shared between
//! threads, racing starts on one model.
mod common;

use std::sync::{mpsc, Barrier};
use std::thread;

use llama_worker::{Context, SamplingParams, StatusCode, StopReason};

#[test]
fn cancel_from_another_thread_stops_the_generation() {
    let context = Context::cpu().unwrap();
    let model = common::load(&context);
    let mut inference = model.start("Hello", &SamplingParams::greedy(200)).unwrap();
    let canceller = inference.cancel_handle();
    let (first_token, cancel_now) = mpsc::channel();
    let (cancelled, wait_for_cancel) = mpsc::channel();
    thread::scope(|scope| {
        scope.spawn(move || {
            cancel_now.recv().unwrap();
            canceller.cancel().unwrap();
            cancelled.send(()).unwrap();
        });
        assert!(inference.next().unwrap().is_ok());
        first_token.send(()).unwrap();
        wait_for_cancel.recv().unwrap();
        let error = inference.next().unwrap().unwrap_err();
        assert_eq!(error.code(), StatusCode::Cancelled);
    });
    let stats = inference.stats().unwrap();
    assert_eq!(stats.stop_reason, StopReason::Cancelled);
    assert!(stats.generated_tokens < 200);
    drop(inference);
    assert_eq!(model.start("Hello", &SamplingParams::greedy(3)).unwrap().count(), 3);
}

#[test]
fn an_inference_can_move_to_another_thread() {
    let context = Context::cpu().unwrap();
    let model = common::load(&context);
    let here: Vec<i32> = model.start("Hello", &SamplingParams::greedy(6)).unwrap().map(|p| p.unwrap().token).collect();
    let inference = model.start("Hello", &SamplingParams::greedy(6)).unwrap();
    let there = thread::scope(|scope| scope.spawn(move || inference.map(|p| p.unwrap().token).collect::<Vec<i32>>()).join().unwrap());
    assert_eq!(there, here);
}

#[test]
fn two_models_in_two_threads_match_one_thread() {
    let context = Context::cpu().unwrap();
    let params = SamplingParams { temperature: 0.7, seed: 5, ..SamplingParams::greedy(8) };
    let generate = |model: &llama_worker::Model<'_>| -> Vec<i32> { model.start("Hello", &params).unwrap().map(|p| p.unwrap().token).collect() };
    let reference = generate(&common::load(&context));
    let (first, second) = (common::load(&context), common::load(&context));
    let results = thread::scope(|scope| {
        let a = scope.spawn(|| generate(&first));
        let b = scope.spawn(|| generate(&second));
        [a.join().unwrap(), b.join().unwrap()]
    });
    assert_eq!(results, [reference.clone(), reference]);
}

#[test]
fn racing_starts_on_one_model_give_one_inference() {
    let context = Context::cpu().unwrap();
    let model = common::load(&context);
    let threads = 4;
    let barrier = Barrier::new(threads);
    let outcomes: Vec<Result<(), StatusCode>> = thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    let started = model.start("Hello", &SamplingParams::greedy(2));
                    barrier.wait(); // every thread has tried before any inference is dropped
                    started.map(|_| ()).map_err(|error| error.code())
                })
            })
            .collect();
        handles.into_iter().map(|handle| handle.join().unwrap()).collect()
    });
    assert_eq!(outcomes.iter().filter(|outcome| outcome.is_ok()).count(), 1, "{outcomes:?}");
    assert!(outcomes.iter().all(|outcome| matches!(outcome, Ok(()) | Err(StatusCode::ModelBusy))), "{outcomes:?}");
}

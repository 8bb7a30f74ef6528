//! Every error the C API documents, through the safe layer: each is a `Status` with its code and
//! the library's message, and the model serves the next request afterwards.
mod common;

use llama_worker::{Context, ModelOptions, SamplingParams, Status, StatusCode};

fn expect_code<T: std::fmt::Debug>(result: Result<T, Status>, code: StatusCode, message_part: &str) -> Status {
    let error = result.expect_err("the call must fail");
    assert_eq!(error.code(), code, "{error}");
    assert!(error.message().contains(message_part), "message {:?} lacks {message_part:?}", error.message());
    error
}

#[test]
fn a_missing_model_path_is_file_not_found() {
    let context = Context::cpu().unwrap();
    let error = expect_code(context.load_model("/no/such/model.gguf", &common::cpu_options()), StatusCode::FileNotFound, "/no/such/model.gguf");
    assert_eq!(error.code().name(), "LW_STATUS_FILE_NOT_FOUND");
    assert!(error.to_string().starts_with("LW_STATUS_FILE_NOT_FOUND: "));
}

#[test]
fn a_directory_is_not_a_model() {
    let context = Context::cpu().unwrap();
    let dir = common::temp_dir("directory");
    expect_code(context.load_model(&dir, &common::cpu_options()), StatusCode::IsDirectory, "directory");
}

#[test]
fn a_file_that_is_not_gguf_is_malformed() {
    let context = Context::cpu().unwrap();
    let path = common::temp_dir("malformed").join("not.gguf");
    std::fs::write(&path, b"this is not a GGUF file, just some bytes to be rejected...........").unwrap();
    expect_code(context.load_model(&path, &common::cpu_options()), StatusCode::MalformedFile, "");
}

#[test]
fn bad_model_options_are_invalid_arguments() {
    let context = Context::cpu().unwrap();
    let negative_threads = ModelOptions { cpu_threads: -1, ..common::cpu_options() };
    expect_code(context.load_model(common::model_path(), &negative_threads), StatusCode::InvalidArgument, "");
    let nul = "model\0.gguf";
    expect_code(context.load_model(nul, &common::cpu_options()), StatusCode::InvalidArgument, "NUL");
}

#[test]
fn a_cuda_context_needs_a_cuda_build_and_a_device() {
    match Context::cuda(0) {
        Ok(_) => {} // a CUDA build on a machine with a GPU
        Err(error) => assert!(
            matches!(error.code(), StatusCode::NotBuiltWithCuda | StatusCode::NoDevice),
            "{error}"
        ),
    }
    expect_code(Context::cuda(-2), StatusCode::InvalidArgument, "negative");
}

#[test]
fn bad_sampling_parameters_are_invalid_arguments_and_the_model_serves_the_next_request() {
    let context = Context::cpu().unwrap();
    let model = common::load(&context);
    let good = SamplingParams::greedy(4);
    let cases = [
        (SamplingParams { temperature: f32::NAN, ..good }, "temperature"),
        (SamplingParams { temperature: -1.0, ..good }, "temperature"),
        (SamplingParams { top_p: 0.0, ..good }, "top-p"),
        (SamplingParams { min_p: f32::INFINITY, ..good }, "min-p"),
        (SamplingParams { repeat_penalty: 0.0, ..good }, "penalty"),
        (SamplingParams { top_k: -1, ..good }, "top-k"),
        (SamplingParams { max_tokens: 0, ..good }, "max_tokens"),
        (SamplingParams { max_tokens: 100_000, ..good }, ""),
    ];
    for (params, name) in cases {
        expect_code(model.start("Hello", &params), StatusCode::InvalidArgument, name);
    }
    assert_eq!(model.start("Hello", &good).unwrap().count(), 4);
}

#[test]
fn bad_prompts_have_their_own_statuses() {
    let context = Context::cpu().unwrap();
    let model = common::load(&context);
    let params = SamplingParams::greedy(4);
    expect_code(model.start("", &params), StatusCode::EmptyPrompt, "");
    expect_code(model.start_bytes(b"ab\xffcd", &params), StatusCode::InvalidUtf8, "2");
    expect_code(model.start("a\0b", &params), StatusCode::InvalidArgument, "NUL");
    let vocabulary = model.info().unwrap().vocab_size as i32;
    expect_code(model.start_tokens(&[1, vocabulary], &params), StatusCode::TokenOutOfRange, &vocabulary.to_string());
    expect_code(model.start_tokens(&[1, 2], &SamplingParams { chat: true, ..params }), StatusCode::InvalidArgument, "chat");
    let long_prompt = "word ".repeat(300);
    expect_code(model.start(&long_prompt, &params), StatusCode::PromptTooLong, "");
    assert_eq!(model.start("Hello", &params).unwrap().count(), 4);
}

#[test]
fn a_model_has_one_live_inference_at_a_time() {
    let context = Context::cpu().unwrap();
    let model = common::load(&context);
    let params = SamplingParams::greedy(4);
    let first = model.start("Hello", &params).unwrap();
    expect_code(model.start("Hello", &params), StatusCode::ModelBusy, "");
    drop(first);
    assert_eq!(model.start("Hello", &params).unwrap().count(), 4);
}

#[test]
fn a_cancelled_inference_answers_cancelled_once_and_ends() {
    let context = Context::cpu().unwrap();
    let model = common::load(&context);
    let mut inference = model.start("Hello", &SamplingParams::greedy(8)).unwrap();
    assert!(inference.next().unwrap().is_ok());
    inference.cancel().unwrap();
    expect_code(inference.next().unwrap(), StatusCode::Cancelled, "");
    assert!(inference.next().is_none());
    assert_eq!(inference.stats().unwrap().stop_reason, llama_worker::StopReason::Cancelled);
}

#[test]
fn a_cancel_handle_outliving_its_inference_gets_invalid_handle() {
    let context = Context::cpu().unwrap();
    let model = common::load(&context);
    let handle = model.start("Hello", &SamplingParams::greedy(4)).unwrap().cancel_handle();
    expect_code(handle.cancel(), StatusCode::InvalidHandle, "");
}

#[test]
fn status_codes_round_trip_and_have_descriptions() {
    for raw in 1..llama_worker::sys::LW_STATUS_COUNT {
        let code = StatusCode::from_raw(raw);
        assert_eq!(code.raw(), raw);
        assert!(!matches!(code, StatusCode::Unknown(_)), "{raw} is unknown to the binding");
        assert!(code.name().starts_with("LW_STATUS_") && !code.description().is_empty());
    }
    assert_eq!(StatusCode::from_raw(999), StatusCode::Unknown(999));
    assert_eq!(StatusCode::Unknown(999).name(), "LW_STATUS_UNKNOWN");
}

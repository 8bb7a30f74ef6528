"""Every error the C API documents, through the binding: LlamaWorkerError with the status and the
library's message; the model serves the next request afterwards."""
import math

import pytest

import llama_worker
from llama_worker import Context, LlamaWorkerError, ModelOptions, SamplingParams, StatusCode, StopReason


def raises(status, call, *args, contains=""):
    with pytest.raises(LlamaWorkerError) as raised:
        call(*args)
    assert raised.value.status == status, str(raised.value)
    assert contains in raised.value.message, raised.value.message
    assert str(raised.value).startswith(status.name + ": ")
    return raised.value


def test_a_missing_model_path_is_file_not_found(context, cpu_options):
    raises(StatusCode.FILE_NOT_FOUND, context.load_model, "/no/such/model.gguf", cpu_options, contains="/no/such/model.gguf")


def test_a_directory_is_not_a_model(context, cpu_options, tmp_path):
    raises(StatusCode.IS_DIRECTORY, context.load_model, tmp_path, cpu_options)


def test_a_file_that_is_not_gguf_is_malformed(context, cpu_options, tmp_path):
    path = tmp_path / "not.gguf"
    path.write_bytes(b"this is not a GGUF file, just some bytes to be rejected..........")
    raises(StatusCode.MALFORMED_FILE, context.load_model, path, cpu_options)


def test_bad_model_options_are_invalid_arguments(context, model_path):
    raises(StatusCode.INVALID_ARGUMENT, context.load_model, model_path, ModelOptions.cpu(cpu_threads=-1))
    raises(StatusCode.INVALID_ARGUMENT, context.load_model, "model\0.gguf", ModelOptions.cpu(), contains="NUL")


def test_a_cuda_context_needs_a_cuda_build_and_a_device():
    try:
        Context.cuda(0).close()  # a CUDA build on a machine with a GPU
    except LlamaWorkerError as error:
        assert error.status in (StatusCode.NOT_BUILT_WITH_CUDA, StatusCode.NO_DEVICE), str(error)
    raises(StatusCode.INVALID_ARGUMENT, Context.cuda, -2, contains="negative")


@pytest.mark.parametrize("change, name", [
    (dict(temperature=math.nan), "temperature"),
    (dict(temperature=-1.0), "temperature"),
    (dict(top_p=0.0), "top-p"),
    (dict(min_p=math.inf), "min-p"),
    (dict(repeat_penalty=0.0), "penalty"),
    (dict(top_k=-1), "top-k"),
    (dict(max_tokens=0), "max_tokens"),
    (dict(max_tokens=100_000), ""),
])
def test_bad_sampling_parameters_are_invalid_arguments(model, change, name):
    params = SamplingParams.greedy(4)
    for key, value in change.items():
        setattr(params, key, value)
    raises(StatusCode.INVALID_ARGUMENT, model.start, "Hello", params, contains=name)
    assert len(list(model.generate("Hello", SamplingParams.greedy(4)))) == 4


def test_bad_prompts_have_their_own_statuses(model):
    params = SamplingParams.greedy(4)
    raises(StatusCode.EMPTY_PROMPT, model.start, "", params)
    raises(StatusCode.INVALID_UTF8, model.start, b"ab\xffcd", params, contains="2")
    raises(StatusCode.INVALID_ARGUMENT, model.start, "a\0b", params, contains="NUL")
    vocabulary = model.info().vocab_size
    raises(StatusCode.TOKEN_OUT_OF_RANGE, model.start_tokens, [1, vocabulary], params, contains=str(vocabulary))
    raises(StatusCode.INVALID_ARGUMENT, model.start_tokens, [1, 2], SamplingParams.greedy(4, chat=True), contains="chat")
    raises(StatusCode.PROMPT_TOO_LONG, model.start, "word " * 300, params)
    assert len(list(model.generate("Hello", params))) == 4


def test_a_model_has_one_live_inference_at_a_time(model):
    params = SamplingParams.greedy(4)
    first = model.start("Hello", params)
    raises(StatusCode.MODEL_BUSY, model.start, "Hello", params)
    first.close()
    assert len(list(model.generate("Hello", params))) == 4


def test_a_cancelled_inference_raises_cancelled_once_and_ends(model):
    with model.start("Hello", SamplingParams.greedy(8)) as inference:
        next(inference)
        inference.cancel()
        raises(StatusCode.CANCELLED, next, inference)
        assert inference.next_piece() is None
        assert inference.stats().stop_reason == StopReason.CANCELLED


def test_closing_twice_and_using_a_closed_handle_are_errors_not_crashes(context, model_path, cpu_options):
    model = context.load_model(model_path, cpu_options)
    inference = model.start("Hello", SamplingParams.greedy(2))
    model.close()  # the C API frees the model's inference with it
    model.close()  # a no-op
    raises(StatusCode.INVALID_HANDLE, inference.stats)
    inference.close()  # cuda_inference_free answers INVALID_HANDLE; close() ignores it
    raises(StatusCode.NULL_HANDLE, model.info)
    raises(StatusCode.NULL_HANDLE, inference.stats)


def test_every_status_code_has_the_librarys_name_and_description():
    assert len(StatusCode) == llama_worker._raw.LW_STATUS_COUNT
    for code in StatusCode:
        assert code.c_name == "LW_STATUS_" + code.name and code.description
    assert LlamaWorkerError(999, "x").status == 999

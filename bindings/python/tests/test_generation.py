"""Load, generate, stream, determinism and stats on the CPU backend (the tiny test model)."""
import pytest

import llama_worker
from llama_worker import Backend, SamplingParams, StatusCode, StopReason


def tokens(model, prompt, params):
    with model.start(prompt, params) as inference:
        return [piece.token for piece in inference]


def test_a_loaded_model_reports_its_shape(model):
    info = model.info()
    assert (info.architecture, info.vocab_size, info.context_length) == ("phi3", 32064, 256)
    assert (info.layers, info.embedding_width, info.backend) == (2, 256, Backend.CPU)
    assert info.eos_token is not None


def test_tokens_stream_until_the_limit_and_the_stats_count_them(model):
    with model.start("Write a haiku about a GPU.", SamplingParams.greedy(12)) as inference:
        pieces = list(inference)
        stats = inference.stats()
        assert inference.next_piece() is None  # finished: no call reaches WRONG_ORDER
    assert stats.finished and stats.generated_tokens == len(pieces) and stats.prompt_tokens > 0
    assert all(isinstance(piece.text, str) for piece in pieces)
    if stats.stop_reason == StopReason.TOKEN_LIMIT:
        assert len(pieces) == 12
    else:
        assert stats.stop_reason == StopReason.END_OF_GENERATION and len(pieces) <= 12


def test_greedy_generation_is_deterministic(model):
    params = SamplingParams.greedy(8)
    first = tokens(model, "Hello", params)
    assert first and tokens(model, "Hello", params) == first
    text = "".join(piece.text for piece in model.generate("Hello", params))
    with model.start("Hello", params) as inference:
        assert inference.text() == text


def test_the_same_seed_gives_the_same_tokens_and_another_seed_others(model):
    def sampled(seed):
        return SamplingParams(temperature=1.0, top_k=0, top_p=1.0, min_p=0.0, seed=seed, max_tokens=16)
    first = tokens(model, "Once upon a time", sampled(42))
    assert len(first) == 16
    assert tokens(model, "Once upon a time", sampled(42)) == first
    assert tokens(model, "Once upon a time", sampled(43)) != first


def test_generation_from_token_ids_works(model):
    ids = tokens(model, "x", SamplingParams.greedy(4))
    assert tokens_from_ids(model, ids)


def tokens_from_ids(model, ids):
    with model.start_tokens(ids, SamplingParams.greedy(4)) as inference:
        return [piece.token for piece in inference]


def test_the_generator_frees_its_inference_when_closed_early(model):
    generator = model.generate("Hello", SamplingParams.greedy(8))
    next(generator)
    generator.close()
    assert len(tokens(model, "Hello", SamplingParams.greedy(3))) == 3  # not MODEL_BUSY


def test_the_residency_check_is_unsupported_on_the_cpu_backend(model):
    with pytest.raises(llama_worker.LlamaWorkerError) as raised:
        model.check_vram_residency()
    assert raised.value.status == StatusCode.UNSUPPORTED and raised.value.message


def test_the_library_reports_the_bindings_api_version():
    assert llama_worker.api_version() == llama_worker._raw.LW_API_VERSION

"""Threads: cancel from another thread, two models in two threads, racing starts on one model."""
import threading

from llama_worker import LlamaWorkerError, SamplingParams, StatusCode, StopReason


def test_cancel_from_another_thread_stops_the_generation(model):
    inference = model.start("Hello", SamplingParams.greedy(200))
    first_token, cancelled = threading.Event(), threading.Event()

    def canceller():
        first_token.wait()
        inference.cancel()
        cancelled.set()

    thread = threading.Thread(target=canceller)
    thread.start()
    next(inference)
    first_token.set()
    cancelled.wait()
    thread.join()
    try:
        next(inference)
        raise AssertionError("the step after a cancel must raise")
    except LlamaWorkerError as error:
        assert error.status == StatusCode.CANCELLED
    stats = inference.stats()
    assert stats.stop_reason == StopReason.CANCELLED and stats.generated_tokens < 200
    inference.close()
    assert len(list(model.generate("Hello", SamplingParams.greedy(3)))) == 3


def test_two_models_in_two_threads_match_one_thread(context, model_path, cpu_options):
    params = SamplingParams(temperature=0.7, seed=5, max_tokens=8)

    def generate(model):
        return [piece.token for piece in model.generate("Hello", params)]

    with context.load_model(model_path, cpu_options) as model:
        reference = generate(model)
    with context.load_model(model_path, cpu_options) as first, context.load_model(model_path, cpu_options) as second:
        results = [None, None]
        threads = [threading.Thread(target=lambda i=i, m=m: results.__setitem__(i, generate(m)))
                   for i, m in enumerate((first, second))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert results == [reference, reference]


def test_racing_starts_on_one_model_give_one_inference(model):
    count = 4
    barrier = threading.Barrier(count)
    outcomes = [None] * count

    def race(index):
        barrier.wait()
        try:
            inference = model.start("Hello", SamplingParams.greedy(2))
            outcomes[index] = "started"
        except LlamaWorkerError as error:
            inference = None
            outcomes[index] = error.status
        barrier.wait()  # every thread has tried before any inference is closed
        if inference is not None:
            inference.close()

    threads = [threading.Thread(target=race, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("started") == 1, outcomes
    assert all(outcome in ("started", StatusCode.MODEL_BUSY) for outcome in outcomes), outcomes

"""Shared fixtures: the test model (CTest's `tiny_model` fixture writes it with `llama-worker
mkmodel`; bindings/python/README.md says how to make one by hand) loaded on the CPU backend."""
import os

import pytest

import llama_worker


@pytest.fixture(scope="session")
def model_path():
    path = os.environ.get("LLAMA_WORKER_TEST_MODEL")
    if not path or not os.path.isfile(path):
        pytest.skip(f"LLAMA_WORKER_TEST_MODEL ('{path}') names no file: see bindings/python/README.md")
    return path


@pytest.fixture
def cpu_options():
    """The CPU backend, 2 threads, 256 KV positions: cheap on CI's 2 cores."""
    return llama_worker.ModelOptions.cpu(cpu_threads=2, context_length=256)


@pytest.fixture
def context():
    with llama_worker.Context.cpu() as context:
        yield context


@pytest.fixture
def model(context, model_path, cpu_options):
    with context.load_model(model_path, cpu_options) as model:
        yield model

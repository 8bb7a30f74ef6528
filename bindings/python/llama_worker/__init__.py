"""llama_worker: Python bindings (ctypes, no compiled extension) of llama-worker's C API.

    from llama_worker import Context, ModelOptions, SamplingParams
    with Context.cpu() as context, context.load_model("model.gguf", ModelOptions.cpu()) as model:
        for piece in model.generate("Write a haiku about a GPU.", SamplingParams.greedy(48, chat=True)):
            print(piece.text, end="", flush=True)

Every failure raises LlamaWorkerError with .status (StatusCode) and .message. The library is
found as _library.py says (LLAMA_WORKER_LIBRARY, LLAMA_WORKER_LIB_DIR, pkg-config, the loader).
"""
from . import _raw
from .context import Context
from .errors import LlamaWorkerError, StatusCode
from .inference import Inference, Piece, Stats, StopReason
from .model import Model, ModelInfo, ResidencyReport
from .options import Backend, ModelOptions, SamplingParams

__all__ = [
    "Backend", "Context", "Inference", "LlamaWorkerError", "Model", "ModelInfo", "ModelOptions", "Piece",
    "ResidencyReport", "SamplingParams", "Stats", "StatusCode", "StopReason", "api_version",
]


def api_version():
    """cuda_api_version(): the LW_API_VERSION the library was built with."""
    from ._library import library
    return library().cuda_api_version()

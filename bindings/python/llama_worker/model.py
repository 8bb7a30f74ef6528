"""Model: a GGUF model loaded into a context; ModelInfo, ResidencyReport."""
import ctypes
import dataclasses

from . import _raw
from ._handle import OwnedHandle
from .errors import LlamaWorkerError, StatusCode, check
from .options import Backend, SamplingParams


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    vocab_size: int
    context_length: int
    layers: int
    embedding_width: int
    backend: Backend
    eos_token: int  # None when the vocabulary has none
    architecture: str
    name: str


@dataclasses.dataclass(frozen=True)
class ResidencyReport:
    device_bytes: int
    allocations: int
    non_device: int
    ok: bool
    first_violation: str


def _no_nul(data, what):
    if b"\0" in data:
        raise LlamaWorkerError(StatusCode.INVALID_ARGUMENT, f"{what} contains a NUL byte")
    return data


class Model(OwnedHandle):
    """Owns a cuda_model; close() frees it and its inference (use it as a context manager). It
    keeps its Context alive. One live inference at a time: start() answers MODEL_BUSY otherwise."""
    _kind = "model"
    _free_function = "cuda_model_free"

    def __init__(self, context, path, options):
        self._context = context
        self._lib = context._lib
        self._handle = None
        handle = ctypes.c_void_p()
        raw_options = options.to_raw()
        check(self._lib.cuda_load_model(context.handle, _no_nul(path, "the model path"), ctypes.byref(raw_options),
                                        ctypes.byref(handle)))
        self._handle = handle

    def info(self):
        raw = _raw.lw_model_info()
        check(self._lib.cuda_model_get_info(self.handle, ctypes.byref(raw)))
        return ModelInfo(raw.vocab_size, raw.context_length, raw.layers, raw.embedding_width, Backend(raw.backend),
                         raw.eos_token if raw.eos_token >= 0 else None, raw.architecture.decode(errors="replace"),
                         raw.name.decode(errors="replace"))

    def check_vram_residency(self):
        """UNSUPPORTED on the CPU backend."""
        raw = _raw.lw_residency_report()
        check(self._lib.cuda_check_vram_residency(self.handle, ctypes.byref(raw)))
        return ResidencyReport(raw.device_bytes, raw.allocations, raw.non_device, bool(raw.ok),
                               raw.first_violation.decode(errors="replace"))

    def start(self, prompt, params=None):
        """An Inference from a prompt (str, or bytes that need not be valid UTF-8)."""
        from .inference import Inference
        if isinstance(prompt, str):
            prompt = prompt.encode("utf-8", "surrogatepass")
        params = params if params is not None else SamplingParams()
        raw_params = params.to_raw()
        handle = ctypes.c_void_p()
        check(self._lib.cuda_inference_start(self.handle, _no_nul(prompt, "the prompt"), ctypes.byref(raw_params),
                                             ctypes.byref(handle)))
        return Inference(self, handle)

    def start_tokens(self, tokens, params=None):
        """An Inference from token ids (no BOS added; params.chat must be False)."""
        from .inference import Inference
        tokens = list(tokens)
        array = (ctypes.c_int32 * len(tokens))(*tokens)
        params = params if params is not None else SamplingParams()
        raw_params = params.to_raw()
        handle = ctypes.c_void_p()
        check(self._lib.cuda_inference_start_tokens(self.handle, array, len(tokens), ctypes.byref(raw_params),
                                                    ctypes.byref(handle)))
        return Inference(self, handle)

    def generate(self, prompt, params=None):
        """A generator of the Pieces of one inference, freed when the generator ends or is closed."""
        with self.start(prompt, params) as inference:
            yield from inference

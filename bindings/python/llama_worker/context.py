"""Context: one CUDA device, or the host alone (Context.cpu()) for the CPU backend."""
import ctypes
import os

from . import _library, _raw
from ._handle import OwnedHandle
from .errors import LlamaWorkerError, StatusCode, check


class Context(OwnedHandle):
    """Owns a cuda_context; close() (or leaving the with block, or garbage collection) frees it
    and, as the C API does, every model and inference in it: their handles then answer
    INVALID_HANDLE instead of crashing. Closing twice is a no-op."""
    _kind = "context"
    _free_function = "cuda_free"

    def __init__(self, device=_raw.LW_DEVICE_CPU):
        self._lib = _library.library()
        self._handle = None
        handle = ctypes.c_void_p()
        check(self._lib.cuda_init(device, ctypes.byref(handle)))
        self._handle = handle

    @classmethod
    def cpu(cls):
        return cls(_raw.LW_DEVICE_CPU)

    @classmethod
    def cuda(cls, device=0):
        """NO_DEVICE when out of range, NOT_BUILT_WITH_CUDA in a build without CUDA."""
        if device < 0:
            raise LlamaWorkerError(StatusCode.INVALID_ARGUMENT, f"device index {device} is negative")
        return cls(device)

    def load_model(self, path, options=None):
        """A Model (cuda_load_model); options default to ModelOptions()."""
        from .model import Model
        from .options import ModelOptions
        return Model(self, os.fsencode(path), options if options is not None else ModelOptions())

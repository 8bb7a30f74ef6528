"""OwnedHandle: what Context, Model and Inference share — one C handle, freed exactly once by
close(), by the end of a with-block, or by the garbage collector."""
from .errors import LlamaWorkerError, StatusCode


class OwnedHandle:
    _kind = "handle"  # named in the closed-handle error: "context", "model", "inference"
    _free_function = None  # the C function that frees this kind of handle
    _handle = None

    @property
    def handle(self):
        if self._handle is None:
            raise LlamaWorkerError(StatusCode.NULL_HANDLE, f"the {self._kind} is closed")
        return self._handle

    def close(self):
        handle, self._handle = self._handle, None
        if handle is not None:
            getattr(self._lib, self._free_function)(handle)

    def __enter__(self):
        return self

    def __exit__(self, *exception):
        self.close()

    def __del__(self):
        if getattr(self, "_handle", None) is not None:
            self.close()

"""Inference: one generation on a model, iterated token by token."""
import ctypes
import dataclasses
import enum

from . import _raw
from ._handle import OwnedHandle
from .errors import check


class StopReason(enum.IntEnum):
    NONE = _raw.LW_STOP_NONE
    END_OF_GENERATION = _raw.LW_STOP_END_OF_GENERATION
    TOKEN_LIMIT = _raw.LW_STOP_TOKEN_LIMIT
    CANCELLED = _raw.LW_STOP_CANCELLED
    FAILED = _raw.LW_STOP_FAILED


@dataclasses.dataclass(frozen=True)
class Piece:
    """One token and the text that became settled with it (possibly "": a multi-byte character
    is held back until complete; special tokens print nothing)."""
    token: int
    text: str


@dataclasses.dataclass(frozen=True)
class Stats:
    prompt_tokens: int
    generated_tokens: int
    stop_reason: StopReason
    finished: bool
    prefill_ms: float
    decode_ms: float


class Inference(OwnedHandle):
    """Owns a cuda_inference; close() frees it and its model can start another. Iterating yields
    Pieces until the end of generation or max_tokens; a failure (CANCELLED, NUMERIC_ERROR, ...)
    raises LlamaWorkerError once and ends the iteration. cancel() may be called from any thread
    while another iterates; everything else wants one thread at a time."""
    _kind = "inference"
    _free_function = "cuda_inference_free"

    def __init__(self, model, handle):
        self._model = model
        self._lib = model._lib
        self._handle = handle
        self._done = False

    def next_piece(self):
        """The next Piece, or None once finished (never reaching the C API's WRONG_ORDER)."""
        if self._done:
            return None
        token = ctypes.c_int32()
        text = ctypes.POINTER(ctypes.c_char)()
        length = ctypes.c_size_t()
        finished = ctypes.c_int32()
        status = self._lib.cuda_inference_next_token(self.handle, ctypes.byref(token), ctypes.byref(text),
                                                     ctypes.byref(length), ctypes.byref(finished))
        if status != _raw.LW_STATUS_OK:
            self._done = True
            check(status)
        self._done = bool(finished.value)
        data = ctypes.string_at(text, length.value) if length.value else b""
        return Piece(token.value, data.decode("utf-8", "replace"))

    def __iter__(self):
        return self

    def __next__(self):
        piece = self.next_piece()
        if piece is None:
            raise StopIteration
        return piece

    def text(self):
        """Everything that is left, concatenated."""
        return "".join(piece.text for piece in self)

    def cancel(self):
        """From any thread: the running or next step raises CANCELLED."""
        handle = self._handle
        if handle is not None:
            check(self._lib.cuda_inference_cancel(handle))

    def stats(self):
        raw = _raw.lw_inference_stats()
        check(self._lib.cuda_inference_get_stats(self.handle, ctypes.byref(raw)))
        return Stats(raw.prompt_tokens, raw.generated_tokens, StopReason(raw.stop_reason), bool(raw.finished),
                     raw.prefill_ms, raw.decode_ms)

"""StatusCode (the C API's lw_status) and LlamaWorkerError (a failed call: code and message)."""
import enum

from . import _library, _raw


class StatusCode(enum.IntEnum):
    OK = _raw.LW_STATUS_OK
    NULL_HANDLE = _raw.LW_STATUS_NULL_HANDLE
    INVALID_HANDLE = _raw.LW_STATUS_INVALID_HANDLE
    WRONG_ORDER = _raw.LW_STATUS_WRONG_ORDER
    INVALID_ARGUMENT = _raw.LW_STATUS_INVALID_ARGUMENT
    EMPTY_PROMPT = _raw.LW_STATUS_EMPTY_PROMPT
    INVALID_UTF8 = _raw.LW_STATUS_INVALID_UTF8
    TOKEN_OUT_OF_RANGE = _raw.LW_STATUS_TOKEN_OUT_OF_RANGE
    PROMPT_TOO_LONG = _raw.LW_STATUS_PROMPT_TOO_LONG
    FILE_NOT_FOUND = _raw.LW_STATUS_FILE_NOT_FOUND
    IS_DIRECTORY = _raw.LW_STATUS_IS_DIRECTORY
    IO_ERROR = _raw.LW_STATUS_IO_ERROR
    MALFORMED_FILE = _raw.LW_STATUS_MALFORMED_FILE
    UNSUPPORTED_ARCHITECTURE = _raw.LW_STATUS_UNSUPPORTED_ARCHITECTURE
    UNSUPPORTED = _raw.LW_STATUS_UNSUPPORTED
    OUT_OF_DEVICE_MEMORY = _raw.LW_STATUS_OUT_OF_DEVICE_MEMORY
    OUT_OF_HOST_MEMORY = _raw.LW_STATUS_OUT_OF_HOST_MEMORY
    NO_DEVICE = _raw.LW_STATUS_NO_DEVICE
    DEVICE_ERROR = _raw.LW_STATUS_DEVICE_ERROR
    DEVICE_FAILED = _raw.LW_STATUS_DEVICE_FAILED
    MODEL_BUSY = _raw.LW_STATUS_MODEL_BUSY
    CANCELLED = _raw.LW_STATUS_CANCELLED
    NOT_BUILT_WITH_CUDA = _raw.LW_STATUS_NOT_BUILT_WITH_CUDA
    NUMERIC_ERROR = _raw.LW_STATUS_NUMERIC_ERROR
    INTERNAL = _raw.LW_STATUS_INTERNAL
    INFERENCE_LIMIT = _raw.LW_STATUS_INFERENCE_LIMIT
    KV_CACHE_FULL = _raw.LW_STATUS_KV_CACHE_FULL

    @property
    def c_name(self):
        """The library's name: "LW_STATUS_INVALID_UTF8"."""
        return _library.library().cuda_status_name(self.value).decode()

    @property
    def description(self):
        """The library's one line: "the prompt is not valid UTF-8"."""
        return _library.library().cuda_status_string(self.value).decode()


class LlamaWorkerError(Exception):
    """A failed C API call: .status (StatusCode, or the raw int for a code this binding does not
    know) and .message (cuda_last_error() right after the call)."""

    def __init__(self, status, message):
        try:
            status = StatusCode(status)
        except ValueError:
            pass
        self.status = status
        self.message = message
        name = status.name if isinstance(status, StatusCode) else f"status {status}"
        super().__init__(f"{name}: {message}")


def check(status):
    """Raises LlamaWorkerError for a status other than LW_STATUS_OK, with this thread's message."""
    if status != _raw.LW_STATUS_OK:
        message = _library.library().cuda_last_error().decode("utf-8", "replace")
        raise LlamaWorkerError(status, message)

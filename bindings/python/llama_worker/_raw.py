"""The raw ctypes declarations of engine/include/llama_worker.h, one for one.

tests/test_header_sync.py parses the header and fails when a function, struct field, enum value
or constant here differs from it. Prefer the safe layer (Context, Model, Inference).
"""
import ctypes
from ctypes import POINTER, c_char, c_char_p, c_double, c_float, c_int, c_int32, c_int64, c_size_t, c_uint64, c_void_p

LW_API_VERSION = 2
LW_STATUS_COUNT = 27
LW_DEVICE_CPU = -1

# enum lw_status (a C enum: an int)
LW_STATUS_OK = 0
LW_STATUS_NULL_HANDLE = 1
LW_STATUS_INVALID_HANDLE = 2
LW_STATUS_WRONG_ORDER = 3
LW_STATUS_INVALID_ARGUMENT = 4
LW_STATUS_EMPTY_PROMPT = 5
LW_STATUS_INVALID_UTF8 = 6
LW_STATUS_TOKEN_OUT_OF_RANGE = 7
LW_STATUS_PROMPT_TOO_LONG = 8
LW_STATUS_FILE_NOT_FOUND = 9
LW_STATUS_IS_DIRECTORY = 10
LW_STATUS_IO_ERROR = 11
LW_STATUS_MALFORMED_FILE = 12
LW_STATUS_UNSUPPORTED_ARCHITECTURE = 13
LW_STATUS_UNSUPPORTED = 14
LW_STATUS_OUT_OF_DEVICE_MEMORY = 15
LW_STATUS_OUT_OF_HOST_MEMORY = 16
LW_STATUS_NO_DEVICE = 17
LW_STATUS_DEVICE_ERROR = 18
LW_STATUS_DEVICE_FAILED = 19
LW_STATUS_MODEL_BUSY = 20
LW_STATUS_CANCELLED = 21
LW_STATUS_NOT_BUILT_WITH_CUDA = 22
LW_STATUS_NUMERIC_ERROR = 23
LW_STATUS_INTERNAL = 24
LW_STATUS_INFERENCE_LIMIT = 25
LW_STATUS_KV_CACHE_FULL = 26

# enum lw_backend
LW_BACKEND_CUDA = 0
LW_BACKEND_CPU = 1

# enum lw_stop_reason
LW_STOP_NONE = 0
LW_STOP_END_OF_GENERATION = 1
LW_STOP_TOKEN_LIMIT = 2
LW_STOP_CANCELLED = 3
LW_STOP_FAILED = 4

lw_status = c_int
ENUM_TYPES = {"lw_status": lw_status, "lw_backend": c_int, "lw_stop_reason": c_int}

# Opaque handles: cuda_context*, cuda_model*, cuda_inference* are void pointers here.
HANDLE_TYPES = ("cuda_context", "cuda_model", "cuda_inference")


class lw_model_options(ctypes.Structure):
    _fields_ = [
        ("backend", c_int32),
        ("cpu_threads", c_int32),
        ("context_length", c_int64),
        ("vram_budget_bytes", c_int64),
        ("upload_chunk_bytes", c_int64),
        ("max_inferences", c_int32),
    ]


class lw_model_info(ctypes.Structure):
    _fields_ = [
        ("vocab_size", c_int64),
        ("context_length", c_int64),
        ("layers", c_int64),
        ("embedding_width", c_int64),
        ("backend", c_int32),
        ("eos_token", c_int32),
        ("architecture", c_char * 32),
        ("name", c_char * 128),
    ]


class lw_residency_report(ctypes.Structure):
    _fields_ = [
        ("device_bytes", c_int64),
        ("allocations", c_int64),
        ("non_device", c_int64),
        ("ok", c_int32),
        ("first_violation", c_char * 64),
    ]


class lw_sampling_params(ctypes.Structure):
    _fields_ = [
        ("temperature", c_float),
        ("top_k", c_int32),
        ("top_p", c_float),
        ("min_p", c_float),
        ("repeat_penalty", c_float),
        ("repeat_last_n", c_int32),
        ("seed", c_uint64),
        ("max_tokens", c_int32),
        ("chat", c_int32),
    ]


class lw_inference_stats(ctypes.Structure):
    _fields_ = [
        ("prompt_tokens", c_int64),
        ("generated_tokens", c_int64),
        ("stop_reason", c_int32),
        ("finished", c_int32),
        ("prefill_ms", c_double),
        ("decode_ms", c_double),
    ]


STRUCTS = {s.__name__: s for s in (lw_model_options, lw_model_info, lw_residency_report, lw_sampling_params, lw_inference_stats)}

# name: (restype, [argtypes])
FUNCTIONS = {
    "cuda_status_name": (c_char_p, [lw_status]),
    "cuda_status_string": (c_char_p, [lw_status]),
    "cuda_last_error": (c_char_p, []),
    "cuda_api_version": (c_int32, []),
    "cuda_init": (lw_status, [c_int32, POINTER(c_void_p)]),
    "cuda_free": (lw_status, [c_void_p]),
    "cuda_default_model_options": (lw_model_options, []),
    "cuda_load_model": (lw_status, [c_void_p, c_char_p, POINTER(lw_model_options), POINTER(c_void_p)]),
    "cuda_model_free": (lw_status, [c_void_p]),
    "cuda_model_get_info": (lw_status, [c_void_p, POINTER(lw_model_info)]),
    "cuda_check_vram_residency": (lw_status, [c_void_p, POINTER(lw_residency_report)]),
    "cuda_default_sampling_params": (lw_sampling_params, []),
    "cuda_inference_start": (lw_status, [c_void_p, c_char_p, POINTER(lw_sampling_params), POINTER(c_void_p)]),
    "cuda_inference_start_tokens": (
        lw_status, [c_void_p, POINTER(c_int32), c_size_t, POINTER(lw_sampling_params), POINTER(c_void_p)]),
    "cuda_inference_next_token": (
        lw_status, [c_void_p, POINTER(c_int32), POINTER(ctypes.POINTER(c_char)), POINTER(c_size_t), POINTER(c_int32)]),
    "cuda_inference_cancel": (lw_status, [c_void_p]),
    "cuda_inference_get_stats": (lw_status, [c_void_p, POINTER(lw_inference_stats)]),
    "cuda_inference_free": (lw_status, [c_void_p]),
}


def declare(library):
    """Sets restype and argtypes of every function of FUNCTIONS on a loaded ctypes.CDLL."""
    for name, (restype, argtypes) in FUNCTIONS.items():
        function = getattr(library, name)
        function.restype = restype
        function.argtypes = argtypes
    return library

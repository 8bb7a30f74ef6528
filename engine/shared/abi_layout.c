/* The layouts of the C API's structs, pinned: the Rust (bindings/rust/src/sys.rs) and Python
   (bindings/python/llama_worker/_raw.py) bindings mirror these structs field by field, so a
   change here must change them too (their sync tests compare the declarations with the header). */
#include <stddef.h>

#include "llama_worker.h"

_Static_assert(LW_API_VERSION == 2, "a new API version: update the bindings' declarations");
_Static_assert(sizeof(lw_model_options) == 40, "lw_model_options changed: update the bindings");
_Static_assert(offsetof(lw_model_options, max_inferences) == 32,
               "lw_model_options changed: update the bindings");
_Static_assert(sizeof(lw_model_info) == 200, "lw_model_info changed: update the bindings");
_Static_assert(offsetof(lw_model_info, name) == 72, "lw_model_info changed: update the bindings");
_Static_assert(sizeof(lw_residency_report) == 96, "lw_residency_report changed: update the bindings");
_Static_assert(sizeof(lw_sampling_params) == 40, "lw_sampling_params changed: update the bindings");
_Static_assert(offsetof(lw_sampling_params, seed) == 24, "lw_sampling_params changed: update the bindings");
_Static_assert(sizeof(lw_inference_stats) == 40, "lw_inference_stats changed: update the bindings");

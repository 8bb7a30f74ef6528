# The C API's internal helpers driven directly (status tables, error mapping, exception guard,
# device-failure helpers): branches the public-API suites cannot reach without a CUDA device.
llama_worker_add_gtest(capi_internal_tests SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tests/capi_internal_test.cpp
  LIBS llama_worker_capi llama_worker_core LABELS gate3)

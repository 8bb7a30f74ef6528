# The CLI's bad-request table (engine/capi/README.md, "Bad requests"), one test per row: each
# bad request exits 1 (2 for a usage error CLI11 rejects) with one `error:` line naming the
# problem. The models are the C API tests' (fixture capi_models): the tiny phi3 model with the
# real Phi-3 vocabulary, and the same with NaN weights.
set(cli $<TARGET_FILE:llama-worker>)
set(bad_models ${LLAMA_WORKER_CAPI_TEST_MODEL_DIR})
set(bad_generate ${cli} generate --backend cpu --threads 1 -m ${bad_models}/model.gguf)

function(cli_bad_request name)
  llama_worker_add_command_test(cli.bad_request.${name} ${ARGN} LABELS gate3)
  set_tests_properties(cli.bad_request.${name} PROPERTIES FIXTURES_REQUIRED capi_models)
endfunction()

cli_bad_request(model_missing COMMAND ${cli} generate --backend cpu -m ${bad_models}/no-such-model.gguf -p hi
  EXPECT_EXIT 1 STDERR_REGEX "^error: generate: model file '.*no-such-model.gguf' does not exist")
cli_bad_request(model_is_a_directory COMMAND ${cli} generate --backend cpu -m ${bad_models} -p hi
  EXPECT_EXIT 1 STDERR_REGEX "^error: generate: model path '.*capi_test_models' is a directory, not a GGUF file")
cli_bad_request(model_not_gguf COMMAND ${cli} generate --backend cpu -m ${bad_models}/not_gguf.gguf -p hi
  EXPECT_EXIT 1 STDERR_REGEX "^error: generate: .*not_gguf.gguf: not a GGUF file")
cli_bad_request(logits_model_is_a_directory COMMAND ${cli} logits --backend cpu -m ${bad_models} --tokens "1 2"
  --out ${CMAKE_CURRENT_BINARY_DIR}/bad-request-logits.bin
  EXPECT_EXIT 1 STDERR_REGEX "^error: logits: model path '.*' is a directory")
cli_bad_request(empty_prompt COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/tests/cli_raw_prompt.sh ${cli} ${bad_models}/model.gguf empty
  EXPECT_EXIT 1 STDERR_REGEX "^error: generate: the prompt is empty")
cli_bad_request(invalid_utf8_prompt
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/tests/cli_raw_prompt.sh ${cli} ${bad_models}/model.gguf invalid-utf8
  EXPECT_EXIT 1 STDERR_REGEX "^error: generate: invalid UTF-8 at byte offset 3")
cli_bad_request(token_id_out_of_range COMMAND ${cli} logits --backend cpu -m ${bad_models}/model.gguf
  --tokens "1 32064" --out ${CMAKE_CURRENT_BINARY_DIR}/bad-request-logits.bin
  EXPECT_EXIT 1 STDERR_REGEX "^error: logits: token id 32064 at position 1 is outside the vocabulary")
cli_bad_request(decode_token_id_out_of_range COMMAND ${cli} tokenize -m ${bad_models}/model.gguf --decode "5 -1"
  EXPECT_EXIT 1 STDERR_REGEX "^error: tokenize --decode: .*-1")
cli_bad_request(temperature_nan COMMAND ${bad_generate} -p hi --temp nan
  EXPECT_EXIT 1 STDERR_REGEX "^error: generate: temperature is NaN")
cli_bad_request(top_p_infinite COMMAND ${bad_generate} -p hi --top-p inf
  EXPECT_EXIT 1 STDERR_REGEX "^error: generate: top-p is inf")
cli_bad_request(repeat_penalty_negative COMMAND ${bad_generate} -p hi --repeat-penalty -1
  EXPECT_EXIT 1 STDERR_REGEX "^error: generate: repetition penalty is -1")
cli_bad_request(n_predict_zero COMMAND ${bad_generate} -p hi -n 0
  EXPECT_EXIT 1 STDERR_REGEX "^error: generate: -n/--n-predict is 0: it must be at least 1")
cli_bad_request(n_predict_negative COMMAND ${bad_generate} -p hi -n -3
  EXPECT_EXIT 2 STDERR_REGEX "^error: .*n-predict")
cli_bad_request(n_predict_absurd COMMAND ${bad_generate} -p hi -n 9223372036854775807
  EXPECT_EXIT 1 STDERR_REGEX "^error: generate: the prompt \\([0-9]+ tokens\\) plus 9223372036854775807 tokens to generate exceed the context of 256")
string(REPEAT "hello world " 200 long_prompt)
cli_bad_request(prompt_longer_than_the_context COMMAND ${bad_generate} -p "${long_prompt}" -n 4
  EXPECT_EXIT 1 STDERR_REGEX "^error: generate: the prompt \\([0-9]+ tokens\\) plus 4 tokens to generate exceed the context of 256")
cli_bad_request(nan_weights COMMAND ${cli} generate --backend cpu --threads 1 -m ${bad_models}/nan_weights.gguf -p hello -n 4
  EXPECT_EXIT 1 STDERR_REGEX "^error: generate: logit of token [0-9]+ is NaN: the model produced non-finite output")

# On the GPU machine (label gpu; exit 77 without a device): the same NaN model on the CUDA
# backend, and a sticky CUDA error (an LD_PRELOAD shim launches a kernel that stores to an
# invalid address after the first token is printed) makes the CLI exit 1 instead of hanging.
if(LLAMA_WORKER_HAS_CUDA)
  add_library(llama_worker_cli_fault_shim MODULE tests/fault_after_first_output.cu)
  target_link_libraries(llama_worker_cli_fault_shim PRIVATE CUDA::cudart_static ${CMAKE_DL_LIBS})
  # In bin/ so that ci/stage-gpu-build.sh carries it to the GPU machine.
  set_target_properties(llama_worker_cli_fault_shim PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
  foreach(case nan_weights sticky_fault)
    add_test(NAME gpu_cli.${case} COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/tests/cli_gpu_faults.sh ${case} ${cli}
      ${bad_models} $<TARGET_FILE:llama_worker_cli_fault_shim>)
    set_tests_properties(gpu_cli.${case} PROPERTIES LABELS "gpu;gate3" FIXTURES_REQUIRED capi_models
      SKIP_RETURN_CODE ${LLAMA_WORKER_SKIP_CODE} TIMEOUT 120 RESOURCE_LOCK llama_worker_gpu_device)
  endforeach()
endif()

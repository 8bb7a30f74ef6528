# What `generate` prints: the statistics on stderr begin on their own line after the text, also
# when both streams share one pipe. The model is the C API tests' tiny phi3 (fixture capi_models).
llama_worker_add_command_test(cli.generate.statistics_own_line
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/tests/cli_statistics_own_line.sh $<TARGET_FILE:llama-worker>
          ${LLAMA_WORKER_CAPI_TEST_MODEL_DIR}/model.gguf
  LABELS gate3)
set_tests_properties(cli.generate.statistics_own_line PROPERTIES FIXTURES_REQUIRED capi_models)

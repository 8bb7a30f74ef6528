# `bench --parallel` and `generate --parallel` (issue 17): rows and JSON, batch invariance end to
# end (each prompt of a --parallel run equals `generate -p` alone, greedy and seeded, with and
# without --chat), and the errors. The model: a tiny Phi-3-shaped file made by mkmodel.
set(cli $<TARGET_FILE:llama-worker>)
set(parallel_case ${CMAKE_CURRENT_SOURCE_DIR}/tests/cli_parallel.sh)

# Bad lists and values are refused before any model is read (x.gguf does not exist).
foreach(value 0 257 abc 1,,2 -1)
  llama_worker_add_command_test(cli.parallel.bench_rejects_${value} COMMAND ${cli} bench -m x.gguf --parallel ${value}
    EXPECT_EXIT 2 STDERR_REGEX "^error: --parallel: '[^']*' is not a stream count from 1 to 256" LABELS gate1)
endforeach()
llama_worker_add_command_test(cli.parallel.bench_rejects_depth COMMAND ${cli} bench -m x.gguf --parallel 2 -d 8
  EXPECT_EXIT 2 STDERR_REGEX "^error: -d \\(KV depth\\) is not supported with --parallel" LABELS gate1)
llama_worker_add_command_test(cli.parallel.bench_rejects_repetitions COMMAND ${cli} bench -m x.gguf --parallel 2 -r 3
  EXPECT_EXIT 2 STDERR_REGEX "^error: -r is not supported with --parallel" LABELS gate1)
llama_worker_add_command_test(cli.parallel.bench_rejects_zero_tokens COMMAND ${cli} bench -m x.gguf --parallel 2 -n 0
  EXPECT_EXIT 2 STDERR_REGEX "^error: -n: 0 is not allowed with --parallel" LABELS gate1)
foreach(value 0 257 abc)
  llama_worker_add_command_test(cli.parallel.generate_rejects_${value}
    COMMAND ${cli} generate -m x.gguf --parallel ${value} --prompts-file x.txt
    EXPECT_EXIT 2 STDERR_REGEX "^error: --parallel (must be|is too large)" LABELS gate1)
endforeach()
llama_worker_add_command_test(cli.parallel.generate_needs_prompts_file COMMAND ${cli} generate -m x.gguf --parallel 2
  EXPECT_EXIT 2 STDERR_REGEX "^error: --parallel requires --prompts-file" LABELS gate1)
llama_worker_add_command_test(cli.parallel.generate_prompt_excludes_parallel
  COMMAND ${cli} generate -m x.gguf -p hi --parallel 2 --prompts-file x.txt
  EXPECT_EXIT 2 STDERR_REGEX "^error: --prompt excludes --parallel" LABELS gate1)
llama_worker_add_command_test(cli.parallel.generate_needs_a_prompt COMMAND ${cli} generate -m x.gguf
  EXPECT_EXIT 2 STDERR_REGEX "^error: --prompt is required" LABELS gate1)

if(LLAMA_WORKER_SHARED_DATA_DIR)
  set(parallel_model ${CMAKE_CURRENT_BINARY_DIR}/parallel-phi3.gguf)
  add_test(NAME cli.parallel.model
    COMMAND ${cli} mkmodel --vocab ${LLAMA_WORKER_SHARED_DATA_DIR}/vocab/phi-3-mini-4k-instruct.vocab.gguf
            --quant Q8_0 --seed 3 --layers 2 --embd 128 --ff 256 --heads 4 --kv-heads 2 --threads 2
            -o ${parallel_model})
  set_tests_properties(cli.parallel.model PROPERTIES LABELS gate3 TIMEOUT 60 FIXTURES_SETUP cli_parallel_model)
  function(cli_parallel_case name)
    llama_worker_add_command_test(cli.parallel.${name} COMMAND ${parallel_case} ${name} ${cli} ${parallel_model}
      ${ARGN} LABELS gate3)
    set_tests_properties(cli.parallel.${name} PROPERTIES FIXTURES_REQUIRED cli_parallel_model SKIP_RETURN_CODE 77)
  endfunction()
  cli_parallel_case(bench STDOUT_REGEX "JSON: 2 parallel rows")
  cli_parallel_case(generate-greedy STDOUT_REGEX "prompt 2 equal to alone")
  cli_parallel_case(generate-seeded STDOUT_REGEX "prompt 2 equal to alone.*--chat")
  cli_parallel_case(generate-too-few-lines EXPECT_EXIT 1
    STDERR_REGEX "^error: generate: --prompts-file '.*' has 2 prompt line\\(s\\); --parallel 3 needs 3")
  cli_parallel_case(generate-empty-line EXPECT_EXIT 1
    STDERR_REGEX "^error: generate: --prompts-file '.*': line 2 is empty")
  cli_parallel_case(generate-too-long EXPECT_EXIT 1
    STDERR_REGEX "^error: generate: prompt 2: the prompt \\([0-9]+ tokens\\) plus 4 tokens to generate exceed the context of 24 positions")
endif()

# Hostile but fair use of the CLI (issue 19), one row per example of the issue: each exited with
# a signal, hung, exited 0 after losing its output, or printed an unreadable message before the
# fix. The rows that need a FIFO, /dev/full, a closed stdout, a memory limit or a file truncated
# mid-run go through tests/cli_hostile_case.sh. The table-driven contract over every subcommand
# is cli_contract.sh (the cli.contract test at the end).
set(cli $<TARGET_FILE:llama-worker>)
set(hostile_models ${LLAMA_WORKER_CAPI_TEST_MODEL_DIR})
set(hostile_model ${hostile_models}/model.gguf)
set(hostile_vocabulary ${LLAMA_WORKER_SHARED_DATA_DIR}/vocab/phi-3-mini-4k-instruct.vocab.gguf)
set(hostile_case ${CMAKE_CURRENT_SOURCE_DIR}/tests/cli_hostile_case.sh)

function(cli_hostile name)
  llama_worker_add_command_test(cli.hostile.${name} ${ARGN} LABELS gate3)
  set_tests_properties(cli.hostile.${name} PROPERTIES FIXTURES_REQUIRED capi_models SKIP_RETURN_CODE 77)
endfunction()
function(cli_hostile_case name)
  cli_hostile(${name} COMMAND ${hostile_case} ${name} ${cli} ${hostile_model} ${hostile_vocabulary} ${ARGN})
endfunction()

# Aborts: threads, absurd sizes, memory.
cli_hostile(generate_threads_100000 COMMAND ${cli} generate --backend cpu --threads 100000 -m ${hostile_model} -p hi
  EXPECT_EXIT 2 STDERR_REGEX "^error: --threads is too large: it must be from 0 to 4096 \\(got '100000'\\)")
cli_hostile(logits_threads_100000 COMMAND ${cli} logits --backend cpu --threads 100000 -m ${hostile_model}
  --tokens 1 --out ${CMAKE_CURRENT_BINARY_DIR}/hostile-logits.bin
  EXPECT_EXIT 2 STDERR_REGEX "^error: --threads is too large: it must be from 0 to 4096")
cli_hostile(bench_threads_100000 COMMAND ${cli} bench -m ${hostile_model} --backend cpu --threads 100000
  EXPECT_EXIT 2 STDERR_REGEX "^error: --threads is too large: it must be from 0 to 4096")
cli_hostile(mkmodel_threads_100000 COMMAND ${cli} mkmodel --vocab ${hostile_vocabulary} --quant Q8_0 --seed 1
  --threads 100000 -o ${CMAKE_CURRENT_BINARY_DIR}/hostile-mkmodel.gguf
  EXPECT_EXIT 2 STDERR_REGEX "^error: --threads is too large: it must be from 0 to 4096")
cli_hostile(mkmodel_absurd_embd COMMAND ${cli} mkmodel --vocab ${hostile_vocabulary} --quant Q8_0 --seed 1
  --embd 99999999999 -o ${CMAKE_CURRENT_BINARY_DIR}/hostile-mkmodel.gguf
  EXPECT_EXIT 2 STDERR_REGEX "^error: --embd is too large: it must be from 1 to 65536")
# The script checks this one itself (exit 77 when a sanitizer build cannot start under the limit).
add_test(NAME cli.hostile.cpu-load-over-memory-limit COMMAND ${hostile_case} cpu-load-over-memory-limit ${cli}
  ${hostile_model} ${hostile_vocabulary})
set_tests_properties(cli.hostile.cpu-load-over-memory-limit PROPERTIES LABELS gate3 SKIP_RETURN_CODE 77 TIMEOUT 120)

# Hangs: every subcommand checks its input is a regular file before opening it.
foreach(case inspect-fifo tokenize-fifo bench-fifo generate-fifo mkmodel-fifo)
  cli_hostile_case(${case} EXPECT_EXIT 1 STDERR_REGEX "^error: [a-z]+: [A-Za-z]+ path '.*' is not a regular file")
endforeach()
cli_hostile_case(tokenize-cases-fifo EXPECT_EXIT 1 STDERR_REGEX "^error: tokenize: cases path '.*' is not a regular file")

# Lost output: a full device, a closed stdout, a closed pipe, an unwritable --json-out.
# (generate prints its timing line on stderr before the error: the regexes are not anchored.)
foreach(command generate tokenize inspect)
  cli_hostile_case(${command}-full EXPECT_EXIT 1
    STDERR_REGEX "error: ${command}: cannot write the output to stdout: No space left on device")
  cli_hostile_case(${command}-closed EXPECT_EXIT 1
    STDERR_REGEX "error: ${command}: cannot write the output to stdout: Bad file descriptor")
endforeach()
cli_hostile_case(inspect-closed-pipe EXPECT_EXIT 1 STDERR_REGEX "^error: inspect: cannot write the output to stdout")
cli_hostile_case(bench-json-out-unwritable EXPECT_EXIT 1
  STDERR_REGEX "^error: bench: cannot write --json-out '.*': the directory '.*' does not exist")
cli_hostile(logits_out_unwritable COMMAND ${cli} logits --backend cpu -m ${hostile_model} --tokens "1 2"
  --out ${CMAKE_CURRENT_BINARY_DIR}/no-such-directory/logits.bin
  EXPECT_EXIT 1 STDERR_REGEX "^error: logits: cannot write --out '.*': the directory '.*' does not exist")

# A model file truncated while generate runs: the CPU backend copied what it needs at load. The
# CUDA row proves the same of the upload on the GPU machine (label gpu; SKIPPED without a device).
cli_hostile_case(truncated-while-generating-cpu STDERR_REGEX "generated [0-9]+ tokens")
add_test(NAME gpu_cli.truncated_while_generating_cuda
  COMMAND ${hostile_case} truncated-while-generating-cuda ${cli} ${hostile_model} ${hostile_vocabulary})
set_tests_properties(gpu_cli.truncated_while_generating_cuda PROPERTIES LABELS "gpu;gate3" SKIP_RETURN_CODE 77
  TIMEOUT 120 RESOURCE_LOCK llama_worker_gpu_device)

# Numbers: negatives and overflow are usage errors in plain words.
cli_hostile(seed_negative COMMAND ${cli} generate --backend cpu -m ${hostile_model} -p hi --seed -5
  EXPECT_EXIT 2 STDERR_REGEX "^error: --seed must be 0 or more \\(got '-5'\\)")
cli_hostile(seed_overflow COMMAND ${cli} generate --backend cpu -m ${hostile_model} -p hi --seed 99999999999999999999999
  EXPECT_EXIT 2 STDERR_REGEX "^error: --seed is too large: it must be 0 or more \\(got '99999999999999999999999'\\)")
cli_hostile(array_items_negative COMMAND ${cli} inspect ${hostile_model} --array-items -1
  EXPECT_EXIT 2 STDERR_REGEX "^error: --array-items must be 0 or more \\(got '-1'\\)")
cli_hostile(vram_budget_negative COMMAND ${cli} generate --backend cpu -m ${hostile_model} -p hi --vram-budget -1
  EXPECT_EXIT 2 STDERR_REGEX "^error: --vram-budget: must be a number 0 or more \\(got '-1'\\)")
cli_hostile(ctx_negative COMMAND ${cli} generate --backend cpu -m ${hostile_model} -p hi --ctx -1
  EXPECT_EXIT 2 STDERR_REGEX "^error: --ctx must be 0 or more \\(got '-1'\\)")

# Messages.
cli_hostile_case(generate-empty-model EXPECT_EXIT 1 STDERR_REGEX "^error: generate: -m/--model is empty")
cli_hostile(decode_quotes_what_was_typed COMMAND ${cli} tokenize -m ${hostile_model} --decode "5 12abc"
  EXPECT_EXIT 1 STDERR_REGEX "^error: tokenize: --decode: '12abc' is not a token id")
cli_hostile(bench_default_backend_is_auto COMMAND ${cli} bench --help STDOUT_REGEX "--backend TEXT:{auto,cpu,cuda}=auto")
if(NOT LLAMA_WORKER_HAS_CUDA)
  cli_hostile(cuda_backend_without_cuda COMMAND ${cli} generate --backend cuda -m ${hostile_model} -p hi
    EXPECT_EXIT 1 STDERR_REGEX "^error: generate: backend 'cuda' is not available: llama-worker was built without CUDA")
endif()

# The contract over every subcommand and a generated list of hostile arguments (cli_contract.sh).
add_test(NAME cli.contract COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/tests/cli_contract.sh ${cli} ${hostile_model}
  ${hostile_vocabulary})
set_tests_properties(cli.contract PROPERTIES LABELS gate3 FIXTURES_REQUIRED capi_models TIMEOUT 900)

# `llama-worker inspect` contract (llama_worker_add_command_test, label gate1): every shared
# vocabulary file is shown with its README metadata, in text and JSON; every file of the
# malformed corpus gives exit status 1 and one "error: FILE: problem" line naming that file.
# (Regexes use '.' for a '[' that has no ']' after it: an unbalanced '[' changes how CMake splits
# the argument list.)
set(cli $<TARGET_FILE:llama-worker>)

if(LLAMA_WORKER_SHARED_DATA_DIR)
  set(vocab ${LLAMA_WORKER_SHARED_DATA_DIR}/vocab)
  llama_worker_add_command_test(gguf.inspect.qwen2_5 COMMAND ${cli} inspect ${vocab}/qwen2.5-0.5b-instruct.vocab.gguf
    STDOUT_REGEX "GGUF version 3.*architecture: qwen2.*qwen2\\.block_count +u32 +24.*tokenizer\\.ggml\\.model +str +\"gpt2\".*tokenizer\\.ggml\\.pre +str +\"qwen2\".*tokenizer\\.ggml\\.tokens +arr\\[str,151936\\] +\\[\"!\", .*\\(151928 more\\)\\].*tokenizer\\.ggml\\.merges +arr\\[str,151387\\].*tokenizer\\.chat_template +str +\"{% for message in messages %}.*tensors: \\(none\\)"
    STDERR_EMPTY LABELS gate1)
  llama_worker_add_command_test(gguf.inspect.qwen2_5.json COMMAND ${cli} inspect --json ${vocab}/qwen2.5-0.5b-instruct.vocab.gguf
    STDOUT_REGEX "\"version\": 3,.*\"architecture\": \"qwen2\",.*\"key\": \"tokenizer\\.ggml\\.tokens\",[ \n]*\"type\": \"arr\",[ \n]*\"element_type\": \"str\",[ \n]*\"count\": 151936,.*\"truncated\": true.*\"tensors\": \\[\\]"
    STDERR_EMPTY LABELS gate1)
  llama_worker_add_command_test(gguf.inspect.phi3 COMMAND ${cli} inspect ${vocab}/phi-3-mini-4k-instruct.vocab.gguf
    STDOUT_REGEX "architecture: phi3.*phi3\\.block_count +u32 +32.*tokenizer\\.ggml\\.model +str +\"llama\".*tokenizer\\.ggml\\.tokens +arr\\[str,32064\\].*tokenizer\\.ggml\\.scores +arr\\[f32,32064\\].*tokenizer\\.chat_template"
    STDERR_EMPTY LABELS gate1)
  llama_worker_add_command_test(gguf.inspect.gpt2 COMMAND ${cli} inspect ${vocab}/gpt-2.vocab.gguf
    STDOUT_REGEX "architecture: gpt2.*tokenizer\\.ggml\\.model +str +\"gpt2\".*tokenizer\\.ggml\\.merges +arr\\[str,50000\\]"
    STDERR_EMPTY LABELS gate1)
  llama_worker_add_command_test(gguf.inspect.llama_spm COMMAND ${cli} inspect ${vocab}/llama-spm.vocab.gguf
    STDOUT_REGEX "architecture: llama.*tokenizer\\.ggml\\.model +str +\"llama\".*tokenizer\\.ggml\\.tokens +arr\\[str,32000\\] +.\"<unk>\", \"<s>\", \"</s>\", \"<0x00>\""
    STDERR_EMPTY LABELS gate1)
  llama_worker_add_command_test(gguf.inspect.array_items COMMAND ${cli} inspect --array-items 2 ${vocab}/gpt-2.vocab.gguf
    STDOUT_REGEX "arr\\[str,50257\\] +\\[\"!\", \"\\\\\"\", \\.\\.\\. \\(50255 more\\)\\]" STDERR_EMPTY LABELS gate1)
endif()

llama_worker_add_command_test(gguf.inspect.missing_file COMMAND ${cli} inspect /nonexistent/model.gguf
  EXPECT_EXIT 1 STDERR_REGEX "^error: /nonexistent/model\\.gguf: cannot open: No such file" LABELS gate1)
llama_worker_add_command_test(gguf.inspect.no_argument COMMAND ${cli} inspect
  EXPECT_EXIT 2 STDERR_REGEX "^error: .*file" LABELS gate1)

file(GLOB malformed_files CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/tests/malformed/*.gguf)
foreach(path ${malformed_files})
  get_filename_component(stem ${path} NAME_WE)
  llama_worker_add_command_test(gguf.inspect.malformed.${stem} COMMAND ${cli} inspect ${path}
    EXPECT_EXIT 1 STDERR_REGEX "^error: [^\n]*/malformed/${stem}\\.gguf: [^\n]+\n$" LABELS gate1)
endforeach()

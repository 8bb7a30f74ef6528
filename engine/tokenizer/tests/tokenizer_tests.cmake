# Unit and property tests of the tokenizer module (label gate1). The real vocabularies come from
# the shared test data; tests needing them exit 77 (SKIPPED) when it is missing.
set(tokenizer_vocab_dir ${LLAMA_WORKER_SHARED_DATA_DIR}/vocab)
llama_worker_add_gtest(tokenizer_tests
  SOURCES
    tests/utf8_test.cpp
    tests/vocabulary_test.cpp
    tests/tokenizer_test.cpp
    tests/streaming_decoder_test.cpp
  LIBS llama_worker_tokenizer llama_worker_utf8proc
  LABELS gate1
  ENVIRONMENT "LLAMA_WORKER_VOCAB_DIR=${tokenizer_vocab_dir}")

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

# Properties: 10,000 cases each, fixed seed so CI is reproducible (RC_PARAMS="seed=N
# max_success=100000" to explore further).
llama_worker_add_gtest(tokenizer_properties
  SOURCES tests/tokenizer_properties_test.cpp
  LIBS llama_worker_tokenizer rapidcheck
  LABELS gate1
  ENVIRONMENT "LLAMA_WORKER_VOCAB_DIR=${tokenizer_vocab_dir};RC_PARAMS=max_success=10000 seed=20261126 verbose_progress=0")

// The malformed-file corpus, as code: one case per reader check, each a byte-exact file and the
// text its rejection message must contain. make_gguf_malformed_corpus writes them to
// engine/gguf/tests/malformed/ (NAME.gguf + expected.tsv, committed); the corpus test checks the
// committed files are exactly these bytes and that each is rejected with its message.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gguf/testing/raw_gguf.hpp"

namespace llama_worker::gguf::testing {

struct MalformedCase {
  std::string name;  // file stem, e.g. "dim-zero"
  std::vector<uint8_t> bytes;
  std::string expected;  // substring of the error message
};

// A small valid file (3 keys, tensors "w" F32 [4,2] at 0 and "q" Q8_0 [32] at 32) to break.
RawGguf valid_base();
std::vector<MalformedCase> malformed_cases();

}  // namespace llama_worker::gguf::testing

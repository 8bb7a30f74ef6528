// The tokenizer of a GGUF file: its tokenizer.ggml.* metadata read (vocabulary_from_gguf.hpp)
// and handed to Tokenizer::create, which validates it — once. Errors name the file, as
// vocabulary_from_gguf's do.
#pragma once

#include "core/status.hpp"
#include "gguf/file.hpp"
#include "tokenizer/tokenizer.hpp"

namespace llama_worker::tokenizer {

Result<Tokenizer> tokenizer_from_gguf(const gguf::File& file);

}  // namespace llama_worker::tokenizer

// GGUF file -> Tokenizer; see tokenizer_from_gguf.hpp.
#include "tokenizer/tokenizer_from_gguf.hpp"

#include <utility>

#include "tokenizer/vocabulary_from_gguf.hpp"

namespace llama_worker::tokenizer {

Result<Tokenizer> tokenizer_from_gguf(const gguf::File& file) {
  LW_ASSIGN_OR_RETURN(Vocabulary vocabulary, vocabulary_from_gguf_unvalidated(file));
  Result<Tokenizer> tokenizer = Tokenizer::create(std::move(vocabulary));
  if (!tokenizer) return make_error(tokenizer.error().code, file.path() + ": " + tokenizer.error().message);
  return tokenizer;
}

}  // namespace llama_worker::tokenizer

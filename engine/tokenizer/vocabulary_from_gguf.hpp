// Builds a tokenizer::Vocabulary from a GGUF file's tokenizer.ggml.* metadata and validates it
// (validate_vocabulary), so bad metadata is a clear error here, never a crash later.
//
// Keys (llama.cpp's names):
//   tokenizer.ggml.model          str        required: "gpt2" or "llama"
//   tokenizer.ggml.pre            str        optional ("default")
//   tokenizer.ggml.tokens         arr[str]   required
//   tokenizer.ggml.token_type     arr[i32]   optional (all normal); same length as tokens
//   tokenizer.ggml.scores         arr[f32]   optional; same length as tokens
//   tokenizer.ggml.merges         arr[str]   required for gpt2
//   tokenizer.ggml.{bos,eos,eot,unknown,padding}_token_id   integer ids, checked in range
//   tokenizer.ggml.add_bos_token / add_eos_token / add_space_prefix   bool
// Defaults follow llama.cpp: a "llama" vocabulary has BOS 1, EOS 2, UNK 0 and add_bos true when
// the file says nothing; "gpt2" adds no BOS unless the pre-tokenizer is Llama 3's. When no EOT id
// is given, the first of <|eot_id|>, <|im_end|>, <|end|>, <end_of_turn> present is taken.
//
// Model quirk (llama.cpp does the same, keyed on general.name): Phi-3's tokenizer.json marks its
// special tokens rstrip except <unk>, <s> and <|endoftext|>, and </s> too; a GGUF does not carry
// that flag, so it is restored here for files named "phi-3"/"phi3".
#pragma once

#include "core/status.hpp"
#include "gguf/file.hpp"
#include "tokenizer/vocabulary.hpp"

namespace llama_worker::tokenizer {

Result<Vocabulary> vocabulary_from_gguf(const gguf::File& file);

// The same reading without the final validate_vocabulary: only for a caller that hands the result
// straight to Tokenizer::create, which validates (tokenizer_from_gguf.hpp). Validating a
// 151,665-token vocabulary twice was ~40% of loading Qwen2.5's tokenizer.
Result<Vocabulary> vocabulary_from_gguf_unvalidated(const gguf::File& file);

}  // namespace llama_worker::tokenizer

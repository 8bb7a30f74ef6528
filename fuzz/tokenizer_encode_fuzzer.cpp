// libFuzzer harness: encode arbitrary bytes. Byte 0 picks the vocabulary (bits 0-1), special
// parsing (bit 2) and BOS/EOS (bit 3); the rest is the text. Invariants:
//   - invalid UTF-8 is an error naming a byte offset, valid UTF-8 always encodes;
//   - every id is in range and decodes to valid UTF-8;
//   - without added tokens in the result, decode(encode(s)) == s (NFC(s) for Qwen).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tokenizer/utf8.hpp"
#include "tokenizer_fuzz_common.hpp"

using namespace llama_worker;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto& tokenizers = fuzz::fuzz_tokenizers();
  const uint8_t flags = data[0];
  const tokenizer::Tokenizer& t = *tokenizers[flags & 3];
  const tokenizer::EncodeOptions options{(flags & 8) != 0, (flags & 4) != 0};
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

  const bool valid = tokenizer::validate_utf8(text).is_ok();
  Result<std::vector<int32_t>> ids = t.encode(text, options);
  if (!valid) {
    fuzz::fuzz_check(!ids, "invalid UTF-8 was accepted");
    fuzz::fuzz_check(ids.error().message.find("byte offset") != std::string::npos,
                     "error does not name the offset");
    return 0;
  }
  fuzz::fuzz_check(ids.is_ok(), "valid UTF-8 failed to encode");
  bool added = false;
  for (const int32_t id : *ids) {
    fuzz::fuzz_check(id >= 0 && id < t.size(), "id out of range");
    const tokenizer::TokenType type = t.vocabulary().token_types[static_cast<size_t>(id)];
    added |= type == tokenizer::TokenType::kControl || type == tokenizer::TokenType::kUserDefined ||
             type == tokenizer::TokenType::kUnknown;
  }
  Result<std::string> decoded = t.decode(*ids);
  fuzz::fuzz_check(decoded.is_ok(), "decode of encoded ids failed");
  fuzz::fuzz_check(tokenizer::validate_utf8(*decoded).is_ok(), "decode produced invalid UTF-8");
  if (!added && !options.add_special) {
    const bool nfc = t.vocabulary().pre == "qwen2";
    const std::string expected = nfc ? *tokenizer::nfc_normalize(text) : std::string(text);
    fuzz::fuzz_check(*decoded == expected, "decode(encode(s)) != s");
  }
  return 0;
}

// RapidCheck properties (CTest runs each with max_success=10000, see tokenizer_tests.cmake):
//   round trip:  decode(encode(s)) == s for any valid UTF-8 s, NFC(s) for Qwen (its tokenizer
//                normalizes). SentencePiece rule: encode adds one dummy-prefix space, decode
//                removes one leading space from the first token, so the round trip is exact as
//                long as s contains no added-token text (after an added token the next fragment
//                gets its own dummy prefix, which decode keeps: "<|end|>x" -> "<|end|> x").
//   streaming:   for any id sequence, pushing the ids one at a time into StreamingDecoder and
//                concatenating every piece and finish() equals decode(ids), and every piece is
//                valid UTF-8; for both boundary modes.
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include "test_vocabularies.hpp"
#include "tokenizer/streaming_decoder.hpp"
#include "tokenizer/utf8.hpp"

namespace llama_worker::tokenizer {
namespace {

using testing::real_tokenizer;

const bool kDataPresent = (testing::require_vocabularies(), true);
constexpr size_t kMinimumCases = 10000;  // the bar; CTest sets RC_PARAMS max_success=10000

// Code points weighted toward what tokenizers find hard: many scripts, combining marks, emoji
// with ZWJ/variation selectors/skin tones, Unicode white space, and any scalar value.
rc::Gen<char32_t> code_point() {
  const auto range = [](char32_t low, char32_t high) { return rc::gen::inRange<char32_t>(low, high + 1); };
  return rc::gen::oneOf(
      range(0x20, 0x7E), range(0x20, 0x7E), range(0x20, 0x7E),
      rc::gen::element<char32_t>('\t', '\n', '\r', ' ', '\'', '0', '7'), range(0xA0, 0x24F),
      range(0x300, 0x36F), range(0x370, 0x4FF), range(0x590, 0x6FF), range(0x900, 0x97F), range(0xE00, 0xE7F),
      range(0x1100, 0x11FF), range(0x3040, 0x30FF), range(0x4E00, 0x9FFF), range(0xAC00, 0xD7A3),
      range(0x1F300, 0x1FAFF),
      rc::gen::element<char32_t>(0x200D, 0xFE0F, 0x1F3FB, 0x1F3FF, 0x20E3, 0x1F1FA, 0x1F1F8),
      rc::gen::element<char32_t>(0x85, 0xA0, 0x1680, 0x2000, 0x200B, 0x2028, 0x202F, 0x3000, 0x180E, 0xFEFF),
      rc::gen::suchThat(range(0, 0x10FFFF), [](char32_t cp) { return cp < 0xD800 || cp > 0xDFFF; }));
}

rc::Gen<std::string> utf8_text() {
  return rc::gen::map(rc::gen::container<std::vector<char32_t>>(code_point()),
                      [](const std::vector<char32_t>& cps) {
                        std::string text;
                        for (const char32_t cp : cps) append_utf8(text, cp);
                        return text;
                      });
}

bool has_added_token(const Tokenizer& t, const std::vector<int32_t>& ids) {
  for (const int32_t id : ids) {
    const TokenType type = t.vocabulary().token_types[static_cast<size_t>(id)];
    if (type == TokenType::kControl || type == TokenType::kUserDefined || type == TokenType::kUnknown)
      return true;
  }
  return false;
}

void check_round_trip(const char* name, bool nfc) {
  const Tokenizer& t = real_tokenizer(name);
  const std::string s = *utf8_text();
  Result<std::vector<int32_t>> ids = t.encode(s);
  RC_ASSERT(ids.is_ok());
  RC_PRE(!has_added_token(t, *ids));
  Result<std::string> decoded = t.decode(*ids);
  RC_ASSERT(decoded.is_ok());
  RC_ASSERT(*decoded == (nfc ? *nfc_normalize(s) : s));
}

TEST(TokenizerProperties, QwenRoundTripIsNfc) {
  size_t passed = 0;
  EXPECT_TRUE(rc::check("QwenRoundTripIsNfc", [&] {
    check_round_trip("qwen2.5-0.5b-instruct", true);
    ++passed;
  }));
  EXPECT_GE(passed, kMinimumCases) << "RC_PARAMS max_success below the required 10,000";
}

TEST(TokenizerProperties, Gpt2RoundTripIsExact) {
  size_t passed = 0;
  EXPECT_TRUE(rc::check("Gpt2RoundTripIsExact", [&] {
    check_round_trip("gpt-2", false);
    ++passed;
  }));
  EXPECT_GE(passed, kMinimumCases) << "RC_PARAMS max_success below the required 10,000";
}

TEST(TokenizerProperties, Phi3RoundTripIsExact) {
  size_t passed = 0;
  EXPECT_TRUE(rc::check("Phi3RoundTripIsExact", [&] {
    check_round_trip("phi-3-mini-4k-instruct", false);
    ++passed;
  }));
  EXPECT_GE(passed, kMinimumCases) << "RC_PARAMS max_success below the required 10,000";
}

TEST(TokenizerProperties, LlamaSpmRoundTripIsExact) {
  size_t passed = 0;
  EXPECT_TRUE(rc::check("LlamaSpmRoundTripIsExact", [&] {
    check_round_trip("llama-spm", false);
    ++passed;
  }));
  EXPECT_GE(passed, kMinimumCases) << "RC_PARAMS max_success below the required 10,000";
}

// Ids: anywhere in the vocabulary, Phi-3's byte tokens, and the top of the vocabulary (added
// tokens), so that split characters, invalid bytes and special tokens all occur.
rc::Gen<std::vector<int32_t>> ids_for(const Tokenizer& t) {
  const int32_t size = t.size();
  return rc::gen::container<std::vector<int32_t>>(
      rc::gen::oneOf(rc::gen::inRange<int32_t>(0, size), rc::gen::inRange<int32_t>(0, std::min(size, 300)),
                     rc::gen::inRange<int32_t>(0, std::min(size, 300)),
                     rc::gen::inRange<int32_t>(std::max(0, size - 400), size)));
}

void check_streaming(const char* name, StreamingDecoder::Boundary boundary) {
  const Tokenizer& t = real_tokenizer(name);
  const std::vector<int32_t> ids = *ids_for(t);
  const bool skip_special = *rc::gen::arbitrary<bool>();
  const DecodeOptions options{skip_special, true};
  StreamingDecoder decoder(t, boundary, options);
  std::string joined;
  for (const int32_t id : ids) {
    Result<std::string> piece = decoder.push(id);
    RC_ASSERT(piece.is_ok());
    RC_ASSERT(validate_utf8(*piece).is_ok());
    joined += *piece;
  }
  const std::string rest = decoder.finish();
  RC_ASSERT(validate_utf8(rest).is_ok());
  joined += rest;
  Result<std::string> whole = t.decode(ids, options);
  RC_ASSERT(whole.is_ok());
  RC_ASSERT(joined == *whole);
}

TEST(TokenizerProperties, QwenStreamingEqualsDecodeByCharacter) {
  size_t passed = 0;
  EXPECT_TRUE(rc::check("QwenStreamingEqualsDecodeByCharacter", [&] {
    check_streaming("qwen2.5-0.5b-instruct", StreamingDecoder::Boundary::kCharacter);
    ++passed;
  }));
  EXPECT_GE(passed, kMinimumCases) << "RC_PARAMS max_success below the required 10,000";
}

TEST(TokenizerProperties, QwenStreamingEqualsDecodeByGrapheme) {
  size_t passed = 0;
  EXPECT_TRUE(rc::check("QwenStreamingEqualsDecodeByGrapheme", [&] {
    check_streaming("qwen2.5-0.5b-instruct", StreamingDecoder::Boundary::kGraphemeCluster);
    ++passed;
  }));
  EXPECT_GE(passed, kMinimumCases) << "RC_PARAMS max_success below the required 10,000";
}

TEST(TokenizerProperties, Phi3StreamingEqualsDecodeByCharacter) {
  size_t passed = 0;
  EXPECT_TRUE(rc::check("Phi3StreamingEqualsDecodeByCharacter", [&] {
    check_streaming("phi-3-mini-4k-instruct", StreamingDecoder::Boundary::kCharacter);
    ++passed;
  }));
  EXPECT_GE(passed, kMinimumCases) << "RC_PARAMS max_success below the required 10,000";
}

TEST(TokenizerProperties, Phi3StreamingEqualsDecodeByGrapheme) {
  size_t passed = 0;
  EXPECT_TRUE(rc::check("Phi3StreamingEqualsDecodeByGrapheme", [&] {
    check_streaming("phi-3-mini-4k-instruct", StreamingDecoder::Boundary::kGraphemeCluster);
    ++passed;
  }));
  EXPECT_GE(passed, kMinimumCases) << "RC_PARAMS max_success below the required 10,000";
}

// Realistic streams: the ids of random text come back as that text.
TEST(TokenizerProperties, StreamingOfEncodedTextGivesTheText) {
  size_t passed = 0;
  EXPECT_TRUE(rc::check("StreamingOfEncodedTextGivesTheText", [&] {
    const char* name = *rc::gen::element("qwen2.5-0.5b-instruct", "phi-3-mini-4k-instruct");
    const Tokenizer& t = real_tokenizer(name);
    const std::string s = *utf8_text();
    Result<std::vector<int32_t>> ids = t.encode(s);
    RC_ASSERT(ids.is_ok());
    RC_PRE(!has_added_token(t, *ids));
    StreamingDecoder decoder(t);
    std::string joined;
    for (const int32_t id : *ids) joined += *decoder.push(id);
    joined += decoder.finish();
    RC_ASSERT(joined == (t.vocabulary().pre == "qwen2" ? *nfc_normalize(s) : s));
    ++passed;
  }));
  EXPECT_GE(passed, kMinimumCases) << "RC_PARAMS max_success below the required 10,000";
}

}  // namespace
}  // namespace llama_worker::tokenizer

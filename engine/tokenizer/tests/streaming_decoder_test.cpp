// The streaming decoder on hand-picked sequences: split characters are held back, an emoji ZWJ
// sequence comes out whole, a dangling partial character is U+FFFD at the end. (Random sequences
// are covered by the properties in tokenizer_properties.)
#include <gtest/gtest.h>

#include "test_vocabularies.hpp"
#include "tokenizer/streaming_decoder.hpp"
#include "tokenizer/utf8.hpp"

namespace llama_worker::tokenizer {
namespace {

using testing::real_tokenizer;

class StreamingDecoderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { testing::require_vocabularies(); }
};

// Byte-fallback ids of Phi-3 for raw bytes.
std::vector<int32_t> phi3_bytes(std::string_view bytes) {
  std::vector<int32_t> ids;
  for (const char c : bytes) ids.push_back(static_cast<uint8_t>(c) + 3);
  return ids;
}

std::vector<std::string> stream(StreamingDecoder& decoder, const std::vector<int32_t>& ids) {
  std::vector<std::string> pieces;
  for (const int32_t id : ids) {
    Result<std::string> piece = decoder.push(id);
    EXPECT_TRUE(piece);
    pieces.push_back(*piece);
  }
  pieces.push_back(decoder.finish());
  return pieces;
}

TEST_F(StreamingDecoderTest, HoldsBackASplitCharacter) {
  const Tokenizer& phi3 = real_tokenizer("phi-3-mini-4k-instruct");
  StreamingDecoder decoder(phi3, StreamingDecoder::Boundary::kCharacter);
  const std::vector<std::string> pieces = stream(decoder, phi3_bytes("\xE2\x82\xAC"
                                                                     "a"));  // "€a"
  EXPECT_EQ(pieces, (std::vector<std::string>{"", "", "\u20AC", "a", ""}));
}

TEST_F(StreamingDecoderTest, ZwjFamilyComesOutWhole) {
  const Tokenizer& phi3 = real_tokenizer("phi-3-mini-4k-instruct");
  const std::string family = "\U0001F468\u200D\U0001F469\u200D\U0001F467";  // man ZWJ woman ZWJ girl
  StreamingDecoder decoder(phi3);                                           // grapheme clusters
  std::vector<int32_t> ids = phi3_bytes(family);
  ids.push_back(29874);  // "a" starts the next cluster
  const std::vector<std::string> pieces = stream(decoder, ids);
  ASSERT_EQ(pieces.size(), ids.size() + 1);
  for (size_t i = 0; i + 2 < pieces.size(); ++i) EXPECT_EQ(pieces[i], "") << i;
  EXPECT_EQ(pieces[pieces.size() - 2], family);  // released when "a" arrives
  EXPECT_EQ(pieces.back(), "a");                 // finish flushes the last cluster
}

TEST_F(StreamingDecoderTest, QwenEmojiTokensAcrossCharacters) {
  const Tokenizer& qwen = real_tokenizer("qwen2.5-0.5b-instruct");
  const std::string text = "Hi \U0001F469\U0001F3FD\u200D\U0001F4BB and \U0001F1FA\U0001F1F8!";
  const std::vector<int32_t> ids = *qwen.encode(text);
  StreamingDecoder decoder(qwen);
  std::string joined;
  bool saw_family_whole = false;
  for (const std::string& piece : stream(decoder, ids)) {
    EXPECT_TRUE(validate_utf8(piece));
    if (piece.find("\U0001F469\U0001F3FD\u200D\U0001F4BB") != std::string::npos) saw_family_whole = true;
    EXPECT_EQ(piece.find("\U0001F469\U0001F3FD") != std::string::npos,
              piece.find("\U0001F4BB") != std::string::npos)
        << "cluster split: '" << piece << "'";
    joined += piece;
  }
  EXPECT_TRUE(saw_family_whole);
  EXPECT_EQ(joined, text);
}

TEST_F(StreamingDecoderTest, DanglingPartialBecomesReplacementAtTheEnd) {
  const Tokenizer& phi3 = real_tokenizer("phi-3-mini-4k-instruct");
  StreamingDecoder decoder(phi3, StreamingDecoder::Boundary::kCharacter);
  const std::vector<std::string> pieces = stream(decoder, phi3_bytes("ok\xF0\x9F\x98"));
  EXPECT_EQ(pieces, (std::vector<std::string>{"o", "k", "", "", "", "\uFFFD"}));
  // An impossible continuation is replaced as soon as it is known.
  StreamingDecoder second(phi3, StreamingDecoder::Boundary::kCharacter);
  EXPECT_EQ(stream(second, phi3_bytes("\xE2\x28")), (std::vector<std::string>{"", "\uFFFD(", ""}));
}

TEST_F(StreamingDecoderTest, SentencePieceLeadingSpaceRuleMatchesDecode) {
  const Tokenizer& phi3 = real_tokenizer("phi-3-mini-4k-instruct");
  const std::vector<int32_t> ids = {1, 15043, 29892, 3186};  // <s> ▁Hello , ▁world
  for (const bool skip : {false, true}) {
    StreamingDecoder decoder(phi3, StreamingDecoder::Boundary::kGraphemeCluster, {skip, true});
    std::string joined;
    for (const std::string& piece : stream(decoder, ids)) joined += piece;
    EXPECT_EQ(joined, *phi3.decode(ids, {skip, true}));
  }
}

TEST_F(StreamingDecoderTest, OutOfRangeIdIsAnErrorAndChangesNothing) {
  const Tokenizer& qwen = real_tokenizer("qwen2.5-0.5b-instruct");
  StreamingDecoder decoder(qwen, StreamingDecoder::Boundary::kCharacter);
  EXPECT_EQ(*decoder.push(9707), "Hello");
  EXPECT_FALSE(decoder.push(-5));
  EXPECT_FALSE(decoder.push(1 << 30));
  EXPECT_EQ(*decoder.push(1879), " world");
}

}  // namespace
}  // namespace llama_worker::tokenizer

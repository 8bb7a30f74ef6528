// Tokenizer behaviour on the real vocabularies: input validation, special/added tokens, BOS,
// NFC, the SentencePiece leading-space rule and decoding of any id sequence. (Exact ids for
// thousands of strings are checked against Hugging Face in golden/tokenizer.)
#include <gtest/gtest.h>

#include "test_vocabularies.hpp"
#include "tokenizer/utf8.hpp"

namespace llama_worker::tokenizer {
namespace {

using testing::real_tokenizer;

class TokenizerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { testing::require_vocabularies(); }
};

std::vector<int32_t> encode(const Tokenizer& t, std::string_view text, bool parse_special = false,
                            bool add_special = false) {
  Result<std::vector<int32_t>> ids = t.encode(text, {add_special, parse_special});
  EXPECT_TRUE(ids) << ids.error().message;
  return ids ? *ids : std::vector<int32_t>{};
}

TEST_F(TokenizerTest, InvalidUtf8IsRejectedWithItsOffset) {
  for (const char* name : {"qwen2.5-0.5b-instruct", "phi-3-mini-4k-instruct"}) {
    Result<std::vector<int32_t>> ids = real_tokenizer(name).encode("Hello \xF0\x9F\x98 world");
    ASSERT_FALSE(ids);
    EXPECT_EQ(ids.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(ids.error().message.find("invalid UTF-8 at byte offset 6"), std::string::npos)
        << ids.error().message;
  }
}

TEST_F(TokenizerTest, QwenControlTokensOnlyWithSpecialParsing) {
  const Tokenizer& qwen = real_tokenizer("qwen2.5-0.5b-instruct");
  EXPECT_EQ(encode(qwen, "<|im_start|>user", true), (std::vector<int32_t>{151644, 872}));
  const std::vector<int32_t> plain = encode(qwen, "<|im_start|>user", false);
  EXPECT_GT(plain.size(), 2u);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 151644), 0);
  // User-defined (added, not special) tokens match either way, as in Hugging Face.
  EXPECT_EQ(encode(qwen, "<tool_call>", false), (std::vector<int32_t>{151657}));
  EXPECT_EQ(encode(qwen, "<tool_call>", true), (std::vector<int32_t>{151657}));
  // Qwen adds no BOS even with add_special.
  EXPECT_EQ(encode(qwen, "Hello", false, true), (std::vector<int32_t>{9707}));
}

TEST_F(TokenizerTest, QwenNormalizesToNfc) {
  const Tokenizer& qwen = real_tokenizer("qwen2.5-0.5b-instruct");
  EXPECT_EQ(encode(qwen, "cafe\u0301"), encode(qwen, "caf\u00E9"));
  EXPECT_EQ(*qwen.decode(encode(qwen, "cafe\u0301")), "caf\u00E9");
  // GPT-2 does not normalize.
  const Tokenizer& gpt2 = real_tokenizer("gpt-2");
  EXPECT_NE(encode(gpt2, "cafe\u0301"), encode(gpt2, "caf\u00E9"));
}

TEST_F(TokenizerTest, Phi3BosDummyPrefixAndRstrip) {
  const Tokenizer& phi3 = real_tokenizer("phi-3-mini-4k-instruct");
  EXPECT_EQ(encode(phi3, "Hello", false, true), (std::vector<int32_t>{1, 15043}));
  EXPECT_EQ(encode(phi3, "Hello"), (std::vector<int32_t>{15043}));          // "▁Hello"
  EXPECT_EQ(encode(phi3, " Hello"), (std::vector<int32_t>{29871, 15043}));  // "▁" "▁Hello"
  // <|user|> swallows the newline after it; the next fragment gets its dummy prefix.
  EXPECT_EQ(encode(phi3, "<|user|>\nHello<|end|>", true), (std::vector<int32_t>{32010, 15043, 32007}));
  // Decoding drops the dummy prefix of the first token only.
  EXPECT_EQ(*phi3.decode(std::vector<int32_t>{15043, 15043}), "Hello Hello");
  EXPECT_EQ(*phi3.decode(std::vector<int32_t>{1, 15043}, {true, true}), "Hello");
  EXPECT_EQ(*phi3.decode(std::vector<int32_t>{1, 15043}), "<s> Hello");
}

TEST_F(TokenizerTest, SentencePieceByteFallback) {
  const Tokenizer& phi3 = real_tokenizer("phi-3-mini-4k-instruct");
  // U+10FFFF has no token: its four bytes become <0xF4> <0x8F> <0xBF> <0xBF> (ids byte + 3).
  const std::vector<int32_t> ids = encode(phi3, "\U0010FFFF");
  ASSERT_EQ(ids.size(), 5u);
  EXPECT_EQ(ids[0], 29871);  // "▁"
  EXPECT_EQ(ids[1], 0xF4 + 3);
  EXPECT_EQ(ids[4], 0xBF + 3);
  EXPECT_EQ(*phi3.decode(ids), "\U0010FFFF");
}

TEST_F(TokenizerTest, DecodeRejectsIdsOutOfRange) {
  const Tokenizer& qwen = real_tokenizer("qwen2.5-0.5b-instruct");
  for (const int32_t bad : {-1, 151936, INT32_MAX}) {
    Result<std::string> text = qwen.decode(std::vector<int32_t>{9707, bad});
    ASSERT_FALSE(text);
    EXPECT_EQ(text.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(text.error().message.find("at position 1 is out of range"), std::string::npos)
        << text.error().message;
  }
}

TEST_F(TokenizerTest, DecodeOfBrokenBytesIsValidUtf8) {
  const Tokenizer& phi3 = real_tokenizer("phi-3-mini-4k-instruct");
  // <0xF0> <0x9F> then "a": an emoji cut short.
  Result<std::string> text = phi3.decode(std::vector<int32_t>{0xF0 + 3, 0x9F + 3, 29874});
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, "\uFFFDa");
  Result<std::string> bytes = phi3.decode_bytes(std::vector<int32_t>{0xF0 + 3, 0x9F + 3, 29874});
  EXPECT_EQ(*bytes,
            "\xF0\x9F"
            "a");
  const Tokenizer& qwen = real_tokenizer("qwen2.5-0.5b-instruct");
  // Every single Qwen token decodes to valid UTF-8 once repaired.
  for (int32_t id = 0; id < qwen.size(); id += 97) {
    Result<std::string> piece = qwen.decode(std::vector<int32_t>{id});
    ASSERT_TRUE(piece);
    EXPECT_TRUE(validate_utf8(*piece)) << id;
  }
}

TEST_F(TokenizerTest, EmptyTextAndSkipSpecial) {
  const Tokenizer& qwen = real_tokenizer("qwen2.5-0.5b-instruct");
  EXPECT_TRUE(encode(qwen, "").empty());
  EXPECT_EQ(*qwen.decode(std::vector<int32_t>{151644, 9707, 151645}, {true, true}), "Hello");
  EXPECT_EQ(*qwen.decode(std::vector<int32_t>{151644, 9707, 151645}), "<|im_start|>Hello<|im_end|>");
  const Tokenizer& phi3 = real_tokenizer("phi-3-mini-4k-instruct");
  EXPECT_EQ(encode(phi3, "", false, true), (std::vector<int32_t>{1}));
}

TEST_F(TokenizerTest, LongInputsStayLinear) {
  const Tokenizer& qwen = real_tokenizer("qwen2.5-0.5b-instruct");
  const std::string spaces(200000, ' ');
  EXPECT_FALSE(encode(qwen, spaces).empty());
  std::string cjk;
  for (int i = 0; i < 20000; ++i) cjk += "\u4E2D";
  EXPECT_EQ(*qwen.decode(encode(qwen, cjk)), cjk);
  const Tokenizer& phi3 = real_tokenizer("phi-3-mini-4k-instruct");
  EXPECT_EQ(*phi3.decode(encode(phi3, cjk)), cjk);
}

}  // namespace
}  // namespace llama_worker::tokenizer

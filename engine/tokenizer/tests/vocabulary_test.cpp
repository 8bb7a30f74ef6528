// Vocabulary validation: every kind of bad metadata is a clear error (never a crash), both on a
// hand-made Vocabulary and through GGUF files written with gguf::Writer.
#include <gtest/gtest.h>

#include <string_view>

#include "gguf/writer.hpp"
#include "test_vocabularies.hpp"
#include "tokenizer/tokenizer.hpp"
#include "tokenizer/tokenizer_from_gguf.hpp"
#include "tokenizer/vocabulary_from_gguf.hpp"

namespace llama_worker::tokenizer {
namespace {

using testing::tiny_sentencepiece_vocabulary;

void expect_error(const Vocabulary& v, ErrorCode code, const std::string& fragment) {
  const Status status = validate_vocabulary(v);
  ASSERT_FALSE(status) << "accepted; expected an error containing '" << fragment << "'";
  EXPECT_EQ(status.code(), code) << status.message();
  EXPECT_NE(status.message().find(fragment), std::string::npos) << status.message();
  Result<Tokenizer> tokenizer = Tokenizer::create(v);
  EXPECT_FALSE(tokenizer);
}

TEST(Vocabulary, TinyVocabularyIsValidAndEncodes) {
  const Vocabulary v = tiny_sentencepiece_vocabulary();
  ASSERT_TRUE(validate_vocabulary(v)) << validate_vocabulary(v).message();
  Result<Tokenizer> tokenizer = Tokenizer::create(v);
  ASSERT_TRUE(tokenizer);
  // "ab ab" -> "▁ab▁ab": the highest-score merges win.
  Result<std::vector<int32_t>> ids = tokenizer->encode("ab ab");
  ASSERT_TRUE(ids);
  EXPECT_EQ(*ids, (std::vector<int32_t>{264, 264}));
  // "c" has no token: byte fallback.
  EXPECT_EQ(*tokenizer->encode("c"), (std::vector<int32_t>{259, 3 + 'c'}));
  EXPECT_EQ(*tokenizer->encode("a", {true, false}), (std::vector<int32_t>{1, 262}));
}

TEST(Vocabulary, RejectsEachKindOfBadMetadata) {
  Vocabulary v = tiny_sentencepiece_vocabulary();
  v.model = "bert";
  expect_error(v, ErrorCode::kUnsupported, "unsupported tokenizer model 'bert'");

  v = tiny_sentencepiece_vocabulary();
  v.token_types.pop_back();
  expect_error(v, ErrorCode::kMalformedFile, "token_type has 264 entries for 265 tokens");

  v = tiny_sentencepiece_vocabulary();
  v.scores.resize(3);
  expect_error(v, ErrorCode::kMalformedFile, "scores has 3 entries");

  v = tiny_sentencepiece_vocabulary();
  v.tokens[261] = "a";  // token 260 is "a" already
  expect_error(v, ErrorCode::kMalformedFile, "duplicate token 'a' at ids 260 and 261");

  v = tiny_sentencepiece_vocabulary();
  v.tokens[3] = "<0xZZ>";
  expect_error(v, ErrorCode::kMalformedFile, "byte token 3 '<0xZZ>' is not spelled <0xHH>");

  v = tiny_sentencepiece_vocabulary();
  v.tokens[4] = "<0x00 >";
  expect_error(v, ErrorCode::kMalformedFile, "is not spelled <0xHH>");

  v = tiny_sentencepiece_vocabulary();
  v.tokens[4] = "<0x0a>";  // byte 0x0A spelled twice: token 13 is "<0x0A>"
  expect_error(v, ErrorCode::kMalformedFile, "has two byte tokens");

  v = tiny_sentencepiece_vocabulary();
  v.token_types[5] = static_cast<TokenType>(9);
  expect_error(v, ErrorCode::kMalformedFile, "unknown token type 9");

  v = tiny_sentencepiece_vocabulary();
  v.tokens[7] = "";
  expect_error(v, ErrorCode::kMalformedFile, "token 7 is empty");

  v = tiny_sentencepiece_vocabulary();
  v.tokens[8] = "\xFF";
  expect_error(v, ErrorCode::kMalformedFile, "token 8 is not valid UTF-8");

  v = tiny_sentencepiece_vocabulary();
  v.special.bos = 265;
  expect_error(v, ErrorCode::kMalformedFile, "BOS token id 265 is out of range (vocabulary size 265)");

  v = tiny_sentencepiece_vocabulary();
  v.special.unk = -7;
  expect_error(v, ErrorCode::kMalformedFile, "UNK token id -7 is out of range");

  v = tiny_sentencepiece_vocabulary();
  v.special.eos = kNoToken;
  v.add_eos = true;
  expect_error(v, ErrorCode::kMalformedFile, "add_eos_token is true but there is no EOS id");

  v = tiny_sentencepiece_vocabulary();
  v.rstrip_ids = {1000};
  expect_error(v, ErrorCode::kMalformedFile, "rstrip token id 1000 is out of range");

  v = tiny_sentencepiece_vocabulary();
  v.merges = {"a b"};  // SentencePiece vocabularies may carry merges; they must be valid too
  ASSERT_TRUE(validate_vocabulary(v));
  for (const char* bad : {"ab", "a  b", " a b", "a b c", "a ", "a c"}) {
    v.merges = {bad};
    expect_error(v, ErrorCode::kMalformedFile, "merge 0");
  }
}

TEST(Vocabulary, ByteLevelNeedsMergesButNotEveryByte) {
  Vocabulary v;
  v.model = "gpt2";
  v.pre = "gpt-2";
  v.tokens = {"a", "b", "ab"};
  v.token_types.assign(3, TokenType::kNormal);
  v.merges = {"a b"};
  // Most byte-alphabet tokens are missing: accepted, as by Hugging Face and llama.cpp (SmolLM2's
  // vocabulary lacks 21 of them).
  ASSERT_TRUE(validate_vocabulary(v)) << validate_vocabulary(v).message();
  ASSERT_TRUE(Tokenizer::create(v));
  v.merges.clear();
  expect_error(v, ErrorCode::kMalformedFile, "needs merges");
  v.pre = "klingon";
  expect_error(v, ErrorCode::kUnsupported, "unsupported pre-tokenizer 'klingon'");
}

// A byte without a byte-alphabet token is dropped before merging, so its neighbours in the same
// pre-token piece merge (what Hugging Face's BPE does without an unk token: SmolLM2 encodes
// "!\x04!" as the one token "!!", see the smollm2 golden). Other pieces are untouched.
TEST(Vocabulary, ByteLevelDropsBytesWithoutToken) {
  Vocabulary v;
  v.model = "gpt2";
  v.pre = "gpt-2";
  v.tokens = {"a", "b", "!", "ab", "!!", "\xC4\xA0"};  // "Ġ" is the space byte
  v.token_types.assign(v.tokens.size(), TokenType::kNormal);
  v.merges = {"a b", "! !"};
  Result<Tokenizer> tokenizer = Tokenizer::create(v);
  ASSERT_TRUE(tokenizer) << tokenizer.error().message;
  auto encode = [&](std::string_view text) { return *tokenizer->encode(text); };
  EXPECT_EQ(encode("ab"), (std::vector<int32_t>{3}));
  EXPECT_EQ(encode("!\x04!"), (std::vector<int32_t>{4}));  // one piece: "!!" once \x04 is gone
  EXPECT_EQ(encode("a\x04"
                   "b"),
            (std::vector<int32_t>{0, 1}));  // three pieces: a, \x04, b
  EXPECT_EQ(encode("\x04"), (std::vector<int32_t>{}));
  EXPECT_EQ(encode("\x04\x1D\x04"), (std::vector<int32_t>{}));
  EXPECT_EQ(encode(" \x04"), (std::vector<int32_t>{5}));  // the piece " \x04" keeps its space
  EXPECT_EQ(encode("c!"), (std::vector<int32_t>{2}));     // 'c' has no token either
  EXPECT_EQ(*tokenizer->decode(std::vector<int32_t>{4, 5, 3}), "!! ab");
}

TEST(Vocabulary, RealVocabulariesLoad) {
  testing::require_vocabularies();
  const Tokenizer& qwen = testing::real_tokenizer("qwen2.5-0.5b-instruct");
  EXPECT_EQ(qwen.size(), 151936);
  EXPECT_EQ(qwen.vocabulary().special.eos, 151645);
  EXPECT_EQ(qwen.vocabulary().special.eot, 151645);  // <|im_end|>, found by text
  EXPECT_FALSE(qwen.vocabulary().add_bos);
  const Tokenizer& phi3 = testing::real_tokenizer("phi-3-mini-4k-instruct");
  EXPECT_EQ(phi3.vocabulary().special.bos, 1);
  EXPECT_EQ(phi3.vocabulary().special.eot, 32007);  // <|end|>
  EXPECT_TRUE(phi3.vocabulary().add_bos);
  EXPECT_FALSE(phi3.vocabulary().rstrip_ids.empty());  // Phi-3 quirk
  EXPECT_TRUE(phi3.is_end_of_generation(32000));
  EXPECT_TRUE(phi3.is_end_of_generation(32007));
}

// ---- through GGUF files ----------------------------------------------------------------------

gguf::Writer tiny_gguf() {
  const Vocabulary v = tiny_sentencepiece_vocabulary();
  gguf::Writer writer;
  writer.set("general.architecture", "llama");
  writer.set("tokenizer.ggml.model", "llama");
  writer.set("tokenizer.ggml.tokens", v.tokens);
  std::vector<int32_t> types;
  for (const TokenType type : v.token_types) types.push_back(static_cast<int32_t>(type));
  writer.set("tokenizer.ggml.token_type", types);
  writer.set("tokenizer.ggml.scores", v.scores);
  writer.set("tokenizer.ggml.bos_token_id", uint32_t{1});
  writer.set("tokenizer.ggml.eos_token_id", uint32_t{2});
  return writer;
}

Result<gguf::File> open(const gguf::Writer& writer, std::vector<uint8_t>& storage) {
  Result<std::vector<uint8_t>> bytes = writer.to_bytes();
  if (!bytes) return bytes.error();
  storage = std::move(*bytes);
  return gguf::File::from_bytes(storage, "tiny.gguf");
}

Result<Vocabulary> load(const gguf::Writer& writer, std::vector<uint8_t>& storage) {
  LW_ASSIGN_OR_RETURN(gguf::File file, open(writer, storage));
  return vocabulary_from_gguf(file);
}

// Both routes from a file: vocabulary_from_gguf (validates) and tokenizer_from_gguf (reads without
// validating, then Tokenizer::create validates once) reject it with the same message.
void expect_gguf_error(const gguf::Writer& writer, const std::string& fragment) {
  std::vector<uint8_t> storage;
  Result<gguf::File> file = open(writer, storage);
  ASSERT_TRUE(file) << file.error().message;
  Result<Vocabulary> v = vocabulary_from_gguf(*file);
  ASSERT_FALSE(v) << "accepted; expected '" << fragment << "'";
  EXPECT_NE(v.error().message.find(fragment), std::string::npos) << v.error().message;
  EXPECT_NE(v.error().message.find("tiny.gguf"), std::string::npos) << v.error().message;
  Result<Tokenizer> tokenizer = tokenizer_from_gguf(*file);
  ASSERT_FALSE(tokenizer) << "tokenizer_from_gguf accepted; expected '" << fragment << "'";
  EXPECT_EQ(tokenizer.error().message, v.error().message);
  EXPECT_EQ(tokenizer.error().code, v.error().code);
}

TEST(VocabularyFromGguf, ReadsAValidFile) {
  std::vector<uint8_t> storage;
  Result<Vocabulary> v = load(tiny_gguf(), storage);
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(v->tokens.size(), 265u);
  EXPECT_EQ(v->special.unk, 0);  // the llama default
  EXPECT_TRUE(v->add_bos);
}

TEST(TokenizerFromGguf, EncodesAsTheTwoStepRoute) {
  std::vector<uint8_t> storage;
  Result<gguf::File> file = open(tiny_gguf(), storage);
  ASSERT_TRUE(file) << file.error().message;
  Result<Vocabulary> v = vocabulary_from_gguf(*file);
  ASSERT_TRUE(v) << v.error().message;
  Result<Tokenizer> two_step = Tokenizer::create(std::move(*v));
  Result<Tokenizer> one_step = tokenizer_from_gguf(*file);
  ASSERT_TRUE(two_step && one_step);
  EXPECT_EQ(one_step->size(), two_step->size());
  for (const char* text : {"ab ba", "hello wörld", "\xF0\x9F\x98\x80 a"}) {
    Result<std::vector<int32_t>> a = one_step->encode(text);
    Result<std::vector<int32_t>> b = two_step->encode(text);
    ASSERT_TRUE(a && b) << text;
    EXPECT_EQ(*a, *b) << text;
  }
}

TEST(VocabularyFromGguf, RejectsBadTypesLengthsAndIds) {
  gguf::Writer w = tiny_gguf();
  w.erase("tokenizer.ggml.tokens");
  expect_gguf_error(w, "'tokenizer.ggml.tokens' is missing");

  w = tiny_gguf();
  w.set("tokenizer.ggml.tokens", std::vector<int32_t>{1, 2, 3});
  expect_gguf_error(w, "'tokenizer.ggml.tokens' is arr[i32], expected arr[str]");

  w = tiny_gguf();
  w.set("tokenizer.ggml.model", uint32_t{7});
  expect_gguf_error(w, "'tokenizer.ggml.model' is u32, expected str");

  w = tiny_gguf();
  w.set("tokenizer.ggml.token_type", std::vector<float>(265, 1.0f));
  expect_gguf_error(w, "'tokenizer.ggml.token_type' is arr[f32], expected arr[i32]");

  w = tiny_gguf();
  w.set("tokenizer.ggml.token_type", std::vector<int32_t>(264, 1));
  expect_gguf_error(w, "has 264 entries for 265 tokens");

  w = tiny_gguf();
  w.set("tokenizer.ggml.token_type", std::vector<int32_t>(265, 42));
  expect_gguf_error(w, "element 0 is 42, not a token type");

  w = tiny_gguf();
  w.set("tokenizer.ggml.scores", std::vector<float>(10, 0.0f));
  expect_gguf_error(w, "'tokenizer.ggml.scores' has 10 entries for 265 tokens");

  w = tiny_gguf();
  w.set("tokenizer.ggml.bos_token_id", uint32_t{4000000000u});
  expect_gguf_error(w, "'tokenizer.ggml.bos_token_id' is 4000000000, out of range for 265 tokens");

  w = tiny_gguf();
  w.set("tokenizer.ggml.eos_token_id", std::string("2"));
  expect_gguf_error(w, "'tokenizer.ggml.eos_token_id' is not an integer token id");

  w = tiny_gguf();
  w.set("tokenizer.ggml.add_bos_token", uint8_t{1});
  expect_gguf_error(w, "'tokenizer.ggml.add_bos_token' is u8, expected bool");

  w = tiny_gguf();
  w.set("tokenizer.ggml.merges", std::vector<std::string>{"\xE2\x96\x81 a", "a b", "broken"});
  expect_gguf_error(w, "merge 2 'broken' is not two tokens separated by one space");

  w = tiny_gguf();
  std::vector<std::string> tokens = tiny_sentencepiece_vocabulary().tokens;
  tokens[100] = "<0xZZ>";
  w.set("tokenizer.ggml.tokens", tokens);
  expect_gguf_error(w, "byte token 100 '<0xZZ>' is not spelled <0xHH>");

  w = tiny_gguf();
  tokens = tiny_sentencepiece_vocabulary().tokens;
  tokens[264] = tokens[263];
  w.set("tokenizer.ggml.tokens", tokens);
  expect_gguf_error(w, "duplicate token");

  w = tiny_gguf();
  w.set("tokenizer.ggml.model", "gpt2");
  expect_gguf_error(w, "'tokenizer.ggml.merges' is missing");
}

}  // namespace
}  // namespace llama_worker::tokenizer

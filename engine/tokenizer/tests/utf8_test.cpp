// UTF-8 validation (offsets), repair (maximal subparts) and NFC.
#include <gtest/gtest.h>

#include "tokenizer/utf8.hpp"

namespace llama_worker::tokenizer {
namespace {

TEST(Utf8, ValidTextPasses) {
  EXPECT_TRUE(validate_utf8(""));
  EXPECT_TRUE(validate_utf8("plain ascii \x01\x7F"));
  EXPECT_TRUE(validate_utf8(std::string("nul\0inside", 10)));
  EXPECT_TRUE(validate_utf8(
      "\xC2\x80 \xDF\xBF \xE0\xA0\x80 \xED\x9F\xBF \xEE\x80\x80 \xF0\x90\x80\x80 \xF4\x8F\xBF\xBF"));
}

struct InvalidCase {
  const char* bytes;
  size_t offset;
};

TEST(Utf8, InvalidTextNamesTheByteOffset) {
  const InvalidCase cases[] = {
      {"abc\x80", 3},           // lone continuation byte
      {"ab\xC0\xAF", 2},        // overlong (C0 can never start a sequence)
      {"\xE0\x80\xAF", 0},      // overlong 3-byte form
      {"xx\xED\xA0\x80", 2},    // UTF-16 surrogate
      {"\xF4\x90\x80\x80", 0},  // above U+10FFFF
      {"\xF5\x80\x80\x80", 0},  // F5 never starts a sequence
      {"ok \xE2\x82", 3},       // cut off by the end
      {"\xC3\x28", 0},          // lead followed by a non-continuation byte
      {"a\xFF", 1},
  };
  for (const InvalidCase& c : cases) {
    const Status status = validate_utf8(c.bytes);
    ASSERT_FALSE(status) << c.bytes;
    EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(status.message().find("byte offset " + std::to_string(c.offset) + ":"), std::string::npos)
        << status.message();
  }
}

TEST(Utf8, RepairReplacesMaximalSubparts) {
  // The Unicode Standard's example (chapter 3, "U+FFFD Substitution of Maximal Subparts").
  const std::string repaired = repair_utf8("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64");
  EXPECT_EQ(repaired, "a\uFFFD\uFFFD\uFFFDb\uFFFDc\uFFFD\uFFFDd");
  EXPECT_EQ(repair_utf8("\xED\xA0\x80"), "\uFFFD\uFFFD\uFFFD");  // a surrogate: no valid prefix beyond ED
  EXPECT_EQ(repair_utf8("\xF0\x9F\x98"), "\uFFFD");              // one truncated sequence
}

TEST(Utf8, RepairCanHoldAnIncompleteTail) {
  size_t held = 0;
  EXPECT_EQ(repair_utf8("ok\xF0\x9F\x98", true, &held), "ok");
  EXPECT_EQ(held, 3u);
  EXPECT_EQ(repair_utf8("ok\xF0\x9F\x98\x80", true, &held), "ok\U0001F600");
  EXPECT_EQ(held, 0u);
  EXPECT_EQ(repair_utf8("\x80\xE2", true, &held), "\uFFFD");
  EXPECT_EQ(held, 1u);
}

TEST(Utf8, NfcComposesAndLeavesComposedTextAlone) {
  EXPECT_EQ(*nfc_normalize("e\u0301"), "\u00E9");
  EXPECT_EQ(*nfc_normalize("\u1100\u1161\u11A8"), "\uAC01");  // Hangul jamo -> syllable
  EXPECT_EQ(*nfc_normalize("A\u030A"), "\u00C5");
  EXPECT_EQ(*nfc_normalize("\u212B"), "\u00C5");  // ANGSTROM SIGN is a singleton
  EXPECT_EQ(*nfc_normalize(std::string("a\0b", 3)), std::string("a\0b", 3));
  EXPECT_EQ(*nfc_normalize("déjà vu"), "déjà vu");
  EXPECT_TRUE(is_trivially_nfc("déjà vu"));
  EXPECT_FALSE(is_trivially_nfc("e\u0301"));
}

}  // namespace
}  // namespace llama_worker::tokenizer

// One regression test per published GGUF parser vulnerability (README.md lists them with their
// sources). Each builds the kind of file the report describes and checks that this reader
// rejects it with a clean error (or, for consumer-side bugs, that the typed API refuses the
// confused read) -- under ASan/UBSan in the asan preset, so an out-of-bounds access, an
// oversized allocation or an overflow would fail the test rather than pass silently.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <string>

#include "gguf/file.hpp"
#include "gguf/testing/raw_gguf.hpp"
#include "malformed_cases.hpp"

namespace llama_worker::gguf {
namespace {

using testing::RawGguf;
using testing::RawTensor;
using testing::RawValue;

constexpr uint64_t kMax = 0xffffffffffffffffull;

// Parses `raw`, expects a rejection containing `expected`, quickly and without allocating
// anything sized by the hostile field (a huge allocation would fail under ASan or take time).
void expect_rejected(const RawGguf& raw, const std::string& expected) {
  const auto bytes = raw.serialize();
  const auto start = std::chrono::steady_clock::now();
  auto file = File::from_bytes(bytes, "advisory.gguf");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_FALSE(file) << "accepted a file built after the advisory";
  EXPECT_NE(file.error().message.find(expected), std::string::npos) << file.error().message;
  EXPECT_LT(seconds, 1.0) << "rejection took too long";
}

RawValue array_of(uint32_t element_type, uint64_t count, std::vector<uint8_t> payload) {
  RawValue value;
  value.type = 9;
  value.element_type = element_type;
  value.count = count;
  value.payload = std::move(payload);
  return value;
}

// --- Cisco Talos, February 2024 (llama.cpp commit 18c2e17, gguf.c) -----------------------

// TALOS-2024-1912 / CVE-2024-21825: GGUF_TYPE_ARRAY of GGUF_TYPE_STRING -- the element count
// multiplied by sizeof(gguf_str) wrapped, the allocation was tiny and the string reads overflowed.
TEST(GgufAdvisory, TALOS_2024_1912_StringArrayCountWraps) {
  RawGguf raw = testing::valid_base();
  raw.metadata[2].value.count = 0x1000000000000001ull;  // * 16 wraps to 16
  expect_rejected(raw, "strings cannot fit");
}

// TALOS-2024-1913 / CVE-2024-23605: header.n_kv times sizeof(gguf_kv) wrapped.
TEST(GgufAdvisory, TALOS_2024_1913_MetadataCountWraps) {
  RawGguf raw = testing::valid_base();
  raw.n_kv = 0x0400000000000001ull;
  expect_rejected(raw, "metadata count 288230376151711745 cannot fit");
}

// TALOS-2024-1914 / CVE-2024-21802: info->ne -- n_dims above GGML_MAX_DIMS wrote past ne[4].
TEST(GgufAdvisory, TALOS_2024_1914_TensorDimsPastMax) {
  RawGguf raw = testing::valid_base();
  raw.tensors[0].dims = {4, 2, 1, 1, 1, 1, 1, 1};
  expect_rejected(raw, "n_dims 8 is outside 1..4");
}

// TALOS-2024-1915 / CVE-2024-21836: header.n_tensors times sizeof(gguf_tensor_info) wrapped.
TEST(GgufAdvisory, TALOS_2024_1915_TensorCountWraps) {
  RawGguf raw = testing::valid_base();
  raw.n_tensors = 0x0100000000000001ull;
  expect_rejected(raw, "tensor count 72057594037927937 cannot fit");
}

// TALOS-2024-1916 / CVE-2024-23496: gguf_fread_str allocated length + 1, which wraps to 0 for a
// length of 2^64 - 1, then read the string into it.
TEST(GgufAdvisory, TALOS_2024_1916_StringLengthPlusOneWraps) {
  RawGguf raw = testing::valid_base();
  raw.metadata[0].key_length = kMax;
  expect_rejected(raw, "length 18446744073709551615 exceeds the");
}

// --- llama.cpp advisories after 2024 -------------------------------------------------------

// CVE-2025-53630 / GHSA-vgg9-87g3-85w8: the sum of padded tensor sizes (ctx->size) wrapped in
// gguf_init_from_file_impl. Here every tensor is bounded by the file on its own.
TEST(GgufAdvisory, CVE_2025_53630_TensorSizeSumWraps) {
  RawGguf raw = testing::valid_base();
  raw.tensors[0].dims = {int64_t{1} << 61};  // 2^63 bytes
  raw.tensors[1] = RawTensor{"q2", {int64_t{1} << 61}, 0, uint64_t{1} << 63, std::nullopt, std::nullopt};
  expect_rejected(raw, "runs past the end of the data section");
}

// CVE-2026-27940 / GHSA-3p4r-fq3f-q74v: overhead + ctx->size for the ggml context wrapped
// (bypass of the CVE-2025-53630 fix). Sizes here are never added to anything unchecked.
TEST(GgufAdvisory, CVE_2026_27940_ContextSizePlusOverheadWraps) {
  RawGguf raw = testing::valid_base();
  raw.tensors[0].dims = {(int64_t{1} << 62) - 8};  // 2^64 - 32 bytes: + any overhead wraps
  expect_rejected(raw, "runs past the end of the data section");
}

// CVE-2026-33298 and the ggml_row_size/ggml_nbytes reports: type_size * ne wrapped for quantized
// types before the division by the block size. Row bytes here are blocks * bytes_per_block,
// overflow-checked, so a huge Q8_0 row is measured correctly and found larger than the file.
TEST(GgufAdvisory, CVE_2026_33298_QuantizedRowBytesWrap) {
  RawGguf raw = testing::valid_base();
  raw.tensors[1].dims = {int64_t{1} << 62};  // 34 * 2^62 would wrap; 34 * 2^57 does not
  expect_rejected(raw, "tensor 'q': data at offset 32 + 4899916394579099648 bytes runs past the end");
}

// GGML_PAD wraparound (public PoC against gguf_init_from_file_ptr): an F32 tensor of 2^62 - 1
// elements has 2^64 - 4 bytes; padding that to 32 wrapped to 0.
TEST(GgufAdvisory, GgmlPadWrapsTensorSizeToZero) {
  RawGguf raw = testing::valid_base();
  raw.tensors[0].dims = {(int64_t{1} << 62) - 1};
  expect_rejected(raw, "tensor 'w': data at offset 0 + 18446744073709551612 bytes runs past the end");
}

// Division by zero in the element-count overflow check (INT64_MAX / ne[1] with ne[1] == 0).
TEST(GgufAdvisory, ZeroDimensionDivisionByZero) {
  RawGguf raw = testing::valid_base();
  raw.tensors[0].dims = {4, 0};
  expect_rejected(raw, "dimension 1 is 0, must be positive");
}

// ggml PR #1516 and the general.alignment PoC (alignment 0x80000000): no upper bound on the
// alignment made padding overflow or allocate gigabytes.
TEST(GgufAdvisory, GeneralAlignmentWithoutUpperBound) {
  RawGguf raw = testing::valid_base();
  raw.add("general.alignment", testing::raw_u32(0x80000000u));
  expect_rejected(raw, "general.alignment 2147483648 is not a power of two between 1 and 1048576");
}

// llama.cpp PR #26318: a general.alignment stored as INT32 hit an assertion (abort).
TEST(GgufAdvisory, GeneralAlignmentWrongTypeAsserted) {
  RawGguf raw = testing::valid_base();
  raw.add("general.alignment", testing::raw_i32(32));
  expect_rejected(raw, "general.alignment has type i32, expected u32");
}

// llama.cpp issue #19003: gguf_reader::read(std::string&) resized to an unchecked length.
TEST(GgufAdvisory, LlamaCppIssue19003_UncheckedStringResize) {
  RawGguf raw = testing::valid_base();
  uint64_t length = uint64_t{1} << 40;
  std::memcpy(raw.metadata[0].value.payload.data(), &length, 8);
  expect_rejected(raw, "string length 1099511627776 exceeds the");
}

// llama.cpp PR #27188 (gguf-py GGUFReader): an array length of 2^63 looped and grew memory.
TEST(GgufAdvisory, GgufPy_PR27188_ArrayLength2Pow63) {
  RawGguf raw = testing::valid_base();
  raw.add("ids", array_of(4, uint64_t{1} << 63, {0, 0, 0, 0}));
  expect_rejected(raw, "overflow a 64-bit size");
  raw.metadata.back().value = array_of(8, uint64_t{1} << 63, {});
  expect_rejected(raw, "strings cannot fit");
}

// llama.cpp PR #26690 and issue #24888: tokenizer.ggml.scores / token_type stored with a 1-byte
// element type were read as float / int32 arrays (3x heap over-read). The typed API checks the
// element type, so the confused read is refused.
TEST(GgufAdvisory, LlamaCppPR26690_TokenizerArrayElementTypeConfusion) {
  RawGguf raw = testing::valid_base();
  raw.add("tokenizer.ggml.scores", array_of(1, 2, {0x7f, 0x01}));  // i8[2]
  raw.add("tokenizer.ggml.token_type", array_of(0, 2, {1, 1}));    // u8[2]
  const auto bytes = raw.serialize();
  auto file = File::from_bytes(bytes, "advisory.gguf");
  ASSERT_TRUE(file) << file.error().message;  // a valid file; the danger is in the consumer
  auto scores = file->get_array<float>("tokenizer.ggml.scores");
  ASSERT_FALSE(scores);
  EXPECT_NE(scores.error().message.find("is arr[i8], not an array of f32"), std::string::npos);
  auto types = file->get_array<int32_t>("tokenizer.ggml.token_type");  // u8 widens losslessly
  ASSERT_TRUE(types);
  EXPECT_EQ(*types, (std::vector<int32_t>{1, 1}));
  EXPECT_EQ(file->find("tokenizer.ggml.scores")->count, 2u);  // count is elements, not bytes
}

// antirez/gguf-tools issue #25: n_dims > 8 wrote past tensor->dim[8] (assert compiled out).
TEST(GgufAdvisory, GgufTools_Issue25_NDimsAboveEight) {
  RawGguf raw = testing::valid_base();
  raw.tensors[0].n_dims = 9;
  expect_rejected(raw, "n_dims 9 is outside 1..4");
}

// --- Ollama (fs/ggml/gguf.go) ---------------------------------------------------------------

// CVE-2024-39720 (Ollama < 0.1.46): a 4-byte file holding only the magic crashed the parser.
TEST(GgufAdvisory, Ollama_CVE_2024_39720_MagicOnlyFile) {
  RawGguf raw;
  raw.magic = "GGUF";
  auto bytes = raw.serialize();
  bytes.resize(4);
  auto file = File::from_bytes(bytes, "advisory.gguf");
  ASSERT_FALSE(file);
  EXPECT_NE(file.error().message.find("version needs 4 bytes but only 0 are left"), std::string::npos);
}

// CVE-2024-12055 (Ollama <= 0.3.14): out-of-bounds read in gguf.go on a crafted model: an array
// whose declared length runs past the end of the file.
TEST(GgufAdvisory, Ollama_CVE_2024_12055_ArrayReadPastEnd) {
  RawGguf raw = testing::valid_base();
  raw.add("ids", array_of(10, 64, std::vector<uint8_t>(16)));  // u64[64] with 2 elements' bytes
  expect_rejected(raw, "key 'ids' needs 512 bytes");
}

// CVE-2025-0315 (GO-2025-3557): unlimited memory allocation driven by GGUF counts.
TEST(GgufAdvisory, Ollama_CVE_2025_0315_UnboundedAllocation) {
  RawGguf raw = testing::valid_base();
  raw.metadata[2].value.count = uint64_t{1} << 40;  // a trillion strings in a 200-byte file
  expect_rejected(raw, "array of 1099511627776 strings cannot fit");
}

// CVE-2025-0317 (GO-2025-3559, "ggufPadding"): general.alignment 0 divided by zero.
TEST(GgufAdvisory, Ollama_CVE_2025_0317_ZeroAlignmentDivision) {
  RawGguf raw = testing::valid_base();
  raw.add("general.alignment", testing::raw_u32(0));
  expect_rejected(raw, "general.alignment 0 is not a power of two");
}

// CVE-2025-66960: readGGUFV1String trusted a v1 string length. Version 1 is never parsed here.
TEST(GgufAdvisory, Ollama_CVE_2025_66960_Version1StringLength) {
  RawGguf raw = testing::valid_base();
  raw.version = 1;
  raw.metadata[0].key_length = kMax;
  expect_rejected(raw, "GGUF version 1 is not supported");
}

// CVE-2025-66959: the GGUF decoder copied with an unchecked length (panic).
TEST(GgufAdvisory, Ollama_CVE_2025_66959_UncheckedCopyLength) {
  RawGguf raw = testing::valid_base();
  raw.tensors[0].name_length = uint64_t{1} << 33;
  expect_rejected(raw, "tensor 0 name length 8589934592 exceeds the");
}

// CVE-2026-7482 "Bleeding Llama" (Ollama < 0.17.1): a tensor whose declared offset and size
// exceed the file length was read past the heap buffer during quantization.
TEST(GgufAdvisory, Ollama_CVE_2026_7482_BleedingLlamaTensorPastFileEnd) {
  RawGguf raw = testing::valid_base();
  raw.tensors[0].dims = {4, 64};  // 1024 bytes declared, 66 in the data section
  expect_rejected(raw, "tensor 'w': data at offset 0 + 1024 bytes runs past the end of the data section");
}

// ollama/ollama issue #17042: unbounded allocation in the metadata parser from a tiny file.
TEST(GgufAdvisory, Ollama_Issue17042_UnboundedMetadataAllocation) {
  RawGguf raw = testing::valid_base();
  raw.n_kv = uint64_t{1} << 32;
  expect_rejected(raw, "metadata count 4294967296 cannot fit");
}

}  // namespace
}  // namespace llama_worker::gguf

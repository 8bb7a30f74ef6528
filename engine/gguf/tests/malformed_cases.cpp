#include "malformed_cases.hpp"

#include <cstring>
#include <functional>

namespace llama_worker::gguf::testing {
namespace {

constexpr uint32_t kF32 = 0;
constexpr uint32_t kQ8_0 = 8;
constexpr uint64_t kHuge = 0xffffffffffffffffull;

std::vector<uint8_t> bytes_of(std::initializer_list<uint8_t> bytes) { return std::vector<uint8_t>(bytes); }

// The base with one change applied.
std::vector<uint8_t> with(const std::function<void(RawGguf&)>& change) {
  RawGguf raw = valid_base();
  change(raw);
  return raw.serialize();
}

// The base's bytes cut to `size`.
std::vector<uint8_t> cut(size_t size) {
  auto bytes = valid_base().serialize();
  bytes.resize(std::min(size, bytes.size()));
  return bytes;
}

RawValue raw_array(uint32_t element_type, uint64_t count, std::vector<uint8_t> payload) {
  RawValue value;
  value.type = 9;
  value.element_type = element_type;
  value.count = count;
  value.payload = std::move(payload);
  return value;
}

}  // namespace

RawGguf valid_base() {
  RawGguf raw;
  raw.add("general.architecture", raw_string("llama"));
  raw.add("llama.block_count", raw_u32(1));
  raw.add("tokenizer.ggml.tokens", raw_string_array({"a", "bc"}));
  raw.tensors.push_back(RawTensor{"w", {4, 2}, kF32, 0, std::nullopt, std::nullopt});
  raw.tensors.push_back(RawTensor{"q", {32}, kQ8_0, 32, std::nullopt, std::nullopt});
  raw.data.assign(32 + 34, 0x5a);
  return raw;
}

std::vector<MalformedCase> malformed_cases() {
  std::vector<MalformedCase> cases;
  const auto add = [&](std::string name, std::vector<uint8_t> bytes, std::string expected) {
    cases.push_back(MalformedCase{std::move(name), std::move(bytes), std::move(expected)});
  };
  const size_t header_end = 24;
  // Header
  add("empty-file", {}, "file is 0 bytes, too short for the GGUF magic");
  add("short-magic", bytes_of({'G', 'G'}), "file is 2 bytes, too short for the GGUF magic");
  add("bad-magic", with([](RawGguf& r) { r.magic = "GGML"; }), "not a GGUF file (magic is 'GGML'");
  add("magic-only", bytes_of({'G', 'G', 'U', 'F'}), "version needs 4 bytes but only 0 are left");
  add("version-1", with([](RawGguf& r) { r.version = 1; }), "GGUF version 1 is not supported");
  add("version-unknown", with([](RawGguf& r) { r.version = 99; }), "unknown GGUF version 99");
  add("version-byte-swapped", with([](RawGguf& r) { r.version = 0x03000000; }),
      "byte-swapped (big-endian) GGUF file");
  add("truncated-header", cut(12), "header needs 24 bytes but the file is 12 bytes");
  add("kv-count-too-large", with([](RawGguf& r) { r.n_kv = 0x0800000000000001ull; }),
      "metadata count 576460752303423489 cannot fit");
  add("kv-count-one-extra", with([](RawGguf& r) {
        r.tensors.clear();
        r.data.clear();
        r.pad_to = 0;
        r.n_kv = 4;
      }),
      "metadata key 3 length needs 8 bytes but only 0 are left");
  add("tensor-count-too-large", with([](RawGguf& r) { r.n_tensors = 0x0400000000000000ull; }),
      "tensor count 288230376151711744 cannot fit");
  add("tensor-count-one-extra", with([](RawGguf& r) {
        r.n_tensors = 3;
        r.pad_to = 0;
        r.data.clear();
      }),
      "tensor 2 name length needs 8 bytes");
  // Keys and values
  add("key-length-past-end", with([](RawGguf& r) { r.metadata[0].key_length = 1ull << 40; }),
      "metadata key 0 length 1099511627776 exceeds the");
  add("key-length-max", with([](RawGguf& r) { r.metadata[0].key_length = kHuge; }),
      "metadata key 0 length 18446744073709551615 exceeds the");
  add("key-too-long", with([](RawGguf& r) { r.metadata[0].key = std::string(70000, 'k'); }),
      "exceeds the limit of 65535 bytes");
  add("key-empty", with([](RawGguf& r) { r.metadata[1].key.clear(); }), "metadata key 1 is empty");
  add("key-duplicate", with([](RawGguf& r) { r.metadata[2].key = "llama.block_count"; }),
      "duplicate key 'llama.block_count'");
  add("value-type-unknown", with([](RawGguf& r) { r.metadata[1].value.type = 13; }),
      "key 'llama.block_count': unknown value type 13");
  add("value-type-huge", with([](RawGguf& r) { r.metadata[1].value.type = 0xffffffffu; }),
      "unknown value type 4294967295");
  add("scalar-truncated", with([](RawGguf& r) {
        r.tensors.clear();
        r.data.clear();
        r.pad_to = 0;
        r.metadata.push_back({"big", raw_u64(1), std::nullopt});
        r.metadata.back().value.payload.resize(5);
      }),
      "key 'big' needs 8 bytes but only 5 are left");
  add("string-length-past-end", with([](RawGguf& r) {
        uint64_t length = 1u << 20;
        std::memcpy(r.metadata[0].value.payload.data(), &length, 8);
      }),
      "key 'general.architecture': string length 1048576 exceeds the");
  add("string-length-max",
      with([](RawGguf& r) { std::memcpy(r.metadata[0].value.payload.data(), &kHuge, 8); }),
      "string length 18446744073709551615 exceeds the");
  add("array-of-arrays", with([](RawGguf& r) { r.metadata[2].value.element_type = 9; }),
      "arrays of arrays are not supported");
  add("array-element-type-unknown", with([](RawGguf& r) { r.metadata[2].value.element_type = 13; }),
      "unknown array element type 13");
  add("array-count-overflow", with([](RawGguf& r) {
        r.add("ids", raw_array(4, 0x4000000000000001ull, {1, 0, 0, 0}));
      }),
      "4611686018427387905 elements of u32 overflow a 64-bit size");
  add("array-count-past-end",
      with([](RawGguf& r) { r.add("ids", raw_array(4, 1000, std::vector<uint8_t>(8))); }),
      "key 'ids' needs 4000 bytes");
  add("string-array-count-too-large",
      with([](RawGguf& r) { r.metadata[2].value.count = 0x2000000000000001ull; }),
      "array of 2305843009213693953 strings cannot fit");
  add("string-array-element-past-end", with([](RawGguf& r) {
        uint64_t length = 1u << 30;
        std::memcpy(r.metadata[2].value.payload.data() + 9, &length, 8);  // element 1's length
      }),
      "element 1 length 1073741824 exceeds the");
  add("bool-invalid", with([](RawGguf& r) { r.add("flag", raw_bool_byte(2)); }),
      "key 'flag': bool byte is 2");
  add("bool-array-invalid", with([](RawGguf& r) {
        r.add("flags", raw_array(7, 3, {1, 0, 255}));
      }),
      "key 'flags': bool byte is 255");
  // general.alignment
  add("alignment-not-power-of-two", with([](RawGguf& r) { r.add("general.alignment", raw_u32(48)); }),
      "general.alignment 48 is not a power of two");
  add("alignment-zero", with([](RawGguf& r) { r.add("general.alignment", raw_u32(0)); }),
      "general.alignment 0 is not a power of two");
  add("alignment-too-large", with([](RawGguf& r) { r.add("general.alignment", raw_u32(0x80000000u)); }),
      "general.alignment 2147483648 is not a power of two between 1 and 1048576");
  add("alignment-wrong-type", with([](RawGguf& r) { r.add("general.alignment", raw_i32(32)); }),
      "general.alignment has type i32, expected u32");
  // Tensor table
  add("tensor-name-empty", with([](RawGguf& r) { r.tensors[0].name.clear(); }), "tensor 0 has an empty name");
  add("tensor-name-too-long", with([](RawGguf& r) { r.tensors[0].name = std::string(64, 'n'); }),
      "tensor 0 name length 64 exceeds the limit of 63 bytes");
  add("tensor-name-length-past-end", with([](RawGguf& r) { r.tensors[1].name_length = kHuge; }),
      "tensor 1 name length 18446744073709551615 exceeds the");
  add("tensor-name-duplicate", with([](RawGguf& r) { r.tensors[1].name = r.tensors[0].name; }),
      "duplicate tensor name 'w'");
  add("n-dims-zero", with([](RawGguf& r) { r.tensors[0].n_dims = 0; }),
      "tensor 'w': n_dims 0 is outside 1..4");
  add("n-dims-five", with([](RawGguf& r) {
        r.tensors[0].dims = {4, 2, 1, 1, 1};
      }),
      "tensor 'w': n_dims 5 is outside 1..4");
  add("n-dims-huge", with([](RawGguf& r) { r.tensors[0].n_dims = 0xffffffffu; }),
      "n_dims 4294967295 is outside 1..4");
  add("dim-zero", with([](RawGguf& r) {
        r.tensors[0].dims = {4, 0};
      }),
      "tensor 'w': dimension 1 is 0, must be positive");
  add("dim-negative", with([](RawGguf& r) {
        r.tensors[0].dims = {-4, 2};
      }),
      "tensor 'w': dimension 0 is -4, must be positive");
  add("element-count-overflow", with([](RawGguf& r) {
        r.tensors[0].dims = {1ll << 32, 1ll << 32};
      }),
      "tensor 'w': element count overflows int64 at dimension 1");
  add("row-size-overflow", with([](RawGguf& r) { r.tensors[0].dims = {1ll << 62}; }),
      "tensor 'w': row size overflows");
  add("byte-size-overflow", with([](RawGguf& r) {
        r.tensors[0].dims = {1ll << 31, 1ll << 31};
      }),
      "tensor 'w': byte size overflows 64 bits");
  add("row-not-block-multiple", with([](RawGguf& r) { r.tensors[1].dims = {33}; }),
      "tensor 'q': row of 33 elements is not a multiple of Q8_0's block size 32");
  add("tensor-type-retired", with([](RawGguf& r) { r.tensors[0].type = 4; }),
      "tensor 'w': unknown ggml type 4");
  add("tensor-type-huge", with([](RawGguf& r) { r.tensors[0].type = 0xffffffffu; }),
      "unknown ggml type 4294967295");
  add("offset-misaligned", with([](RawGguf& r) { r.tensors[1].offset = 33; }),
      "tensor 'q': data offset 33 is not a multiple of the alignment 32");
  add("offset-past-end", with([](RawGguf& r) { r.tensors[1].offset = 1u << 20; }),
      "tensor 'q': data at offset 1048576 + 34 bytes runs past the end of the data section");
  add("offset-size-wraps", with([](RawGguf& r) { r.tensors[1].offset = kHuge - 31; }),
      "tensor 'q': data at offset 18446744073709551584 + 34 bytes runs past the end");
  add("tensors-overlap", with([](RawGguf& r) { r.tensors[1].offset = 0; }), "overlaps tensor");
  add("data-section-missing", with([](RawGguf& r) {
        r.pad_to = 0;
        r.data.clear();
      }),
      "data section would start at byte");
  add("data-truncated", with([](RawGguf& r) { r.data.resize(40); }),
      "tensor 'q': data at offset 32 + 34 bytes runs past the end of the data section (40 bytes");
  // Truncation in each part of the file
  const size_t metadata_cut = header_end + 8 + 20 + 4 + 8 + 3;  // 3 bytes into the first string value
  {
    auto bytes = with([](RawGguf& r) {
      r.tensors.clear();
      r.data.clear();
      r.pad_to = 0;
    });
    bytes.resize(metadata_cut);
    add("truncated-in-metadata", bytes,
        "key 'general.architecture': string length 5 exceeds the 3 bytes left");
  }
  {
    RawGguf raw = valid_base();
    raw.tensors.clear();
    raw.pad_to = 0;
    raw.data.clear();
    const size_t table_start = raw.serialize().size();
    add("truncated-in-tensor-info", cut(table_start + 8 + 1 + 4 + 4),
        "tensor 'w': dimension 0 needs 8 bytes");
  }
  return cases;
}

}  // namespace llama_worker::gguf::testing

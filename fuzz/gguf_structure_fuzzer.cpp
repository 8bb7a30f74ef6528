// libFuzzer harness with a structure-aware mutator for GGUF. Random bytes rarely get past the
// header, so LLVMFuzzerCustomMutator parses the input (when it is a valid file; otherwise it
// starts from a built-in valid file), changes one to three fields of the structure -- a value's
// type, an array count, a string length, a key, n_dims, a dimension, a tensor type, an offset,
// general.alignment, the version, the counts, the data section -- and serializes the result
// byte-exactly with testing::RawGguf (which writes invalid fields as they are). A quarter of the
// time it falls back to libFuzzer's byte-level LLVMFuzzerMutate.
//
// The test itself is the raw harness's (exercise_bytes) plus a round-trip property on every
// valid input: Writer(read(x)) re-reads equal to read(x).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gguf/testing/raw_gguf.hpp"
#include "gguf/writer.hpp"
#include "gguf_exercise.hpp"

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace {

using namespace llama_worker;
using gguf::testing::RawGguf;
using gguf::testing::RawKeyValue;
using gguf::testing::RawTensor;
using gguf::testing::RawValue;
using Rng = std::minstd_rand;

const char* const kKeys[] = {
    "general.architecture",
    "general.alignment",
    "general.name",
    "split.count",
    "split.no",
    "split.tensors.count",
    "tokenizer.ggml.tokens",
    "tokenizer.ggml.merges",
    "tokenizer.ggml.model",
    "tokenizer.ggml.scores",
    "qwen2.block_count",
    "llama.context_length",
};

uint64_t pick(Rng& rng, uint64_t bound) { return bound == 0 ? 0 : rng() % bound; }

// Interesting integers: boundaries, near-overflow values, small counts.
uint64_t interesting(Rng& rng) {
  static const uint64_t kValues[] = {0,
                                     1,
                                     2,
                                     3,
                                     4,
                                     5,
                                     7,
                                     8,
                                     13,
                                     16,
                                     31,
                                     32,
                                     33,
                                     63,
                                     64,
                                     255,
                                     256,
                                     4096,
                                     0x7fffffffull,
                                     0x80000000ull,
                                     0xffffffffull,
                                     0x100000000ull,
                                     0x7fffffffffffffffull,
                                     0x8000000000000000ull,
                                     0xffffffffffffffffull,
                                     0x2000000000000000ull,
                                     0x1fffffffffffffffull};
  uint64_t value = kValues[pick(rng, std::size(kValues))];
  if (rng() % 4 == 0) value += static_cast<uint64_t>(static_cast<int64_t>(pick(rng, 5)) - 2);
  return value;
}

RawGguf builtin_seed() {
  gguf::Writer writer;
  writer.set("general.architecture", std::string("llama"));
  writer.set("llama.block_count", uint32_t{2});
  writer.set("general.alignment", uint32_t{32});
  writer.set("tokenizer.ggml.tokens", std::vector<std::string>{"a", "b", "<s>"});
  writer.set("tokenizer.ggml.scores", std::vector<float>{0.5f, -1.0f, 0.0f});
  writer.set("flags", std::vector<bool>{true, false});
  writer.add_tensor("w", gguf::TensorType::kF32, {4, 2}, std::vector<uint8_t>(32, 1));
  writer.add_tensor("q", gguf::TensorType::kQ8_0, {32}, std::vector<uint8_t>(34, 2));
  auto bytes = writer.to_bytes();
  auto file = gguf::File::from_bytes(*bytes, "seed");
  return gguf::testing::to_raw(*file);
}

void mutate_value(RawValue& value, Rng& rng) {
  switch (pick(rng, 6)) {
    case 0:
      value.type = static_cast<uint32_t>(pick(rng, 2) ? pick(rng, 14) : interesting(rng));
      break;
    case 1:
      value.element_type = static_cast<uint32_t>(pick(rng, 2) ? pick(rng, 14) : interesting(rng));
      break;
    case 2:
      value.count = pick(rng, 2) ? value.count + pick(rng, 3) - 1 : interesting(rng);
      break;
    case 3:  // a string's (or the first string element's) length field
      if (value.payload.size() >= 8) {
        const uint64_t length = interesting(rng);
        std::memcpy(value.payload.data(), &length, 8);
      }
      break;
    case 4:
      if (!value.payload.empty())
        value.payload[pick(rng, value.payload.size())] ^= static_cast<uint8_t>(1u << pick(rng, 8));
      break;
    default:
      if (!value.payload.empty()) value.payload.resize(pick(rng, value.payload.size()));
      break;
  }
}

void mutate_tensor(RawTensor& tensor, const RawGguf& raw, Rng& rng) {
  switch (pick(rng, 7)) {
    case 0:
      tensor.n_dims = static_cast<uint32_t>(pick(rng, 2) ? pick(rng, 6) : interesting(rng));
      break;
    case 1:
      if (!tensor.dims.empty()) {
        int64_t& dim = tensor.dims[pick(rng, tensor.dims.size())];
        // -1, 0 or +1 with wrap-around (in uint64_t: a dimension may already be INT64_MAX).
        dim = pick(rng, 2) ? static_cast<int64_t>(static_cast<uint64_t>(dim) + pick(rng, 3) - 1)
                           : static_cast<int64_t>(interesting(rng));
      }
      break;
    case 2:
      tensor.type = static_cast<uint32_t>(pick(rng, 4) ? pick(rng, 42) : interesting(rng));
      break;
    case 3:
      tensor.offset = pick(rng, 2) ? tensor.offset + pick(rng, 65) - 32 : interesting(rng);
      break;
    case 4:
      if (!raw.tensors.empty()) tensor.offset = raw.tensors[pick(rng, raw.tensors.size())].offset;
      break;
    case 5:
      if (!raw.tensors.empty()) tensor.name = raw.tensors[pick(rng, raw.tensors.size())].name;
      break;
    default:
      if (pick(rng, 2)) {
        tensor.name_length = interesting(rng);
      } else {
        tensor.dims.push_back(static_cast<int64_t>(interesting(rng)));
      }
      break;
  }
}

void mutate_structure(RawGguf& raw, Rng& rng) {
  switch (pick(rng, 12)) {
    case 0:
      if (!raw.metadata.empty()) mutate_value(raw.metadata[pick(rng, raw.metadata.size())].value, rng);
      break;
    case 1:
      if (!raw.metadata.empty()) raw.metadata.push_back(raw.metadata[pick(rng, raw.metadata.size())]);
      break;
    case 2:
      if (!raw.metadata.empty())
        raw.metadata.erase(raw.metadata.begin() + static_cast<long>(pick(rng, raw.metadata.size())));
      break;
    case 3: {
      RawValue value = pick(rng, 2) ? gguf::testing::raw_u32(static_cast<uint32_t>(interesting(rng)))
                                    : gguf::testing::raw_u64(interesting(rng));
      if (pick(rng, 3) == 0) value.type = static_cast<uint32_t>(pick(rng, 13));
      raw.add(kKeys[pick(rng, std::size(kKeys))], std::move(value));
      break;
    }
    case 4:
      if (!raw.metadata.empty()) {
        RawKeyValue& entry = raw.metadata[pick(rng, raw.metadata.size())];
        if (pick(rng, 2)) {
          entry.key = kKeys[pick(rng, std::size(kKeys))];
        } else {
          entry.key_length = interesting(rng);
        }
      }
      break;
    case 5:
      if (!raw.tensors.empty()) mutate_tensor(raw.tensors[pick(rng, raw.tensors.size())], raw, rng);
      break;
    case 6:
      if (!raw.tensors.empty()) raw.tensors.push_back(raw.tensors[pick(rng, raw.tensors.size())]);
      break;
    case 7:
      if (!raw.tensors.empty())
        raw.tensors.erase(raw.tensors.begin() + static_cast<long>(pick(rng, raw.tensors.size())));
      break;
    case 8: {
      static const uint32_t kVersions[] = {1, 2, 3, 4, 0x01000000, 0x02000000, 0x03000000, 0xffffffff};
      raw.version = kVersions[pick(rng, std::size(kVersions))];
      break;
    }
    case 9:
      if (pick(rng, 2)) {
        raw.n_kv = pick(rng, 2) ? raw.metadata.size() + pick(rng, 3) - 1 : interesting(rng);
      } else {
        raw.n_tensors = pick(rng, 2) ? raw.tensors.size() + pick(rng, 3) - 1 : interesting(rng);
      }
      break;
    case 10: {
      static const uint64_t kPads[] = {0, 1, 8, 16, 32, 64, 4096};
      raw.pad_to = kPads[pick(rng, std::size(kPads))];
      break;
    }
    default:
      if (pick(rng, 2) && !raw.data.empty()) {
        raw.data.resize(pick(rng, raw.data.size()));
      } else {
        raw.data.resize(raw.data.size() + pick(rng, 128));
      }
      break;
  }
}

}  // namespace

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  Rng rng(seed);
  if (pick(rng, 4) == 0) return LLVMFuzzerMutate(data, size, max_size);
  RawGguf raw;
  if (auto file = gguf::File::from_bytes({data, size}, "mutator-input")) {
    raw = gguf::testing::to_raw(*file);
  } else if (pick(rng, 2) == 0) {
    return LLVMFuzzerMutate(data, size, max_size);
  } else {
    raw = builtin_seed();
  }
  const uint64_t rounds = 1 + pick(rng, 3);
  for (uint64_t i = 0; i < rounds; ++i) mutate_structure(raw, rng);
  const std::vector<uint8_t> bytes = raw.serialize();
  const size_t out = std::min(bytes.size(), max_size);
  std::memcpy(data, bytes.data(), out);
  return out;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (!fuzz::exercise_bytes({data, size})) return 0;
  // Round trip: what the reader accepted, the writer writes and the reader reads back equal.
  auto file = gguf::File::from_bytes({data, size}, "fuzz-input");
  auto bytes = gguf::testing::to_writer(*file).to_bytes();
  if (!bytes) __builtin_trap();
  auto again = gguf::File::from_bytes(*bytes, "round-trip");
  if (!again || !gguf::testing::files_differ(*file, *again).empty()) __builtin_trap();
  return 0;
}

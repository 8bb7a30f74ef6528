#include "model/synthetic/weight_values.hpp"

#include <cmath>

namespace llama_worker::synthetic {
namespace {

uint64_t fnv1a64(std::string_view text) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (const char c : text) {
    hash ^= static_cast<uint8_t>(c);
    hash *= 0x100000001b3ull;
  }
  return hash;
}

}  // namespace

sampling::Generator tensor_generator(uint64_t model_seed, std::string_view tensor_name) {
  // Mix the seed first so that nearby seeds and names give unrelated streams.
  uint64_t z = model_seed + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return sampling::Generator((z ^ (z >> 31)) ^ fnv1a64(tensor_name));
}

void fill_values(sampling::Generator& generator, TensorRole role, int64_t row_length, float* out,
                 int64_t count) {
  double center = 0.0, half_width = 0.0;
  switch (role) {
    case TensorRole::kEmbedding:
      half_width = 2.0 * std::sqrt(3.0) / std::sqrt(static_cast<double>(row_length));
      break;
    case TensorRole::kMatrix:
      half_width = std::sqrt(3.0) / std::sqrt(static_cast<double>(row_length));
      break;
    case TensorRole::kNorm:
      center = 1.0, half_width = 0.2;
      break;
    case TensorRole::kBias:
      half_width = 0.1;
      break;
    case TensorRole::kRopeFactor:
      center = 1.5, half_width = 0.5;
      break;
  }
  // 24 random bits, centred: k - (2^23 - 0.5) in [-(2^23 - 0.5), 2^23 - 0.5], exact in a double.
  const double unit = half_width / 8388608.0;
  for (int64_t i = 0; i < count; ++i) {
    const double centred = static_cast<double>(generator.next_u64() >> 40) - 8388607.5;
    out[i] = static_cast<float>(center + centred * unit);
  }
}

}  // namespace llama_worker::synthetic

// The sampler's random generator: xoshiro256** (Blackman & Vigna), its 256-bit state filled
// from the seed by splitmix64. Our own uniform conversion instead of std::*_distribution, whose
// algorithms differ between standard libraries: the same seed gives the same numbers on every
// platform (pinned by tests and by golden/sampling's Python reimplementation).
#pragma once

#include <array>
#include <cstdint>

namespace llama_worker::sampling {

class Generator {
 public:
  explicit Generator(uint64_t seed) {
    uint64_t mix = seed;
    for (auto& word : state_) word = splitmix64(mix);
  }

  uint64_t next_u64() {
    const uint64_t result = rotate_left(state_[1] * 5, 7) * 9;
    const uint64_t shifted = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= shifted;
    state_[3] = rotate_left(state_[3], 45);
    return result;
  }

  // Uniform in [0, 1): the top 53 bits as a multiple of 2^-53 (exact in a double).
  double next_unit_double() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

 private:
  static uint64_t splitmix64(uint64_t& state) {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  static uint64_t rotate_left(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

  std::array<uint64_t, 4> state_{};
};

}  // namespace llama_worker::sampling

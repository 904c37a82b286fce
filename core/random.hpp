// A counter-based generator: element i of a draw depends only on (seed, position + i), so the
// numbers are the same whatever the thread count, and the state is two integers to checkpoint.
#pragma once
#include <cstdint>

namespace nl {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}
  uint64_t seed() const { return seed_; }
  uint64_t position() const { return position_; }
  void set_state(uint64_t seed, uint64_t position) { seed_ = seed, position_ = position; }

  // Reserves `count` consecutive counters and returns the first.
  uint64_t advance(uint64_t count) {
    const uint64_t p = position_;
    position_ += count;
    return p;
  }
  // Stateless draws for counter c (used inside parallel kernels).
  uint64_t bits(uint64_t c) const { return mix(seed_ * 0x9E3779B97F4A7C15ull + mix(c)); }
  double uniform_at(uint64_t c) const { return (bits(c) >> 11) * 0x1.0p-53; }  // [0, 1)
  double normal_at(uint64_t c) const;  // Box-Muller on two uniforms derived from c

  // Sequential convenience draws.
  double uniform() { return uniform_at(advance(1)); }
  double normal() { return normal_at(advance(1)); }
  uint64_t next_u64() { return bits(advance(1)); }
  // Uniform integer in [0, n).
  uint64_t below(uint64_t n) { return n ? next_u64() % n : 0; }

 private:
  static uint64_t mix(uint64_t z) {  // splitmix64 finaliser
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint64_t seed_ = 0, position_ = 0;
};

}  // namespace nl

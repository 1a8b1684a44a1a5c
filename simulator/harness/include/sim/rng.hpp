#pragma once
// The run's only source of randomness: xoshiro256** seeded through SplitMix64,
// with integer-only helpers. std::*_distribution is implementation-defined and
// is never used, so a seed draws the same numbers on every platform.

#include <cstdint>

#include "bank/assert.hpp"

namespace sim {

inline std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// A well-mixed 64-bit hash of one value: derives independent seeds.
inline std::uint64_t mix64(std::uint64_t value) {
  std::uint64_t state = value;
  return splitmix64(state);
}

__extension__ typedef unsigned __int128 uint128;

class Rng {
 public:
  explicit Rng(std::uint64_t seed) {
    std::uint64_t state = seed;
    for (auto& word : s_) word = splitmix64(state);
  }

  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, bound), without modulo bias (Lemire's method).
  std::uint64_t below(std::uint64_t bound) {
    BANK_ASSERT(bound > 0);
    uint128 product = static_cast<uint128>(next()) * bound;
    auto low = static_cast<std::uint64_t>(product);
    if (low < bound) {
      const std::uint64_t threshold = (0 - bound) % bound;
      while (low < threshold) {
        product = static_cast<uint128>(next()) * bound;
        low = static_cast<std::uint64_t>(product);
      }
    }
    return static_cast<std::uint64_t>(product >> 64);
  }

  // Uniform in [low, high], inclusive.
  std::int64_t range(std::int64_t low, std::int64_t high) {
    BANK_ASSERT(low <= high);
    const std::uint64_t span = static_cast<std::uint64_t>(high) - static_cast<std::uint64_t>(low);
    if (span == UINT64_MAX) return static_cast<std::int64_t>(next());
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(low) + below(span + 1));
  }

  // True with probability numerator / denominator.
  bool chance(std::uint64_t numerator, std::uint64_t denominator) {
    BANK_ASSERT(numerator <= denominator);
    return below(denominator) < numerator;
  }

  // A child generator whose stream does not overlap this one's in practice.
  Rng fork() { return Rng(next()); }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

// A stream of randomness whose draws at one moment of simulated time depend
// on its seed, the moment and the draws made earlier at that moment only:
// what was drawn at other moments does not shift them. One actor's or one
// connection's randomness stays put when, in a shrunk plan, something before
// it no longer happens.
class MomentRng {
 public:
  // `salt`, when given, is read at each new moment: a world that branches
  // into a new universe changes it (World::salt_source()).
  explicit MomentRng(std::uint64_t seed, const std::uint64_t* salt = nullptr)
      : seed_(seed), salt_(salt), rng_(seed) {}
  Rng& at(std::int64_t now_ms) {
    if (now_ms != at_ms_) {
      at_ms_ = now_ms;
      rng_ = Rng(mix64(seed_ ^ (salt_ != nullptr ? *salt_ : 0) ^ mix64(static_cast<std::uint64_t>(now_ms))));
    }
    return rng_;
  }

 private:
  std::uint64_t seed_;
  const std::uint64_t* salt_;
  std::int64_t at_ms_ = -1;
  Rng rng_;
};

}  // namespace sim

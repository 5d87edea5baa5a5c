// A small, portable, seeded random generator: the same numbers on every platform and compiler.
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>

namespace typegrad {

/// SplitMix64-seeded xoshiro256**; uniform and normal draws are computed here (not by <random>'s
/// distributions, whose output differs between standard libraries) so seeds reproduce everywhere.
class random_engine {
 public:
  using result_type = std::uint64_t;
  explicit constexpr random_engine(std::uint64_t seed = 0) noexcept {
    for (auto& s : s_) {
      seed += 0x9e3779b97f4a7c15ull;
      std::uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      s = z ^ (z >> 31);
    }
  }
  static constexpr result_type min() noexcept { return 0; }
  static constexpr result_type max() noexcept { return ~result_type(0); }
  constexpr result_type operator()() noexcept {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9, t = s_[1] << 17;
    s_[2] ^= s_[0]; s_[3] ^= s_[1]; s_[1] ^= s_[2]; s_[0] ^= s_[3]; s_[2] ^= t; s_[3] = rotl(s_[3], 45);
    return result;
  }
  /// Uniform in [0, 1) with 53 random bits.
  double uniform() noexcept { return static_cast<double>((*this)() >> 11) * 0x1.0p-53; }
  /// Uniform in [lo, hi).
  double uniform(double lo, double hi) noexcept { return lo + (hi - lo) * uniform(); }
  /// Standard normal (Box–Muller; one value per call keeps the stream simple to reason about).
  double normal() noexcept {
    const double u1 = 1.0 - uniform(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }
  /// Uniform integer in [0, n).
  std::uint64_t below(std::uint64_t n) noexcept { return static_cast<std::uint64_t>(uniform() * static_cast<double>(n)); }

 private:
  static constexpr std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4]{};
};

}  // namespace typegrad

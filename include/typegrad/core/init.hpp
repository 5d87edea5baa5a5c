// Seeded weight initialisers: Glorot/Xavier and He (uniform, normal) and PyTorch's nn.Linear default.
#pragma once

#include <cmath>
#include <concepts>
#include <cstdint>

#include <typegrad/core/random.hpp>

namespace typegrad::init {

// Each initialiser draws a weight for a layer with `fan_in` inputs and `fan_out` outputs;
// biases are zero except for pytorch_default, which draws them like nn.Linear does.

/// U(±√(6/(fan_in+fan_out))), zero bias.
struct glorot_uniform {
  std::uint64_t seed = 0;
  double weight(random_engine& r, double fan_in, double fan_out) const noexcept {
    const double a = std::sqrt(6.0 / (fan_in + fan_out));
    return r.uniform(-a, a);
  }
  double bias(random_engine&, double, double) const noexcept { return 0.0; }
};
/// N(0, 2/(fan_in+fan_out)), zero bias.
struct glorot_normal {
  std::uint64_t seed = 0;
  double weight(random_engine& r, double fan_in, double fan_out) const noexcept { return std::sqrt(2.0 / (fan_in + fan_out)) * r.normal(); }
  double bias(random_engine&, double, double) const noexcept { return 0.0; }
};
/// U(±√(6/fan_in)), zero bias; for ReLU networks.
struct he_uniform {
  std::uint64_t seed = 0;
  double weight(random_engine& r, double fan_in, double) const noexcept {
    const double a = std::sqrt(6.0 / fan_in);
    return r.uniform(-a, a);
  }
  double bias(random_engine&, double, double) const noexcept { return 0.0; }
};
/// N(0, 2/fan_in), zero bias; for ReLU networks.
struct he_normal {
  std::uint64_t seed = 0;
  double weight(random_engine& r, double fan_in, double) const noexcept { return std::sqrt(2.0 / fan_in) * r.normal(); }
  double bias(random_engine&, double, double) const noexcept { return 0.0; }
};
/// PyTorch's nn.Linear default: weight and bias both U(±1/√fan_in).
struct pytorch_default {
  std::uint64_t seed = 0;
  double weight(random_engine& r, double fan_in, double) const noexcept {
    const double a = 1.0 / std::sqrt(fan_in);
    return r.uniform(-a, a);
  }
  double bias(random_engine& r, double fan_in, double) const noexcept {
    const double a = 1.0 / std::sqrt(fan_in);
    return r.uniform(-a, a);
  }
};
/// All parameters zero (for tests and for loading weights afterwards).
struct zeros {
  std::uint64_t seed = 0;
  double weight(random_engine&, double, double) const noexcept { return 0.0; }
  double bias(random_engine&, double, double) const noexcept { return 0.0; }
};

}  // namespace typegrad::init

namespace typegrad {
/// A weight initialiser: `weight(engine, fan_in, fan_out)`, `bias(...)` and a `seed`.
template <class I>
concept initializer = requires(const I& i, random_engine& r) {
  { i.weight(r, 1.0, 1.0) } -> std::convertible_to<double>;
  { i.bias(r, 1.0, 1.0) } -> std::convertible_to<double>;
  { i.seed } -> std::convertible_to<std::uint64_t>;
};
}  // namespace typegrad

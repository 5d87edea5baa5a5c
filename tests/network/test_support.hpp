// Deterministic inputs and targets for the network tests.
#pragma once

#include <typegrad/typegrad.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <type_traits>
#include <utility>
#include <vector>

namespace test_support {

/// Fills a tensor with smooth, sign-varying values in about [-1.5, 1.5] (deterministic in `salt`).
template <class Tensor>
void fill(Tensor& a, double salt = 0.0) {
  using T = typename Tensor::value_type;
  for (std::size_t i = 0; i < Tensor::size(); ++i)
    a.data()[i] = static_cast<T>(1.5 * std::sin(1.3 * double(i) + 0.7 + salt) * std::cos(0.37 * double(i) + salt));
}

/// Fills a tensor with values in (0.05, 0.95): targets for cross-entropy losses.
template <class Tensor>
void fill_probabilities(Tensor& a, double salt = 0.0) {
  using T = typename Tensor::value_type;
  for (std::size_t i = 0; i < Tensor::size(); ++i)
    a.data()[i] = static_cast<T>(0.5 + 0.45 * std::sin(2.1 * double(i) + 0.3 + salt));
}

/// The plain SGD update w − lr·g, written out for the kernel tests (independent of typegrad::sgd).
struct plain_sgd {
  double lr;
  static constexpr bool writes_parameters = true;
  template <class P, class V>
  V update(P, std::size_t, const V& w, const V& g) const noexcept {
    return w - V(static_cast<typename V::value_type>(lr)) * g;
  }
};

/// True when every padding slot of every parameter block of `p` (a network's parameters, or a
/// parameter-shaped gradient or optimizer state) is zero.
template <class Params>
bool padding_is_zero(const Params& p) {
  bool zero = true;
  auto check_block = [&](const auto& blk) {
    using blk_t = std::remove_cvref_t<decltype(blk)>;
    // Whatever the storage layout, every slot that no weight(o, i) refers to is padding.
    const auto* w = blk.data(typegrad::simd::weight_c);
    std::vector<bool> used(blk_t::padded_size(typegrad::simd::weight_c), false);
    for (std::size_t o = 0; o < blk_t::out_size; ++o)
      for (std::size_t i = 0; i < blk_t::in_size; ++i) used[std::size_t(&blk.weight(o, i) - w)] = true;
    for (std::size_t k = 0; k < used.size(); ++k) zero = zero && (used[k] || w[k] == 0);
    for (std::size_t o = blk_t::out_size; o < typegrad::padded<typename blk_t::value_type>(blk_t::out_size); ++o)
      zero = zero && blk.data(typegrad::simd::bias_c)[o] == 0;
  };
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (check_block(typegrad::get<I>(p)), ...);
  }(std::make_index_sequence<Params::depth>{});
  return zero;
}

/// The worst relative error between typegrad::input_gradient (dL/dx from the backward pass) and a
/// fourth-order central difference of loss_value in x, for a double network.
template <class Net, class Loss, class X, class Target>
double input_gradient_error(const Net& net, Loss loss, const X& x0, const Target& t, double h = 1e-4,
                            double floor = 1e-5) {
  X x = x0;
  const auto g = typegrad::input_gradient(net, loss, x, t);
  double worst = 0;
  for (std::size_t k = 0; k < X::size(); ++k) {
    const double saved = x.data()[k];
    auto at = [&](double d) {
      x.data()[k] = saved + d;
      return double(typegrad::loss_value(net, loss, x, t));
    };
    const double numeric = (-at(2 * h) + 8 * at(h) - 8 * at(-h) + at(-2 * h)) / (12 * h);
    x.data()[k] = saved;
    const double a = g.data()[k];
    worst = std::max(worst, std::abs(a - numeric) / std::max({std::abs(a), std::abs(numeric), floor}));
  }
  return worst;
}

}  // namespace test_support

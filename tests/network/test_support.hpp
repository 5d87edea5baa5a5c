// Deterministic inputs and targets for the network tests.
#pragma once

#include <typegrad/typegrad.hpp>

#include <cmath>
#include <cstddef>

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

}  // namespace test_support

// Row-wise softmax and its backward pass (scalar: rows are short class vectors).
#pragma once

#include <cmath>
#include <cstddef>

#include <typegrad/core/config.hpp>

namespace typegrad::detail {

/// Y = softmax(Z) per row, shifted by the row maximum so that exp never overflows.
template <class T, std::size_t B, std::size_t N>
void softmax_forward(const T* Z, T* Y) noexcept {
  constexpr std::size_t stride = padded<T>(N);
  for (std::size_t b = 0; b < B; ++b) {
    const T* z = Z + b * stride;
    T* y = Y + b * stride;
    T m = z[0];
    for (std::size_t i = 1; i < N; ++i) m = z[i] > m ? z[i] : m;
    T sum = 0;
    for (std::size_t i = 0; i < N; ++i) sum += (y[i] = std::exp(z[i] - m));
    for (std::size_t i = 0; i < N; ++i) y[i] /= sum;
    for (std::size_t i = N; i < stride; ++i) y[i] = T(0);
  }
}

/// dZ = Y ⊙ (dY − ⟨dY, Y⟩) per row, in place in dY (the softmax Jacobian-vector product).
template <class T, std::size_t B, std::size_t N>
void softmax_backward(const T* Y, T* dY) noexcept {
  constexpr std::size_t stride = padded<T>(N);
  for (std::size_t b = 0; b < B; ++b) {
    const T* y = Y + b * stride;
    T* d = dY + b * stride;
    T dot = 0;
    for (std::size_t i = 0; i < N; ++i) dot += d[i] * y[i];
    for (std::size_t i = 0; i < N; ++i) d[i] = y[i] * (d[i] - dot);
  }
}

}  // namespace typegrad::detail

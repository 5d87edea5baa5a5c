// activation_step<Act>: the activation after a layer's linear part (dense, convolution, batch
// norm): what it keeps, y = f(z), and dL/dz from dL/dy.
#pragma once

#include <cstddef>

#include <typegrad/layers/softmax_kernels.hpp>
#include <typegrad/simd/kernels.hpp>

namespace typegrad::detail {

/// The activation Act applied over R padded rows of N values after a linear part.
template <class Act>
struct activation_step {
  /// Whether f' is taken from the output y (then no z is kept: f is applied in place).
  static constexpr bool slope_from_output = [] {
    if constexpr (Act::is_elementwise) return Act::slope_from_output;
    else return false;
  }();
  /// The identity, and activations whose slope comes from y, need no pre-activation buffer.
  static constexpr bool keeps_preactivation = !Act::is_identity && !slope_from_output;

  /// Where the linear part writes z: the kept buffer `pre`, or y itself.
  template <class T>
  static T* linear_output(T* pre, T* y) noexcept {
    return keeps_preactivation ? pre : y;
  }
  /// y = f(z), once the linear part has written z to linear_output(pre, y).
  template <class T, std::size_t R, std::size_t N>
  static void forward(const T* pre, T* y) noexcept {
    if constexpr (Act::is_identity) {
    } else if constexpr (!keeps_preactivation) {
      simd::activation_forward<Act, T, R, N>(y, y);
    } else if constexpr (Act::is_elementwise) {
      simd::activation_forward<Act, T, R, N>(pre, y);
    } else {
      softmax_forward<T, R, N>(pre, y);
    }
  }
  /// dy ← dL/dz in place; nothing when the loss already did it (ActivationDone).
  template <class T, std::size_t R, std::size_t N, bool ActivationDone>
  static void backward(const T* pre, const T* y, T* dy) noexcept {
    if constexpr (ActivationDone || Act::is_identity) {
    } else if constexpr (slope_from_output) {
      simd::activation_backward<Act, T, R, N, true>(y, dy);
    } else if constexpr (Act::is_elementwise) {
      simd::activation_backward<Act, T, R, N>(pre, dy);
    } else {
      softmax_backward<T, R, N>(y, dy);
    }
  }
};

}  // namespace typegrad::detail

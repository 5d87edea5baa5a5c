// elementwise_loss<E>: a loss ℓ(y, t) given as an expression, averaged over every output element.
#pragma once

#include <algorithm>
#include <cstddef>
#include <type_traits>

#include <typegrad/activations/builtin.hpp>
#include <typegrad/core/config.hpp>
#include <typegrad/core/tensor.hpp>
#include <typegrad/expr/expr.hpp>
#include <typegrad/simd/kernels.hpp>

namespace typegrad {

namespace detail {
template <class Target, class T, std::size_t B, std::size_t Out>
inline constexpr bool is_dense_target =
    std::is_same_v<std::remove_cvref_t<Target>, matrix<T, B, Out>> ||
    (B == 1 && std::is_same_v<std::remove_cvref_t<Target>, vector<T, Out>>);
}  // namespace detail

/// A loss from an expression of `typegrad::y` (prediction) and `typegrad::t` (target), reduced
/// by the mean over all B·Out elements (PyTorch's reduction='mean'). dℓ/dy is derived at compile time.
/// @tparam E  e.g. `decltype((y - t) * (y - t))`.
template <class E>
struct elementwise_loss {
  static_assert(expr::expression<E>, "typegrad::elementwise_loss<E>: E must be an expression of typegrad::y and typegrad::t");
  using expression = E;
  using derivative = expr::derivative_t<E, 0>;

  /// True when Target is a valid target for B samples of Out outputs.
  template <class Target, class T, std::size_t B, std::size_t Out>
  static constexpr bool accepts = detail::is_dense_target<Target, T, B, Out>;
  static constexpr const char* target_description = "a typegrad::vector<T, Out> (one sample) or matrix<T, B, Out>";

  /// Mean loss over B padded rows of predictions; writes dL/dY (padding zero) when dY is given.
  /// `Gradient` is the per-element gradient expression (another one when a loss fuses the
  /// activation's derivative, see binary_cross_entropy).
  template <class T, std::size_t B, std::size_t Out, class Target, class Gradient = derivative>
  static T evaluate(const T* Y, const Target& target, T* dY) noexcept {
    if (dY) return sweep<T, B, Out, Target, Gradient, true, true>(Y, target, dY);
    return sweep<T, B, Out, Target, Gradient, true, false>(Y, target, dY);
  }
  /// dL/dY alone (train_step forms it first and computes the loss value after the backward
  /// pass, off the critical path).
  static constexpr bool has_separate_gradient = true;
  template <class T, std::size_t B, std::size_t Out, class Target, class Gradient = derivative>
  static void gradient(const T* Y, const Target& target, T* dY) noexcept {
    sweep<T, B, Out, Target, Gradient, false, true>(Y, target, dY);
  }

 private:
  template <class T, std::size_t B, std::size_t Out, class Target, class Gradient, bool Value, bool Grad>
  static T sweep(const T* Y, const Target& target, T* dY) noexcept {
    using V = simd::batch<T>;
    constexpr std::size_t L = lanes<T>, stride = padded<T>(Out);
    constexpr T scale = T(1) / T(B * Out);
    const T* tp = target.data();
    if constexpr (Value && B * Out == 1) {
      // One value (a batch-1 binary or scalar head): the scalar functions have about half the
      // latency of register-wide ones, and there is nothing to reduce.
      if constexpr (Grad) sweep<T, B, Out, Target, Gradient, false, true>(Y, target, dY);
      return expr::eval(E{}, Y[0], tp[0]);
    }
    auto total_v = V(T(0));
    // A few samples of a small head (B·Out ≤ 4): the loss of all of them as one register.
    constexpr bool packed_value = Value && B > 1 && Out < L && B * Out <= std::min<std::size_t>(L, 4);
    if constexpr (packed_value) {
      const auto yv = simd::gather_rows<T, B, Out, stride>(Y), tv = simd::load_partial<T, B * Out>(tp);
      total_v = xsimd::select(simd::lane_index<T>() < V(T(B * Out)), expr::eval(E{}, yv, tv), V(T(0)));
    }
    for (std::size_t b = 0; b < B; ++b) {
      const T* y = Y + b * stride;
      const T* tr = tp + b * Out;
      std::size_t i = 0;
      for (; i + L <= Out; i += L) {
        const auto yv = V::load_aligned(y + i), tv = V::load_unaligned(tr + i);
        if constexpr (Value) total_v += expr::eval(E{}, yv, tv);
        if constexpr (Grad) (expr::eval(Gradient{}, yv, tv) * V(scale)).store_aligned(dY + b * stride + i);
      }
      if constexpr (Out % L != 0) {
        // The last Out % L outputs as one register (y's padding is readable); the lanes past Out
        // are masked out of both results.
        const auto tv = simd::load_partial<T, Out % L>(tr + i);
        const auto valid = simd::lane_index<T>() < V(T(Out % L));
        const auto yv = V::load_aligned(y + i);
        if constexpr (Value && !packed_value) total_v += xsimd::select(valid, expr::eval(E{}, yv, tv), V(T(0)));
        if constexpr (Grad)
          xsimd::select(valid, expr::eval(Gradient{}, yv, tv) * V(scale), V(T(0))).store_aligned(dY + b * stride + i);
      }
    }
    if constexpr (Value) return xsimd::hadd(total_v) * scale;
    else return T(0);
  }

};

namespace detail {
using expr::constant;
using py = expr::placeholder<0>;
using pt = expr::placeholder<1>;
// PyTorch clamps BCE's logarithms at −100 so that a saturated prediction gives a finite loss.
using clamped_log_y = decltype(expr::max(expr::log(py{}), constant<-100>{}));
using clamped_log_1my = decltype(expr::max(expr::log(constant<1>{} - py{}), constant<-100>{}));
}  // namespace detail

/// Mean squared error: mean((y − t)²).
struct mse : elementwise_loss<decltype((detail::py{} - detail::pt{}) * (detail::py{} - detail::pt{}))> {};

/// Binary cross-entropy on probabilities y ∈ [0, 1]: −mean(t log y + (1 − t) log(1 − y)),
/// with the logarithms clamped at −100 as in PyTorch's nn.BCELoss.
struct binary_cross_entropy
    : elementwise_loss<decltype(-(detail::pt{} * detail::clamped_log_y{} +
                                  (detail::constant<1>{} - detail::pt{}) * detail::clamped_log_1my{}))> {
  /// After a sigmoid the chain rule collapses: dL/dz = (y − t) / (B·Out). train_step then skips
  /// the sigmoid's backward and the loss gradient needs no logarithm or division (the loss value
  /// still does, off the backward's critical path). Tested equal to the derived gradient.
  template <class Act>
  static constexpr bool fuses_activation = std::is_same_v<Act, sigmoid>;

  template <class T, std::size_t B, std::size_t Out, class Target>
  static T evaluate_fused(const T* Y, const Target& target, T* dZ) noexcept {
    return evaluate<T, B, Out, Target, decltype(detail::py{} - detail::pt{})>(Y, target, dZ);
  }
  template <class T, std::size_t B, std::size_t Out, class Target>
  static void gradient_fused(const T* Y, const Target& target, T* dZ) noexcept {
    gradient<T, B, Out, Target, decltype(detail::py{} - detail::pt{})>(Y, target, dZ);
  }
};

/// Binary cross-entropy on logits z, in the stable form max(z, 0) − z t + log(1 + e^−|z|)
/// (PyTorch's nn.BCEWithLogitsLoss); its derived gradient is sigmoid(z) − t.
struct bce_with_logits
    : elementwise_loss<decltype(expr::max(detail::py{}, detail::constant<0>{}) - detail::py{} * detail::pt{} +
                                expr::log1p(expr::exp(-expr::abs(detail::py{}))))> {};

}  // namespace typegrad

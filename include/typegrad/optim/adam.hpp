// adam and adamw: PyTorch's torch.optim.Adam and AdamW (L2 vs decoupled weight decay).
#pragma once

#include <cmath>
#include <cstddef>

#include <typegrad/simd/kernels.hpp>

namespace typegrad {

namespace detail {

/// x^n by repeated squaring: a few multiplies instead of a libm pow() on every step.
constexpr double integer_power(double x, std::size_t n) noexcept {
  double r = 1;
  for (; n != 0; n >>= 1, x *= x)
    if (n & 1) r *= x;
  return r;
}

template <class T>
struct adam_constants {
  T lr, weight_decay, beta1, one_minus_beta1, beta2, one_minus_beta2, eps;
  T step_size;            // lr / (1 − β1ᵗ)
  T inv_bias_correction2_sqrt;  // 1 / √(1 − β2ᵗ)
  T decay;                // AdamW's 1 − lr·weight_decay
};

template <class T>
adam_constants<T> adam_step_constants(std::size_t step, double lr, double beta1, double beta2, double eps,
                                      double weight_decay, bool decoupled) noexcept {
  // As PyTorch: bias corrections and step size in double, then the tensor math in T.
  const double bc1 = 1.0 - integer_power(beta1, step), bc2 = 1.0 - integer_power(beta2, step);
  return {static_cast<T>(lr),
          static_cast<T>(decoupled ? 0.0 : weight_decay),
          static_cast<T>(beta1),
          static_cast<T>(1.0 - beta1),
          static_cast<T>(beta2),
          static_cast<T>(1.0 - beta2),
          static_cast<T>(eps),
          static_cast<T>(lr / bc1),
          static_cast<T>(1.0 / std::sqrt(bc2)),
          static_cast<T>(decoupled ? 1.0 - lr * weight_decay : 1.0)};
}

// One register: state[0] = first moment m, state[1] = second moment v, at the same offset.
// Zero w and g (the padding) give zero m, v and update, so the padding stays zero.
template <class V, class T, class State>
V adam_step(const adam_constants<T>& c, const State& state, V w, V g) noexcept {
  if (c.decay != T(1)) w *= V(c.decay);  // AdamW: decoupled decay before the Adam step
  if (c.weight_decay != T(0)) g = xsimd::fma(V(c.weight_decay), w, g);
  const V m = xsimd::fma(V(c.beta1), V::load_aligned(state[0]), V(c.one_minus_beta1) * g);
  const V v = xsimd::fma(V(c.beta2), V::load_aligned(state[1]), V(c.one_minus_beta2) * g * g);
  m.store_aligned(state[0]);
  v.store_aligned(state[1]);
  const V denom = xsimd::fma(xsimd::sqrt(v), V(c.inv_bias_correction2_sqrt), V(c.eps));
  return xsimd::fnma(V(c.step_size), m / denom, w);
}

inline const char* adam_invalid(double lr, double beta1, double beta2, double eps, double weight_decay) noexcept {
  if (!(lr >= 0)) return "typegrad::adam: lr must be >= 0";
  if (!(eps >= 0)) return "typegrad::adam: eps must be >= 0";
  if (!(beta1 >= 0 && beta1 < 1)) return "typegrad::adam: beta1 must be in [0, 1)";
  if (!(beta2 >= 0 && beta2 < 1)) return "typegrad::adam: beta2 must be in [0, 1)";
  if (!(weight_decay >= 0)) return "typegrad::adam: weight_decay must be >= 0";
  return nullptr;
}

}  // namespace detail

/// Adam (torch.optim.Adam, amsgrad off) with PyTorch's defaults and L2 weight decay
/// (g ← g + weight_decay·w before the moments):
///
///     m ← β1·m + (1 − β1)·g,   v ← β2·v + (1 − β2)·g²
///     w ← w − lr/(1 − β1ᵗ) · m / (√v/√(1 − β2ᵗ) + eps)
///
/// Adam keeps two moments per parameter, so it runs through an optimizer object:
/// `auto opt = typegrad::make_optimizer(net, typegrad::adam{.lr = 1e-3})`.
struct adam {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;

  static constexpr bool writes_parameters = true;
  /// Passing adam itself to train_step is a mistake this message explains.
  template <class P, class V>
  V update(P, std::size_t, const V&, const V&) const noexcept {
    static_assert(sizeof(V) == 0,  // always false, once V is known
                  "typegrad::adam keeps per-parameter state: train with an optimizer object, "
                  "auto opt = typegrad::make_optimizer(net, typegrad::adam{...}); train_step(net, loss, opt, x, t)");
    return {};
  }

  /// Parameter-shaped state buffers: 0 = first moment (exp_avg), 1 = second moment (exp_avg_sq).
  static constexpr std::size_t state_slots = 2;
  template <class T>
  using step_constants = detail::adam_constants<T>;
  template <class T>
  step_constants<T> constants(std::size_t step, double step_lr) const noexcept {
    return detail::adam_step_constants<T>(step, step_lr, beta1, beta2, eps, weight_decay, false);
  }
  template <class V, class T, class State>
  static V step(const step_constants<T>& c, const State& state, const V& w, const V& g) noexcept {
    return detail::adam_step(c, state, w, g);
  }
  const char* invalid() const noexcept { return detail::adam_invalid(lr, beta1, beta2, eps, weight_decay); }
};

/// AdamW (torch.optim.AdamW): Adam with decoupled weight decay, w ← w·(1 − lr·weight_decay)
/// before the Adam step (the gradient is not decayed). Default weight_decay 0.01 as PyTorch.
/// `auto opt = typegrad::make_optimizer(net, typegrad::adamw{.lr = 1e-3, .weight_decay = 0.05})`.
struct adamw {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.01;

  static constexpr bool writes_parameters = true;
  template <class P, class V>
  V update(P, std::size_t, const V&, const V&) const noexcept {
    static_assert(sizeof(V) == 0,  // always false, once V is known
                  "typegrad::adamw keeps per-parameter state: train with an optimizer object, "
                  "auto opt = typegrad::make_optimizer(net, typegrad::adamw{...}); train_step(net, loss, opt, x, t)");
    return {};
  }

  /// Parameter-shaped state buffers: 0 = first moment (exp_avg), 1 = second moment (exp_avg_sq).
  static constexpr std::size_t state_slots = 2;
  template <class T>
  using step_constants = detail::adam_constants<T>;
  template <class T>
  step_constants<T> constants(std::size_t step, double step_lr) const noexcept {
    return detail::adam_step_constants<T>(step, step_lr, beta1, beta2, eps, weight_decay, true);
  }
  template <class V, class T, class State>
  static V step(const step_constants<T>& c, const State& state, const V& w, const V& g) noexcept {
    return detail::adam_step(c, state, w, g);
  }
  const char* invalid() const noexcept { return detail::adam_invalid(lr, beta1, beta2, eps, weight_decay); }
};

}  // namespace typegrad

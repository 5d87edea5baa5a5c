// sgd: stochastic gradient descent (PyTorch's torch.optim.SGD), applied inside the backward sweep.
#pragma once

#include <cassert>
#include <cstddef>

#include <typegrad/simd/kernels.hpp>

namespace typegrad {

namespace detail {
/// The stateless SGD policy of one train_step, in the network's scalar type: the hyperparameters
/// live in registers for the whole backward sweep (no reload and conversion per register), and
/// the row kernels may fold −lr into dL/dz and accumulate the gradient straight onto w
/// (w − lr·Σ dz·x = w + Σ (−lr·dz)·x: one FMA per register and sample, as a hand-written loop).
template <class T>
struct sgd_step {
  T lr, weight_decay;

  static constexpr bool writes_parameters = true;
  static constexpr bool accumulates_into_parameters = true;

  template <class P, class V>
  V update(P, std::size_t, const V& w, const V& g) const noexcept {
    if (weight_decay != T(0)) return xsimd::fnma(V(lr), xsimd::fma(V(weight_decay), w, g), w);
    return xsimd::fnma(V(lr), g, w);  // w − lr·g
  }
  /// The factor by which the kernels scale dL/dz before accumulating onto the parameters.
  T gradient_scale() const noexcept { return -lr; }
  /// The value the accumulation starts from: w, or w − lr·weight_decay·w.
  template <class P, class V>
  V accumulation_start(P, std::size_t, const V& w) const noexcept {
    if (weight_decay != T(0)) return xsimd::fnma(V(lr * weight_decay), w, w);
    return w;
  }
};
}  // namespace detail

/// SGD with optional momentum, dampening, Nesterov momentum and (L2) weight decay, with
/// torch.optim.SGD's formulas and argument order (`sgd{0.1}` is lr = 0.1):
///
///     g ← g + weight_decay·w
///     buf ← g (first step),  buf ← momentum·buf + (1 − dampening)·g (later steps)
///     g ← g + momentum·buf (Nesterov)  or  g ← buf
///     w ← w − lr·g
///
/// Used directly (`train_step(net, loss, typegrad::sgd{0.1}, x, t)`) it is a stateless policy:
/// the backward sweep calls update() on each register of parameters right after forming its
/// gradient, so dW is never stored. That form applies lr and weight_decay only; momentum needs a
/// buffer per parameter, so it takes an optimizer object: `auto opt = typegrad::make_optimizer(net,
/// typegrad::sgd{.lr = 0.05, .momentum = 0.9})` (see optim/optimizer.hpp).
struct sgd {
  double lr = 0.01;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;

  static constexpr bool writes_parameters = true;

  /// The stateless policy: w − lr·(g + weight_decay·w) (train_step uses for_step() instead).
  template <class P, class V>
  V update(P p, std::size_t offset, const V& w, const V& g) const noexcept {
    return for_step<typename V::value_type>().update(p, offset, w, g);
  }

  /// The policy train_step hands to the kernels for one step (the same update, in T).
  template <class T>
  detail::sgd_step<T> for_step() const noexcept {
    assert(momentum == 0 && "typegrad::sgd: momentum needs state: use typegrad::make_optimizer(net, sgd{...})");
    return {static_cast<T>(lr), static_cast<T>(weight_decay)};
  }

  // ---- The stateful algorithm, driven by typegrad::optimizer ----

  /// Parameter-shaped state buffers: 0 = momentum buffer (unused while momentum is 0).
  static constexpr std::size_t state_slots = 1;
  /// The scalars of one step, computed once per train_step in double and stored as T.
  template <class T>
  struct step_constants {
    T lr, weight_decay, momentum, grad_scale;  // grad_scale: 1 − dampening, or 1 on the first step
    bool nesterov;
  };
  /// Constants for step `step` (1-based) at learning rate `lr`.
  template <class T>
  step_constants<T> constants(std::size_t step, double step_lr) const noexcept {
    // PyTorch starts the buffer as a copy of the first gradient: no dampening on step 1.
    return {static_cast<T>(step_lr), static_cast<T>(weight_decay), static_cast<T>(momentum),
            static_cast<T>(step == 1 ? 1.0 : 1.0 - dampening), nesterov};
  }
  /// One register of the update; `state[0]` points at the momentum buffer at the same offset.
  template <class V, class T, class State>
  static V step(const step_constants<T>& c, const State& state, const V& w, V g) noexcept {
    if (c.weight_decay != T(0)) g = xsimd::fma(V(c.weight_decay), w, g);
    if (c.momentum != T(0)) {
      const V buf = xsimd::fma(V(c.momentum), V::load_aligned(state[0]), V(c.grad_scale) * g);
      buf.store_aligned(state[0]);
      g = c.nesterov ? xsimd::fma(V(c.momentum), buf, g) : buf;
    }
    return xsimd::fnma(V(c.lr), g, w);
  }
  /// PyTorch's argument checks; returns the offending setting or nullptr.
  const char* invalid() const noexcept {
    if (!(lr >= 0)) return "typegrad::sgd: lr must be >= 0";
    if (!(momentum >= 0)) return "typegrad::sgd: momentum must be >= 0";
    if (!(weight_decay >= 0)) return "typegrad::sgd: weight_decay must be >= 0";
    if (nesterov && (momentum <= 0 || dampening != 0))
      return "typegrad::sgd: nesterov needs momentum > 0 and dampening = 0";
    return nullptr;
  }
};

}  // namespace typegrad

// sgd: plain stochastic gradient descent, W ← W − lr·g, applied inside the backward sweep.
#pragma once

#include <cstddef>

#include <typegrad/simd/kernels.hpp>

namespace typegrad {

/// Plain SGD. Stateless: the network's backward sweep calls update() on each register of
/// parameters right after forming its gradient, so dW is never stored.
struct sgd {
  double lr = 0.01;

  static constexpr bool writes_parameters = true;
  template <class P, class V>
  V update(P, std::size_t, const V& w, const V& g) const noexcept {
    return xsimd::fnma(V(static_cast<typename V::value_type>(lr)), g, w);  // w − lr·g
  }
};

}  // namespace typegrad

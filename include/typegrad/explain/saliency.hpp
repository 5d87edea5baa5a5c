// saliency and gradient_x_input: d output_k / dx from the generated backward pass, per sample.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <type_traits>

#include <typegrad/core/config.hpp>
#include <typegrad/core/tensor.hpp>
#include <typegrad/layers/layer.hpp>
#include <typegrad/network/network.hpp>
#include <typegrad/network/train.hpp>
#include <typegrad/simd/layout.hpp>
#include <typegrad/train/detail/batch.hpp>

namespace typegrad {

namespace detail {

/// Throws std::invalid_argument / std::out_of_range, naming the call, for an output index the
/// network does not have or an input value that is not finite.
template <class Net, class X>
void check_explain_arguments(const char* call, const X& x, std::size_t k) {
  if (k >= Net::out_size)
    throw std::out_of_range(std::string(call) + ": k = " + std::to_string(k) + ", but the network has " +
                            std::to_string(Net::out_size) + (Net::out_size == 1 ? " output" : " outputs") +
                            " (k counts from 0)");
  for (std::size_t i = 0; i < X::size(); ++i)
    if (!std::isfinite(x.data()[i]))
      throw std::invalid_argument(std::string(call) + ": x holds a non-finite value at sample " +
                                  std::to_string(i / Net::in_size) + ", feature " + std::to_string(i % Net::in_size));
}

/// d y_k / dx for R samples (unpadded rows of in_size values at `x`) into `dx` (same rows), where
/// y is the network's inference output. One forward and one backward pass of R samples, seeded
/// with the unit vector e_k at every sample's output instead of a loss gradient.
// Out of line (one copy, however many callers), and its forward pass is fit's (forward_rows):
// explaining a network that was just trained adds only the backward pass to compile.
template <std::size_t R, class Net>
TYPEGRAD_OUT_OF_LINE void output_input_gradient(const Net& net, const typename Net::value_type* x, std::size_t k,
                                                typename Net::value_type* dx) noexcept {
  using T = typename Net::value_type;
  if constexpr (R >= 2 && Net::inference_differs) {
    // The backward of a batch of two or more assumes batch statistics (batch norm), while an
    // explanation needs the running ones, which a pass of one sample uses: one pass per sample.
    for (std::size_t r = 0; r < R; ++r) output_input_gradient<1>(net, x + r * Net::in_size, k, dx + r * Net::in_size);
  } else {
    // pass::training keeps what the backward needs (max-pool argmaxes); with R = 1 or no layer that
    // infers differently it computes exactly the inference output.
    constexpr layout first = Net::template input_layout<R>;
    typename Net::template workspace<R> ws;
    forward_rows<R, pass::training>(net, ws, x);
    constexpr std::size_t row = padded<T>(Net::out_size);
    T* seed = Net::output_gradient(ws);
    std::fill_n(seed, R * row, T(0));
    for (std::size_t r = 0; r < R; ++r) seed[r * row + k] = T(1);
    buffer<T, layout_size<T, R, typename Net::in_shape, first>> g;
    discard_gradient sink;
    // The sink never writes parameters, so the const_cast is only a formality.
    const_cast<Net&>(net).template backward<R, discard_gradient, false, true>(ws, sink, g.data);
    simd::to_caller_rows<T, R, typename Net::in_shape, first>(g.data, dx);
  }
}

}  // namespace detail

/// Saliency: d y_k / dx, the gradient of output k with respect to the input, shaped like x.
/// y is what `net(x)` returns, so for a sigmoid or softmax last layer it is the gradient of the
/// probability, not of the logit. A matrix<T, B, N> gives row b for sample b, all from one
/// backward pass of B samples (one pass per sample when the network has batch norm, which must
/// use its running statistics here). Computed by the generated backward pass, not by finite
/// differences. Throws std::out_of_range if k ≥ out_size, std::invalid_argument if x is not finite.
/// @code
/// tg::vector<float, 30> s = tg::saliency(net, x, 0);   // d p(benign) / d feature
/// @endcode
template <network_type Net, tensor X>
  requires(detail::check_input<Net, X>())
std::remove_cvref_t<X> saliency(const Net& net, const X& x, std::size_t k) {
  detail::check_explain_arguments<Net>("typegrad::saliency(net, x, k)", x, k);
  std::remove_cvref_t<X> g;
  detail::output_input_gradient<rows_of<X>>(net, x.data(), k, g.data());
  return g;
}

/// Gradient × input: x ⊙ d y_k / dx, per sample (see saliency for y, k and batches).
template <network_type Net, tensor X>
  requires(detail::check_input<Net, X>())
std::remove_cvref_t<X> gradient_x_input(const Net& net, const X& x, std::size_t k) {
  detail::check_explain_arguments<Net>("typegrad::gradient_x_input(net, x, k)", x, k);
  std::remove_cvref_t<X> g;
  detail::output_input_gradient<rows_of<X>>(net, x.data(), k, g.data());
  for (std::size_t i = 0; i < X::size(); ++i) g.data()[i] *= x.data()[i];
  return g;
}

}  // namespace typegrad

// The built-in activations, all defined through the expression machinery.
#pragma once

#include <cstdint>

#include <typegrad/activations/activation.hpp>

namespace typegrad {

namespace detail {
using expr::constant;
using px = expr::placeholder<0>;
// In an output slope the placeholder stands for y = f(x).
using step_of_output = decltype(expr::where(px{} > constant<0>{}, constant<1>{}, constant<0>{}));
}  // namespace detail

/// f(x) = x.
struct identity : activation<detail::px> {};
/// f(x) = 1 / (1 + e^-x).
struct sigmoid : activation<decltype(expr::sigmoid(detail::px{})),
                            decltype(detail::px{} * (detail::constant<1>{} - detail::px{}))> {};
/// f(x) = tanh x.
struct tanh : activation<decltype(expr::tanh(detail::px{})), decltype(detail::constant<1>{} - detail::px{} * detail::px{})> {};
/// f(x) = max(x, 0); f'(0) is taken as 0, as in PyTorch.
struct relu : activation<decltype(expr::where(detail::px{} > detail::constant<0>{}, detail::px{}, detail::constant<0>{})),
                         detail::step_of_output> {};
/// f(x) = x for x > 0, (Num/Den)·x otherwise. `leaky_relu` has PyTorch's slope 0.01.
template <std::intmax_t Num, std::intmax_t Den = 1>
struct leaky_relu_with
    : activation<decltype(expr::where(detail::px{} > detail::constant<0>{}, detail::px{},
                                      detail::constant<Num, Den>{} * detail::px{})),
                 // y > 0 exactly where x > 0 (for a positive slope)
                 decltype(expr::where(detail::px{} > detail::constant<0>{}, detail::constant<1>{},
                                      detail::constant<Num, Den>{}))> {
  static_assert(Num > 0 && Den > 0, "typegrad::leaky_relu_with<Num, Den>: the slope must be positive");
};
struct leaky_relu : leaky_relu_with<1, 100> {};
/// f(x) = x for x > 0, e^x − 1 otherwise (alpha = 1, PyTorch's default).
struct elu : activation<decltype(expr::where(detail::px{} > detail::constant<0>{}, detail::px{},
                                             expr::exp(detail::px{}) - detail::constant<1>{})),
                        // for x ≤ 0, f' = e^x = y + 1
                        decltype(expr::where(detail::px{} > detail::constant<0>{}, detail::constant<1>{},
                                             detail::px{} + detail::constant<1>{}))> {};
/// f(x) = log(1 + e^x), evaluated without overflow.
struct softplus : activation<decltype(expr::softplus(detail::px{})),
                             // sigmoid(x) = 1 − e^(−softplus(x))
                             decltype(detail::constant<1>{} - expr::exp(-detail::px{}))> {};
/// GELU, tanh form: x/2 · (1 + tanh(√(2/π) · (x + 0.044715 x³))), PyTorch's approximate='tanh'.
struct gelu : activation<decltype(detail::constant<1, 2>{} * detail::px{} *
                                  (detail::constant<1>{} +
                                   expr::tanh(detail::constant<7978845608028654, 10000000000000000>{} *
                                              (detail::px{} + detail::constant<44715, 1000000>{} * detail::px{} *
                                                                  detail::px{} * detail::px{}))))> {};
/// f(x) = x · sigmoid(x).
struct swish : activation<decltype(detail::px{} * expr::sigmoid(detail::px{}))> {};
using silu = swish;

/// softmax(z)_i = e^{z_i} / Σ_j e^{z_j}, per sample (vector-valued).
/// For classification prefer an identity output with `softmax_cross_entropy`, which is fused and stable.
struct softmax {
  static constexpr bool is_elementwise = false;
  static constexpr bool is_identity = false;
};

}  // namespace typegrad

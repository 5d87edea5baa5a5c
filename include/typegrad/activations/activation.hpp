// activation<E>: an element-wise activation defined by an expression of `typegrad::x`.
#pragma once

#include <cstddef>
#include <type_traits>

#include <typegrad/core/config.hpp>
#include <typegrad/expr/expr.hpp>

namespace typegrad {

/// An element-wise activation f(x) given as an expression type; f' is derived at compile time.
/// @tparam E            an expression of `typegrad::x`, e.g. `decltype(x * expr::sigmoid(x))`.
/// @tparam OutputSlope  optionally, f' written in terms of the output y = f(x) (placeholder 0),
///                      e.g. y(1 − y) for the sigmoid: the backward pass then needs no
///                      pre-activation and no second transcendental. Tests check it equals the
///                      derived f'.
template <class E, class OutputSlope = void>
struct activation {
  static_assert(expr::expression<E>, "typegrad::activation<E>: E must be a typegrad expression of typegrad::x");
  using expression = E;
  using derivative = expr::derivative_t<E, 0>;
  static constexpr bool is_elementwise = true;
  /// True when f'(x) = 1, so the backward pass can skip the activation entirely.
  static constexpr bool is_identity = expr::is_one<derivative>;

  template <class V>
  static V value(const V& z) noexcept { return expr::eval(E{}, z); }
  template <class V>
  static V slope(const V& z) noexcept { return expr::eval(derivative{}, z); }

  static constexpr bool slope_from_output = !std::is_void_v<OutputSlope>;
  using output_slope = OutputSlope;
  /// f'(x) computed from y = f(x); only when slope_from_output.
  template <class V>
  static V slope_at_output(const V& y) noexcept { return expr::eval(OutputSlope{}, y); }
};

namespace detail {
template <class A>
concept elementwise_activation = requires { requires A::is_elementwise; typename A::expression; };
template <class A>
concept vector_activation = requires { requires !A::is_elementwise; };
}  // namespace detail

/// Anything usable as a layer's activation: an element-wise `activation<E>` or `softmax`.
template <class A>
concept activation_function = detail::elementwise_activation<A> || detail::vector_activation<A>;

}  // namespace typegrad

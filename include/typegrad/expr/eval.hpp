// Evaluating an expression at scalar or SIMD values, and differentiating it at compile time.
#pragma once

#include <tuple>
#include <type_traits>

#include <typegrad/expr/ops.hpp>

namespace typegrad::expr {

namespace detail {
template <class V>
struct scalar_of { using type = V; };
template <class T, class A>
struct scalar_of<xsimd::batch<T, A>> { using type = T; };
}  // namespace detail

/// Value of expression E with its placeholders bound to `args` (all scalars or all batches).
template <class V, class... Args>
constexpr auto eval(placeholder<0>, const V& a0, const Args&...) noexcept { return a0; }
template <class V, std::size_t I, class... Args>
  requires(I > 0)
constexpr auto eval(placeholder<I>, const V& a0, const Args&... args) noexcept {
  return std::get<I>(std::tuple<const V&, const Args&...>(a0, args...));
}
template <class V, std::intmax_t N, std::intmax_t D, class... Args>
constexpr V eval(constant<N, D>, const V&, const Args&...) noexcept {
  return V(constant<N, D>::template value<typename detail::scalar_of<V>::type>());
}
template <class V, class Op, class... E, class... Args>
constexpr auto eval(node<Op, E...>, const V& a0, const Args&... args) noexcept {
  return Op::apply(eval(E{}, a0, args...)...);
}

/// Compile-time derivative of E with respect to placeholder I (chain, product, quotient rules).
template <std::size_t I, std::size_t J>
constexpr auto derivative(placeholder<J>, placeholder<I>) noexcept {
  if constexpr (I == J) return constant<1>{};
  else return constant<0>{};
}
template <std::size_t I, std::intmax_t N, std::intmax_t D>
constexpr auto derivative(constant<N, D>, placeholder<I>) noexcept { return constant<0>{}; }
template <std::size_t I, class Op, class... E>
constexpr auto derivative(node<Op, E...>, placeholder<I> p) noexcept {
  return Op::derivative(E{}..., derivative(E{}, p)...);
}

/// The type of dE/d(placeholder I).
template <class E, std::size_t I = 0>
using derivative_t = decltype(derivative(E{}, placeholder<I>{}));

}  // namespace typegrad::expr

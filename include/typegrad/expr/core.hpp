// Expression templates: placeholders, compile-time constants, op nodes, and the `_c` literal.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ratio>
#include <type_traits>

namespace typegrad::expr {

/// The I-th argument of an expression: `x` (activations), `y` and `t` (losses).
template <std::size_t I>
struct placeholder {};

/// The compile-time constant Num/Den. Constants are types, so an expression is fully
/// described by its type and `decltype(expr)` can be handed to `activation<>` or `loss<>`.
template <std::intmax_t Num, std::intmax_t Den = 1>
struct constant {
  static_assert(Den != 0, "typegrad::expr::constant: zero denominator");
  static constexpr std::intmax_t num = std::ratio<Num, Den>::num;
  static constexpr std::intmax_t den = std::ratio<Num, Den>::den;
  template <class T>
  static constexpr T value() noexcept { return static_cast<T>(static_cast<long double>(num) / den); }
};

/// Op applied to argument expressions. Ops are empty tags that carry an evaluator and a
/// derivative rule (see ops.hpp); the node itself is empty.
template <class Op, class... Args>
struct node {};

namespace detail {
template <class E>
struct is_expression : std::false_type {};
template <std::size_t I>
struct is_expression<placeholder<I>> : std::true_type {};
template <std::intmax_t N, std::intmax_t D>
struct is_expression<constant<N, D>> : std::true_type {};
template <class Op, class... A>
struct is_expression<node<Op, A...>> : std::true_type {};

template <class E>
struct constant_traits : std::false_type {};
template <std::intmax_t N, std::intmax_t D>
struct constant_traits<constant<N, D>> : std::true_type {
  static constexpr std::intmax_t num = constant<N, D>::num, den = constant<N, D>::den;
};
}  // namespace detail

/// Any typegrad expression: an empty, trivially copyable type.
template <class E>
concept expression = detail::is_expression<std::remove_cvref_t<E>>::value;

template <class E>
inline constexpr bool is_constant = detail::constant_traits<std::remove_cvref_t<E>>::value;

template <class E, std::intmax_t N, std::intmax_t D = 1>
inline constexpr bool is_constant_equal = [] {
  using traits = detail::constant_traits<std::remove_cvref_t<E>>;
  if constexpr (traits::value)
    return traits::num == std::ratio<N, D>::num && traits::den == std::ratio<N, D>::den;
  else
    return false;
}();

template <class E>
inline constexpr bool is_zero = is_constant_equal<E, 0>;
template <class E>
inline constexpr bool is_one = is_constant_equal<E, 1>;

namespace detail {
// Parses a decimal literal such as 0.044715 into numerator and denominator at compile time.
template <char... Cs>
struct parse_decimal {
  static constexpr auto parse() {
    std::intmax_t num = 0, den = 1;
    bool fraction = false;
    for (char c : {Cs...}) {
      if (c == '\'') continue;
      if (c == '.') { fraction = true; continue; }
      num = num * 10 + (c - '0');
      if (fraction) den *= 10;
    }
    struct result { std::intmax_t num, den; };
    return result{num, den};
  }
  static constexpr auto value = parse();
};
}  // namespace detail

namespace literals {
/// `0.5_c`, `2_c`: a compile-time constant usable inside an expression type.
template <char... Cs>
constexpr auto operator""_c() noexcept {
  constexpr auto v = detail::parse_decimal<Cs...>::value;
  using reduced = std::ratio<v.num, v.den>;  // 0.50_c and 0.5_c are the same type
  return constant<reduced::num, reduced::den>{};
}
}  // namespace literals

}  // namespace typegrad::expr

namespace typegrad {
/// Placeholders: `x` is an activation's argument; `y` (prediction) and `t` (target) a loss's.
inline constexpr expr::placeholder<0> x{};
inline constexpr expr::placeholder<0> y{};
inline constexpr expr::placeholder<1> t{};
namespace literals {
using namespace expr::literals;
}
}  // namespace typegrad

// activation_name: how an activation is spelled in architecture strings (weight files, the
// combinators' descriptions, tools/export_pytorch.py).
#pragma once

#include <concepts>
#include <cstdint>
#include <numeric>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <typegrad/activations/builtin.hpp>

namespace typegrad {

namespace detail {

template <class Act>
concept named_activation = requires {
  { Act::name } -> std::convertible_to<std::string_view>;
};

// Matches leaky_relu and every leaky_relu_with<N, D> (a derived class converts to its base).
template <std::intmax_t Num, std::intmax_t Den>
constexpr std::pair<std::intmax_t, std::intmax_t> leaky_slope(const leaky_relu_with<Num, Den>*) noexcept {
  return {Num, Den};
}
template <class Act>
concept leaky_activation = requires(const Act* a) {
  detail::leaky_slope(a);
};

}  // namespace detail

/// The name an activation has in architecture strings and for tools/export_pytorch.py:
/// identity, relu, tanh, sigmoid, leaky_relu (slope 0.01) or leaky_relu(Num/Den), elu, softplus,
/// gelu (tanh form), silu, softmax. A custom `activation<E>` may declare
/// `static constexpr std::string_view name = "...";`, else it is "custom" (or "identity" when f' = 1).
template <class Act>
std::string activation_name() {
  if constexpr (detail::named_activation<Act>)
    return std::string(std::string_view(Act::name));
  else if constexpr (std::is_same_v<Act, identity>)
    return "identity";
  else if constexpr (std::is_same_v<Act, relu>)
    return "relu";
  else if constexpr (std::is_same_v<Act, tanh>)
    return "tanh";
  else if constexpr (std::is_same_v<Act, sigmoid>)
    return "sigmoid";
  else if constexpr (std::is_same_v<Act, elu>)
    return "elu";
  else if constexpr (std::is_same_v<Act, softplus>)
    return "softplus";
  else if constexpr (std::is_same_v<Act, gelu>)
    return "gelu";
  else if constexpr (std::is_same_v<Act, swish>)
    return "silu";
  else if constexpr (std::is_same_v<Act, softmax>)
    return "softmax";
  else if constexpr (detail::leaky_activation<Act>) {
    auto [num, den] = detail::leaky_slope(static_cast<const Act*>(nullptr));
    const std::intmax_t g = std::gcd(num, den);
    num /= g, den /= g;
    if (den < 0) num = -num, den = -den;
    if (num == 1 && den == 100) return "leaky_relu";
    return "leaky_relu(" + std::to_string(num) + (den == 1 ? "" : "/" + std::to_string(den)) + ")";
  } else if constexpr (requires { requires Act::is_identity; })
    return "identity";
  else
    return "custom";
}

}  // namespace typegrad

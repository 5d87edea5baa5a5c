// Element-wise + and − of same-shaped tensors; a shape mismatch is a compile error naming both shapes.
#pragma once

#include <cstddef>

#include <typegrad/core/tensor.hpp>

namespace typegrad {

namespace detail {
/// Instantiated only to report adding or subtracting tensors of different shapes.
template <std::size_t LeftRows, std::size_t LeftCols, std::size_t RightRows, std::size_t RightCols>
struct tensor_shape_mismatch {
  static_assert(LeftRows == RightRows && LeftCols == RightCols,
                "typegrad: cannot combine tensors of different shapes element-wise: [LeftRows x LeftCols] "
                "vs [RightRows x RightCols] (see tensor_shape_mismatch<...>); typegrad never broadcasts silently");
  static constexpr bool value = true;
};

template <class A, class B, class Op>
constexpr auto elementwise(const A& a, const B& b, Op op) noexcept {
  static_assert(tensor_shape_mismatch<rows_of<A>, cols_of<A>, rows_of<B>, cols_of<B>>::value);
  A r = a;
  if constexpr (rows_of<A> == rows_of<B> && cols_of<A> == cols_of<B>)
    for (std::size_t i = 0; i < A::size(); ++i) r.data()[i] = op(a.data()[i], b.data()[i]);
  return r;
}
}  // namespace detail

/// a + b for tensors of the same shape and scalar type.
template <tensor A, tensor B>
constexpr auto operator+(const A& a, const B& b) noexcept {
  return detail::elementwise(a, b, [](auto u, auto v) { return u + v; });
}
/// a − b for tensors of the same shape and scalar type.
template <tensor A, tensor B>
constexpr auto operator-(const A& a, const B& b) noexcept {
  return detail::elementwise(a, b, [](auto u, auto v) { return u - v; });
}

}  // namespace typegrad

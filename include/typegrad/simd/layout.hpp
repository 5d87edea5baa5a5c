// Conversions of a batch between the layouts of typegrad::layout, where two layers disagree.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>

#include <typegrad/core/config.hpp>
#include <typegrad/layers/layer.hpp>
#include <typegrad/simd/gemm.hpp>

namespace typegrad::simd {

namespace detail {
/// Where value e of sample b of Shape lies in layout L.
template <class T, std::size_t B, class Shape, layout L>
constexpr std::size_t layout_index(std::size_t b, std::size_t e) noexcept {
  if constexpr (L == layout::rows) return b * padded<T>(Shape::size) + e;
  else if constexpr (L == layout::vectors)
    return (b * Shape::outer + e / Shape::last) * padded<T>(Shape::last) + e % Shape::last;
  else return e * padded<T>(B) + b;
}
}  // namespace detail

/// B samples of Shape from layout From to layout To; every value of dst is written (padding zero).
template <class T, std::size_t B, class Shape, layout From, layout To>
inline void convert_layout(const T* __restrict src, T* __restrict dst) noexcept {
  constexpr std::size_t n = Shape::size;
  if constexpr (same_layout<Shape, From, To>) {
    std::memcpy(dst, src, layout_size<T, B, Shape, To> * sizeof(T));
  } else if constexpr (From == layout::rows && To == layout::features) {
    rows_to_features<T, B, n, padded<T>(n)>(src, dst);
  } else if constexpr (From == layout::features && To == layout::rows) {
    features_to_rows<T, B, n>(src, dst);
  } else {
    // Reshuffles of shaped data (vectors <-> rows or features): plain copies, rare and small.
    std::fill_n(dst, layout_size<T, B, Shape, To>, T(0));
    for (std::size_t b = 0; b < B; ++b)
      for (std::size_t e = 0; e < n; ++e)
        dst[detail::layout_index<T, B, Shape, To>(b, e)] = src[detail::layout_index<T, B, Shape, From>(b, e)];
  }
}

/// The caller's B rows of Shape::size values (unpadded, contiguous) into layout To.
template <class T, std::size_t B, class Shape, layout To>
inline void from_caller_rows(const T* __restrict x, T* __restrict dst) noexcept {
  constexpr std::size_t n = Shape::size;
  if constexpr (To == layout::features) {
    rows_to_features<T, B, n, n>(x, dst);
  } else if constexpr (same_layout<Shape, To, layout::rows>) {
    for (std::size_t b = 0; b < B; ++b) {
      std::memcpy(dst + b * padded<T>(n), x + b * n, n * sizeof(T));
      std::fill(dst + b * padded<T>(n) + n, dst + (b + 1) * padded<T>(n), T(0));
    }
  } else {
    std::fill_n(dst, layout_size<T, B, Shape, To>, T(0));
    for (std::size_t b = 0; b < B; ++b)
      for (std::size_t e = 0; e < n; ++e) dst[detail::layout_index<T, B, Shape, To>(b, e)] = x[b * n + e];
  }
}

/// The inverse of from_caller_rows: B samples of Shape in layout From to unpadded rows.
template <class T, std::size_t B, class Shape, layout From>
inline void to_caller_rows(const T* __restrict src, T* __restrict x) noexcept {
  constexpr std::size_t n = Shape::size;
  for (std::size_t b = 0; b < B; ++b)
    for (std::size_t e = 0; e < n; ++e) x[b * n + e] = src[detail::layout_index<T, B, Shape, From>(b, e)];
}

}  // namespace typegrad::simd

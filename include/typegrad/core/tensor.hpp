// Fixed-size aligned tensors: typegrad::vector<T, N> (one sample) and matrix<T, Rows, Cols>.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <initializer_list>
#include <type_traits>

#include <typegrad/core/config.hpp>

namespace typegrad {

/// A fixed-size, 64-byte aligned vector of N values; `v[i]`. Value-initialises to zero.
template <class T, std::size_t N>
struct vector {
  static_assert(N > 0, "typegrad::vector<T, N>: N must be at least 1");
  using value_type = T;
  static constexpr std::size_t size_v = N;

  alignas(alignment) T data_[N] = {};

  constexpr vector() noexcept = default;
  constexpr vector(const std::array<T, N>& a) noexcept { std::copy(a.begin(), a.end(), data_); }
  /// At most N values; the rest are zero.
  constexpr vector(std::initializer_list<T> values) noexcept {
    std::copy_n(values.begin(), std::min(values.size(), N), data_);
  }

  static constexpr std::size_t size() noexcept { return N; }
  constexpr T& operator[](std::size_t i) noexcept { return data_[i]; }
  constexpr const T& operator[](std::size_t i) const noexcept { return data_[i]; }
  constexpr T* data() noexcept { return data_; }
  constexpr const T* data() const noexcept { return data_; }
  constexpr T* begin() noexcept { return data_; }
  constexpr T* end() noexcept { return data_ + N; }
  constexpr const T* begin() const noexcept { return data_; }
  constexpr const T* end() const noexcept { return data_ + N; }
  friend constexpr bool operator==(const vector& a, const vector& b) noexcept {
    return std::equal(a.begin(), a.end(), b.begin());
  }
};

/// A fixed-size, 64-byte aligned row-major matrix; rows are samples: `m(r, c)`.
template <class T, std::size_t Rows, std::size_t Cols>
struct matrix {
  static_assert(Rows > 0 && Cols > 0, "typegrad::matrix<T, Rows, Cols>: both extents must be at least 1");
  using value_type = T;
  static constexpr std::size_t rows_v = Rows;
  static constexpr std::size_t cols_v = Cols;

  alignas(alignment) T data_[Rows * Cols] = {};

  constexpr matrix() noexcept = default;
  constexpr matrix(const std::array<T, Rows * Cols>& a) noexcept { std::copy(a.begin(), a.end(), data_); }
  constexpr matrix(const std::array<std::array<T, Cols>, Rows>& a) noexcept {
    for (std::size_t r = 0; r < Rows; ++r) std::copy(a[r].begin(), a[r].end(), data_ + r * Cols);
  }
  /// Nested rows, `{{1, 2}, {3, 4}}`; missing values are zero.
  constexpr matrix(std::initializer_list<std::initializer_list<T>> rows) noexcept {
    std::size_t r = 0;
    for (auto row = rows.begin(); row != rows.end() && r < Rows; ++row, ++r)
      std::copy_n(row->begin(), std::min(row->size(), Cols), data_ + r * Cols);
  }

  static constexpr std::size_t rows() noexcept { return Rows; }
  static constexpr std::size_t cols() noexcept { return Cols; }
  static constexpr std::size_t size() noexcept { return Rows * Cols; }
  constexpr T& operator()(std::size_t r, std::size_t c) noexcept { return data_[r * Cols + c]; }
  constexpr const T& operator()(std::size_t r, std::size_t c) const noexcept { return data_[r * Cols + c]; }
  constexpr T* data() noexcept { return data_; }
  constexpr const T* data() const noexcept { return data_; }
  constexpr T* row(std::size_t r) noexcept { return data_ + r * Cols; }
  constexpr const T* row(std::size_t r) const noexcept { return data_ + r * Cols; }
  friend constexpr bool operator==(const matrix& a, const matrix& b) noexcept {
    return std::equal(a.data_, a.data_ + Rows * Cols, b.data_);
  }
};

namespace detail {
template <class A>
struct tensor_traits : std::false_type {};
template <class T, std::size_t N>
struct tensor_traits<vector<T, N>> : std::true_type {
  using value_type = T;
  static constexpr std::size_t rows = 1, cols = N;
};
template <class T, std::size_t R, std::size_t C>
struct tensor_traits<matrix<T, R, C>> : std::true_type {
  using value_type = T;
  static constexpr std::size_t rows = R, cols = C;
};
}  // namespace detail

/// A typegrad::vector or typegrad::matrix; vectors count as one row.
template <class A>
concept tensor = detail::tensor_traits<std::remove_cvref_t<A>>::value;

/// Rows (samples) and columns (features) of a tensor type.
template <tensor A>
inline constexpr std::size_t rows_of = detail::tensor_traits<std::remove_cvref_t<A>>::rows;
template <tensor A>
inline constexpr std::size_t cols_of = detail::tensor_traits<std::remove_cvref_t<A>>::cols;

}  // namespace typegrad

// Kernels of typegrad::stream: moving one step's small vectors between buffers as whole registers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include <typegrad/core/config.hpp>
#include <typegrad/simd/kernels.hpp>

namespace typegrad::simd {

// A register loaded from memory that a few narrower stores just wrote waits for those stores to
// retire (no store-to-load forwarding: ~20 cycles, as long as a whole small step). A step's
// vectors are small and re-read at once by the next layer, so they are written register-wide.

/// dst[0..padded(N)) = value(0), ..., value(N − 1), then zero: each register assembled from
/// broadcasts and stored whole (dst aligned).
template <class T, std::size_t N, class Value>
inline void assemble(T* __restrict dst, Value&& value) noexcept {
  constexpr std::size_t L = lanes<T>;
  const auto lane = lane_index<T>();
  for (std::size_t q = 0; q < padded<T>(N); q += L) {
    auto v = batch<T>(T(0));
    for (std::size_t j = q; j < N && j < q + L; ++j)
      v = xsimd::select(lane == batch<T>(T(j - q)), batch<T>(value(j)), v);
    v.store_aligned(dst + q);
  }
}

/// src[0..N) (unaligned, exactly N values readable) into dst[0..padded(N)), zero past N.
template <class T, std::size_t N>
inline void load_padded(const T* __restrict src, T* __restrict dst) noexcept {
  constexpr std::size_t L = lanes<T>, whole = N / L * L;
  for (std::size_t q = 0; q < whole; q += L) batch<T>::load_unaligned(src + q).store_aligned(dst + q);
  if constexpr (whole < N) assemble<T, N - whole>(dst + whole, [&](std::size_t j) { return src[whole + j]; });
}

/// dst[0..N) = src[0..N), register by register (N a multiple of the lanes, both aligned).
template <class T, std::size_t N>
inline void copy_registers(const T* __restrict src, T* __restrict dst) noexcept {
  for (std::size_t q = 0; q < N; q += lanes<T>) batch<T>::load_aligned(src + q).store_aligned(dst + q);
}

/// v moved down by one lane (lane j takes lane j + 1; the top lane keeps its value): a sliding
/// window of the last inputs advanced in a register, with one constant permute.
template <class T>
inline batch<T> shift_down(const batch<T>& v) noexcept {
  using index_t = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  return [&]<std::size_t... J>(std::index_sequence<J...>) {
    return xsimd::swizzle(
        v, xsimd::batch_constant<xsimd::batch<index_t, typename batch<T>::arch_type>,
                                 index_t(J + 1 < sizeof...(J) ? J + 1 : J)...>{});
  }(std::make_index_sequence<lanes<T>>{});
}

/// The window of the last K ≤ lanes inputs (oldest in lane 0, zero past lane K − 1) after
/// `present` arrives: the older K − 1 move down a lane, the present goes to lane K − 1. The
/// window stays in one aligned register-wide slot, so its load is forwarded from one store.
template <class T, std::size_t K>
inline batch<T> slide_window(const batch<T>& window, T present) noexcept {
  static_assert(K >= 1 && K <= lanes<T>);
  const auto lane = lane_index<T>();
  return xsimd::select(lane < batch<T>(T(K - 1)), shift_down(window),
                       xsimd::select(lane == batch<T>(T(K - 1)), batch<T>(present), batch<T>(T(0))));
}

}  // namespace typegrad::simd

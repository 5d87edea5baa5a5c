// Configuration: SIMD width, alignment and padding rules shared by every header.
#pragma once

#include <cstddef>

#include <xsimd/xsimd.hpp>

/// Marks a large function whose single out-of-line copy is the point (compile time, code size):
/// never inlined and, with GCC, never cloned into specialised copies (clang has no noclone).
#if defined(__clang__)
#define TYPEGRAD_OUT_OF_LINE [[gnu::noinline]]
#else
#define TYPEGRAD_OUT_OF_LINE [[gnu::noinline, gnu::noclone]]
#endif

namespace typegrad {

/// Byte alignment of every tensor and parameter block (a cache line; enough for AVX-512 too).
inline constexpr std::size_t alignment = 64;

/// Number of `T` lanes in one SIMD register of the architecture chosen at compile time.
template <class T>
inline constexpr std::size_t lanes = xsimd::batch<T>::size;

/// `n` rounded up to a whole number of SIMD registers of `T`.
template <class T>
constexpr std::size_t padded(std::size_t n) noexcept {
  return (n + lanes<T> - 1) / lanes<T> * lanes<T>;
}

}  // namespace typegrad

// Register-blocked small-GEMM kernels for batches stored feature-major ([feature][sample]).
//
// With B ≥ lanes samples, every product of the dense layer is written in "broadcast" form,
// C[r][c-chunk] += A(r, k) · Bm[k][c-chunk], so no horizontal sums are needed:
//   forward   Zᵀ = W Xᵀ        A(r, k) = W[o + r][k]      Bm = Xᵀ   (k over inputs)
//   backward  dXᵀ = Wᵀ dZᵀ     A(r, k) = W[k][i + r]      Bm = dZᵀ  (k over outputs)
//   gradient  g = dZᵀ X        A(r, k) = dZᵀ[o + r][k]    Bm = X    (k over samples, X row-major)
// An R × C tile of accumulators stays in registers for the whole k loop.
#pragma once

#include <algorithm>
#include <cstddef>

#include <xsimd/xsimd.hpp>

#include <typegrad/core/config.hpp>

namespace typegrad::simd {

/// Vector registers of the target architecture (32 with AVX-512, 16 otherwise on x86-64).
template <class T>
inline constexpr std::size_t vector_registers = sizeof(xsimd::batch<T>) == 64 ? 32 : 16;

/// Tile shape for C columns-chunks: as many rows as the registers allow, keeping room for the
/// C loaded vectors and one broadcast.
template <class T>
constexpr std::size_t tile_rows(std::size_t chunks) noexcept {
  return std::min<std::size_t>(12, (vector_registers<T> - chunks - 2) / chunks);
}
template <class T>
constexpr std::size_t tile_chunks(std::size_t available) noexcept {
  return std::min<std::size_t>(available, vector_registers<T> == 32 ? 4 : 2);
}

/// acc[r][c] += Σ_{k<K} A[r·SR + k·SK] · Bm[k·BS + c·L] for an R × C tile.
template <class T, std::size_t R, std::size_t C, std::size_t K, std::size_t SR, std::size_t SK, std::size_t BS>
inline void gemm_tile(const T* __restrict A, const T* __restrict Bm, xsimd::batch<T> (&acc)[R][C]) noexcept {
  using V = xsimd::batch<T>;
  constexpr std::size_t L = V::size;
  for (std::size_t k = 0; k < K; ++k) {
    V b[C];
#pragma GCC unroll 8
    for (std::size_t c = 0; c < C; ++c) b[c] = V::load_aligned(Bm + k * BS + c * L);
#pragma GCC unroll 16
    for (std::size_t r = 0; r < R; ++r) {
      const V a(A[r * SR + k * SK]);
#pragma GCC unroll 8
      for (std::size_t c = 0; c < C; ++c) acc[r][c] = xsimd::fma(a, b[c], acc[r][c]);
    }
  }
}

/// Drives gemm_tile over a Rows × (Chunks·L) output: `init(r, c)` gives a tile's starting
/// value and `finish(r, c, acc)` consumes it (store, or hand to an optimizer).
/// A(row, k) = A[row·SR + k·SK]; Bm's row k starts at Bm + k·BS; chunk c at + c·L.
template <class T, std::size_t Rows, std::size_t Chunks, std::size_t K, std::size_t SR, std::size_t SK, std::size_t BS,
          class Init, class Finish>
inline void gemm(const T* A, const T* Bm, Init&& init, Finish&& finish) noexcept {
  using V = xsimd::batch<T>;
  constexpr std::size_t L = V::size;
  constexpr std::size_t C = tile_chunks<T>(Chunks), R = tile_rows<T>(C);
  auto run = [&]<std::size_t TR, std::size_t TC>(std::size_t r0, std::size_t c0) {
    V acc[TR][TC];
    for (std::size_t r = 0; r < TR; ++r)
      for (std::size_t c = 0; c < TC; ++c) acc[r][c] = init(r0 + r, c0 + c);
    gemm_tile<T, TR, TC, K, SR, SK, BS>(A + r0 * SR, Bm + c0 * L, acc);
    for (std::size_t r = 0; r < TR; ++r)
      for (std::size_t c = 0; c < TC; ++c) finish(r0 + r, c0 + c, acc[r][c]);
  };
  constexpr std::size_t full_c = Chunks / C * C;
  for (std::size_t c0 = 0; c0 < full_c; c0 += C) {
    std::size_t r0 = 0;
    for (; r0 + R <= Rows; r0 += R) run.template operator()<R, C>(r0, c0);
    for (; r0 < Rows; ++r0) run.template operator()<1, C>(r0, c0);
  }
  if constexpr (full_c < Chunks) {
    constexpr std::size_t RC = tile_rows<T>(1);
    for (std::size_t c0 = full_c; c0 < Chunks; ++c0) {
      std::size_t r0 = 0;
      for (; r0 + RC <= Rows; r0 += RC) run.template operator()<RC, 1>(r0, c0);
      for (; r0 < Rows; ++r0) run.template operator()<1, 1>(r0, c0);
    }
  }
}

/// rows [B][RowStride] (first N columns used) → feature-major [N][padded(B)], padding zero.
template <class T, std::size_t B, std::size_t N, std::size_t RowStride>
inline void rows_to_features(const T* __restrict rows, T* __restrict fm) noexcept {
  constexpr std::size_t bp = padded<T>(B);
  for (std::size_t n = 0; n < N; ++n) {
    for (std::size_t b = 0; b < B; ++b) fm[n * bp + b] = rows[b * RowStride + n];
    for (std::size_t b = B; b < bp; ++b) fm[n * bp + b] = T(0);
  }
}

/// feature-major [N][padded(B)] → rows [B][padded(N)], padding zero.
template <class T, std::size_t B, std::size_t N>
inline void features_to_rows(const T* __restrict fm, T* __restrict rows) noexcept {
  constexpr std::size_t bp = padded<T>(B), np = padded<T>(N);
  for (std::size_t b = 0; b < B; ++b) {
    for (std::size_t n = 0; n < N; ++n) rows[b * np + n] = fm[n * bp + b];
    for (std::size_t n = N; n < np; ++n) rows[b * np + n] = T(0);
  }
}

}  // namespace typegrad::simd

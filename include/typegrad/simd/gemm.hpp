// Register-blocked small-GEMM kernels for batches stored feature-major ([feature][sample]).
//
// With B ≥ lanes samples, every product of the dense layer is written in "broadcast" form,
// C[r][c-chunk] += A(r, k) · Bm[k][c-chunk], so no horizontal sums are needed:
//   forward   Zᵀ = W Xᵀ        A(r, k) = W[o + r][k]      Bm = Xᵀ   (k over inputs)
//   backward  dXᵀ = Wᵀ dZᵀ     A(r, k) = W[k][i + r]      Bm = dZᵀ  (k over outputs)
//   gradient  g = dZᵀ X        A(r, k) = dZᵀ[o + r][k]    Bm = X    (k over samples, X row-major)
// An R × C tile of accumulators stays in registers for the whole k loop. Also the in-register
// block transposes between row-major batches and the feature-major layout.
#pragma once

#include <algorithm>
#include <cstddef>
#include <type_traits>

#include <xsimd/xsimd.hpp>
#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include <typegrad/core/config.hpp>

namespace typegrad::simd {

/// Vector registers of the target architecture (32 with AVX-512, 16 otherwise on x86-64).
template <class T>
inline constexpr std::size_t vector_registers = sizeof(xsimd::batch<T>) == 64 ? 32 : 16;

/// Tile shape for C columns-chunks: as many rows as the registers allow, keeping room for the
/// C loaded vectors and one broadcast. With AVX-512 that is 6 × 4 zmm; 4 × 4, 5 × 4, 7 × 4
/// (memory-operand broadcasts) and 12 × 2 measured slower (Zen 5, GCC 12).
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
  // Two k steps per iteration: measured 91 % → 97 % of FMA peak for 6 × 4 zmm tiles (Zen 5,
  // GCC 12); four steps lose it again.
#pragma GCC unroll 2
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
    if constexpr (Rows % R != 0) run.template operator()<Rows % R, C>(r0, c0);  // one shorter tile
  }
  if constexpr (full_c < Chunks) {  // the last Chunks % C chunks, as one narrower column of tiles
    constexpr std::size_t CR = Chunks - full_c, RC = tile_rows<T>(CR);
    std::size_t r0 = 0;
    for (; r0 + RC <= Rows; r0 += RC) run.template operator()<RC, CR>(r0, full_c);
    if constexpr (Rows % RC != 0) run.template operator()<Rows % RC, CR>(r0, full_c);
  }
}

namespace detail {

/// Transposes one L × L block (L = lanes<T>): dst[j·DS + i] = src[i·SS + j]. In registers where
/// the architecture has the shuffles (x86 SSE2 / AVX / AVX-512), else element by element.
template <class T, std::size_t SS, std::size_t DS>
inline void transpose_block(const T* __restrict src, T* __restrict dst) noexcept {
  using A = typename xsimd::batch<T>::arch_type;
  [[maybe_unused]] constexpr bool is_f = std::is_same_v<T, float>, is_d = std::is_same_v<T, double>;
#if defined(__AVX512F__)
  if constexpr (is_f && std::is_base_of_v<xsimd::avx512f, A>) {
    __m512 r[16], t[16];
    for (std::size_t i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(src + i * SS);
    // Within each 128-bit lane: 4 × 4 transposes of row groups {4g .. 4g+3}.
    for (std::size_t g = 0; g < 16; g += 4) {
      t[g] = _mm512_unpacklo_ps(r[g], r[g + 1]);
      t[g + 1] = _mm512_unpackhi_ps(r[g], r[g + 1]);
      t[g + 2] = _mm512_unpacklo_ps(r[g + 2], r[g + 3]);
      t[g + 3] = _mm512_unpackhi_ps(r[g + 2], r[g + 3]);
      r[g] = _mm512_shuffle_ps(t[g], t[g + 2], 0x44);
      r[g + 1] = _mm512_shuffle_ps(t[g], t[g + 2], 0xEE);
      r[g + 2] = _mm512_shuffle_ps(t[g + 1], t[g + 3], 0x44);
      r[g + 3] = _mm512_shuffle_ps(t[g + 1], t[g + 3], 0xEE);
    }
    // r[4g + m], lane k now holds rows 4g..4g+3 of column 4k + m: gather the lanes.
    for (std::size_t m = 0; m < 4; ++m) {
      const __m512 a = _mm512_shuffle_f32x4(r[m], r[4 + m], 0x88), b = _mm512_shuffle_f32x4(r[m], r[4 + m], 0xDD);
      const __m512 c = _mm512_shuffle_f32x4(r[8 + m], r[12 + m], 0x88), d = _mm512_shuffle_f32x4(r[8 + m], r[12 + m], 0xDD);
      _mm512_storeu_ps(dst + m * DS, _mm512_shuffle_f32x4(a, c, 0x88));
      _mm512_storeu_ps(dst + (4 + m) * DS, _mm512_shuffle_f32x4(b, d, 0x88));
      _mm512_storeu_ps(dst + (8 + m) * DS, _mm512_shuffle_f32x4(a, c, 0xDD));
      _mm512_storeu_ps(dst + (12 + m) * DS, _mm512_shuffle_f32x4(b, d, 0xDD));
    }
    return;
  } else if constexpr (is_d && std::is_base_of_v<xsimd::avx512f, A>) {
    __m512d r[8], v[8];
    for (std::size_t i = 0; i < 8; ++i) r[i] = _mm512_loadu_pd(src + i * SS);
    for (std::size_t g = 0; g < 8; g += 2) {
      v[g] = _mm512_unpacklo_pd(r[g], r[g + 1]);
      v[g + 1] = _mm512_unpackhi_pd(r[g], r[g + 1]);
    }
    // v[2g + m], lane k holds rows 2g, 2g+1 of column 2k + m.
    for (std::size_t m = 0; m < 2; ++m) {
      const __m512d a = _mm512_shuffle_f64x2(v[m], v[2 + m], 0x88), b = _mm512_shuffle_f64x2(v[m], v[2 + m], 0xDD);
      const __m512d c = _mm512_shuffle_f64x2(v[4 + m], v[6 + m], 0x88), d = _mm512_shuffle_f64x2(v[4 + m], v[6 + m], 0xDD);
      _mm512_storeu_pd(dst + m * DS, _mm512_shuffle_f64x2(a, c, 0x88));
      _mm512_storeu_pd(dst + (2 + m) * DS, _mm512_shuffle_f64x2(b, d, 0x88));
      _mm512_storeu_pd(dst + (4 + m) * DS, _mm512_shuffle_f64x2(a, c, 0xDD));
      _mm512_storeu_pd(dst + (6 + m) * DS, _mm512_shuffle_f64x2(b, d, 0xDD));
    }
    return;
  }
#endif
#if defined(__AVX__)
  if constexpr (is_f && std::is_base_of_v<xsimd::avx, A> && xsimd::batch<T>::size == 8) {
    __m256 r[8], t[4];
    for (std::size_t i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * SS);
    for (std::size_t g = 0; g < 8; g += 4) {
      t[0] = _mm256_unpacklo_ps(r[g], r[g + 1]);
      t[1] = _mm256_unpackhi_ps(r[g], r[g + 1]);
      t[2] = _mm256_unpacklo_ps(r[g + 2], r[g + 3]);
      t[3] = _mm256_unpackhi_ps(r[g + 2], r[g + 3]);
      r[g] = _mm256_shuffle_ps(t[0], t[2], 0x44);
      r[g + 1] = _mm256_shuffle_ps(t[0], t[2], 0xEE);
      r[g + 2] = _mm256_shuffle_ps(t[1], t[3], 0x44);
      r[g + 3] = _mm256_shuffle_ps(t[1], t[3], 0xEE);
    }
    for (std::size_t m = 0; m < 4; ++m) {
      _mm256_storeu_ps(dst + m * DS, _mm256_permute2f128_ps(r[m], r[4 + m], 0x20));
      _mm256_storeu_ps(dst + (4 + m) * DS, _mm256_permute2f128_ps(r[m], r[4 + m], 0x31));
    }
    return;
  } else if constexpr (is_d && std::is_base_of_v<xsimd::avx, A> && xsimd::batch<T>::size == 4) {
    __m256d r[4], v[4];
    for (std::size_t i = 0; i < 4; ++i) r[i] = _mm256_loadu_pd(src + i * SS);
    v[0] = _mm256_unpacklo_pd(r[0], r[1]);
    v[1] = _mm256_unpackhi_pd(r[0], r[1]);
    v[2] = _mm256_unpacklo_pd(r[2], r[3]);
    v[3] = _mm256_unpackhi_pd(r[2], r[3]);
    for (std::size_t m = 0; m < 2; ++m) {
      _mm256_storeu_pd(dst + m * DS, _mm256_permute2f128_pd(v[m], v[2 + m], 0x20));
      _mm256_storeu_pd(dst + (2 + m) * DS, _mm256_permute2f128_pd(v[m], v[2 + m], 0x31));
    }
    return;
  }
#endif
#if defined(__SSE2__)
  if constexpr (is_f && std::is_base_of_v<xsimd::sse2, A> && xsimd::batch<T>::size == 4) {
    __m128 r0 = _mm_loadu_ps(src), r1 = _mm_loadu_ps(src + SS), r2 = _mm_loadu_ps(src + 2 * SS),
           r3 = _mm_loadu_ps(src + 3 * SS);
    _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
    _mm_storeu_ps(dst, r0);
    _mm_storeu_ps(dst + DS, r1);
    _mm_storeu_ps(dst + 2 * DS, r2);
    _mm_storeu_ps(dst + 3 * DS, r3);
    return;
  } else if constexpr (is_d && std::is_base_of_v<xsimd::sse2, A> && xsimd::batch<T>::size == 2) {
    const __m128d r0 = _mm_loadu_pd(src), r1 = _mm_loadu_pd(src + SS);
    _mm_storeu_pd(dst, _mm_unpacklo_pd(r0, r1));
    _mm_storeu_pd(dst + DS, _mm_unpackhi_pd(r0, r1));
    return;
  }
#endif
  constexpr std::size_t L = xsimd::batch<T>::size;
  for (std::size_t i = 0; i < L; ++i)
    for (std::size_t j = 0; j < L; ++j) dst[j * DS + i] = src[i * SS + j];
}

}  // namespace detail

/// rows [B][RowStride] (first N columns used) → feature-major [N][padded(B)], padding zero.
template <class T, std::size_t B, std::size_t N, std::size_t RowStride>
inline void rows_to_features(const T* __restrict rows, T* __restrict fm) noexcept {
  constexpr std::size_t L = lanes<T>, bp = padded<T>(B), full_b = B / L * L, full_n = N / L * L;
  // The last, partial block of features goes through a scratch block when the rows are long
  // enough to read it whole.
  constexpr bool ragged_in_blocks = full_n < N && full_n + L <= RowStride;
  for (std::size_t b = 0; b < full_b; b += L) {
    for (std::size_t n = 0; n < full_n; n += L) detail::transpose_block<T, RowStride, bp>(rows + b * RowStride + n, fm + n * bp + b);
    if constexpr (ragged_in_blocks) {
      alignas(alignment) T block[L * L];
      detail::transpose_block<T, RowStride, L>(rows + b * RowStride + full_n, block);
      for (std::size_t n = full_n; n < N; ++n)
        for (std::size_t j = 0; j < L; ++j) fm[n * bp + b + j] = block[(n - full_n) * L + j];
    }
  }
  if constexpr (!ragged_in_blocks)
    for (std::size_t n = full_n; n < N; ++n)
      for (std::size_t b = 0; b < full_b; ++b) fm[n * bp + b] = rows[b * RowStride + n];
  for (std::size_t n = 0; n < N; ++n) {
    for (std::size_t b = full_b; b < B; ++b) fm[n * bp + b] = rows[b * RowStride + n];
    for (std::size_t b = B; b < bp; ++b) fm[n * bp + b] = T(0);
  }
}

/// feature-major [N][padded(B)] → rows [B][padded(N)], padding zero.
template <class T, std::size_t B, std::size_t N>
inline void features_to_rows(const T* __restrict fm, T* __restrict rows) noexcept {
  constexpr std::size_t L = lanes<T>, bp = padded<T>(B), np = padded<T>(N), full_b = B / L * L, full_n = N / L * L;
  for (std::size_t b = 0; b < full_b; b += L) {
    for (std::size_t n = 0; n < full_n; n += L) detail::transpose_block<T, bp, np>(fm + n * bp + b, rows + b * np + n);
    if constexpr (full_n < N) {  // the last features, zero-extended to a block: also writes the padding
      alignas(alignment) T block[L * L] = {};
      for (std::size_t n = full_n; n < N; ++n)
        for (std::size_t j = 0; j < L; ++j) block[(n - full_n) * L + j] = fm[n * bp + b + j];
      detail::transpose_block<T, L, np>(block, rows + b * np + full_n);
    }
  }
  for (std::size_t b = full_b; b < B; ++b) {
    for (std::size_t n = 0; n < N; ++n) rows[b * np + n] = fm[n * bp + b];
    for (std::size_t n = N; n < np; ++n) rows[b * np + n] = T(0);
  }
}

}  // namespace typegrad::simd

// Kernels of batch normalisation: column statistics over B padded rows and the per-position affine sweeps.
#pragma once

#include <cstddef>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include <typegrad/core/config.hpp>
#include <typegrad/simd/kernels.hpp>

namespace typegrad::simd {

// Every kernel sweeps B rows of P scalars (P a whole number of registers, rows P apart);
// per-position arrays (mean, 1/σ, γ, β, ...) have P scalars too, zero in the padding.

/// acc[i] = Σ_b x[b][i].
template <class T, std::size_t B, std::size_t P>
inline void column_sums(const T* __restrict x, T* __restrict acc) noexcept {
  using V = xsimd::batch<T>;
  constexpr std::size_t L = V::size;
  static_assert(P % L == 0);
  for (std::size_t i = 0; i < P; i += L) {
    V s = V::load_aligned(x + i);
    for (std::size_t b = 1; b < B; ++b) s += V::load_aligned(x + b * P + i);
    s.store_aligned(acc + i);
  }
}

/// acc[i] = Σ_b (x[b][i] − m[i])² (the second pass of a two-pass variance).
template <class T, std::size_t B, std::size_t P>
inline void column_squared_deviations(const T* __restrict x, const T* __restrict m, T* __restrict acc) noexcept {
  using V = xsimd::batch<T>;
  constexpr std::size_t L = V::size;
  for (std::size_t i = 0; i < P; i += L) {
    const V mean = V::load_aligned(m + i);
    V s(T(0));
    for (std::size_t b = 0; b < B; ++b) {
      const V d = V::load_aligned(x + b * P + i) - mean;
      s = xsimd::fma(d, d, s);
    }
    s.store_aligned(acc + i);
  }
}

/// acc[i] = Σ_b x[b][i]·y[b][i].
template <class T, std::size_t B, std::size_t P>
inline void column_dots(const T* __restrict x, const T* __restrict y, T* __restrict acc) noexcept {
  using V = xsimd::batch<T>;
  constexpr std::size_t L = V::size;
  for (std::size_t i = 0; i < P; i += L) {
    V s(T(0));
    for (std::size_t b = 0; b < B; ++b)
      s = xsimd::fma(V::load_aligned(x + b * P + i), V::load_aligned(y + b * P + i), s);
    s.store_aligned(acc + i);
  }
}

/// x̂ = (x − mean)·inv_std and z = γ·x̂ + β, position by position; x̂ is stored when KeepXhat.
/// Zero per-position arrays in the padding make x̂ and z zero there.
template <class T, std::size_t B, std::size_t P, bool KeepXhat>
inline void batch_norm_forward(const T* __restrict x, const T* __restrict mean, const T* __restrict inv_std,
                               const T* __restrict gamma, const T* __restrict beta, T* __restrict xhat,
                               T* __restrict z) noexcept {
  using V = xsimd::batch<T>;
  constexpr std::size_t L = V::size;
  for (std::size_t i = 0; i < P; i += L) {
    const V m = V::load_aligned(mean + i), s = V::load_aligned(inv_std + i);
    const V g = V::load_aligned(gamma + i), be = V::load_aligned(beta + i);
    for (std::size_t b = 0; b < B; ++b) {
      const V xh = (V::load_aligned(x + b * P + i) - m) * s;
      if constexpr (KeepXhat) xh.store_aligned(xhat + b * P + i);
      xsimd::fma(g, xh, be).store_aligned(z + b * P + i);
    }
  }
}

/// dx = a·dz + c1 + c2·x̂ with batch statistics (a = γ/σ, c1 = −a·Σdz/n, c2 = −a·Σ(dz·x̂)/n per
/// channel), or dx = a·dz with running statistics (the normalisation is then affine).
template <class T, std::size_t B, std::size_t P, bool BatchStatistics>
inline void batch_norm_input_gradient(const T* __restrict dz, const T* __restrict xhat, const T* __restrict a,
                                      const T* __restrict c1, const T* __restrict c2, T* __restrict dx) noexcept {
  using V = xsimd::batch<T>;
  constexpr std::size_t L = V::size;
  for (std::size_t i = 0; i < P; i += L) {
    const V av = V::load_aligned(a + i);
    if constexpr (BatchStatistics) {
      const V k1 = V::load_aligned(c1 + i), k2 = V::load_aligned(c2 + i);
      for (std::size_t b = 0; b < B; ++b)
        xsimd::fma(av, V::load_aligned(dz + b * P + i), xsimd::fma(k2, V::load_aligned(xhat + b * P + i), k1))
            .store_aligned(dx + b * P + i);
    } else {
      for (std::size_t b = 0; b < B; ++b) (av * V::load_aligned(dz + b * P + i)).store_aligned(dx + b * P + i);
    }
  }
}

/// Hands every register of a per-channel parameter block (Size scalars) with its gradient to the
/// update policy, storing the new values when the policy writes parameters.
template <class T, std::size_t Size, std::size_t Block, class Update>
inline void update_block(param_c<Block> block, T* __restrict w, const T* __restrict g, Update& update) noexcept {
  using V = xsimd::batch<T>;
  constexpr std::size_t L = V::size;
  for (std::size_t i = 0; i < Size; i += L) {
    const V w_new = update.update(block, i, V::load_aligned(w + i), V::load_aligned(g + i));
    if constexpr (std::remove_cvref_t<Update>::writes_parameters) w_new.store_aligned(w + i);
  }
}

}  // namespace typegrad::simd

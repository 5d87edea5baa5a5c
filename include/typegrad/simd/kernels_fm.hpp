// The SIMD kernels of dense layers for batches held feature-major ([feature][sample]): each
// product is a register-blocked GEMM (simd/gemm.hpp), gradients go straight to the update policy.
#pragma once

#include <cstddef>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include <typegrad/core/config.hpp>
#include <typegrad/simd/gemm.hpp>
#include <typegrad/simd/kernels.hpp>

namespace typegrad::simd {

/// Batched forward, feature-major, input-major W: Zᵀ = W Xᵀ + b.
template <class T, std::size_t B, std::size_t In, std::size_t Out>
inline void dense_forward_fm_input_major(const T* __restrict W, const T* __restrict bias, const T* __restrict Xt,
                                         T* __restrict Zt) noexcept {
  constexpr std::size_t L = lanes<T>, out_p = padded<T>(Out), bp = padded<T>(B);
  gemm<T, Out, bp / L, In, 1, out_p, bp>(
      W, Xt, [&](std::size_t r, std::size_t) { return batch<T>(bias[r]); },
      [&](std::size_t r, std::size_t c, const batch<T>& acc) { acc.store_aligned(Zt + r * bp + c * L); });
}

/// Batched fused gradient + update, feature-major, input-major W (first layer: no dX). dZ_rows
/// is scratch for dZ row-major; each tile g[i][o-chunk] = Σ_b Xᵀ[i][b] dZ[b][o-chunk] goes
/// straight through the update policy.
template <class T, std::size_t B, std::size_t In, std::size_t Out, class Update>
inline void dense_backward_fm_input_major(T* __restrict W, T* __restrict bias, const T* __restrict Xt,
                                          const T* __restrict dZt, T* __restrict dZ_rows, Update& update) noexcept {
  constexpr std::size_t L = lanes<T>, out_p = padded<T>(Out), bp = padded<T>(B);
  constexpr bool writes = std::remove_cvref_t<Update>::writes_parameters;
  features_to_rows<T, B, Out>(dZt, dZ_rows);
  gemm<T, In, out_p / L, B, bp, 1, out_p>(
      Xt, dZ_rows, [](std::size_t, std::size_t) { return batch<T>(T(0)); },
      [&](std::size_t r, std::size_t c, const batch<T>& g) {
        T* wp = W + r * out_p + c * L;
        const auto w_new = update.update(weight_c, r * out_p + c * L, batch<T>::load_aligned(wp), g);
        if constexpr (writes) w_new.store_aligned(wp);
      });
  for (std::size_t c = 0; c < out_p; c += L) {
    auto g = batch<T>::load_aligned(dZ_rows + c);
    for (std::size_t b = 1; b < B; ++b) g += batch<T>::load_aligned(dZ_rows + b * out_p + c);
    const auto b_new = update.update(bias_c, c, batch<T>::load_aligned(bias + c), g);
    if constexpr (writes) b_new.store_aligned(bias + c);
  }
}

/// Batched forward, feature-major: Zᵀ = W Xᵀ + b for B ≥ lanes samples. Xt is [In][padded(B)],
/// Zt is [Out][padded(B)]; padding columns hold b (finite) and are never read as samples.
template <class T, std::size_t B, std::size_t In, std::size_t Out>
inline void dense_forward_fm(const T* __restrict W, const T* __restrict bias, const T* __restrict Xt,
                             T* __restrict Zt) noexcept {
  constexpr std::size_t L = lanes<T>, in_p = padded<T>(In), bp = padded<T>(B);
  gemm<T, Out, bp / L, In, in_p, 1, bp>(
      W, Xt, [&](std::size_t r, std::size_t) { return batch<T>(bias[r]); },
      [&](std::size_t r, std::size_t c, const batch<T>& acc) { acc.store_aligned(Zt + r * bp + c * L); });
}

/// Batched fused backward, feature-major. dZt is [Out][padded(B)] with zero padding columns;
/// Xr is the layer input row-major [B][padded(In)] with zero padding. dXᵀ = Wᵀ dZᵀ is formed
/// first, from the old weights; then each register tile of g = dZᵀ X goes straight through the
/// update policy into W (g is never stored as a matrix).
template <class T, std::size_t B, std::size_t In, std::size_t Out, bool NeedDx, class Update>
inline void dense_backward_fm(T* __restrict W, T* __restrict bias, const T* __restrict Xr, const T* __restrict dZt,
                              T* __restrict dXt, Update& update) noexcept {
  constexpr std::size_t L = lanes<T>, in_p = padded<T>(In), out_p = padded<T>(Out), bp = padded<T>(B);
  constexpr bool writes = std::remove_cvref_t<Update>::writes_parameters;
  const auto zero = [](std::size_t, std::size_t) { return batch<T>(T(0)); };
  if constexpr (NeedDx)
    gemm<T, In, bp / L, Out, 1, in_p, bp>(W, dZt, zero, [&](std::size_t r, std::size_t c, const batch<T>& acc) {
      acc.store_aligned(dXt + r * bp + c * L);
    });
  gemm<T, Out, in_p / L, B, bp, 1, in_p>(dZt, Xr, zero, [&](std::size_t r, std::size_t c, const batch<T>& g) {
    T* wp = W + r * in_p + c * L;
    const auto w_new = update.update(weight_c, r * in_p + c * L, batch<T>::load_aligned(wp), g);
    if constexpr (writes) w_new.store_aligned(wp);
  });
  for (std::size_t oc = 0; oc < out_p; oc += L) {
    batch<T> acc[L];
    for (std::size_t j = 0; j < L; ++j) {
      acc[j] = batch<T>(T(0));
      if (oc + j < Out)
        for (std::size_t c = 0; c < bp; c += L) acc[j] += batch<T>::load_aligned(dZt + (oc + j) * bp + c);
    }
    const auto b_new = update.update(bias_c, oc, batch<T>::load_aligned(bias + oc), transpose_sum<T>(acc));
    if constexpr (writes) b_new.store_aligned(bias + oc);
  }
}

}  // namespace typegrad::simd

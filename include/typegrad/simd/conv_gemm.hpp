// Kernels of conv1d and conv2d lowered to GEMMs (im2col): the register-blocked feature-major dense
// kernels of simd/kernels_fm.hpp over all the output positions of a chunk of samples at once.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include <typegrad/core/config.hpp>
#include <typegrad/simd/conv.hpp>
#include <typegrad/simd/gemm.hpp>
#include <typegrad/simd/kernels.hpp>
#include <typegrad/simd/kernels_fm.hpp>

namespace typegrad::simd {

namespace detail {

/// Whether the input needs no padding: its planes are then read (and dX written) in place.
template <class G>
inline constexpr bool conv_unpadded = G::hp == G::h && G::wp == G::w;

/// One channel plane of one sample, [H][W], into the padded plane [HP][WP] (zeros around).
template <class T, class G>
inline void conv_pad_plane(const T* __restrict src, T* __restrict plane) noexcept {
  constexpr std::size_t pr = G::wp - G::w - G::pl;
  std::fill(plane, plane + G::pt * G::wp, T(0));
  for (std::size_t y = 0; y < G::h; ++y) {
    T* row = plane + (G::pt + y) * G::wp;
    std::fill(row, row + G::pl, T(0));
    std::memcpy(row + G::pl, src + y * G::w, G::w * sizeof(T));
    std::fill(row + G::pl + G::w, row + G::pl + G::w + pr, T(0));
  }
  std::fill(plane + (G::pt + G::h) * G::wp, plane + G::hp * G::wp, T(0));
}

}  // namespace detail

/// Scratch of im2col and col2im: one padded channel plane.
template <class T, class G>
inline constexpr std::size_t conv_plane_scratch = detail::conv_unpadded<G> ? 0 : padded<T>(G::hp * G::wp);

/// Which convolutions take the GEMM kernels rather than the direct ones (simd/conv.hpp): those
/// with one group whose patch matrix for one sample, C·KH·KW × Ho·Wo, stays within 64 Ki scalars
/// (its scratch lives on the caller's stack). Measured on Zen 5 (AVX-512, GCC 12, µs per SGD
/// step, direct → GEMM, same run): ecg (conv1d 1→8 k7 s2 on 360, 8→16 k5, 16→16 k5) batch 1
/// 11.5 → 8.0, batch 32 395 → 250; digits (conv2d 1→16 3×3 on 8×8, 16→32 3×3 on 4×4) batch 1
/// 22.7 → 4.3, batch 64 1690 → 250; conv2d 16→32→16 3×3 on 32×32, batch 1 530 → 440, batch 4
/// 2450 → 1750. The GEMMs win at batch 1 too, even on long signals. Grouped convolutions stay
/// direct (a GEMM per group would be small, and depthwise ones have K = KH·KW).
template <class T, class G, std::size_t B>
inline constexpr bool conv_use_gemm = G::groups == 1 && G::weights_per_output * G::ho * G::wo <= 65536;

namespace detail {

/// Dot-form tile: acc[r][c] = Σ_n A[r·NP + n] · Bm[c·NP + n] over NP (a multiple of lanes),
/// both operands feature-major, so the reduction runs along their rows.
template <class T, std::size_t R, std::size_t C, std::size_t NP>
inline void dot_tile(const T* __restrict A, const T* __restrict Bm, batch<T> (&acc)[R][C]) noexcept {
  constexpr std::size_t L = lanes<T>;
  for (std::size_t r = 0; r < R; ++r)
    for (std::size_t c = 0; c < C; ++c) acc[r][c] = batch<T>(T(0));
  for (std::size_t n = 0; n < NP; n += L) {
    batch<T> b[C];
#pragma GCC unroll 8
    for (std::size_t c = 0; c < C; ++c) b[c] = batch<T>::load_aligned(Bm + c * NP + n);
#pragma GCC unroll 8
    for (std::size_t r = 0; r < R; ++r) {
      const auto a = batch<T>::load_aligned(A + r * NP + n);
#pragma GCC unroll 8
      for (std::size_t c = 0; c < C; ++c) acc[r][c] = xsimd::fma(a, b[c], acc[r][c]);
    }
  }
}

/// Tile shape of dot_gemm: R·C + C + 1 registers (6 × 4 with 32 registers, 3 × 3 with 16).
template <class T>
inline constexpr std::size_t dot_rows = vector_registers<T> == 32 ? 6 : 3;
template <class T>
inline constexpr std::size_t dot_cols = vector_registers<T> == 32 ? 4 : 3;
/// Scratch of dot_gemm: the partial sums of one column of tiles, Cols ≤ dot_cols × padded(Rows) registers.
template <class T, std::size_t Rows>
inline constexpr std::size_t dot_scratch = dot_cols<T> * padded<T>(Rows) * lanes<T>;

/// g[c][r] (+)= Σ_n A[r][n]·Bm[c][n] for A [Rows][NP], Bm [Cols][NP], g rows GS (≥ padded(Rows))
/// apart, its padding columns written zero: dW = dZ·Xcolᵀ with A = Xcol (r = patch entry) and
/// Bm = dZ (c = output channel). The reductions along n are left in registers (part) and summed
/// lanes<T> at a time by transposing adds, so that short rows cost no horizontal sum per entry.
template <class T, std::size_t Rows, std::size_t Cols, std::size_t NP, std::size_t GS, bool Accumulate>
inline void dot_gemm(const T* __restrict A, const T* __restrict Bm, T* __restrict g, T* __restrict part) noexcept {
  constexpr std::size_t L = lanes<T>, TR = dot_rows<T>, TC = dot_cols<T>, RP = padded<T>(Rows);
  auto column = [&]<std::size_t C>(std::size_t c0) {
    auto tile = [&]<std::size_t R>(std::size_t r0) {
      batch<T> acc[R][C];
      dot_tile<T, R, C, NP>(A + r0 * NP, Bm + c0 * NP, acc);
      for (std::size_t r = 0; r < R; ++r)
        for (std::size_t c = 0; c < C; ++c) acc[r][c].store_aligned(part + (c * RP + r0 + r) * L);
    };
    std::size_t r0 = 0;
    for (; r0 + TR <= Rows; r0 += TR) tile.template operator()<TR>(r0);
    if constexpr (Rows % TR != 0) tile.template operator()<Rows % TR>(r0);
    for (std::size_t c = 0; c < C; ++c) {
      std::fill(part + (c * RP + Rows) * L, part + (c + 1) * RP * L, T(0));
      for (std::size_t k = 0; k < RP; k += L) {
        alignas(alignment) batch<T> v[L];
        for (std::size_t j = 0; j < L; ++j) v[j] = batch<T>::load_aligned(part + (c * RP + k + j) * L);
        T* dst = g + (c0 + c) * GS + k;
        auto sum = transpose_sum<T>(v);
        if constexpr (Accumulate) sum += batch<T>::load_aligned(dst);
        sum.store_aligned(dst);
      }
    }
  };
  std::size_t c0 = 0;
  for (; c0 + TC <= Cols; c0 += TC) column.template operator()<TC>(c0);
  if constexpr (Cols % TC != 0) column.template operator()<Cols % TC>(c0);
}

}  // namespace detail

/// The GEMM form of a convolution with geometry G (one group) for B samples. Per chunk of Bn
/// samples, with P = Ho·Wo positions, N = Bn·P columns ("samples" of the dense kernels) and
/// K = C·KH·KW rows of patches:
///   forward   Z[O][N] = W[O][K] · Xcol[K][N] + b   (dense_forward_fm with "B" = N)
///   backward  dXcol = Wᵀ · dZ (gemm), dX = col2im(dXcol); db = Σ dZ; dW = dZ · Xcolᵀ, either as
///             dot products along N (dot_gemm, N ≥ 16 registers) or, for short rows, in the
///             broadcast form of the dense kernels over Xcol transposed (gemm).
/// W is stored [O][padded(K)] (conv_parameters' rows), so the kernels read it as a dense layer's.
/// Samples go in chunks whose patch matrix fits 32 KiB, the L1 data cache: measured best of 8 Ki
/// to 128 Ki floats (digits batch 64: 255 µs at 32 KiB, 296 at 128 KiB, 325 at 512 KiB; ecg batch
/// 32 flat within 4 %). The dot form's threshold: digits batch 64 at 8 registers 322 µs, at 16
/// 295 µs; ecg batch 32 at 1000 (never) 285 µs, at 16 266 µs.
template <class T, class G, std::size_t B>
struct conv_gemm_plan {
  static constexpr std::size_t L = lanes<T>;
  static constexpr std::size_t positions = G::ho * G::wo, k = G::weights_per_output, kp = padded<T>(k);
  /// Budget of one patch matrix, in scalars (K·N ≤ budget): 32 KiB.
  static constexpr std::size_t budget = std::size_t{8192} * sizeof(float) / sizeof(T);
  static constexpr std::size_t chunk = std::clamp<std::size_t>(budget / (k * positions), 1, B);
  static constexpr std::size_t chunks = (B + chunk - 1) / chunk, last = B - (chunks - 1) * chunk;
  static constexpr std::size_t n = chunk * positions, np = padded<T>(n);
  static constexpr std::size_t plane = conv_plane_scratch<T, G>;
  static constexpr std::size_t forward_scratch = k * np + G::o * np + plane;
  static constexpr bool dot = np / L >= 16;
  /// xcol (later dxcol, a register of zeros either side), dz, the gradient (W's layout, then the
  /// bias), the dot form's partial sums or the transposed xcol, and a plane.
  static constexpr std::size_t gradient_scratch = dot ? detail::dot_scratch<T, k> : n * kp;
  static constexpr std::size_t backward_scratch =
      L + k * np + L + G::o * np + G::o * kp + padded<T>(G::o) + gradient_scratch + plane;
};

/// im2col of Bn samples (rows layout, from X) into xcol [K][padded(Bn·P)], feature-major:
/// xcol[(c·KH + ky)·KW + kx][b·P + yo·Wo + xo] = padded input (c, yo·SH + ky·DH, xo·SW + kx·DW); zero
/// padding columns. Each plane is padded first, so that every copy has the constant length Wo.
template <class T, class G, std::size_t Bn>
inline void conv_im2col(const T* __restrict X, T* __restrict xcol, T* __restrict plane) noexcept {
  constexpr std::size_t in_p = padded<T>(G::in_size), P = G::ho * G::wo, n = Bn * P, np = padded<T>(n);
  for (std::size_t b = 0; b < Bn; ++b)
    for (std::size_t ci = 0; ci < G::c; ++ci) {
      const T* src = X + b * in_p + ci * G::h * G::w;
      const T* pl = src;
      if constexpr (!detail::conv_unpadded<G>) {
        detail::conv_pad_plane<T, G>(src, plane);
        pl = plane;
      }
      for (std::size_t ky = 0; ky < G::kh; ++ky)
        for (std::size_t kx = 0; kx < G::kw; ++kx) {
          T* dst = xcol + ((ci * G::kh + ky) * G::kw + kx) * np + b * P;
          const T* s = pl + ky * G::dh * G::wp + kx * G::dw;
          for (std::size_t yo = 0; yo < G::ho; ++yo) {
            const T* r = s + yo * G::sh * G::wp;
            if constexpr (G::sw == 1) {
              std::memcpy(dst + yo * G::wo, r, G::wo * sizeof(T));
            } else {
              for (std::size_t xo = 0; xo < G::wo; ++xo) dst[yo * G::wo + xo] = r[xo * G::sw];
            }
          }
        }
    }
  if constexpr (n < np)
    for (std::size_t k = 0; k < G::weights_per_output; ++k) std::fill(xcol + k * np + n, xcol + (k + 1) * np, T(0));
}

/// col2im: dX (rows layout, Bn samples, padding included) = Σ over patches of dxcol [K][padded(Bn·P)].
template <class T, class G, std::size_t Bn>
inline void conv_col2im(const T* __restrict dxcol, T* __restrict dX, T* __restrict plane) noexcept {
  constexpr std::size_t in_p = padded<T>(G::in_size), P = G::ho * G::wo, np = padded<T>(Bn * P);
  for (std::size_t b = 0; b < Bn; ++b) {
    T* dx = dX + b * in_p;
    for (std::size_t ci = 0; ci < G::c; ++ci) {
      T* pl = detail::conv_unpadded<G> ? dx + ci * G::h * G::w : plane;
      std::fill(pl, pl + G::hp * G::wp, T(0));
      for (std::size_t ky = 0; ky < G::kh; ++ky)
        for (std::size_t kx = 0; kx < G::kw; ++kx) {
          const T* src = dxcol + ((ci * G::kh + ky) * G::kw + kx) * np + b * P;
          T* d = pl + ky * G::dh * G::wp + kx * G::dw;
          for (std::size_t yo = 0; yo < G::ho; ++yo) {
            T* r = d + yo * G::sh * G::wp;
            for (std::size_t xo = 0; xo < G::wo; ++xo) r[xo * G::sw] += src[yo * G::wo + xo];
          }
        }
      if constexpr (!detail::conv_unpadded<G>)
        for (std::size_t y = 0; y < G::h; ++y)
          std::memcpy(dx + (ci * G::h + y) * G::w, plane + (G::pt + y) * G::wp + G::pl, G::w * sizeof(T));
    }
    std::fill(dx + G::in_size, dx + in_p, T(0));
  }
}

/// col2im for stride 1 along W, as a gather: each register of an input row sums, over the taps
/// that reach it, one shifted load from dxcol's rows, masked where the tap's outputs end, so that
/// every value of dX is stored once (the += of conv_col2im stalls on overlapping stores). dxcol
/// must have lanes<T> readable (zero) scalars before and after it: masked lanes read there.
template <class T, class G, std::size_t Bn>
inline void conv_col2im_gather(const T* __restrict dxcol, T* __restrict dX) noexcept {
  static_assert(G::sw == 1);
  constexpr std::size_t L = lanes<T>, in_p = padded<T>(G::in_size), P = G::ho * G::wo, np = padded<T>(Bn * P);
  const auto lane = lane_index<T>();
  const batch<T> zero(T(0));
  for (std::size_t b = 0; b < Bn; ++b) {
    T* dx = dX + b * in_p;
    for (std::size_t ci = 0; ci < G::c; ++ci)
      for (std::size_t y = 0; y < G::h; ++y) {
        const std::size_t yy = y + G::pt;
        T* drow = dx + (ci * G::h + y) * G::w;
        for (std::size_t x0 = 0; x0 < G::w; x0 += L) {
          const std::size_t xx = x0 + G::pl;  // padded column of lane 0
          const auto column = lane + batch<T>(T(xx));
          batch<T> acc = zero;
          for (std::size_t ky = 0; ky < G::kh; ++ky) {
            if (yy < ky * G::dh || (yy - ky * G::dh) % G::sh != 0) continue;
            const std::size_t yo = (yy - ky * G::dh) / G::sh;
            if (yo >= G::ho) continue;
            for (std::size_t kx = 0; kx < G::kw; ++kx) {
              const std::size_t lo = kx * G::dw, hi = lo + G::wo;  // padded columns this tap reaches
              if (xx + L <= lo || xx >= hi) continue;
              const std::ptrdiff_t at =
                  std::ptrdiff_t(((ci * G::kh + ky) * G::kw + kx) * np + b * P + yo * G::wo + xx) - std::ptrdiff_t(lo);
              const auto v = batch<T>::load_unaligned(dxcol + at);
              if (xx >= lo && xx + L <= hi)
                acc += v;
              else
                acc += xsimd::select(column >= batch<T>(T(lo)) && column < batch<T>(T(hi)), v, zero);
            }
          }
          if (x0 + L <= G::w) {
            acc.store_unaligned(drow + x0);
          } else {
            alignas(alignment) T tail[L];
            acc.store_aligned(tail);
            std::memcpy(drow + x0, tail, (G::w - x0) * sizeof(T));
          }
        }
      }
    std::fill(dx + G::in_size, dx + in_p, T(0));
  }
}

/// Z = conv(X) + b for B samples in rows layout (padding zeroed), through GEMMs (conv_gemm_plan).
template <class T, class G, std::size_t B>
inline void conv_gemm_forward(const T* __restrict w, const T* __restrict bias, const T* __restrict X, T* __restrict Z,
                              T* __restrict scratch) noexcept {
  using plan = conv_gemm_plan<T, G, B>;
  constexpr std::size_t in_p = padded<T>(G::in_size), out_p = padded<T>(G::out_size), P = plan::positions;
  T* xcol = scratch;
  T* zt = scratch + plan::k * plan::np;
  T* plane = zt + G::o * plan::np;
  auto run = [&]<std::size_t Bn>(std::size_t b0) {
    constexpr std::size_t np = padded<T>(Bn * P);
    conv_im2col<T, G, Bn>(X + b0 * in_p, xcol, plane);
    dense_forward_fm<T, Bn * P, plan::k, G::o>(w, bias, xcol, zt);
    for (std::size_t b = 0; b < Bn; ++b) {
      T* z = Z + (b0 + b) * out_p;
      for (std::size_t oc = 0; oc < G::o; ++oc) std::memcpy(z + oc * P, zt + oc * np + b * P, P * sizeof(T));
      std::fill(z + G::out_size, z + out_p, T(0));
    }
  };
  std::size_t b0 = 0;
  for (std::size_t i = 0; i + 1 < plan::chunks; ++i, b0 += plan::chunk) run.template operator()<plan::chunk>(b0);
  run.template operator()<plan::last>(b0);
}

/// The backward pass through GEMMs: dX (when NeedDx, old weights), dW and db through update.
template <class T, class G, std::size_t B, bool NeedDx, class Update>
inline void conv_gemm_backward(T* __restrict w, T* __restrict bias, const T* __restrict X, const T* __restrict dZ,
                               T* __restrict dX, T* __restrict scratch, Update& update) noexcept {
  using plan = conv_gemm_plan<T, G, B>;
  constexpr std::size_t L = plan::L, in_p = padded<T>(G::in_size), out_p = padded<T>(G::out_size);
  constexpr std::size_t P = plan::positions, K = plan::k, KP = plan::kp, O = G::o;
  constexpr bool writes = std::remove_cvref_t<Update>::writes_parameters;
  T* xcol = scratch + L;  // then dxcol, with L zeros on either side (conv_col2im_gather)
  std::fill(scratch, xcol, T(0));
  std::fill(xcol + K * plan::np, xcol + K * plan::np + L, T(0));
  T* dzt = xcol + K * plan::np + L;
  T* gw = dzt + O * plan::np;
  T* gb = gw + O * KP;
  T* part = gb + padded<T>(O);
  T* plane = part + plan::gradient_scratch;
  auto run = [&]<std::size_t Bn, bool First>(std::size_t b0) {
    constexpr std::size_t n = Bn * P, np = padded<T>(n);
    for (std::size_t oc = 0; oc < O; ++oc) {
      T* dst = dzt + oc * np;
      batch<T> sum(T(0));
      for (std::size_t b = 0; b < Bn; ++b) std::memcpy(dst + b * P, dZ + (b0 + b) * out_p + oc * P, P * sizeof(T));
      std::fill(dst + n, dst + np, T(0));
      for (std::size_t j = 0; j < np; j += L) sum += batch<T>::load_aligned(dst + j);
      gb[oc] = (First ? T(0) : gb[oc]) + xsimd::hadd(sum);
    }
    conv_im2col<T, G, Bn>(X + b0 * in_p, xcol, plane);
    if constexpr (plan::dot) {
      detail::dot_gemm<T, K, O, np, KP, !First>(xcol, dzt, gw, part);
    } else {
      T* xrow = part;
      features_to_rows<T, n, K>(xcol, xrow);
      gemm<T, O, KP / L, n, np, 1, KP>(
          dzt, xrow, [](std::size_t, std::size_t) { return batch<T>(T(0)); },
          [&](std::size_t r, std::size_t c, const batch<T>& acc) {
            T* d = gw + r * KP + c * L;
            (First ? acc : acc + batch<T>::load_aligned(d)).store_aligned(d);
          });
    }
    if constexpr (NeedDx) {
      // dXcol = Wᵀ·dZ: A(r, k) = W[k][r] over the output channels k.
      gemm<T, K, np / L, O, 1, KP, np>(
          w, dzt, [](std::size_t, std::size_t) { return batch<T>(T(0)); },
          [&](std::size_t r, std::size_t c, const batch<T>& acc) { acc.store_aligned(xcol + r * np + c * L); });
      if constexpr (G::sw == 1)
        conv_col2im_gather<T, G, Bn>(xcol, dX + b0 * in_p);
      else
        conv_col2im<T, G, Bn>(xcol, dX + b0 * in_p, plane);
    }
  };
  std::size_t b0 = 0;
  if constexpr (plan::chunks > 1) {
    run.template operator()<plan::chunk, true>(b0);
    for (std::size_t i = 1; i + 1 < plan::chunks; ++i) run.template operator()<plan::chunk, false>(b0 += plan::chunk);
    run.template operator()<plan::last, false>(b0 + plan::chunk);
  } else {
    run.template operator()<B, true>(0);
  }
  std::fill(gb + O, gb + padded<T>(O), T(0));
  for (std::size_t f = 0; f < O * KP; f += L) {
    const auto w_new = update.update(weight_c, f, batch<T>::load_aligned(w + f), batch<T>::load_aligned(gw + f));
    if constexpr (writes) w_new.store_aligned(w + f);
  }
  for (std::size_t f = 0; f < padded<T>(O); f += L) {
    const auto b_new = update.update(bias_c, f, batch<T>::load_aligned(bias + f), batch<T>::load_aligned(gb + f));
    if constexpr (writes) b_new.store_aligned(bias + f);
  }
}

}  // namespace typegrad::simd

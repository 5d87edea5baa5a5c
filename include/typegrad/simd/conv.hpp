// Kernels of conv1d and conv2d: direct convolution over compile-time extents, one sample at a time,
// vectorised over the output positions of a row. Grouped convolutions use them; the others go
// through the GEMM kernels of simd/conv_gemm.hpp (see conv_use_gemm there).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include <typegrad/core/config.hpp>
#include <typegrad/simd/kernels.hpp>

namespace typegrad::simd {

/// The extents of a 2-D convolution (a 1-D one has H = KH = SH = DH = 1 and no vertical padding)
/// and the scratch layouts its kernels use. Input (C, H, W), output (O, Ho, Wo); padding PT/PB
/// above and below, PL/PR left and right; G groups.
///
/// The kernels never read the input in place: each sample is first copied into `xq`, zero-padded
/// and split along W into SW phases, xq[c][h][r][m] = padded input (c, h, m·SW + r). Output column
/// j then reads tap kw at xq[..][phase(kw)][j + shift(kw)], contiguous in j whatever the stride,
/// so every input read is a plain (unaligned) register load.
template <class T, std::size_t C, std::size_t H, std::size_t W, std::size_t O, std::size_t KH, std::size_t KW,
          std::size_t SH, std::size_t SW, std::size_t PT, std::size_t PB, std::size_t PL, std::size_t PR,
          std::size_t DH, std::size_t DW, std::size_t G>
struct conv_geometry {
  static constexpr std::size_t c = C, h = H, w = W, o = O, kh = KH, kw = KW, sh = SH, sw = SW;
  static constexpr std::size_t pt = PT, pl = PL, dh = DH, dw = DW, groups = G;
  static constexpr std::size_t cg = C / G, og = O / G;  // channels per group
  static constexpr std::size_t hp = H + PT + PB, wp = W + PL + PR;
  static constexpr std::size_t span_h = DH * (KH - 1) + 1, span_w = DW * (KW - 1) + 1;
  /// Whether the (dilated) kernel fits the padded input; the layer reports it when not.
  static constexpr bool fits = span_h <= hp && span_w <= wp;
  static constexpr std::size_t ho = fits ? (hp - span_h) / SH + 1 : 1, wo = fits ? (wp - span_w) / SW + 1 : 1;
  static constexpr std::size_t in_size = C * H * W, out_size = O * ho * wo;
  static constexpr std::size_t taps = KH * KW, weights_per_output = cg * taps;
  /// The weights are stored as rows of whole registers, [O][weight_row] (zero past the row's end).
  static constexpr std::size_t weight_row = padded<T>(weights_per_output), weight_size = O * weight_row;

  static constexpr std::size_t L = lanes<T>;
  static constexpr std::size_t wo_p = padded<T>(wo), chunks = wo_p / L;
  static constexpr std::size_t phase(std::size_t k) noexcept { return k * DW % SW; }
  static constexpr std::size_t shift(std::size_t k) noexcept { return k * DW / SW; }
  static constexpr std::size_t shift_max = (KW - 1) * DW / SW;
  /// One phase row of xq: every column a register of outputs reads, and every input column.
  static constexpr std::size_t wq = padded<T>(std::max(wo_p + shift_max, (wp + SW - 1) / SW));
  static constexpr std::size_t xq_size = C * hp * SW * wq;
  /// The output gradient with rows spread out: dz_row apart, values from dz_lead on, zero around.
  static constexpr std::size_t dz_lead = padded<T>(shift_max);
  static constexpr std::size_t dz_row = padded<T>(dz_lead + wq);
  static constexpr std::size_t dz_size = O * ho * dz_row;
  /// dL/dxq for the rows of the real input (the padding rows get no gradient).
  static constexpr std::size_t dxq_size = C * H * SW * wq;
  /// Outputs whose rows fill whole registers are written straight into the layer's output.
  static constexpr bool direct_output = wo % L == 0;
  static constexpr std::size_t zr_size = direct_output ? 0 : O * ho * wo_p;

  static constexpr std::size_t forward_scratch = xq_size + zr_size;
  template <std::size_t B, bool NeedDx = true>
  static constexpr std::size_t backward_scratch = B*(xq_size + dz_size) + (NeedDx ? dxq_size : 0) + weight_size
                                                  + padded<T>(O);
  /// Flat index of weight(o, c, kh, kw) (PyTorch's [C/G][KH][KW] order within the row of o).
  static constexpr std::size_t weight_index(std::size_t oc, std::size_t ci, std::size_t y, std::size_t x) noexcept {
    return oc * weight_row + (ci * KH + y) * KW + x;
  }
};

namespace detail {

/// Accumulator blocks: output channels × registers of output columns held at once.
template <class T>
inline constexpr std::size_t conv_column_block =
    std::is_base_of_v<xsimd::avx512f, typename batch<T>::arch_type> ? 4 : 2;
inline constexpr std::size_t conv_channel_block = 4;
inline constexpr std::size_t conv_tap_block = 8;

/// Calls f.template operator()<N>(i0) for i0 = 0, Block, 2·Block, ... < Count, N = Block or the rest.
template <std::size_t Count, std::size_t Block, class F>
inline void for_blocks(F&& f) noexcept {
  constexpr std::size_t block = std::min(Count, Block);
  std::size_t i = 0;
  for (; i + block <= Count; i += block) f.template operator()<block>(i);
  if constexpr (Count % block != 0) f.template operator()<Count % block>(i);
}

}  // namespace detail

/// Copies one sample x ([C][H][W]) into xq (see conv_geometry), zeros included.
template <class T, class G>
inline void conv_pack_input(const T* __restrict x, T* __restrict xq) noexcept {
  constexpr std::size_t wq = G::wq;
  for (std::size_t ci = 0; ci < G::c; ++ci)
    for (std::size_t y = 0; y < G::hp; ++y) {
      T* row = xq + (ci * G::hp + y) * G::sw * wq;
      if (y < G::pt || y >= G::pt + G::h) {
        std::fill(row, row + G::sw * wq, T(0));
        continue;
      }
      const T* src = x + (ci * G::h + (y - G::pt)) * G::w;
      if constexpr (G::sw == 1) {
        std::fill(row, row + G::pl, T(0));
        std::memcpy(row + G::pl, src, G::w * sizeof(T));
        std::fill(row + G::pl + G::w, row + wq, T(0));
      } else {
        // Zeros, then each input column to its stride phase. (A select per output slot, the
        // obvious form, gives wrong values with GCC 12 at -O3 only: not with -O2, -fno-tree-vectorize
        // or clang; tests/layers/conv.test.cpp caught it.)
        std::fill(row, row + G::sw * wq, T(0));
        for (std::size_t j = 0; j < G::w; ++j) {
          const std::size_t p = j + G::pl;
          row[(p % G::sw) * wq + p / G::sw] = src[j];
        }
      }
    }
}

/// z = conv(x) + b for one packed sample xq; z is [O][Ho][wo_p] (lanes past Wo hold finite junk).
template <class T, class G>
inline void conv_forward_sample(const T* __restrict w, const T* __restrict bias, const T* __restrict xq,
                                T* __restrict z) noexcept {
  constexpr std::size_t L = G::L, wq = G::wq;
  for (std::size_t grp = 0; grp < G::groups; ++grp) {
    const std::size_t cin0 = grp * G::cg;
    detail::for_blocks<G::og, detail::conv_channel_block>([&]<std::size_t OB>(std::size_t ob0) {
      const std::size_t o0 = grp * G::og + ob0;
      for (std::size_t yo = 0; yo < G::ho; ++yo)
        detail::for_blocks<G::chunks, detail::conv_column_block<T>>([&]<std::size_t NB>(std::size_t j0) {
          batch<T> acc[OB][NB];
          for (std::size_t a = 0; a < OB; ++a) {
            const batch<T> bv(bias[o0 + a]);
            for (std::size_t n = 0; n < NB; ++n) acc[a][n] = bv;
          }
          for (std::size_t ci = 0; ci < G::cg; ++ci)
            for (std::size_t ky = 0; ky < G::kh; ++ky) {
              const T* row = xq + ((cin0 + ci) * G::hp + yo * G::sh + ky * G::dh) * G::sw * wq + j0 * L;
              for (std::size_t kx = 0; kx < G::kw; ++kx) {
                const T* xp = row + G::phase(kx) * wq + G::shift(kx);
                batch<T> xv[NB];
                for (std::size_t n = 0; n < NB; ++n) xv[n] = batch<T>::load_unaligned(xp + n * L);
                for (std::size_t a = 0; a < OB; ++a) {
                  const batch<T> wv(w[G::weight_index(o0 + a, ci, ky, kx)]);
                  for (std::size_t n = 0; n < NB; ++n) acc[a][n] = xsimd::fma(wv, xv[n], acc[a][n]);
                }
              }
            }
          for (std::size_t a = 0; a < OB; ++a)
            for (std::size_t n = 0; n < NB; ++n)
              acc[a][n].store_aligned(z + ((o0 + a) * G::ho + yo) * G::wo_p + (j0 + n) * L);
        });
    });
  }
}

/// Z = conv(X) + b for B samples in rows layout ([B][padded(out_size)], padding zeroed).
/// scratch: G::forward_scratch scalars.
template <class T, class G, std::size_t B>
inline void conv_forward(const T* __restrict w, const T* __restrict bias, const T* __restrict X, T* __restrict Z,
                         T* __restrict scratch) noexcept {
  constexpr std::size_t in_p = padded<T>(G::in_size), out_p = padded<T>(G::out_size);
  T* xq = scratch;
  T* zr = scratch + G::xq_size;
  for (std::size_t b = 0; b < B; ++b) {
    conv_pack_input<T, G>(X + b * in_p, xq);
    T* z = Z + b * out_p;
    if constexpr (G::direct_output) {
      conv_forward_sample<T, G>(w, bias, xq, z);  // rows of whole registers: the same memory
    } else {
      conv_forward_sample<T, G>(w, bias, xq, zr);
      for (std::size_t r = 0; r < G::o * G::ho; ++r) std::memcpy(z + r * G::wo, zr + r * G::wo_p, G::wo * sizeof(T));
      std::fill(z + G::out_size, z + out_p, T(0));
    }
  }
}

/// dL/dxq of one sample from its spread output gradient dz (see conv_geometry::dz_row), as a
/// correlation of dz with the kernel: dxq[c][y][r][m] = Σ w[o][c][ky][kx]·dz[o][yo][m − shift(kx)]
/// over the o of c's group and the taps with y + PT = yo·SH + ky·DH and phase(kx) = r. Only the
/// registers that hold input columns are written.
template <class T, class G>
inline void conv_input_gradient_sample(const T* __restrict w, const T* __restrict dz, T* __restrict dxq) noexcept {
  constexpr std::size_t L = G::L, wq = G::wq;
  constexpr std::size_t m_first = G::pl / G::sw / L, m_last = (G::pl + G::w - 1) / G::sw / L;
  constexpr std::size_t m_count = m_last - m_first + 1;
  for (std::size_t grp = 0; grp < G::groups; ++grp) {
    const std::size_t o_first = grp * G::og;
    detail::for_blocks<G::cg, detail::conv_channel_block>([&]<std::size_t CB>(std::size_t cb0) {
      const std::size_t c0 = grp * G::cg + cb0;
      for (std::size_t y = 0; y < G::h; ++y) {
        const std::size_t yy = y + G::pt;
        for (std::size_t r = 0; r < G::sw; ++r)
          detail::for_blocks<m_count, detail::conv_column_block<T>>([&]<std::size_t NB>(std::size_t mb) {
            const std::size_t m0 = (m_first + mb) * L;
            batch<T> acc[CB][NB];
            for (std::size_t a = 0; a < CB; ++a)
              for (std::size_t n = 0; n < NB; ++n) acc[a][n] = batch<T>(T(0));
            for (std::size_t oi = 0; oi < G::og; ++oi)
              for (std::size_t ky = 0; ky < G::kh; ++ky) {
                if (yy < ky * G::dh || (yy - ky * G::dh) % G::sh != 0) continue;
                const std::size_t yo = (yy - ky * G::dh) / G::sh;
                if (yo >= G::ho) continue;
                const T* row = dz + ((o_first + oi) * G::ho + yo) * G::dz_row + G::dz_lead + m0;
                for (std::size_t kx = 0; kx < G::kw; ++kx) {
                  if (G::phase(kx) != r) continue;
                  batch<T> dv[NB];
                  for (std::size_t n = 0; n < NB; ++n) dv[n] = batch<T>::load_unaligned(row - G::shift(kx) + n * L);
                  for (std::size_t a = 0; a < CB; ++a) {
                    const batch<T> wv(w[G::weight_index(o_first + oi, cb0 + a, ky, kx)]);
                    for (std::size_t n = 0; n < NB; ++n) acc[a][n] = xsimd::fma(wv, dv[n], acc[a][n]);
                  }
                }
              }
            for (std::size_t a = 0; a < CB; ++a)
              for (std::size_t n = 0; n < NB; ++n)
                acc[a][n].store_aligned(dxq + (((c0 + a) * G::h + y) * G::sw + r) * wq + m0 + n * L);
          });
      }
    });
  }
}

/// The convolution's backward pass for B samples in rows layout: dX (when NeedDx, with the old
/// weights), then dW and db summed over positions and samples, every register of them handed to
/// update.update(param_c<P>, offset, w, g). dZ = dL/dz. scratch: G::backward_scratch<B, NeedDx>.
template <class T, class G, std::size_t B, bool NeedDx, class Update>
inline void conv_backward(T* __restrict w, T* __restrict bias, const T* __restrict X, const T* __restrict dZ,
                          T* __restrict dX, T* __restrict scratch, Update& update) noexcept {
  constexpr std::size_t L = G::L, wq = G::wq, in_p = padded<T>(G::in_size), out_p = padded<T>(G::out_size);
  constexpr bool writes = std::remove_cvref_t<Update>::writes_parameters;
  T* xq_all = scratch;
  T* dz_all = xq_all + B * G::xq_size;
  T* dxq = dz_all + B * G::dz_size;
  T* gw = dxq + (NeedDx ? G::dxq_size : 0);
  T* gb = gw + G::weight_size;

  for (std::size_t b = 0; b < B; ++b) {
    conv_pack_input<T, G>(X + b * in_p, xq_all + b * G::xq_size);
    const T* dz = dZ + b * out_p;
    T* dzs = dz_all + b * G::dz_size;
    for (std::size_t r = 0; r < G::o * G::ho; ++r) {
      T* row = dzs + r * G::dz_row;
      std::fill(row, row + G::dz_lead, T(0));
      std::memcpy(row + G::dz_lead, dz + r * G::wo, G::wo * sizeof(T));
      std::fill(row + G::dz_lead + G::wo, row + G::dz_row, T(0));
    }
  }

  if constexpr (NeedDx) {
    for (std::size_t b = 0; b < B; ++b) {
      conv_input_gradient_sample<T, G>(w, dz_all + b * G::dz_size, dxq);
      T* dx = dX + b * in_p;
      for (std::size_t ci = 0; ci < G::c; ++ci)
        for (std::size_t y = 0; y < G::h; ++y) {
          const T* src = dxq + (ci * G::h + y) * G::sw * wq;
          T* dst = dx + (ci * G::h + y) * G::w;
          if constexpr (G::sw == 1) {
            std::memcpy(dst, src + G::pl, G::w * sizeof(T));
          } else {
            for (std::size_t x = 0; x < G::w; ++x) {
              const std::size_t p = x + G::pl;
              dst[x] = src[(p % G::sw) * wq + p / G::sw];
            }
          }
        }
      std::fill(dx + G::in_size, dx + in_p, T(0));
    }
  }

  // dW[o][c][ky][kx] = Σ_b Σ_yo Σ_j dz[o][yo][j]·xq[c][yo·SH + ky·DH][phase(kx)][j + shift(kx)]: a block
  // of taps shares each register of dz; the junk lanes of xq meet zeros of dz.
  for (std::size_t oc = 0; oc < G::o; ++oc) {
    const std::size_t cin0 = oc / G::og * G::cg;
    for (std::size_t ci = 0; ci < G::cg; ++ci)
      detail::for_blocks<G::taps, detail::conv_tap_block>([&]<std::size_t TB>(std::size_t t0) {
        batch<T> acc[TB];
        for (std::size_t t = 0; t < TB; ++t) acc[t] = batch<T>(T(0));
        for (std::size_t b = 0; b < B; ++b) {
          const T* xq = xq_all + b * G::xq_size + (cin0 + ci) * G::hp * G::sw * wq;
          const T* dz = dz_all + b * G::dz_size + oc * G::ho * G::dz_row + G::dz_lead;
          for (std::size_t yo = 0; yo < G::ho; ++yo)
            for (std::size_t j = 0; j < G::wo_p; j += L) {
              const auto dv = batch<T>::load_aligned(dz + yo * G::dz_row + j);
              for (std::size_t t = 0; t < TB; ++t) {
                const std::size_t ky = (t0 + t) / G::kw, kx = (t0 + t) % G::kw;
                const T* xp = xq + ((yo * G::sh + ky * G::dh) * G::sw + G::phase(kx)) * wq + G::shift(kx) + j;
                acc[t] = xsimd::fma(dv, batch<T>::load_unaligned(xp), acc[t]);
              }
            }
        }
        for (std::size_t t = 0; t < TB; ++t) gw[oc * G::weight_row + ci * G::taps + t0 + t] = xsimd::hadd(acc[t]);
      });
    auto acc = batch<T>(T(0));
    for (std::size_t b = 0; b < B; ++b) {
      const T* dz = dz_all + b * G::dz_size + oc * G::ho * G::dz_row + G::dz_lead;
      for (std::size_t yo = 0; yo < G::ho; ++yo)
        for (std::size_t j = 0; j < G::wo_p; j += L) acc += batch<T>::load_aligned(dz + yo * G::dz_row + j);
    }
    gb[oc] = xsimd::hadd(acc);
    std::fill(gw + oc * G::weight_row + G::weights_per_output, gw + (oc + 1) * G::weight_row, T(0));
  }
  std::fill(gb + G::o, gb + padded<T>(G::o), T(0));

  for (std::size_t f = 0; f < G::weight_size; f += L) {
    const auto w_new = update.update(weight_c, f, batch<T>::load_aligned(w + f), batch<T>::load_aligned(gw + f));
    if constexpr (writes) w_new.store_aligned(w + f);
  }
  for (std::size_t f = 0; f < padded<T>(G::o); f += L) {
    const auto b_new = update.update(bias_c, f, batch<T>::load_aligned(bias + f), batch<T>::load_aligned(gb + f));
    if constexpr (writes) b_new.store_aligned(bias + f);
  }
}

}  // namespace typegrad::simd

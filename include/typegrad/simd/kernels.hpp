// The SIMD kernel layer: the only place that talks to xsimd's batch type for loops.
// Buffers are row-major with rows padded to whole registers and zero in the padding.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include <typegrad/core/config.hpp>
#include <typegrad/simd/gemm.hpp>

namespace typegrad::simd {

// Loops over an array of accumulators must be unrolled for the accumulators to live in registers
// (GCC otherwise keeps the array in memory once the whole loop nest is too long to unroll).
#define TYPEGRAD_UNROLL _Pragma("GCC unroll 16")

template <class T>
using batch = xsimd::batch<T>;
template <class T>
using batch_bool = xsimd::batch_bool<T>;

/// Accumulators a register-blocked loop may keep (the other registers hold broadcasts and loads).
template <class T>
inline constexpr std::size_t accumulator_budget = vector_registers<T> * 3 / 4;

/// Which parameter block of a layer an update touches.
template <std::size_t I>
using param_c = std::integral_constant<std::size_t, I>;
inline constexpr param_c<0> weight_c{};
inline constexpr param_c<1> bias_c{};

/// True for a policy that lets the row kernels accumulate its scaled gradient straight onto the
/// parameters: `T gradient_scale()` and `V accumulation_start(param_c<P>, offset, w)`, such that
/// the new w is accumulation_start(w) + gradient_scale()·g (see detail::sgd_step).
template <class Update>
inline constexpr bool accumulates_into_parameters = [] {
  if constexpr (requires { std::remove_cvref_t<Update>::accumulates_into_parameters; })
    return bool(std::remove_cvref_t<Update>::accumulates_into_parameters);
  else
    return false;
}();

namespace detail {
#if defined(__AVX512F__) && defined(__AVX2__)
// Eight 8-float registers → one register of their eight sums (the classic hadd transpose).
inline __m256 transpose_sum8(const __m256* h) noexcept {
  const __m256 u0 = _mm256_hadd_ps(_mm256_hadd_ps(h[0], h[1]), _mm256_hadd_ps(h[2], h[3]));
  const __m256 u1 = _mm256_hadd_ps(_mm256_hadd_ps(h[4], h[5]), _mm256_hadd_ps(h[6], h[7]));
  return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}
#endif
}  // namespace detail

/// Sums each of the first Rows registers into lane j of the result (a transposing horizontal add);
/// lanes from Rows on are zero and those registers are not read. UsedLanes says that only the
/// first UsedLanes lanes of each register can be nonzero (a dot product over fewer values than a
/// register holds): with AVX-512 and at most 8 rows or 8 used lanes, half of the work is skipped.
template <class T, std::size_t Rows = lanes<T>, std::size_t UsedLanes = lanes<T>>
inline batch<T> transpose_sum(const batch<T>* acc) noexcept {
  static_assert(Rows >= 1 && Rows <= lanes<T> && UsedLanes >= 1);
  if constexpr (std::is_same_v<T, float> && std::is_base_of_v<xsimd::avx512f, typename batch<T>::arch_type>) {
#if defined(__AVX512F__) && defined(__AVX2__)
    // xsimd 8.1's AVX-512 float haddp returns wrong sums (our kernel tests caught it): fold each
    // register to 256 bits (nothing to fold when the upper half is zero), then 8-way transposing
    // adds (one when there are at most 8 rows).
    constexpr std::size_t halves = Rows <= 8 ? 1 : 2;
    __m256 h[8 * halves];
    TYPEGRAD_UNROLL for (std::size_t j = 0; j < 8 * halves; ++j) {
      if (j >= Rows) {
        h[j] = _mm256_setzero_ps();
        continue;
      }
      const __m512 v = acc[j];
      h[j] = _mm512_castps512_ps256(v);
      if constexpr (UsedLanes > 8) h[j] = _mm256_add_ps(h[j], _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    }
    const __m256 lo = detail::transpose_sum8(h);
    if constexpr (halves == 1) return _mm512_zextps256_ps512(lo);
    else {
      const __m256 hi = detail::transpose_sum8(h + 8);
      return _mm512_castpd_ps(
          _mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(lo)), _mm256_castps_pd(hi), 1));
    }
#else
    alignas(alignment) T sums[lanes<T>] = {};
    for (std::size_t j = 0; j < Rows; ++j) sums[j] = xsimd::hadd(acc[j]);
    return batch<T>::load_aligned(sums);
#endif
  } else if constexpr (Rows == lanes<T>) {
    return xsimd::haddp(acc);
  } else {
    batch<T> full[lanes<T>];
    for (std::size_t j = 0; j < lanes<T>; ++j) full[j] = j < Rows ? acc[j] : batch<T>(T(0));
    return xsimd::haddp(full);
  }
}

/// 0, 1, 2, ... in the lanes of a register (from a constant table: one load, no stores).
template <class T>
inline batch<T> lane_index() noexcept {
  alignas(alignment) static constexpr T index[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  static_assert(lanes<T> <= 16);
  return batch<T>::load_aligned(index);
}

/// The first N values of each of B rows Stride apart, packed into one register (B·N ≤ lanes),
/// zero in the other lanes: small heads of a batch are then evaluated as one register.
template <class T, std::size_t B, std::size_t N, std::size_t Stride>
inline batch<T> gather_rows(const T* p) noexcept {
  static_assert(B * N <= lanes<T>);
  const auto lane = lane_index<T>();
  auto v = batch<T>(T(0));
  for (std::size_t b = 0; b < B; ++b)
    for (std::size_t j = 0; j < N; ++j) v = xsimd::select(lane == batch<T>(T(b * N + j)), batch<T>(p[b * Stride + j]), v);
  return v;
}

/// A register holding p[0..N) in its first N lanes and zero in the others, reading nothing past
/// p + N. A few values are gathered by broadcasts (gather_rows: no store, so no store-to-load
/// forwarding stall on the way to a small loss or output head); more go through an aligned block.
template <class T, std::size_t N>
inline batch<T> load_partial(const T* p) noexcept {
  static_assert(N >= 1 && N <= lanes<T>);
  if constexpr (N == lanes<T>) {
    return batch<T>::load_unaligned(p);
  } else if constexpr (N <= 4) {
    return gather_rows<T, 1, N, N>(p);
  } else {
    alignas(alignment) T block[lanes<T>] = {};
    for (std::size_t j = 0; j < N; ++j) block[j] = p[j];
    return batch<T>::load_aligned(block);
  }
}

/// The sum of a register's lanes when only its first `Used` lanes can be nonzero: with AVX-512
/// and Used ≤ 8 the upper half is skipped (two fewer steps on a batch-1 head's critical path).
template <class T, std::size_t Used>
inline T sum_lanes(const batch<T>& v) noexcept {
#if defined(__AVX512F__) && defined(__AVX2__)
  if constexpr (std::is_same_v<T, float> && lanes<T> == 16 && Used <= 8) {
    const __m256 h = _mm512_castps512_ps256(v);
    const __m128 q = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    const __m128 d = _mm_add_ps(q, _mm_movehl_ps(q, q));
    return _mm_cvtss_f32(_mm_add_ss(d, _mm_movehdup_ps(d)));
  }
#endif
  return xsimd::hadd(v);
}

/// Copies `rows` rows of `Cols` values into a buffer whose rows are `padded<T>(Cols)` long,
/// zeroing the padding.
template <class T, std::size_t Rows, std::size_t Cols>
inline void pack_rows(const T* src, T* dst) noexcept {
  constexpr std::size_t stride = padded<T>(Cols);
  for (std::size_t r = 0; r < Rows; ++r) {
    std::memcpy(dst + r * stride, src + r * Cols, Cols * sizeof(T));
    for (std::size_t c = Cols; c < stride; ++c) dst[r * stride + c] = T(0);
  }
}

/// The inverse of pack_rows.
template <class T, std::size_t Rows, std::size_t Cols>
inline void unpack_rows(const T* src, T* dst) noexcept {
  constexpr std::size_t stride = padded<T>(Cols);
  for (std::size_t r = 0; r < Rows; ++r) std::memcpy(dst + r * Cols, src + r * stride, Cols * sizeof(T));
}

/// Z = X Wᵀ + b for B rows. W is [Out][padded(In)] (PyTorch's [out, in] order); Z's padding is zeroed.
template <class T, std::size_t B, std::size_t In, std::size_t Out>
inline void dense_forward(const T* __restrict W, const T* __restrict bias, const T* __restrict X,
                          T* __restrict Z) noexcept {
  constexpr std::size_t L = lanes<T>, in_p = padded<T>(In), out_p = padded<T>(Out), chunks = in_p / L;
  constexpr std::size_t used = std::min(In, L);  // lanes of a row's sum that can be nonzero
  for (std::size_t b = 0; b < B; ++b) {
    const T* x = X + b * in_p;
    T* z = Z + b * out_p;
    std::size_t o = 0;
    // L outputs at a time: L dot products, then one transposing horizontal add.
    for (; o + L <= Out; o += L) {
      batch<T> acc[L];
      for (std::size_t j = 0; j < L; ++j) acc[j] = batch<T>(T(0));
      for (std::size_t c = 0; c < chunks; ++c) {
        const auto xv = batch<T>::load_aligned(x + c * L);
        for (std::size_t j = 0; j < L; ++j)
          acc[j] = xsimd::fma(batch<T>::load_aligned(W + (o + j) * in_p + c * L), xv, acc[j]);
      }
      (transpose_sum<T, L, used>(acc) + batch<T>::load_aligned(bias + o)).store_aligned(z + o);
    }
    if constexpr (Out % L != 0 && Out % L <= 2) {
      // One or two rows left: their own horizontal sums are cheaper than a transposing one. The
      // register is assembled and stored whole (zero padding included), so later register loads
      // of it are forwarded from one store.
      const auto lane = lane_index<T>();
      auto zv = batch<T>(T(0));
      for (std::size_t j = 0; o + j < Out; ++j) {
        // The bias starts the sum in lane 0 (one addition fewer after the reduction).
        auto acc = xsimd::select(lane == batch<T>(T(0)), batch<T>(bias[o + j]), batch<T>(T(0)));
        for (std::size_t c = 0; c < chunks; ++c)
          acc = xsimd::fma(batch<T>::load_aligned(W + (o + j) * in_p + c * L), batch<T>::load_aligned(x + c * L), acc);
        zv = xsimd::select(lane == batch<T>(T(j)), batch<T>(sum_lanes<T, In>(acc)), zv);
      }
      zv.store_aligned(z + o);
    } else if constexpr (Out % L != 0) {
      // The last Out % L rows as one group; the missing rows' sums are zero.
      batch<T> acc[L];
      for (std::size_t j = 0; j < L; ++j) acc[j] = batch<T>(T(0));
      for (std::size_t c = 0; c < chunks; ++c) {
        const auto xv = batch<T>::load_aligned(x + c * L);
        for (std::size_t j = 0; j < Out % L; ++j)
          acc[j] = xsimd::fma(batch<T>::load_aligned(W + (o + j) * in_p + c * L), xv, acc[j]);
      }
      // Rows past Out have zero sums and zero bias: the padding is exactly zero.
      (transpose_sum<T, Out % L, used>(acc) + batch<T>::load_aligned(bias + o)).store_aligned(z + o);
    }
  }
}

/// The fused dense backward sweep. For every register-wide chunk of every weight row it forms
/// the gradient g = Σ_b dZ[b,o] X[b,·], accumulates dX = dZ W with the *old* weights, and hands
/// (w, g) to the update policy, which returns the new weights; dW is never stored.
/// Update: `V update(param_c<P>, offset, w, g)` and `static constexpr bool writes_parameters`.
template <class T, std::size_t B, std::size_t In, std::size_t Out, bool NeedDx, class Update>
inline void dense_backward(T* __restrict W, T* __restrict bias, const T* __restrict X, const T* __restrict dZ,
                           T* __restrict dX, Update& update) noexcept {
  constexpr std::size_t L = lanes<T>, in_p = padded<T>(In), out_p = padded<T>(Out), chunks = in_p / L;
  constexpr bool writes = std::remove_cvref_t<Update>::writes_parameters;
  // dX = Σ_o dz_o·W_o is a chain of Out dependent FMAs per sample; with few samples it is split
  // over S accumulators so that the backward pass (latency-bound at batch 1) does not wait Out
  // FMA latencies for it.
  constexpr std::size_t S = NeedDx ? std::min<std::size_t>(B >= 4 ? 1 : 4 / B, Out) : 1;
  for (std::size_t c = 0; c < chunks; ++c) {
    batch<T> dx[S][B];
    if constexpr (NeedDx)
      for (std::size_t k = 0; k < S; ++k)
        for (std::size_t b = 0; b < B; ++b) dx[k][b] = batch<T>(T(0));
    for (std::size_t o = 0; o < Out; ++o) {
      T* wp = W + o * in_p + c * L;
      const auto w = batch<T>::load_aligned(wp);
      auto g = batch<T>(T(0));
      for (std::size_t b = 0; b < B; ++b) {
        const auto dz = batch<T>(dZ[b * out_p + o]);
        g = xsimd::fma(dz, batch<T>::load_aligned(X + b * in_p + c * L), g);
        if constexpr (NeedDx) dx[o % S][b] = xsimd::fma(dz, w, dx[o % S][b]);
      }
      const auto w_new = update.update(weight_c, o * in_p + c * L, w, g);
      if constexpr (writes) w_new.store_aligned(wp);
    }
    if constexpr (NeedDx)
      for (std::size_t b = 0; b < B; ++b) {
        for (std::size_t k = 1; k < S; ++k) dx[0][b] += dx[k][b];
        dx[0][b].store_aligned(dX + b * in_p + c * L);
      }
  }
  for (std::size_t oc = 0; oc < out_p; oc += L) {
    auto g = batch<T>(T(0));
    for (std::size_t b = 0; b < B; ++b) g += batch<T>::load_aligned(dZ + b * out_p + oc);
    const auto b_new = update.update(bias_c, oc, batch<T>::load_aligned(bias + oc), g);
    if constexpr (writes) b_new.store_aligned(bias + oc);
  }
}

/// Y = f(Z) element-wise over B padded rows of N values; Y's padding is zeroed.
template <class Act, class T, std::size_t B, std::size_t N>
inline void activation_forward(const T* Z, T* Y) noexcept {
  constexpr std::size_t L = lanes<T>, n_p = padded<T>(N);
  if constexpr (B == 1 && N <= 2 && L > 2) {
    // One sample of a one- or two-output head (binary classification, regression): the scalar
    // function has about half the latency of a full-width transcendental, and a batch-1 step is
    // all latency. (With a few samples the register-wide function per row is faster.) The row
    // is assembled in a register and stored whole, so that the loss's register load of it is
    // forwarded from one store instead of stalling on scalar ones.
    const auto lane = lane_index<T>();
    auto y = batch<T>(T(0));
    for (std::size_t i = 0; i < N; ++i) y = xsimd::select(lane == batch<T>(T(i)), batch<T>(Act::value(Z[i])), y);
    y.store_aligned(Y);
    return;
  }
  // The padding lanes are masked in the register (f(0) need not be 0): storing zeros over them
  // afterwards would make the next layer's register load wait for two overlapping stores.
  const auto valid = lane_index<T>() < batch<T>(T(N % L == 0 ? L : N % L));
  for (std::size_t b = 0; b < B; ++b) {
    for (std::size_t i = 0; i + L < n_p; i += L)
      Act::value(batch<T>::load_aligned(Z + b * n_p + i)).store_aligned(Y + b * n_p + i);
    const std::size_t last = n_p - L;
    const auto y = Act::value(batch<T>::load_aligned(Z + b * n_p + last));
    (N % L == 0 ? y : xsimd::select(valid, y, batch<T>(T(0)))).store_aligned(Y + b * n_p + last);
  }
}

/// dY ← dY ⊙ f'(Z) in place, over B padded rows of N values; the padding stays zero.
/// With `FromOutput`, the buffer holds Y = f(Z) and f' is taken from it (Act::slope_at_output).
template <class Act, class T, std::size_t B, std::size_t N, bool FromOutput = false>
inline void activation_backward(const T* Z, T* dY) noexcept {
  constexpr std::size_t L = lanes<T>, n_p = padded<T>(N);
  // Padding masked in the register, as in activation_forward (f' of the padding may be inf).
  const auto valid = lane_index<T>() < batch<T>(T(N % L == 0 ? L : N % L));
  for (std::size_t b = 0; b < B; ++b) {
    for (std::size_t i = 0; i < n_p; i += L) {
      T* d = dY + b * n_p + i;
      const auto v = batch<T>::load_aligned(Z + b * n_p + i);
      batch<T> r;
      if constexpr (FromOutput) r = batch<T>::load_aligned(d) * Act::slope_at_output(v);
      else r = batch<T>::load_aligned(d) * Act::slope(v);
      if (N % L != 0 && i + L == n_p) r = xsimd::select(valid, r, batch<T>(T(0)));
      r.store_aligned(d);
    }
  }
}

/// Z = X Wᵀ + b for B rows with W stored input-major ([In][padded(Out)]): per sample, In
/// register-wide axpys over the outputs, up to 8 registers of outputs held at a time.
/// X's rows are XStride apart (only scalars of X are read, so its rows need no padding).
template <class T, std::size_t B, std::size_t In, std::size_t Out, std::size_t XStride = padded<T>(In)>
inline void dense_forward_input_major(const T* __restrict W, const T* __restrict bias, const T* __restrict X,
                                      T* __restrict Z) noexcept {
  constexpr std::size_t L = lanes<T>, in_p = XStride, out_p = padded<T>(Out), chunks = out_p / L;
  constexpr std::size_t block = chunks < 8 ? chunks : 8;
  for (std::size_t b = 0; b < B; ++b) {
    const T* x = X + b * in_p;
    T* z = Z + b * out_p;
    auto run = [&]<std::size_t C>(std::size_t c0) {
      // Split the sum over the inputs into S independent chains (up to 4, as many as the
      // registers hold), so the FMA latency is not paid In times in a row (a batch-1 forward is
      // latency-bound).
      constexpr std::size_t S = std::clamp<std::size_t>(accumulator_budget<T> / C, 1, std::min<std::size_t>(4, In));
      batch<T> acc[S][C];
      for (std::size_t c = 0; c < C; ++c) {
        acc[0][c] = batch<T>::load_aligned(bias + (c0 + c) * L);
        for (std::size_t k = 1; k < S; ++k) acc[k][c] = batch<T>(T(0));
      }
      constexpr std::size_t whole = In / S * S;
      for (std::size_t i = 0; i < whole; i += S)
        TYPEGRAD_UNROLL for (std::size_t k = 0; k < S; ++k) {
          const batch<T> xi(x[i + k]);
          TYPEGRAD_UNROLL for (std::size_t c = 0; c < C; ++c)
            acc[k][c] = xsimd::fma(xi, batch<T>::load_aligned(W + (i + k) * out_p + (c0 + c) * L), acc[k][c]);
        }
      // (Only instantiated when there is a remainder: GCC 12 warns about the empty loop otherwise.)
      if constexpr (whole < In)
        for (std::size_t i = whole; i < In; ++i) {
          const batch<T> xi(x[i]);
          for (std::size_t c = 0; c < C; ++c)
            acc[0][c] = xsimd::fma(xi, batch<T>::load_aligned(W + i * out_p + (c0 + c) * L), acc[0][c]);
        }
      for (std::size_t c = 0; c < C; ++c) {
        for (std::size_t k = 1; k < S; ++k) acc[0][c] += acc[k][c];
        acc[0][c].store_aligned(z + (c0 + c) * L);
      }
    };
    std::size_t c0 = 0;
    for (; c0 + block <= chunks; c0 += block) run.template operator()<block>(c0);
    if constexpr (chunks % block != 0) run.template operator()<chunks % block>(c0);
  }
}

/// Fused gradient + update for input-major W and B rows (the first layer: no dX).
template <class T, std::size_t B, std::size_t In, std::size_t Out, class Update, std::size_t XStride = padded<T>(In)>
inline void dense_backward_input_major(T* __restrict W, T* __restrict bias, const T* __restrict X,
                                       const T* __restrict dZ, Update& update) noexcept {
  constexpr std::size_t L = lanes<T>, in_p = XStride, out_p = padded<T>(Out), chunks = out_p / L;
  constexpr bool writes = std::remove_cvref_t<Update>::writes_parameters;
  constexpr std::size_t block = chunks < 8 ? chunks : 8;
  // Up to 8 registers of dZ per sample stay in registers while the rows of W stream past.
  constexpr bool accumulate = accumulates_into_parameters<Update>;
  auto run = [&]<std::size_t C>(std::size_t c0) {
    batch<T> dz[B][C];
    for (std::size_t b = 0; b < B; ++b)
      for (std::size_t c = 0; c < C; ++c) {
        dz[b][c] = batch<T>::load_aligned(dZ + b * out_p + (c0 + c) * L);
        // Scaled once here, dz then accumulates straight onto w: one FMA per register and sample.
        if constexpr (accumulate) dz[b][c] *= batch<T>(update.gradient_scale());
      }
    for (std::size_t i = 0; i < In; ++i) {
      for (std::size_t c = 0; c < C; ++c) {
        const std::size_t off = i * out_p + (c0 + c) * L;
        if constexpr (accumulate) {
          auto acc = update.accumulation_start(weight_c, off, batch<T>::load_aligned(W + off));
          for (std::size_t b = 0; b < B; ++b) acc = xsimd::fma(batch<T>(X[b * in_p + i]), dz[b][c], acc);
          acc.store_aligned(W + off);
        } else {
          auto g = batch<T>(X[i]) * dz[0][c];
          for (std::size_t b = 1; b < B; ++b) g = xsimd::fma(batch<T>(X[b * in_p + i]), dz[b][c], g);
          const auto w_new = update.update(weight_c, off, batch<T>::load_aligned(W + off), g);
          if constexpr (writes) w_new.store_aligned(W + off);
        }
      }
    }
    for (std::size_t c = 0; c < C; ++c) {
      const std::size_t off = (c0 + c) * L;
      if constexpr (accumulate) {
        auto acc = update.accumulation_start(bias_c, off, batch<T>::load_aligned(bias + off));
        for (std::size_t b = 0; b < B; ++b) acc += dz[b][c];
        acc.store_aligned(bias + off);
      } else {
        auto gb = dz[0][c];
        for (std::size_t b = 1; b < B; ++b) gb += dz[b][c];
        const auto b_new = update.update(bias_c, off, batch<T>::load_aligned(bias + off), gb);
        if constexpr (writes) b_new.store_aligned(bias + off);
      }
    }
  };
  std::size_t c0 = 0;
  for (; c0 + block <= chunks; c0 += block) run.template operator()<block>(c0);
  if constexpr (chunks % block != 0) run.template operator()<chunks % block>(c0);
}

/// The fused backward of one sample for input-major W that also gives dX (a hidden layer): one
/// sweep over W forms dX[i] = W[i]·dZ with the old weights (L rows at a time, summed by one
/// transposing add) and hands every weight register and its gradient x[i]·dZ to the update.
template <class T, std::size_t In, std::size_t Out, class Update>
inline void dense_backward_input_major_dx(T* __restrict W, T* __restrict bias, const T* __restrict x,
                                          const T* __restrict dZ, T* __restrict dX, Update& update) noexcept {
  constexpr std::size_t L = lanes<T>, out_p = padded<T>(Out), chunks = out_p / L;
  constexpr bool writes = std::remove_cvref_t<Update>::writes_parameters;
  constexpr bool accumulate = accumulates_into_parameters<Update>;
  constexpr std::size_t used = std::min(Out, L);  // lanes of a row's product that can be nonzero
  auto rows = [&]<std::size_t R>(std::size_t i0) {
    batch<T> dot[R];
    TYPEGRAD_UNROLL for (std::size_t j = 0; j < R; ++j) {
      const std::size_t i = i0 + j;
      const batch<T> xi(x[i]);
      for (std::size_t c = 0; c < chunks; ++c) {
        const std::size_t off = i * out_p + c * L;
        const auto w = batch<T>::load_aligned(W + off), dz = batch<T>::load_aligned(dZ + c * L);
        dot[j] = c == 0 ? w * dz : xsimd::fma(w, dz, dot[j]);
        if constexpr (accumulate) {
          const auto start = update.accumulation_start(weight_c, off, w);
          xsimd::fma(xi, dz * batch<T>(update.gradient_scale()), start).store_aligned(W + off);
        } else {
          const auto w_new = update.update(weight_c, off, w, xi * dz);
          if constexpr (writes) w_new.store_aligned(W + off);
        }
      }
    }
    transpose_sum<T, R, used>(dot).store_aligned(dX + i0);
  };
  std::size_t i0 = 0;
  for (; i0 + L <= In; i0 += L) rows.template operator()<L>(i0);
  if constexpr (In % L != 0) rows.template operator()<In % L>(i0);
  for (std::size_t c = 0; c < chunks; ++c) {
    const std::size_t off = c * L;
    const auto dz = batch<T>::load_aligned(dZ + off), b = batch<T>::load_aligned(bias + off);
    if constexpr (accumulate) {
      xsimd::fma(dz, batch<T>(update.gradient_scale()), update.accumulation_start(bias_c, off, b)).store_aligned(bias + off);
    } else {
      const auto b_new = update.update(bias_c, off, b, dz);
      if constexpr (writes) b_new.store_aligned(bias + off);
    }
  }
}

}  // namespace typegrad::simd

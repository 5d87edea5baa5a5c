// Kernels of the recurrent layers (rnn, gru, lstm): the input projection of all steps, one step
// of each cell forward and backward, and the fused parameter update after the step loop.
#pragma once

#include <algorithm>
#include <cstddef>
#include <type_traits>

#include <typegrad/activations/builtin.hpp>
#include <typegrad/core/config.hpp>
#include <typegrad/simd/kernels.hpp>

namespace typegrad::simd {

/// Sizes of a recurrent layer with In inputs, H hidden units and G gates. A gate vector holds
/// the G gates back to back (gate k at k·H, PyTorch's row order, so a weight file sees the
/// storage as an affine [G·H, In] view) in `gate_stride` scalars: register m of gate k is read
/// unaligned at k·H + m·L, and the last gate's last register still fits.
template <class T, std::size_t In, std::size_t H, std::size_t G>
struct recurrent_dims {
  static constexpr std::size_t L = lanes<T>;
  static constexpr std::size_t in_padded = padded<T>(In), hidden_padded = padded<T>(H);
  static constexpr std::size_t registers = hidden_padded / L;  // per hidden vector
  static constexpr std::size_t gate_stride = padded<T>((G - 1) * H + hidden_padded);
};

namespace detail {

/// 1 in the first H lanes of the last register of a hidden vector, 0 after: keeps the padding of
/// h (and of an LSTM's c) zero whatever the gates computed there.
template <class T, std::size_t H>
inline batch<T> tail_mask() noexcept {
  constexpr std::size_t used = H - (padded<T>(H) / lanes<T> - 1) * lanes<T>;
  return xsimd::select(lane_index<T>() < batch<T>(T(used)), batch<T>(T(1)), batch<T>(T(0)));
}

template <class T>
inline batch<T> sigmoid(const batch<T>& v) noexcept {
  return typegrad::sigmoid::value(v);
}
template <class T>
inline batch<T> tanh(const batch<T>& v) noexcept {
  return typegrad::tanh::value(v);
}

}  // namespace detail

namespace detail {
// Registers [Q0, Q0 + QN) of z = b + Σ_r v[r]·W[r], then the next block (compile-time sizes, so
// the accumulators stay in registers). Two interleaved chains (even and odd rows) measured slower.
template <class T, std::size_t Rows, std::size_t N, std::size_t Q0, std::size_t QN>
inline void axpy_rows_block(const T* __restrict W, const T* __restrict b, const T* __restrict v,
                            T* __restrict z) noexcept {
  constexpr std::size_t L = lanes<T>;
  batch<T> acc[QN];
  for (std::size_t q = 0; q < QN; ++q) acc[q] = batch<T>::load_aligned(b + (Q0 + q) * L);
  for (std::size_t r = 0; r < Rows; ++r) {
    const batch<T> vr(v[r]);
    for (std::size_t q = 0; q < QN; ++q)
      acc[q] = xsimd::fma(vr, batch<T>::load_aligned(W + r * N + (Q0 + q) * L), acc[q]);
  }
  for (std::size_t q = 0; q < QN; ++q) acc[q].store_aligned(z + (Q0 + q) * L);
  if constexpr (Q0 + QN < N / L)
    axpy_rows_block<T, Rows, N, Q0 + QN, std::min<std::size_t>(8, N / L - Q0 - QN)>(W, b, v, z);
}
}  // namespace detail

/// z[0..N) = b + Σ_{r<Rows} v[r]·W[r·N ..]: N/L register-wide axpys per row (W row-major, N a
/// multiple of the lanes, everything aligned), in blocks of at most 8 registers held in registers.
template <class T, std::size_t Rows, std::size_t N>
inline void axpy_rows(const T* __restrict W, const T* __restrict b, const T* __restrict v, T* __restrict z) noexcept {
  detail::axpy_rows_block<T, Rows, N, 0, std::min<std::size_t>(8, N / lanes<T>)>(W, b, v, z);
}

/// G[r·N ..] += v[r]·d for r < Rows: the outer-product accumulation of a weight gradient.
template <class T, std::size_t Rows, std::size_t N>
inline void accumulate_outer(T* __restrict G, const T* __restrict v, const T* __restrict d) noexcept {
  constexpr std::size_t L = lanes<T>;
  for (std::size_t r = 0; r < Rows; ++r) {
    const batch<T> vr(v[r]);
    for (std::size_t q = 0; q < N; q += L)
      xsimd::fma(vr, batch<T>::load_aligned(d + q), batch<T>::load_aligned(G + r * N + q)).store_aligned(G + r * N + q);
  }
}

/// out[r] = add[r] + Σ_q W[r·N + q]·d[q] for r < Rows, and out[r] = add[r] for Rows ≤ r < Padded:
/// the transposed product (W stored with one row per input). Each block of L rows (the last one
/// too, if it has more than L/2 rows) is summed by one transposing horizontal add, so the
/// result comes out as whole registers.
template <class T, std::size_t Rows, std::size_t Padded, std::size_t N>
inline void dot_rows(const T* __restrict W, const T* __restrict d, const T* __restrict add,
                     T* __restrict out) noexcept {
  constexpr std::size_t L = lanes<T>;
  constexpr std::size_t tail = Rows % L, blocked = 2 * tail > L ? Padded : Rows - tail;
  for (std::size_t r0 = 0; r0 < blocked; r0 += L) {
    const std::size_t n = std::min(L, Rows - r0);
    batch<T> acc[L];
    for (std::size_t k = 0; k < L; ++k) acc[k] = batch<T>(T(0));
    for (std::size_t q = 0; q < N; q += L) {
      const auto dq = batch<T>::load_aligned(d + q);
      for (std::size_t k = 0; k < n; ++k) acc[k] = xsimd::fma(batch<T>::load_aligned(W + (r0 + k) * N + q), dq, acc[k]);
    }
    (transpose_sum<T>(acc) + batch<T>::load_aligned(add + r0)).store_aligned(out + r0);
  }
  if constexpr (blocked < Padded) {
    for (std::size_t r = blocked; r < Rows; ++r) {
      auto acc = batch<T>(T(0));
      for (std::size_t q = 0; q < N; q += L)
        acc = xsimd::fma(batch<T>::load_aligned(W + r * N + q), batch<T>::load_aligned(d + q), acc);
      out[r] = add[r] + xsimd::hadd(acc);
    }
    for (std::size_t r = Rows; r < Padded; ++r) out[r] = add[r];
  }
}

/// a += d over N scalars (aligned, N a multiple of the lanes).
template <class T, std::size_t N>
inline void accumulate(T* __restrict a, const T* __restrict d) noexcept {
  for (std::size_t q = 0; q < N; q += lanes<T>)
    (batch<T>::load_aligned(a + q) + batch<T>::load_aligned(d + q)).store_aligned(a + q);
}

/// Hands every register of one parameter block and its gradient to the update policy, once.
template <class T, std::size_t P, std::size_t N, class Update>
inline void update_block(T* __restrict w, const T* __restrict g, Update& update) noexcept {
  for (std::size_t off = 0; off < N; off += lanes<T>) {
    const auto w_new =
        update.update(param_c<P>{}, off, batch<T>::load_aligned(w + off), batch<T>::load_aligned(g + off));
    if constexpr (std::remove_cvref_t<Update>::writes_parameters) w_new.store_aligned(w + off);
  }
}

// ---- The cells: one step forward and backward ----
// Forward: `a` holds the step's input projection W_ih·x + b_ih (gate-contiguous); `hz` is
// W_hh·h_prev + b_hh. The step writes h (and the cell's extra vector: GRU W_hn·h + b_hn, LSTM c)
// and leaves in `a` what the backward needs (gate activations, or RNN's pre-activation).
// Backward: dh is dL/dh_t (padding zero); it writes dL/d(pre-activations) of the input side
// (dxz) and of the hidden side (dhz), the part of dL/dh_{t−1} that bypasses W_hh (`direct`),
// and, for the LSTM, turns dc (dL/dc_t) into dL/dc_{t−1}.

/// Elman cell: h = Act(W_ih x + b_ih + W_hh h_prev + b_hh).
template <class Act>
struct rnn_cell {
  static constexpr std::size_t gates = 1;
  static constexpr bool has_extra = false, has_cell_state = false, direct_path = false;

  template <class T, std::size_t H>
  static void forward(T* a, const T* hz, const T*, const T*, T* h, T*) noexcept {
    constexpr std::size_t L = lanes<T>, M = padded<T>(H) / L;
    const auto mask = detail::tail_mask<T, H>();
    for (std::size_t m = 0; m < M; ++m) {
      const auto pre = batch<T>::load_aligned(a + m * L) + batch<T>::load_aligned(hz + m * L);
      pre.store_aligned(a + m * L);
      auto y = Act::value(pre);
      if (m == M - 1) y = y * mask;
      y.store_aligned(h + m * L);
    }
  }
  template <class T, std::size_t H>
  static void backward(const T* a, const T*, const T*, const T*, const T* h, const T* dh, T*, T* dxz, T* dhz,
                       T*) noexcept {
    constexpr std::size_t L = lanes<T>, M = padded<T>(H) / L;
    for (std::size_t m = 0; m < M; ++m) {
      batch<T> slope;
      if constexpr (Act::slope_from_output)
        slope = Act::slope_at_output(batch<T>::load_aligned(h + m * L));
      else
        slope = Act::slope(batch<T>::load_aligned(a + m * L));
      const auto d = batch<T>::load_aligned(dh + m * L) * slope;
      d.store_aligned(dxz + m * L);
      d.store_aligned(dhz + m * L);
    }
  }
};

/// PyTorch's GRU cell (gates r|z|n): r = σ(x_r + h_r), z = σ(x_z + h_z),
/// n = tanh(x_n + r·h_n) with h_n = W_hn h_prev + b_hn inside the reset product, h = (1−z)·n + z·h_prev.
struct gru_cell {
  static constexpr std::size_t gates = 3;
  static constexpr bool has_extra = true, has_cell_state = false, direct_path = true;

  template <class T, std::size_t H>
  static void forward(T* a, const T* hz, const T* h_prev, const T*, T* h, T* hn_out) noexcept {
    constexpr std::size_t L = lanes<T>, M = padded<T>(H) / L;
    const auto mask = detail::tail_mask<T, H>();
    batch<T> R[M], Z[M], N[M];
    for (std::size_t m = 0; m < M; ++m) {
      const std::size_t o = m * L;
      const auto hn = batch<T>::load_unaligned(hz + 2 * H + o);
      R[m] = detail::sigmoid(batch<T>::load_unaligned(a + o) + batch<T>::load_unaligned(hz + o));
      Z[m] = detail::sigmoid(batch<T>::load_unaligned(a + H + o) + batch<T>::load_unaligned(hz + H + o));
      N[m] = detail::tanh(xsimd::fma(R[m], hn, batch<T>::load_unaligned(a + 2 * H + o)));
      auto y = xsimd::fma(Z[m], batch<T>::load_aligned(h_prev + o) - N[m], N[m]);
      if (m == M - 1) y = y * mask;
      y.store_aligned(h + o);
      hn.store_aligned(hn_out + o);
    }
    // Gate by gate: a register's lanes past H spill into the next gate, which is written after.
    for (std::size_t m = 0; m < M; ++m) R[m].store_unaligned(a + m * L);
    for (std::size_t m = 0; m < M; ++m) Z[m].store_unaligned(a + H + m * L);
    for (std::size_t m = 0; m < M; ++m) N[m].store_unaligned(a + 2 * H + m * L);
  }
  template <class T, std::size_t H>
  static void backward(const T* a, const T* hn_in, const T* h_prev, const T*, const T*, const T* dh, T* direct, T* dxz,
                       T* dhz, T*) noexcept {
    constexpr std::size_t L = lanes<T>, M = padded<T>(H) / L;
    const batch<T> one(T(1));
    batch<T> DR[M], DZ[M], DN[M], DNH[M];
    for (std::size_t m = 0; m < M; ++m) {
      const std::size_t o = m * L;
      const auto r = batch<T>::load_unaligned(a + o), z = batch<T>::load_unaligned(a + H + o);
      const auto n = batch<T>::load_unaligned(a + 2 * H + o);
      const auto d = batch<T>::load_aligned(dh + o);
      // h = n + z(h_prev − n): dn = dh(1 − z), dz = dh(h_prev − n), and dh·z straight to h_prev.
      DN[m] = d * (one - z) * (one - n * n);
      DZ[m] = d * (batch<T>::load_aligned(h_prev + o) - n) * z * (one - z);
      DR[m] = DN[m] * batch<T>::load_aligned(hn_in + o) * r * (one - r);
      DNH[m] = DN[m] * r;
      (d * z).store_aligned(direct + o);
    }
    for (std::size_t m = 0; m < M; ++m) DR[m].store_unaligned(dxz + m * L), DR[m].store_unaligned(dhz + m * L);
    for (std::size_t m = 0; m < M; ++m) DZ[m].store_unaligned(dxz + H + m * L), DZ[m].store_unaligned(dhz + H + m * L);
    for (std::size_t m = 0; m < M; ++m)
      DN[m].store_unaligned(dxz + 2 * H + m * L), DNH[m].store_unaligned(dhz + 2 * H + m * L);
  }
};

/// PyTorch's LSTM cell (gates i|f|g|o): c = σ(f)·c_prev + σ(i)·tanh(g), h = σ(o)·tanh(c).
struct lstm_cell {
  static constexpr std::size_t gates = 4;
  static constexpr bool has_extra = true, has_cell_state = true, direct_path = false;

  template <class T, std::size_t H>
  static void forward(T* a, const T* hz, const T*, const T* c_prev, T* h, T* c_out) noexcept {
    constexpr std::size_t L = lanes<T>, M = padded<T>(H) / L;
    const auto mask = detail::tail_mask<T, H>();
    batch<T> I[M], F[M], G[M], O[M];
    for (std::size_t m = 0; m < M; ++m) {
      const std::size_t o = m * L;
      I[m] = detail::sigmoid(batch<T>::load_unaligned(a + o) + batch<T>::load_unaligned(hz + o));
      F[m] = detail::sigmoid(batch<T>::load_unaligned(a + H + o) + batch<T>::load_unaligned(hz + H + o));
      G[m] = detail::tanh(batch<T>::load_unaligned(a + 2 * H + o) + batch<T>::load_unaligned(hz + 2 * H + o));
      O[m] = detail::sigmoid(batch<T>::load_unaligned(a + 3 * H + o) + batch<T>::load_unaligned(hz + 3 * H + o));
      auto c = xsimd::fma(F[m], batch<T>::load_aligned(c_prev + o), I[m] * G[m]);
      if (m == M - 1) c = c * mask;
      c.store_aligned(c_out + o);
      (O[m] * detail::tanh(c)).store_aligned(h + o);
    }
    for (std::size_t m = 0; m < M; ++m) I[m].store_unaligned(a + m * L);
    for (std::size_t m = 0; m < M; ++m) F[m].store_unaligned(a + H + m * L);
    for (std::size_t m = 0; m < M; ++m) G[m].store_unaligned(a + 2 * H + m * L);
    for (std::size_t m = 0; m < M; ++m) O[m].store_unaligned(a + 3 * H + m * L);
  }
  template <class T, std::size_t H>
  static void backward(const T* a, const T* c_in, const T*, const T* c_prev, const T*, const T* dh, T*, T* dxz, T* dhz,
                       T* dc) noexcept {
    constexpr std::size_t L = lanes<T>, M = padded<T>(H) / L;
    const batch<T> one(T(1));
    batch<T> DI[M], DF[M], DG[M], DO[M];
    for (std::size_t m = 0; m < M; ++m) {
      const std::size_t o = m * L;
      const auto i = batch<T>::load_unaligned(a + o), f = batch<T>::load_unaligned(a + H + o);
      const auto g = batch<T>::load_unaligned(a + 2 * H + o), og = batch<T>::load_unaligned(a + 3 * H + o);
      const auto tc = detail::tanh(batch<T>::load_aligned(c_in + o));
      const auto d = batch<T>::load_aligned(dh + o);
      const auto dct = xsimd::fma(d * og, one - tc * tc, batch<T>::load_aligned(dc + o));
      DO[m] = d * tc * og * (one - og);
      DI[m] = dct * g * i * (one - i);
      DF[m] = dct * batch<T>::load_aligned(c_prev + o) * f * (one - f);
      DG[m] = dct * i * (one - g * g);
      (dct * f).store_aligned(dc + o);
    }
    for (std::size_t m = 0; m < M; ++m) DI[m].store_unaligned(dxz + m * L);
    for (std::size_t m = 0; m < M; ++m) DF[m].store_unaligned(dxz + H + m * L);
    for (std::size_t m = 0; m < M; ++m) DG[m].store_unaligned(dxz + 2 * H + m * L);
    for (std::size_t m = 0; m < M; ++m) DO[m].store_unaligned(dxz + 3 * H + m * L);
    static_cast<void>(dhz);  // the same as dxz: the caller passes one buffer for both
  }
};

}  // namespace typegrad::simd

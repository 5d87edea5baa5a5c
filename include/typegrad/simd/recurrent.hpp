// Kernels of the recurrent layers (rnn, gru, lstm): one step of each cell forward and backward,
// shared by the window forward and typegrad::stream, and the fused parameter update.
#pragma once

#include <algorithm>
#include <cstddef>
#include <type_traits>

#include <typegrad/activations/builtin.hpp>
#include <typegrad/core/config.hpp>
#include <typegrad/expr/ops.hpp>
#include <typegrad/simd/gemm.hpp>
#include <typegrad/simd/kernels.hpp>

namespace typegrad::simd {

/// Sizes of a recurrent layer with In inputs, H hidden units and G gates.
///
/// The weights keep the G gates of a row back to back (gate k at k·H, PyTorch's row order, so a
/// weight file sees an affine [G·H, In] view) in `gate_stride` scalars. Everything a step
/// computes is laid out gate-aligned instead: gate k at k·hidden_padded (`gates_aligned` in all),
/// so register m of every gate holds the same units m·L.. and the cells' element-wise math needs
/// no shuffles. A step reads register m of gate k of a weight row unaligned at k·H + m·L; lanes
/// past H read the next gate's weights and are masked.
template <class T, std::size_t In, std::size_t H, std::size_t G>
struct recurrent_dims {
  static constexpr std::size_t L = lanes<T>;
  static constexpr std::size_t in_padded = padded<T>(In), hidden_padded = padded<T>(H);
  static constexpr std::size_t registers = hidden_padded / L;  // per hidden vector
  static constexpr std::size_t gate_stride = padded<T>((G - 1) * H + hidden_padded);
  static constexpr std::size_t gates_aligned = G * hidden_padded;
};

namespace detail {

/// The cells' σ. In single precision a rational function (expr::detail::sigmoid_float): half the
/// latency of 1/(1 + e^−x) on the step's critical path, within 2e-7 of σ in absolute terms (a
/// gate's error is absolute: it scales values of order 1). Double keeps the exact form.
template <class T>
inline batch<T> gate_sigmoid(const batch<T>& v) noexcept {
  if constexpr (std::is_same_v<T, float>)
    return expr::detail::sigmoid_float(v);
  else
    return typegrad::sigmoid::value(v);
}
template <class T>
inline batch<T> gate_tanh(const batch<T>& v) noexcept {
  return typegrad::tanh::value(v);
}

/// Independent accumulator chains per gate register for a product over Rows rows of M registers
/// per gate: as many (up to 4) as shorten the critical path while all M·G·C accumulators fit the
/// budget (measured: more chains in several passes over the rows are slower than fewer in one);
/// if even two do not fit, as many as fit for one register of every gate.
template <class T, std::size_t Rows, std::size_t G, std::size_t M>
inline constexpr std::size_t product_chains = [] {
  auto most = [](std::size_t registers) {
    std::size_t c = 1;
    while (c < 4 && Rows >= 4 * c && 2 * c * G * registers <= accumulator_budget<T>) c *= 2;
    return c;
  };
  return most(M) > 1 ? most(M) : most(1);
}();

/// Registers of each gate summed in one pass over the rows, with C chains each.
template <class T, std::size_t G, std::size_t C, std::size_t M>
inline constexpr std::size_t product_block = std::clamp<std::size_t>(accumulator_budget<T> / (G * C), 1, M);

}  // namespace detail

/// The lanes of register m of a hidden vector that hold units (< H).
template <class T, std::size_t H>
inline batch_bool<T> units_in_register(std::size_t m) noexcept {
  return lane_index<T>() < batch<T>(T(H > m * lanes<T> ? H - m * lanes<T> : 0));
}

/// acc[m][k] += Σ_{r<Rows} v[r]·W[r·S + k·H + m·L ..] for every register m < M of every gate
/// k: W·v gate-aligned, read unaligned from the gate-contiguous weights. Registers M0.. M0 + MB
/// in one pass over the rows with C chains each, then the next block.
template <class T, std::size_t Rows, std::size_t S, std::size_t H, std::size_t G, std::size_t M,
          std::size_t M0 = 0, std::size_t C = detail::product_chains<T, Rows, G, M>,
          std::size_t MB = std::min(detail::product_block<T, G, C, M>, M - M0)>
inline void gate_product(const T* __restrict W, const T* __restrict v, batch<T> (&acc)[M][G]) noexcept {
  constexpr std::size_t L = lanes<T>;
  batch<T> part[C][MB][G];
  for (std::size_t c = 0; c < C; ++c)
    for (std::size_t m = 0; m < MB; ++m)
      for (std::size_t k = 0; k < G; ++k) part[c][m][k] = c == 0 ? acc[M0 + m][k] : batch<T>(T(0));
  constexpr std::size_t whole = Rows / C * C;
  for (std::size_t r = 0; r < whole; r += C)
    TYPEGRAD_UNROLL for (std::size_t c = 0; c < C; ++c) {
      const batch<T> vr(v[r + c]);
      TYPEGRAD_UNROLL for (std::size_t m = 0; m < MB; ++m)
        TYPEGRAD_UNROLL for (std::size_t k = 0; k < G; ++k)
          part[c][m][k] =
              xsimd::fma(vr, batch<T>::load_unaligned(W + (r + c) * S + k * H + (M0 + m) * L), part[c][m][k]);
    }
  for (std::size_t r = whole; r < Rows; ++r) {
    const batch<T> vr(v[r]);
    TYPEGRAD_UNROLL for (std::size_t m = 0; m < MB; ++m)
      TYPEGRAD_UNROLL for (std::size_t k = 0; k < G; ++k)
        part[0][m][k] = xsimd::fma(vr, batch<T>::load_unaligned(W + r * S + k * H + (M0 + m) * L), part[0][m][k]);
  }
  // Pairwise, so four chains add two levels, not three.
  for (std::size_t m = 0; m < MB; ++m)
    for (std::size_t k = 0; k < G; ++k) {
      if constexpr (C == 4)
        acc[M0 + m][k] = (part[0][m][k] + part[1][m][k]) + (part[2][m][k] + part[3][m][k]);
      else if constexpr (C == 2)
        acc[M0 + m][k] = part[0][m][k] + part[1][m][k];
      else
        acc[M0 + m][k] = part[0][m][k];
    }
  if constexpr (M0 + MB < M) gate_product<T, Rows, S, H, G, M, M0 + MB>(W, v, acc);
}

/// out[r] = add[r] + Σ_m Σ_k W[r·S + k·H + m·L ..]·D[m][k] for r < Rows, out[r] = add[r] up to
/// padded(Rows): the transposed product of gate-aligned registers D (zero past H) with the
/// gate-contiguous weights, L rows at a time summed by one transposing horizontal add.
template <class T, std::size_t Rows, std::size_t S, std::size_t H, std::size_t G, std::size_t M>
inline void gate_dot(const T* __restrict W, const batch<T> (&D)[M][G], const batch<T>* add, T* __restrict out) noexcept {
  constexpr std::size_t L = lanes<T>;
  auto block = [&]<std::size_t R>(std::size_t r0) {
    batch<T> acc[R];
    TYPEGRAD_UNROLL for (std::size_t j = 0; j < R; ++j) {
      acc[j] = batch<T>(T(0));
      for (std::size_t m = 0; m < M; ++m)
        for (std::size_t k = 0; k < G; ++k)
          acc[j] = xsimd::fma(batch<T>::load_unaligned(W + (r0 + j) * S + k * H + m * L), D[m][k], acc[j]);
    }
    // With one register per gate, lanes past H of every product are zero (D is): with at most 8
    // units the transposing add need not fold the registers' upper halves.
    auto sum = transpose_sum<T, R, (M == 1 ? std::min(H, L) : L)>(acc);
    if (add != nullptr) sum += add[r0 / L];
    sum.store_aligned(out + r0);
  };
  std::size_t r0 = 0;
  for (; r0 + L <= Rows; r0 += L) block.template operator()<L>(r0);
  if constexpr (Rows % L != 0) block.template operator()<Rows % L>(r0);
}

/// Rows gate-aligned vectors (G·hp apart) into gate-contiguous ones (S apart, zero past G·H):
/// the weight gradients, accumulated gate-aligned, in the weights' layout.
template <class T, std::size_t Rows, std::size_t S, std::size_t H, std::size_t G>
inline void gates_to_contiguous(const T* __restrict aligned, T* __restrict contiguous) noexcept {
  constexpr std::size_t hp = padded<T>(H), GA = G * hp;
  for (std::size_t r = 0; r < Rows; ++r) {
    T* row = contiguous + r * S;
    for (std::size_t q = (G - 1) * H + hp; q < S; ++q) row[q] = T(0);
    // Gate by gate: a register's lanes past H (zero) spill into the next gate, written after.
    for (std::size_t k = 0; k < G; ++k)
      for (std::size_t q = 0; q < hp; q += lanes<T>)
        batch<T>::load_aligned(aligned + r * GA + k * hp + q).store_unaligned(row + k * H + q);
  }
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

// ---- The cells: one register of units, one step ----
// Forward: xin[k] = (W_ih x + b_ih)[gate k] and hz[k] = (W_hh h_prev + b_hh)[gate k], except that
// for the first `summed_gates` gates hz[k] already holds the sum of both sides. It gives the
// gates the backward needs (activations, or an RNN's pre-activation), h (zero past H) and the
// extra vector (GRU: W_hn h + b_hn; LSTM: c, zero past H).
// Backward: dh = dL/dh_t (zero past H); it gives dL/d(pre-activation) of the input side (dx)
// and of the hidden side (dhz), the part of dL/dh_{t−1} that bypasses W_hh (`direct`) and, for
// the LSTM, turns dc = dL/dc_t into dL/dc_{t−1}. Zero past H in, zero past H out.

/// Elman cell: h = Act(W_ih x + b_ih + W_hh h_prev + b_hh).
template <class Act>
struct rnn_cell {
  static constexpr std::size_t gates = 1, summed_gates = 1;
  static constexpr bool has_extra = false, has_cell_state = false;

  template <class T>
  static void forward(const batch<T> (&)[1], const batch<T> (&hz)[1], const batch<T>&, const batch<T>&,
                      const batch_bool<T>& units, batch<T> (&gate)[1], batch<T>& h, batch<T>&) noexcept {
    gate[0] = hz[0];
    h = xsimd::select(units, Act::value(hz[0]), batch<T>(T(0)));
  }
  template <class T>
  static void backward(const batch<T> (&gate)[1], const batch<T>&, const batch<T>&, const batch<T>&, const batch<T>& h,
                       const batch<T>& dh, batch<T>&, batch<T> (&dx)[1], batch<T> (&dhz)[1], batch<T>& direct) noexcept {
    batch<T> slope;
    if constexpr (Act::slope_from_output)
      slope = Act::slope_at_output(h);
    else
      slope = Act::slope(gate[0]);
    dx[0] = dhz[0] = dh * slope;
    direct = batch<T>(T(0));
  }
};

/// PyTorch's GRU cell (gates r|z|n): r = σ(x_r + h_r), z = σ(x_z + h_z),
/// n = tanh(x_n + r·h_n) with h_n = W_hn h_prev + b_hn inside the reset product, h = (1−z)·n + z·h_prev.
struct gru_cell {
  static constexpr std::size_t gates = 3, summed_gates = 2;
  static constexpr bool has_extra = true, has_cell_state = false;

  template <class T>
  static void forward(const batch<T> (&xin)[3], const batch<T> (&hz)[3], const batch<T>& h_prev, const batch<T>&,
                      const batch_bool<T>& units, batch<T> (&gate)[3], batch<T>& h, batch<T>& hn) noexcept {
    gate[0] = detail::gate_sigmoid(hz[0]);
    gate[1] = detail::gate_sigmoid(hz[1]);
    gate[2] = detail::gate_tanh(xsimd::fma(gate[0], hz[2], xin[2]));
    // (1 − z)·n + z·h_prev: only the last FMA waits for n.
    h = xsimd::select(units, xsimd::fma(batch<T>(T(1)) - gate[1], gate[2], gate[1] * h_prev), batch<T>(T(0)));
    hn = hz[2];
  }
  template <class T>
  static void backward(const batch<T> (&gate)[3], const batch<T>& hn, const batch<T>& h_prev, const batch<T>&,
                       const batch<T>&, const batch<T>& dh, batch<T>&, batch<T> (&dx)[3], batch<T> (&dhz)[3],
                       batch<T>& direct) noexcept {
    const batch<T> one(T(1));
    const auto &r = gate[0], &z = gate[1], &n = gate[2];
    // h = n + z(h_prev − n): dn = dh(1 − z), dz = dh(h_prev − n), and dh·z straight to h_prev.
    // The factors that do not depend on dh are formed first (off the backward's critical path).
    const auto dn = dh * ((one - z) * (one - n * n));
    dx[0] = dhz[0] = dn * (hn * r * (one - r));
    dx[1] = dhz[1] = dh * ((h_prev - n) * z * (one - z));
    dx[2] = dn;
    dhz[2] = dn * r;
    direct = dh * z;
  }
};

/// PyTorch's LSTM cell (gates i|f|g|o): c = σ(f)·c_prev + σ(i)·tanh(g), h = σ(o)·tanh(c).
struct lstm_cell {
  static constexpr std::size_t gates = 4, summed_gates = 4;
  static constexpr bool has_extra = true, has_cell_state = true;

  template <class T>
  static void forward(const batch<T> (&)[4], const batch<T> (&hz)[4], const batch<T>&, const batch<T>& c_prev,
                      const batch_bool<T>& units, batch<T> (&gate)[4], batch<T>& h, batch<T>& c) noexcept {
    gate[0] = detail::gate_sigmoid(hz[0]);
    gate[1] = detail::gate_sigmoid(hz[1]);
    gate[2] = detail::gate_tanh(hz[2]);
    gate[3] = detail::gate_sigmoid(hz[3]);
    c = xsimd::select(units, xsimd::fma(gate[1], c_prev, gate[0] * gate[2]), batch<T>(T(0)));
    h = gate[3] * detail::gate_tanh(c);
  }
  template <class T>
  static void backward(const batch<T> (&gate)[4], const batch<T>& c, const batch<T>&, const batch<T>& c_prev,
                       const batch<T>&, const batch<T>& dh, batch<T>& dc, batch<T> (&dx)[4], batch<T> (&dhz)[4],
                       batch<T>& direct) noexcept {
    const batch<T> one(T(1));
    const auto &i = gate[0], &f = gate[1], &g = gate[2], &o = gate[3];
    const auto tc = detail::gate_tanh(c);
    // The factors that do not depend on dh or dc are formed first (off the critical path).
    const auto dct = xsimd::fma(dh, o * (one - tc * tc), dc);
    dx[0] = dhz[0] = dct * (g * i * (one - i));
    dx[1] = dhz[1] = dct * (c_prev * f * (one - f));
    dx[2] = dhz[2] = dct * (i * (one - g * g));
    dx[3] = dhz[3] = dh * (tc * o * (one - o));
    dc = dct * f;
    direct = batch<T>(T(0));
  }
};

/// One step forward of a cell over all H units from x_t (In scalars) and h_prev (c_prev): h into
/// h_out (and h_copy unless null), the extra vector into `extra`, and with KeepGates the gates,
/// gate-aligned, into `gates`. h_out may be h_prev and `extra` c_prev (every read of them comes
/// before the writes).
template <class Cell, class T, std::size_t In, std::size_t H, bool KeepGates>
inline void cell_forward(const T* wih, const T* bih, const T* whh, const T* bhh, const T* x, const T* h_prev,
                         const T* c_prev, T* h_out, T* h_copy, T* extra, T* gates) noexcept {
  constexpr std::size_t G = Cell::gates, L = lanes<T>;
  using dims = recurrent_dims<T, In, H, G>;
  constexpr std::size_t S = dims::gate_stride, M = dims::registers, hp = dims::hidden_padded;
  batch<T> xin[M][G], hz[M][G];
  for (std::size_t m = 0; m < M; ++m)
    for (std::size_t k = 0; k < G; ++k) xin[m][k] = batch<T>::load_unaligned(bih + k * H + m * L);
  gate_product<T, In, S, H, G, M>(wih, x, xin);
  for (std::size_t m = 0; m < M; ++m)
    for (std::size_t k = 0; k < G; ++k) {
      hz[m][k] = batch<T>::load_unaligned(bhh + k * H + m * L);
      if (k < Cell::summed_gates) hz[m][k] += xin[m][k];
    }
  gate_product<T, H, S, H, G, M>(whh, h_prev, hz);
  batch<T> h_new[M], e_new[M];
  for (std::size_t m = 0; m < M; ++m) {
    const std::size_t o = m * L;
    batch<T> gate[G];
    const auto c_m = Cell::has_cell_state ? batch<T>::load_aligned(c_prev + o) : batch<T>(T(0));
    Cell::template forward<T>(xin[m], hz[m], batch<T>::load_aligned(h_prev + o), c_m, units_in_register<T, H>(m), gate,
                              h_new[m], e_new[m]);
    if constexpr (KeepGates)
      for (std::size_t k = 0; k < G; ++k) gate[k].store_aligned(gates + k * hp + o);
  }
  for (std::size_t m = 0; m < M; ++m) {
    h_new[m].store_aligned(h_out + m * L);
    if (h_copy != nullptr) h_new[m].store_aligned(h_copy + m * L);
    if constexpr (Cell::has_extra) e_new[m].store_aligned(extra + m * L);
  }
}

/// Where one step's backward accumulates the weight gradients, gate-aligned (rows G·hp apart).
template <class T>
struct gate_gradients {
  T* weight_ih;
  T* weight_hh;
  T* bias_ih;
  T* bias_hh;
};

/// One step backward of a cell over all H units: dh (dL/dh_t from step t + 1) plus dy (from the
/// output) becomes dL/dh_{t−1}, the LSTM's dc dL/dc_{t−1}; the step's weight gradients are added
/// to `grad`; with NeedDx, dx gets dL/dx_t.
template <class Cell, class T, std::size_t In, std::size_t H, bool NeedDx>
inline void cell_backward(const T* wih, const T* whh, const T* gates, const T* extra, const T* x, const T* h_prev,
                          const T* c_prev, const T* h, const T* dy, T* dh, T* dc, T* dx,
                          const gate_gradients<T>& grad) noexcept {
  constexpr std::size_t G = Cell::gates, L = lanes<T>;
  using dims = recurrent_dims<T, In, H, G>;
  constexpr std::size_t S = dims::gate_stride, M = dims::registers, hp = dims::hidden_padded, GA = dims::gates_aligned;
  batch<T> DX[M][G], DH[M][G], direct[M];
  for (std::size_t m = 0; m < M; ++m) {
    const std::size_t o = m * L;
    batch<T> gate[G];
    for (std::size_t k = 0; k < G; ++k) gate[k] = batch<T>::load_aligned(gates + k * hp + o);
    const auto e = Cell::has_extra ? batch<T>::load_aligned(extra + o) : batch<T>(T(0));
    const auto c_m = Cell::has_cell_state ? batch<T>::load_aligned(c_prev + o) : batch<T>(T(0));
    auto dc_m = Cell::has_cell_state ? batch<T>::load_aligned(dc + o) : batch<T>(T(0));
    Cell::template backward<T>(gate, e, batch<T>::load_aligned(h_prev + o), c_m, batch<T>::load_aligned(h + o),
                               batch<T>::load_aligned(dh + o) + batch<T>::load_aligned(dy + o), dc_m, DX[m], DH[m],
                               direct[m]);
    if constexpr (Cell::has_cell_state) dc_m.store_aligned(dc + o);
    for (std::size_t k = 0; k < G; ++k) {
      const std::size_t q = k * hp + o;
      (batch<T>::load_aligned(grad.bias_ih + q) + DX[m][k]).store_aligned(grad.bias_ih + q);
      (batch<T>::load_aligned(grad.bias_hh + q) + DH[m][k]).store_aligned(grad.bias_hh + q);
    }
    for (std::size_t c = 0; c < In; ++c) {
      const batch<T> xc(x[c]);
      for (std::size_t k = 0; k < G; ++k) {
        T* g = grad.weight_ih + c * GA + k * hp + o;
        xsimd::fma(xc, DX[m][k], batch<T>::load_aligned(g)).store_aligned(g);
      }
    }
    for (std::size_t r = 0; r < H; ++r) {
      const batch<T> hr(h_prev[r]);
      for (std::size_t k = 0; k < G; ++k) {
        T* g = grad.weight_hh + r * GA + k * hp + o;
        xsimd::fma(hr, DH[m][k], batch<T>::load_aligned(g)).store_aligned(g);
      }
    }
  }
  if constexpr (NeedDx) gate_dot<T, In, S, H, G, M>(wih, DX, nullptr, dx);
  gate_dot<T, H, S, H, G, M>(whh, DH, direct, dh);
}

}  // namespace typegrad::simd

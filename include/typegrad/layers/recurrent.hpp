// rnn<Hidden, Act>, gru<Hidden>, lstm<Hidden>: recurrent layers over a (Steps, Features) sequence
// (PyTorch's nn.RNN, nn.GRU, nn.LSTM with batch_first), trained by backpropagation through time.
#pragma once

#include <algorithm>
#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>

#include <typegrad/activations/activation.hpp>
#include <typegrad/activations/builtin.hpp>
#include <typegrad/core/config.hpp>
#include <typegrad/core/init.hpp>
#include <typegrad/core/shape.hpp>
#include <typegrad/layers/layer.hpp>
#include <typegrad/simd/kernels.hpp>
#include <typegrad/simd/recurrent.hpp>
#include <typegrad/simd/stream.hpp>

namespace typegrad {

/// Parameters of a recurrent layer with In inputs, H hidden units and G gates, named and shaped
/// as PyTorch stores them: weight_ih [G·H, In], weight_hh [G·H, H], bias_ih [G·H], bias_hh [G·H]
/// (gates in PyTorch's order: GRU r|z|n, LSTM i|f|g|o). Storage is input-major (one row of all
/// G·H gate values per input, padded to whole registers, zero in the padding), so each step's
/// products W·v are register-wide axpys; `weight_ih(r, c)` and friends hide that.
template <class T, std::size_t In, std::size_t H, std::size_t G>
struct recurrent_parameters {
  using value_type = T;
  using dims = simd::recurrent_dims<T, In, H, G>;
  static constexpr std::size_t in_size = In, hidden_size = H, gates = G;
  /// Scalars per stored row (a gate vector): G·H values and padding.
  static constexpr std::size_t gate_stride = dims::gate_stride;
  static constexpr std::size_t parameter_blocks = 4;  // weight_ih, weight_hh, bias_ih, bias_hh

  alignas(alignment) T wih_[In * gate_stride] = {};
  alignas(alignment) T whh_[H * gate_stride] = {};
  alignas(alignment) T bih_[gate_stride] = {};
  alignas(alignment) T bhh_[gate_stride] = {};

  /// weight_ih[r][c] (r = gate·H + unit, c = input), weight_hh[r][c] (c = hidden unit), biases [r].
  constexpr T& weight_ih(std::size_t r, std::size_t c) noexcept { return wih_[c * gate_stride + r]; }
  constexpr const T& weight_ih(std::size_t r, std::size_t c) const noexcept { return wih_[c * gate_stride + r]; }
  constexpr T& weight_hh(std::size_t r, std::size_t c) noexcept { return whh_[c * gate_stride + r]; }
  constexpr const T& weight_hh(std::size_t r, std::size_t c) const noexcept { return whh_[c * gate_stride + r]; }
  constexpr T& bias_ih(std::size_t r) noexcept { return bih_[r]; }
  constexpr const T& bias_ih(std::size_t r) const noexcept { return bih_[r]; }
  constexpr T& bias_hh(std::size_t r) noexcept { return bhh_[r]; }
  constexpr const T& bias_hh(std::size_t r) const noexcept { return bhh_[r]; }

  /// Length of block P's padded storage (0 weight_ih, 1 weight_hh, 2 bias_ih, 3 bias_hh).
  static constexpr std::size_t padded_size(simd::param_c<0>) noexcept { return In * gate_stride; }
  static constexpr std::size_t padded_size(simd::param_c<1>) noexcept { return H * gate_stride; }
  static constexpr std::size_t padded_size(simd::param_c<2>) noexcept { return gate_stride; }
  static constexpr std::size_t padded_size(simd::param_c<3>) noexcept { return gate_stride; }
  /// Raw padded storage of block P, for optimizers and I/O.
  constexpr T* data(simd::param_c<0>) noexcept { return wih_; }
  constexpr T* data(simd::param_c<1>) noexcept { return whh_; }
  constexpr T* data(simd::param_c<2>) noexcept { return bih_; }
  constexpr T* data(simd::param_c<3>) noexcept { return bhh_; }
  constexpr const T* data(simd::param_c<0>) const noexcept { return wih_; }
  constexpr const T* data(simd::param_c<1>) const noexcept { return whh_; }
  constexpr const T* data(simd::param_c<2>) const noexcept { return bih_; }
  constexpr const T* data(simd::param_c<3>) const noexcept { return bhh_; }

  /// Calls f(block, r, c, value&) for every real parameter in state_dict order (biases: c = 0).
  template <class F>
  constexpr void for_each(F&& f) {
    visit(*this, f);
  }
  template <class F>
  constexpr void for_each(F&& f) const {
    visit(*this, f);
  }
  /// Calls f(name, pytorch_shape, data, row_stride, col_stride) for weight_ih_l0, weight_hh_l0,
  /// bias_ih_l0, bias_hh_l0 (state_dict order): element (r, c) is data[r·row_stride + c·col_stride].
  template <class F>
  constexpr void for_each_tensor(F&& f) {
    tensors(*this, f);
  }
  template <class F>
  constexpr void for_each_tensor(F&& f) const {
    tensors(*this, f);
  }
  static constexpr std::size_t count() noexcept { return G * H * (In + H + 2); }
  friend constexpr bool operator==(const recurrent_parameters&, const recurrent_parameters&) = default;

 private:
  template <class Self, class F>
  static constexpr void visit(Self& p, F& f) {
    for (std::size_t r = 0; r < G * H; ++r)
      for (std::size_t c = 0; c < In; ++c) f(simd::param_c<0>{}, r, c, p.weight_ih(r, c));
    for (std::size_t r = 0; r < G * H; ++r)
      for (std::size_t c = 0; c < H; ++c) f(simd::param_c<1>{}, r, c, p.weight_hh(r, c));
    for (std::size_t r = 0; r < G * H; ++r) f(simd::param_c<2>{}, r, std::size_t{0}, p.bias_ih(r));
    for (std::size_t r = 0; r < G * H; ++r) f(simd::param_c<3>{}, r, std::size_t{0}, p.bias_hh(r));
  }
  template <class Self, class F>
  static constexpr void tensors(Self& p, F& f) {
    using ptr = std::conditional_t<std::is_const_v<Self>, const T*, T*>;
    const std::size_t one = 1, none = 0;
    f(std::string_view("weight_ih_l0"), std::initializer_list<std::size_t>{G * H, In}, ptr(p.wih_), one, gate_stride);
    f(std::string_view("weight_hh_l0"), std::initializer_list<std::size_t>{G * H, H}, ptr(p.whh_), one, gate_stride);
    f(std::string_view("bias_ih_l0"), std::initializer_list<std::size_t>{G * H}, ptr(p.bih_), one, none);
    f(std::string_view("bias_hh_l0"), std::initializer_list<std::size_t>{G * H}, ptr(p.bhh_), one, none);
  }
};

namespace detail {

/// Instantiated only to report a recurrent layer whose input is not a (Steps, Features) sequence.
template <std::size_t LayerIndex, class Recurrent, class InputShape>
struct recurrent_input_not_a_sequence {
  static_assert(InputShape::rank == 2,
                "typegrad::rnn / gru / lstm: layer LayerIndex (Recurrent) needs an input of shape (Steps, Features), "
                "but InputShape has another rank; put unflatten<Steps, Features> before it, or transpose after a "
                "conv1d (see recurrent_input_not_a_sequence<LayerIndex, Recurrent, InputShape>)");
  static constexpr bool value = true;
};

/// A recurrent layer bound to scalar type T and an input of shape (Steps, In); Cell is one of
/// simd::rnn_cell<Act>, gru_cell, lstm_cell. Data in layout::vectors: each step's vector padded.
///
/// Forward, per sample: the input projections W_ih·x_t + b_ih of all steps in one sweep (they do
/// not depend on h), then an ordinary loop over the steps (never unrolled by templates, so 1000
/// steps compile like 10) with one register-wide product W_hh·h per step. The cache keeps each
/// step's gates (and GRU's W_hn·h + b_hn, or LSTM's c); the output is every h_t.
/// Backward (full BPTT): the steps in reverse, the weight gradients of all steps and samples
/// accumulated in scratch, then each parameter register handed to the update policy once.
template <class T, class InShape, std::size_t H, class Cell, class Spec>
struct recurrent_layer {
  using value_type = T;
  using in_shape = InShape;
  static constexpr std::size_t steps = InShape::dims[0], In = InShape::last, G = Cell::gates;
  using out_shape = shape<steps, H>;
  using parameters = recurrent_parameters<T, In, H, G>;
  using cell = Cell;
  static constexpr std::size_t in_size = in_shape::size, out_size = out_shape::size, hidden_size = H;
  static constexpr std::size_t gs = parameters::gate_stride, hp = padded<T>(H), ip = padded<T>(In);
  static constexpr std::size_t ga = parameters::dims::gates_aligned;  // a step's gates, gate-aligned
  static constexpr bool has_cell_state = Cell::has_cell_state;

  template <std::size_t B>
  static constexpr layout data_layout = layout::vectors;

  /// What the forward keeps: each step's gates (gate-aligned) and extra vector (B·Steps of each),
  /// the initial state when one is given (tg::recurrent_state), and whether it is.
  template <std::size_t B>
  struct cache {
    cache() noexcept {}
    detail::buffer<T, B * steps * ga> gates;
    detail::buffer<T, Cell::has_extra ? B * steps * hp : 1> extra;
    detail::buffer<T, B * hp> h0;
    detail::buffer<T, has_cell_state ? B * hp : 1> c0;
    bool from_state = false;  // else the initial state is zero
  };

  // Scratch: forward [zeros]; backward [gate-aligned gradients of the 4 blocks | the same
  // gate-contiguous | dh | dc | zeros].
  static constexpr std::size_t zeros_size = std::max(ip, hp);
  static constexpr std::size_t grad_rows = In + H + 2;
  template <std::size_t B>
  static constexpr std::size_t scratch_size = grad_rows * (ga + gs) + 2 * hp + zeros_size;

  /// Its entry in a weight file's architecture string.
  static std::string describe() { return Spec::name() + "<" + std::to_string(H) + ">"; }

  /// PyTorch's initialisation: every parameter from U(−1/√H, 1/√H) (fan_in = H), state_dict order.
  template <initializer Init>
  static void initialize(parameters& p, const Init& init, random_engine& rng) noexcept {
    const double fan_in = double(H), fan_out = double(G * H);
    for (std::size_t r = 0; r < G * H; ++r)
      for (std::size_t c = 0; c < In; ++c) p.weight_ih(r, c) = static_cast<T>(init.weight(rng, fan_in, fan_out));
    for (std::size_t r = 0; r < G * H; ++r)
      for (std::size_t c = 0; c < H; ++c) p.weight_hh(r, c) = static_cast<T>(init.weight(rng, fan_in, fan_out));
    for (std::size_t r = 0; r < G * H; ++r) p.bias_ih(r) = static_cast<T>(init.bias(rng, fan_in, fan_out));
    for (std::size_t r = 0; r < G * H; ++r) p.bias_hh(r) = static_cast<T>(init.bias(rng, fan_in, fan_out));
  }

  template <std::size_t B, pass Pass>
  static void forward(const parameters& p, const T* x, cache<B>& c, T* y, T* scratch) noexcept {
    T* zeros = scratch;
    std::fill_n(zeros, zeros_size, T(0));
    for (std::size_t b = 0; b < B; ++b) {
      const T* xb = x + b * steps * ip;
      T* yb = y + b * steps * hp;
      T* ab = c.gates.data + b * steps * ga;
      T* eb = Cell::has_extra ? c.extra.data + b * steps * hp : nullptr;
      const T* h_prev = c.from_state ? c.h0.data + b * hp : zeros;
      const T* c_prev = has_cell_state && c.from_state ? c.c0.data + b * hp : zeros;
      for (std::size_t t = 0; t < steps; ++t) {
        T* e = Cell::has_extra ? eb + t * hp : nullptr;
        simd::cell_forward<Cell, T, In, H, true>(p.wih_, p.bih_, p.whh_, p.bhh_, xb + t * ip, h_prev, c_prev,
                                                 yb + t * hp, nullptr, e, ab + t * ga);
        h_prev = yb + t * hp;
        if constexpr (has_cell_state) c_prev = e;
      }
    }
  }

  // ---- One step at a time (typegrad::stream): the same step as forward, h (and c) kept ----
  static constexpr stream_role streams_as = stream_role::sequence;
  static constexpr bool stream_reads_unpadded_input = true;  // x_t only as scalars
  struct stream_state {
    alignas(alignment) T h[hp] = {};
    alignas(alignment) T c[has_cell_state ? hp : 1] = {};
  };
  // Scratch: the extra vector of a GRU.
  static constexpr std::size_t stream_scratch_size = hp;

  static void stream_step(const parameters& p, stream_state& s, const T* x, T* y, T* scratch) noexcept {
    // h (and the LSTM's c) are updated in place and h is written to y from the same registers.
    simd::cell_forward<Cell, T, In, H, false>(p.wih_, p.bih_, p.whh_, p.bhh_, x, s.h, s.c, s.h, y,
                                              has_cell_state ? s.c : scratch, nullptr);
  }

  template <std::size_t B, bool NeedDx, bool ActivationDone, class Update>
  static void backward(parameters& p, const T* x, const cache<B>& c, const T* y, T* dy, T* dx, T* scratch,
                       Update& update) noexcept {
    static_assert(!ActivationDone, "typegrad: no loss fuses a recurrent layer's activation");
    // The gradients are summed gate-aligned over all steps and samples, then moved once into the
    // weights' layout for the update.
    const simd::gate_gradients<T> grad{scratch, scratch + In * ga, scratch + (In + H) * ga, scratch + (In + H + 1) * ga};
    T* contiguous = scratch + grad_rows * ga;
    T* dh = contiguous + grad_rows * gs;
    T* dc = dh + hp;
    T* zeros = dc + hp;
    std::fill_n(scratch, grad_rows * ga, T(0));
    std::fill_n(zeros, zeros_size, T(0));
    for (std::size_t b = 0; b < B; ++b) {
      const T* xb = x + b * steps * ip;
      const T* yb = y + b * steps * hp;
      T* dyb = dy + b * steps * hp;
      const T* ab = c.gates.data + b * steps * ga;
      const T* eb = Cell::has_extra ? c.extra.data + b * steps * hp : nullptr;
      const T* h0 = c.from_state ? c.h0.data + b * hp : zeros;
      const T* c0 = has_cell_state && c.from_state ? c.c0.data + b * hp : zeros;
      std::fill_n(dh, hp, T(0));
      std::fill_n(dc, hp, T(0));
      for (std::size_t t = steps; t-- > 0;) {
        const T* h_prev = t > 0 ? yb + (t - 1) * hp : h0;
        const T* c_prev = has_cell_state ? (t > 0 ? eb + (t - 1) * hp : c0) : nullptr;
        simd::cell_backward<Cell, T, In, H, NeedDx>(p.wih_, p.whh_, ab + t * ga, Cell::has_extra ? eb + t * hp : nullptr,
                                                    xb + t * ip, h_prev, c_prev, yb + t * hp, dyb + t * hp, dh, dc,
                                                    NeedDx ? dx + (b * steps + t) * ip : nullptr, grad);
      }
    }
    simd::gates_to_contiguous<T, grad_rows, gs, H, G>(scratch, contiguous);
    simd::update_block<T, 0, In * gs>(p.wih_, contiguous, update);
    simd::update_block<T, 1, H * gs>(p.whh_, contiguous + In * gs, update);
    simd::update_block<T, 2, gs>(p.bih_, contiguous + (In + H) * gs, update);
    simd::update_block<T, 3, gs>(p.bhh_, contiguous + (In + H + 1) * gs, update);
  }
};

template <class T, class InShape, std::size_t Index, class Spec, std::size_t H, class Cell>
struct recurrent_bind {
  static constexpr bool ok = recurrent_input_not_a_sequence<Index, Spec, InShape>::value && InShape::rank == 2;
  using type = recurrent_layer<T, std::conditional_t<ok, InShape, shape<1, InShape::size>>, H, Cell, Spec>;
};

}  // namespace detail

/// An Elman recurrent layer (PyTorch's nn.RNN, batch_first, nonlinearity Act): over an input of
/// shape (Steps, F) it gives every hidden state, shape (Steps, Hidden),
/// h_t = Act(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh), h_{−1} = 0 unless a recurrent_state gives it.
template <std::size_t Hidden, class Act = tanh>
struct rnn {
  static_assert(Hidden > 0, "typegrad::rnn<Hidden, Act>: Hidden must be at least 1");
  static_assert(
      activation_function<Act> && requires { requires Act::is_elementwise; },
      "typegrad::rnn<Hidden, Act>: Act must be an element-wise activation (typegrad::tanh, typegrad::relu)");
  static constexpr std::size_t hidden_size = Hidden;
  static std::string name() {
    return std::is_same_v<Act, tanh> ? "rnn" : std::is_same_v<Act, relu> ? "rnn_relu" : "rnn_custom";
  }
  template <class T, class InShape, std::size_t Index>
  using bind = typename detail::recurrent_bind<T, InShape, Index, rnn, Hidden, simd::rnn_cell<Act>>::type;
};

/// A gated recurrent unit layer (PyTorch's nn.GRU, batch_first): (Steps, F) → (Steps, Hidden),
/// gates r|z|n with b_hn inside the reset product, as PyTorch computes it.
template <std::size_t Hidden>
struct gru {
  static_assert(Hidden > 0, "typegrad::gru<Hidden>: Hidden must be at least 1");
  static constexpr std::size_t hidden_size = Hidden;
  static std::string name() { return "gru"; }
  template <class T, class InShape, std::size_t Index>
  using bind = typename detail::recurrent_bind<T, InShape, Index, gru, Hidden, simd::gru_cell>::type;
};

/// A long short-term memory layer (PyTorch's nn.LSTM, batch_first): (Steps, F) → (Steps, Hidden),
/// gates i|f|g|o; the cell state c stays inside the layer.
template <std::size_t Hidden>
struct lstm {
  static_assert(Hidden > 0, "typegrad::lstm<Hidden>: Hidden must be at least 1");
  static constexpr std::size_t hidden_size = Hidden;
  static std::string name() { return "lstm"; }
  template <class T, class InShape, std::size_t Index>
  using bind = typename detail::recurrent_bind<T, InShape, Index, lstm, Hidden, simd::lstm_cell>::type;
};

}  // namespace typegrad

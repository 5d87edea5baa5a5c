// stream<Net>: a network run one time step at a time, every recurrent layer's state and every causal
// convolution's past kept inside (or, for a network of dense layers, one sample at a time).
#pragma once

#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>

#include <boost/hana/at.hpp>
#include <boost/hana/ext/std/tuple.hpp>
#include <boost/hana/for_each.hpp>
#include <boost/hana/range.hpp>

#include <typegrad/core/config.hpp>
#include <typegrad/core/tensor.hpp>
#include <typegrad/layers/layer.hpp>
#include <typegrad/network/network.hpp>
#include <typegrad/simd/stream.hpp>

namespace typegrad {

namespace detail {

/// Where the time axis lies in the values between two layers: value k of step t is at index
/// t·time_stride + k·feature_stride of a sample (a whole sample per call: one step). `free` until
/// a layer fixes it (only reshapes and transposes may come before that layer).
struct step_axis {
  bool free = true, valid = true;
  std::size_t steps = 0, width = 0, time_stride = 0, feature_stride = 0;
  friend constexpr bool operator==(const step_axis&, const step_axis&) = default;
};
constexpr step_axis whole_sample(std::size_t n) noexcept { return {false, true, 1, n, 0, 1}; }
constexpr step_axis time_first(std::size_t steps, std::size_t f) noexcept { return {false, true, steps, f, f, 1}; }
constexpr step_axis time_last(std::size_t c, std::size_t steps) noexcept { return {false, true, steps, c, 1, steps}; }
inline constexpr step_axis mixed_steps{false, false};

template <class L>
concept streaming_layer = requires {
  { L::streams_as } -> std::convertible_to<stream_role>;
};

/// Whether layer L runs code per step (else it only relabels the values: reshapes, transposes).
template <class L>
inline constexpr bool runs_per_step = [] {
  if constexpr (streaming_layer<L>)
    return L::streams_as == stream_role::sequence || L::streams_as == stream_role::channels ||
           L::streams_as == stream_role::whole;
  else
    return false;
}();

/// The time axis streaming layer L needs at its input (free: it takes what comes), and the one
/// it gives after `in`.
template <class L>
struct step_axes {
  using in_shape = typename L::in_shape;
  using out_shape = typename L::out_shape;
  static constexpr stream_role role = L::streams_as;

  static constexpr step_axis wanted = [] {
    if constexpr (role == stream_role::reshape || role == stream_role::transpose)
      return step_axis{};
    else if constexpr (role == stream_role::whole)
      return in_shape::rank == 1 ? whole_sample(in_shape::size) : mixed_steps;
    else if constexpr (in_shape::rank != 2)
      return mixed_steps;
    else if constexpr (role == stream_role::channels)
      return time_last(in_shape::dims[0], in_shape::last);
    else
      return time_first(in_shape::dims[0], in_shape::last);  // sequence, last_step
  }();

  static constexpr step_axis given = [] {
    if constexpr (role == stream_role::whole || role == stream_role::last_step)
      return whole_sample(out_shape::size);
    else if constexpr (out_shape::rank != 2)
      return mixed_steps;
    else if constexpr (role == stream_role::channels)
      return time_last(out_shape::dims[0], out_shape::last);
    else
      return time_first(out_shape::dims[0], out_shape::last);  // sequence
  }();

  static constexpr step_axis after(step_axis in) noexcept {
    if (!in.valid) return in;
    if constexpr (role == stream_role::reshape) {
      return in;  // the same values at the same indices
    } else if constexpr (role == stream_role::transpose) {
      // (A, C) → (C, A): index i·C + j moves to j·A + i, so time first becomes time last.
      constexpr std::size_t A = in_shape::dims[0], C = in_shape::last;
      if (in.free) return in;
      if (in == time_first(A, C)) return time_last(C, A);
      if (in == time_last(A, C)) return time_first(C, A);
      return mixed_steps;
    } else {
      if (!wanted.valid || (!in.free && !(in == wanted))) return mixed_steps;
      return given;
    }
  }
};

/// Instantiated only to report a layer that has no step-by-step form.
template <std::size_t LayerIndex, class Layer>
struct layer_cannot_stream {
  static_assert(streaming_layer<Layer>,
                "typegrad::stream: layer LayerIndex (Layer) cannot run one step at a time: pooling, batch norm, "
                "global pooling, combinators and convolutions other than a causal conv1d with stride 1 need the "
                "whole window (see layer_cannot_stream<LayerIndex, Layer>)");
  static constexpr bool value = true;
};

/// Instantiated only to report a layer whose input's time axis is not the one it steps along.
template <std::size_t LayerIndex, class Layer>
struct layer_mixes_time_steps {
  static_assert(LayerIndex == std::size_t(-1),
                "typegrad::stream: layer LayerIndex (Layer) would mix time steps: its input is not laid out as it "
                "steps (a dense after flattening a sequence, a conv1d on a (Steps, F) sequence without transpose, "
                "a per-step layer after a whole-sample one) (see layer_mixes_time_steps<LayerIndex, Layer>)");
  static constexpr bool value = true;
};

template <class L>
inline constexpr bool stream_reads_unpadded_input = [] {
  if constexpr (requires { L::stream_reads_unpadded_input; })
    return bool(L::stream_reads_unpadded_input);
  else
    return false;
}();

template <class L>
constexpr step_axis wanted_axis() noexcept {
  if constexpr (streaming_layer<L>)
    return step_axes<L>::wanted;
  else
    return mixed_steps;
}

struct no_stream_state {};

template <class L>
struct stream_state_of {
  using type = no_stream_state;
};
template <class L>
requires runs_per_step<L>
struct stream_state_of<L> {
  using type = typename L::stream_state;
};

template <class L>
inline constexpr std::size_t stream_scratch_of = [] {
  if constexpr (runs_per_step<L>)
    return std::size_t(L::stream_scratch_size);
  else
    return std::size_t{0};
}();

}  // namespace detail

/// A network run one time step at a time: `stream s{net};` then `y_t = s(x_t)` per step, with
/// x_t one step's features (a vector of step_in_size) and y_t that step's output (step_out_size).
/// Every recurrent layer's h (and c) and every causal conv1d's last (K − 1)·D inputs are kept
/// inside, sized at compile time; `reset()` starts a new sequence (zero state, as a window
/// forward starts). Running a sequence through it step by step gives the outputs of the network's
/// forward over the whole sequence at once. A network of dense layers streams whole samples:
/// each call is one sample in, one out. Steps allocate nothing and are noexcept.
///
/// It keeps a pointer to `net`, not a copy: weights changed between steps (online learning) are
/// used from the next step on; `net` must outlive the stream.
///
///     tg::stream s{net};
///     for (float v : samples) out.push_back(s(tg::vector<float, 1>{v})[0]);
template <network_type Net>
class stream {
  using T = typename Net::value_type;
  static constexpr std::size_t depth = Net::depth;
  template <std::size_t I>
  using layer_t = typename Net::template layer_t<I>;

  static constexpr bool all_stream = []<std::size_t... I>(std::index_sequence<I...>) {
    return (detail::layer_cannot_stream<I, layer_t<I>>::value && ...) && (detail::streaming_layer<layer_t<I>> && ...);
  }
  (std::make_index_sequence<depth>{});

  template <std::size_t I>
  static constexpr detail::step_axis axis_after(detail::step_axis in) noexcept {
    if constexpr (detail::streaming_layer<layer_t<I>>)
      return detail::step_axes<layer_t<I>>::after(in);
    else
      return detail::mixed_steps;
  }
  /// axes[I]: the time axis at layer I's input; axes[depth]: at the network's output.
  static constexpr auto axes = [] {
    std::array<detail::step_axis, depth + 1> a{};
    [&]<std::size_t... I>(std::index_sequence<I...>) { ((a[I + 1] = axis_after<I>(a[I])), ...); }
    (std::make_index_sequence<depth>{});
    return a;
  }();
  // The first layer where the axis stops being valid is the one reported.
  static constexpr bool steps_ok = []<std::size_t... I>(std::index_sequence<I...>) {
    return (std::conditional_t < all_stream && axes[I].valid && !axes[I + 1].valid,
            detail::layer_mixes_time_steps<I, layer_t<I>>, std::true_type > ::value && ...) &&
           axes[depth].valid;
  }
  (std::make_index_sequence<depth>{});
  static_assert(!all_stream || !steps_ok || !axes[depth].free,
                "typegrad::stream<Net>: no layer of Net runs per step (it has only reshapes and transposes)");

  /// The first layer that fixes the time axis: its wanted width is what one step brings in.
  static constexpr std::size_t in_width = [] {
    std::size_t w = 0;
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      ((w = w == 0 && !detail::wanted_axis<layer_t<I>>().free ? detail::wanted_axis<layer_t<I>>().width : w), ...);
    }
    (std::make_index_sequence<depth>{});
    return w == 0 ? 1 : w;
  }();

  /// Whether the first layer that runs reads x_t as scalars: it then reads the caller's x_t.
  static constexpr bool reads_caller_input = []<std::size_t... I>(std::index_sequence<I...>) {
    std::size_t first = depth;
    ((first = first == depth && detail::runs_per_step<layer_t<I>> ? I : first), ...);
    bool reads = false;
    ((reads = I == first ? detail::stream_reads_unpadded_input<layer_t<I>> : reads), ...);
    return reads;
  }
  (std::make_index_sequence<depth>{});

  template <std::size_t I>
  static constexpr std::size_t out_buffer = detail::runs_per_step<layer_t<I>>&& axes[I + 1].width > 0
                                                ? padded<T>(axes[I + 1].width)
                                                : 1;

  template <class Seq>
  struct storage;
  template <std::size_t... I>
  struct storage<std::index_sequence<I...>> {
    using states = std::tuple<typename detail::stream_state_of<layer_t<I>>::type...>;
    using outputs = std::tuple<detail::buffer<T, out_buffer<I>>...>;
    static constexpr std::size_t scratch = std::max({std::size_t{1}, detail::stream_scratch_of<layer_t<I>>...});
  };
  using storage_t = storage<std::make_index_sequence<depth>>;

 public:
  using value_type = T;
  /// Values of one step in (a step's features) and out (a step's output).
  static constexpr std::size_t step_in_size = in_width, step_out_size = std::max<std::size_t>(1, axes[depth].width);

  explicit stream(const Net& net) noexcept : net_(&net) {}
  /// It would point to a temporary: keep the network in a variable.
  explicit stream(const Net&&) = delete;

  /// Zero state: the next step is the first of a new sequence.
  void reset() noexcept { states_ = typename storage_t::states{}; }

  /// One step: x_t (step_in_size values) in, y_t (step_out_size values) out.
  void step(const T* x_t, T* y_t) noexcept {
    const T* x = x_t;
    if constexpr (!reads_caller_input) {
      simd::load_padded<T, step_in_size>(x_t, input_.data);
      x = input_.data;
    }
    std::copy_n(run(x), step_out_size, y_t);
  }
  vector<T, step_out_size> operator()(const vector<T, step_in_size>& x_t) noexcept {
    vector<T, step_out_size> y;
    step(x_t.data(), y.data());
    return y;
  }
  vector<T, step_out_size> step(const vector<T, step_in_size>& x_t) noexcept { return (*this)(x_t); }

  /// The network it runs.
  const Net& network() const noexcept { return *net_; }

 private:
  // Each stepping layer writes its own padded output; the others pass their input on.
  const T* run(const T* x) noexcept {
    hana::for_each(hana::make_range(hana::size_c<0>, hana::size_c<depth>), [&](auto I) {
      constexpr std::size_t i = decltype(I)::value;
      if constexpr (detail::runs_per_step<layer_t<i>>) {
        T* y = hana::at_c<i>(outputs_).data;
        layer_t<i>::stream_step(get<i>(net_->parameters()), hana::at_c<i>(states_), x, y, scratch_.data);
        x = y;
      }
    });
    return x;
  }

  const Net* net_;
  typename storage_t::states states_{};
  typename storage_t::outputs outputs_;
  detail::buffer<T, storage_t::scratch> scratch_;
  detail::buffer<T, reads_caller_input ? 1 : padded<T>(in_width)> input_;
};

}  // namespace typegrad

// The layer concept: what every layer kind (dense, convolution, pooling, reshapes, normalisation,
// and later recurrent layers and combinators) gives the network, and the pieces they share.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <type_traits>

#include <typegrad/core/config.hpp>
#include <typegrad/core/init.hpp>
#include <typegrad/core/random.hpp>
#include <typegrad/core/shape.hpp>

namespace typegrad {

/// How a batch of B samples of one shape lies in a buffer between two layers. Each layer picks
/// the layout its kernels like for a given B; the network converts only where neighbours differ.
enum class layout {
  /// [B][padded(size)]: each sample's values in PyTorch order, padded to whole registers (zero).
  rows,
  /// [B][outer][padded(last)]: each vector along the last axis padded (nn.Linear on a sequence).
  /// For a rank-1 shape it is the same memory as rows.
  vectors,
  /// [size][padded(B)]: feature-major, the samples of one value side by side (batched GEMMs).
  features,
};

/// Which forward pass runs: training (what gradient, train_step and loss_value use: batch
/// statistics, what the backward needs kept) or inference (net(x), predict: running statistics).
enum class pass { inference, training };

/// How a layer runs one time step at a time inside typegrad::stream (its optional `streams_as`).
/// A layer without one cannot stream (pooling, batch norm, a non-causal or strided convolution).
enum class stream_role {
  /// (Steps, F) → (Steps, F'), time first: stream_step maps one step's F values to F' (rnn, gru,
  /// lstm, dense on a sequence).
  sequence,
  /// (C, L) → (C', L), time last: stream_step maps one step's C channel values to C' (causal conv1d).
  channels,
  /// (N) → (N'): every call is a whole sample (dense on features).
  whole,
  /// The same values in the same order (flatten, unflatten): nothing to run.
  reshape,
  /// (A, C) → (C, A): moves the time axis, a step's values stay as they are: nothing to run.
  transpose,
  /// (Steps, F) → (F): each step's output is what the sequence would give if it ended there.
  last_step,
};

/// Number of scalars a buffer of B samples of Shape takes in layout L.
template <class T, std::size_t B, class Shape, layout L>
inline constexpr std::size_t layout_size = L == layout::rows      ? B * padded<T>(Shape::size)
                                           : L == layout::vectors ? B * Shape::outer * padded<T>(Shape::last)
                                                                  : Shape::size * padded<T>(B);

/// True when layouts A and B of Shape are the same memory (no conversion between them).
template <class Shape, layout A, layout B>
inline constexpr bool same_layout = A == B || (A != layout::features && B != layout::features && Shape::outer == 1);

namespace detail {

/// A stack buffer that is never zero-filled: every kernel writes what it later reads.
template <class T, std::size_t N>
struct buffer {
  // User-provided, so that value-initialisation leaves the storage alone (zero-filling the
  // workspace was a memset per step). hana::tuple still zero-fills its whole storage before
  // constructing its members, so the workspace holds its buffers in std::tuple.
  buffer() noexcept {}
  alignas(alignment) T data[N];
};

}  // namespace detail

/// The parameter block of a layer without parameters (reshapes, pooling): `get<I>(net)` still
/// indexes such a layer, and its block has no values.
template <class T>
struct no_parameters {
  using value_type = T;
  static constexpr std::size_t parameter_blocks = 0;
  static constexpr std::size_t count() noexcept { return 0; }
  template <class F>
  constexpr void for_each(F&&) const noexcept {}
  template <class F>
  constexpr void for_each_tensor(F&&) const noexcept {}
  friend constexpr bool operator==(const no_parameters&, const no_parameters&) noexcept = default;
};

/// A layer's parameters (also the type of its gradient and of each optimizer state buffer):
/// `parameter_blocks` trainable blocks P, each `data(param_c<P>)` of `padded_size(param_c<P>)`
/// scalars (zero in the padding) that optimizers sweep register by register; `count()` real
/// values; `for_each(f(block, row, col, value&))` over them (a weight seen as [out, rest]); `==`.
template <class P>
concept parameter_block = std::is_default_constructible_v<P> && requires(P& p, const P& c) {
  typename P::value_type;
  { P::parameter_blocks } -> std::convertible_to<std::size_t>;
  { P::count() } -> std::convertible_to<std::size_t>;
  { c == c } -> std::convertible_to<bool>;
};

namespace detail {

/// What the concept's backward check hands a layer as its optimizer.
struct update_archetype {
  static constexpr bool writes_parameters = true;
  template <class P, class V>
  V update(P, std::size_t, const V& w, const V&) noexcept {
    return w;
  }
};

template <class L>
concept has_layer_types = requires {
  typename L::value_type;
  typename L::in_shape;
  typename L::out_shape;
  typename L::parameters;
};
template <class L>
concept has_layer_layout = requires {
  { L::template data_layout<1> } -> std::convertible_to<layout>;
  { L::template scratch_size<1> } -> std::convertible_to<std::size_t>;
  typename L::template cache<1>;
};
template <class L>
concept has_layer_forward = requires(const typename L::parameters& p, const typename L::value_type* x,
                                     typename L::template cache<1>& c, typename L::value_type* y) {
  L::template forward<1, pass::training>(p, x, c, y, y);
  L::template forward<1, pass::inference>(p, x, c, y, y);
};
template <class L>
concept has_layer_backward = requires(typename L::parameters& p, const typename L::value_type* x,
                                      const typename L::template cache<1>& c, typename L::value_type* y,
                                      update_archetype& u) {
  L::template backward<1, true, false>(p, x, c, x, y, y, y, u);
};

}  // namespace detail

/// A layer as the network sees it: a layer spec (`dense<16, relu>`, `conv1d<8, 3>`) bound by its
/// `bind<T, InShape, Index>` to a scalar type, an input shape and its position. Required:
///
///     value_type, in_shape, out_shape                     scalar type and shapes (shape<...>)
///     in_size, out_size                                   in_shape::size, out_shape::size
///     parameters                                          a parameter_block (no_parameters<T> if none)
///     template <size_t B> data_layout                     the layout of its input and output for B samples
///     template <size_t B> cache                           what forward keeps for backward (a struct
///                                                         with a user-provided constructor: never zeroed)
///     template <size_t B> scratch_size                    scalars of scratch it needs (shared by all layers)
///     forward<B, Pass>(params, x, cache, y, scratch)      writes all of y, padding zero; noexcept
///     backward<B, NeedDx, ActivationDone>(params, x, cache, y, dy, dx, scratch, update)
///         dy: dL/dy (may be overwritten); dx: dL/dx to write when NeedDx (all of it, padding zero);
///         every parameter register goes through update.update(param_c<P>, offset, w, g) once, after
///         dx no longer needs the old value; ActivationDone: dy already is dL/dz (loss-fused).
///
/// Optional: `initialize(params, init, rng)`; `activation_type` (lets a loss fuse the last
/// activation); `reads_unpadded_input` (a first layer in rows layout reads the caller's rows
/// in_size apart); `update_running_statistics<B>(params, cache)` (called once per training step,
/// after the forward pass, e.g. batch norm's running mean and variance); `inference_differs` (its
/// forward depends on the pass, so fit keeps a separate inference copy); for weight files,
/// `modules` (its nn.Sequential module count), and a parameter block's `for_each_tensor`; for
/// typegrad::stream, `streams_as` (a stream_role) and, for sequence, channels and whole, a
/// `stream_state` (zero-initialised aggregate: h, c, a ring buffer), `stream_scratch_size`,
/// `stream_step(params, stream_state&, x_t, y_t, scratch)` (one step's padded vectors, y_t all
/// written, padding zero; noexcept) and `stream_reads_unpadded_input` (x_t read as scalars only).
template <class L>
concept layer = detail::has_layer_types<L> && detail::has_layer_layout<L> && parameter_block<typename L::parameters> &&
                detail::has_layer_forward<L> && detail::has_layer_backward<L>;

namespace detail {

/// Instantiated only to explain why a bound layer is not a typegrad::layer: one message per
/// missing piece, naming the layer's index and spec.
template <std::size_t LayerIndex, class Spec, class L>
constexpr bool explain_layer() {
  static_assert(has_layer_types<L>,
                "typegrad::layer: layer LayerIndex (Spec) lacks value_type, in_shape, out_shape or parameters");
  if constexpr (has_layer_types<L>) {
    static_assert(shape_type<typename L::in_shape> && shape_type<typename L::out_shape>,
                  "typegrad::layer: layer LayerIndex (Spec): in_shape and out_shape must be typegrad::shape<...>");
    static_assert(parameter_block<typename L::parameters>,
                  "typegrad::layer: layer LayerIndex (Spec): parameters is not a parameter block (value_type, "
                  "parameter_blocks, count(), ==); use typegrad::no_parameters<T> for none");
    static_assert(has_layer_layout<L>,
                  "typegrad::layer: layer LayerIndex (Spec) lacks template <size_t B> data_layout, scratch_size or cache");
    if constexpr (has_layer_layout<L>) {
      static_assert(has_layer_forward<L>,
                    "typegrad::layer: layer LayerIndex (Spec) lacks a static forward<B, Pass>(params, x, cache, y, scratch)");
      static_assert(has_layer_backward<L>,
                    "typegrad::layer: layer LayerIndex (Spec) lacks a static backward<B, NeedDx, ActivationDone>(params, "
                    "x, cache, y, dy, dx, scratch, update)");
    }
  }
  return layer<L>;
}

template <class L>
inline constexpr bool reads_unpadded_input = [] {
  if constexpr (requires { L::reads_unpadded_input; }) return bool(L::reads_unpadded_input);
  else return false;
}();

template <class L>
inline constexpr bool inference_differs = [] {
  if constexpr (requires { L::inference_differs; }) return bool(L::inference_differs);
  else return false;
}();

template <class L>
inline constexpr bool has_parameters = L::parameters::count() > 0;

}  // namespace detail

}  // namespace typegrad

// transpose and last_step: parameterless layers that reshape sequences for recurrent layers.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string>
#include <type_traits>

#include <typegrad/core/config.hpp>
#include <typegrad/core/shape.hpp>
#include <typegrad/layers/layer.hpp>

namespace typegrad {

namespace detail {

/// Instantiated only to report a sequence layer whose input is not 2-D.
template <std::size_t LayerIndex, class SequenceLayer, class InputShape>
struct sequence_input_not_2d {
  static_assert(InputShape::rank == 2,
                "typegrad::transpose / last_step: layer LayerIndex (SequenceLayer) needs a 2-D input, (C, L) or "
                "(Steps, Features), but InputShape has another rank "
                "(see sequence_input_not_2d<LayerIndex, SequenceLayer, InputShape>)");
  static constexpr bool value = true;
};

template <std::size_t Index, class Spec, class InShape>
inline constexpr bool sequence_input_ok = sequence_input_not_2d<Index, Spec, InShape>::value&& InShape::rank == 2;

/// (A, C) → (C, A) in rows layout: y[j][i] = x[i][j].
template <class T, std::size_t A, std::size_t C>
struct transpose_layer {
  using value_type = T;
  using in_shape = shape<A, C>;
  using out_shape = shape<C, A>;
  using parameters = no_parameters<T>;
  static constexpr std::size_t in_size = A * C, out_size = A * C;
  template <std::size_t B>
  static constexpr layout data_layout = layout::rows;
  template <std::size_t B>
  struct cache {
    cache() noexcept {}
  };
  template <std::size_t B>
  static constexpr std::size_t scratch_size = 0;
  static std::string describe() { return "transpose"; }
  static constexpr stream_role streams_as = stream_role::transpose;

  template <std::size_t B, pass Pass>
  static void forward(const parameters&, const T* x, cache<B>&, T* y, T*) noexcept {
    swap_axes<B, A, C>(x, y);
  }
  template <std::size_t B, bool NeedDx, bool ActivationDone, class Update>
  static void backward(parameters&, const T*, const cache<B>&, const T*, T* dy, T* dx, T*, Update&) noexcept {
    if constexpr (NeedDx) swap_axes<B, C, A>(dy, dx);
  }

 private:
  template <std::size_t B, std::size_t R, std::size_t K>
  static void swap_axes(const T* __restrict src, T* __restrict dst) noexcept {
    constexpr std::size_t row = padded<T>(R * K);
    for (std::size_t b = 0; b < B; ++b) {
      for (std::size_t i = 0; i < R; ++i)
        for (std::size_t j = 0; j < K; ++j) dst[b * row + j * R + i] = src[b * row + i * K + j];
      std::fill(dst + b * row + R * K, dst + (b + 1) * row, T(0));
    }
  }
};

/// (Steps, F) → (F): the last step of a sequence, in layout::vectors (as a recurrent layer's output).
template <class T, std::size_t Steps, std::size_t F>
struct last_step_layer {
  using value_type = T;
  using in_shape = shape<Steps, F>;
  using out_shape = shape<F>;
  using parameters = no_parameters<T>;
  static constexpr std::size_t in_size = Steps * F, out_size = F, fp = padded<T>(F);
  template <std::size_t B>
  static constexpr layout data_layout = layout::vectors;
  template <std::size_t B>
  struct cache {
    cache() noexcept {}
  };
  template <std::size_t B>
  static constexpr std::size_t scratch_size = 0;
  static std::string describe() { return "last_step"; }
  static constexpr stream_role streams_as = stream_role::last_step;

  template <std::size_t B, pass Pass>
  static void forward(const parameters&, const T* x, cache<B>&, T* y, T*) noexcept {
    for (std::size_t b = 0; b < B; ++b) std::memcpy(y + b * fp, x + (b * Steps + Steps - 1) * fp, fp * sizeof(T));
  }
  template <std::size_t B, bool NeedDx, bool ActivationDone, class Update>
  static void backward(parameters&, const T*, const cache<B>&, const T*, T* dy, T* dx, T*, Update&) noexcept {
    if constexpr (NeedDx) {
      std::fill_n(dx, B * Steps * fp, T(0));
      for (std::size_t b = 0; b < B; ++b) std::memcpy(dx + (b * Steps + Steps - 1) * fp, dy + b * fp, fp * sizeof(T));
    }
  }
};

}  // namespace detail

/// Swaps the two axes of a 2-D shape: a conv1d's (C, L) becomes the (L, C) sequence a recurrent
/// layer reads (PyTorch's x.transpose(1, 2)).
struct transpose {
  template <class T, class InShape, std::size_t Index>
  using bind = std::conditional_t<detail::sequence_input_ok<Index, transpose, InShape>,
                                  detail::transpose_layer<T, InShape::dims[0], InShape::last>,
                                  detail::transpose_layer<T, 1, InShape::size>>;
};

/// Keeps the last step of a (Steps, F) sequence, shape (F): a many-to-one head after a recurrent
/// layer (PyTorch's out[:, -1, :]).
struct last_step {
  template <class T, class InShape, std::size_t Index>
  using bind = std::conditional_t<detail::sequence_input_ok<Index, last_step, InShape>,
                                  detail::last_step_layer<T, InShape::dims[0], InShape::last>,
                                  detail::last_step_layer<T, 1, InShape::size>>;
};

}  // namespace typegrad

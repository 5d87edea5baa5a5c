// flatten and unflatten<Dims...>: reshapes without parameters (PyTorch's nn.Flatten, nn.Unflatten).
#pragma once

#include <cstddef>
#include <cstring>

#include <typegrad/core/shape.hpp>
#include <typegrad/layers/layer.hpp>

namespace typegrad {

namespace detail {

/// A reshape: the same values in the same order under another shape. In rows layout the memory
/// is identical, so forward and backward are copies.
template <class T, class InShape, class OutShape>
struct reshape_layer {
  using value_type = T;
  using in_shape = InShape;
  using out_shape = OutShape;
  using parameters = no_parameters<T>;
  static constexpr std::size_t in_size = InShape::size, out_size = OutShape::size;
  static_assert(in_size == out_size);
  static constexpr stream_role streams_as = stream_role::reshape;
  template <std::size_t B>
  static constexpr layout data_layout = layout::rows;
  template <std::size_t B>
  struct cache {
    cache() noexcept {}
  };
  template <std::size_t B>
  static constexpr std::size_t scratch_size = 0;

  template <std::size_t B, pass Pass>
  static void forward(const parameters&, const T* x, cache<B>&, T* y, T*) noexcept {
    std::memcpy(y, x, layout_size<T, B, OutShape, layout::rows> * sizeof(T));
  }
  template <std::size_t B, bool NeedDx, bool ActivationDone, class Update>
  static void backward(parameters&, const T*, const cache<B>&, const T*, T* dy, T* dx, T*, Update&) noexcept {
    if constexpr (NeedDx) std::memcpy(dx, dy, layout_size<T, B, OutShape, layout::rows> * sizeof(T));
  }
};

/// Instantiated only to report an unflatten whose sizes do not multiply to its input's size.
template <std::size_t LayerIndex, class InputShape, class UnflattenShape>
struct unflatten_size_mismatch {
  static_assert(InputShape::size == UnflattenShape::size,
                "typegrad::unflatten<Dims...>: layer LayerIndex reshapes InputShape into UnflattenShape, but the "
                "sizes differ (see unflatten_size_mismatch<LayerIndex, InputShape, UnflattenShape>)");
  static constexpr bool value = true;
};

}  // namespace detail

/// PyTorch's nn.Unflatten(1, (Dims...)): a flat input (or any shape of the same size) seen as
/// shape<Dims...>, e.g. `input<64>` → `unflatten<1, 8, 8>` for one 8×8 image channel.
template <std::size_t... Dims>
struct unflatten {
  using out_shape = shape<Dims...>;
  template <class T, class InShape, std::size_t Index>
  using bind = std::enable_if_t<detail::unflatten_size_mismatch<Index, InShape, shape<Dims...>>::value,
                                detail::reshape_layer<T, InShape, shape<Dims...>>>;
};

/// PyTorch's nn.Flatten(): every axis of a sample into one, so that dense sees all of it.
struct flatten {
  template <class T, class InShape, std::size_t Index>
  using bind = detail::reshape_layer<T, InShape, shape<InShape::size>>;
};

}  // namespace typegrad

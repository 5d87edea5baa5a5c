// residual<Layers...>: a skip connection around a list of layers, y = x + f(x).
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <type_traits>

#include <typegrad/core/config.hpp>
#include <typegrad/core/shape.hpp>
#include <typegrad/layers/detail/layer_list.hpp>
#include <typegrad/layers/layer.hpp>
#include <typegrad/network/network.hpp>

namespace typegrad {

namespace detail {

/// What a residual body's first layer sees as "the previous layer" in size messages.
template <std::size_t LayerIndex>
struct residual_input {};

/// Instantiated only to report a residual body whose output shape differs from its input's.
template <std::size_t LayerIndex, class InputShape, class BodyOutputShape>
struct residual_shape_mismatch {
  static_assert(
      std::is_same_v<InputShape, BodyOutputShape>,
      "typegrad::residual: layer LayerIndex adds its body's output to its input, but the body maps InputShape "
      "to BodyOutputShape (see residual_shape_mismatch<LayerIndex, InputShape, BodyOutputShape>)");
  static constexpr bool value = true;
};

/// Instantiated only to report a residual without layers.
template <std::size_t LayerIndex>
struct residual_empty_body {
  static_assert(LayerIndex != LayerIndex, "typegrad::residual: layer LayerIndex has no layers in its body");
  static constexpr bool value = true;
};

struct residual_names {
  static constexpr bool flat = true;
  static std::string prefix(std::size_t) { return "body."; }
};

/// A bound residual: the body runs as one inner list (its own workspace in this layer's cache);
/// rows layout in and out.
template <class T, class InShape, class Layers>
struct residual_layer {
  using value_type = T;
  using in_shape = InShape;
  using out_shape = InShape;
  using list = inner_list<T, Layers>;
  static constexpr std::size_t in_size = InShape::size, out_size = InShape::size;
  static constexpr std::size_t stride = padded<T>(in_size);
  using parameters = nested_parameters<T, residual_names, Layers>;
  /// One PyTorch module (Residual: body = nn.Sequential, forward x + body(x)).
  static constexpr std::size_t modules = 1;
  static constexpr bool inference_differs = list_inference_differs<Layers>;

  template <std::size_t B>
  static constexpr layout data_layout = layout::rows;
  template <std::size_t B>
  struct cache {
    cache() noexcept {}
    // Mutable: backward (which gets the cache const, as every layer does) runs the body's pass.
    mutable uninitialized<typename list::template workspace<B>> ws;
    typename list::template rows_buffer<B> rows;
  };
  template <std::size_t B>
  static constexpr std::size_t scratch_size = list::template dx_size<B>;

  static std::string describe() { return "residual<" + describe_list<Layers>() + ">"; }

  template <initializer Init>
  static void initialize(parameters& p, const Init& init, random_engine& rng) noexcept {
    initialize_list<Layers>(p.template list<0>(), init, rng);
  }

  template <std::size_t B, pass Pass>
  static void forward(const parameters& p, const T* x, cache<B>& c, T* y, T*) noexcept {
    auto& ws = c.ws.value;
    list::template load_input<B, stride>(x, ws, c.rows);
    list::pass::template forward<B, Pass>(p.template list<0>(), ws);
    simd::convert_layout<T, B, InShape, list::template out_layout<B>, layout::rows>(list::output(ws), y);
    for (std::size_t k = 0; k < B * stride; ++k) y[k] += x[k];  // the skip path (padding: 0 + 0)
  }

  template <std::size_t B>
  static void update_running_statistics(parameters& p, const cache<B>& c) noexcept {
    list::pass::template update_running_statistics<B>(p.template list<0>(), c.ws.value);
  }

  /// dL/dy goes down the body; dL/dx = dL/dy (the skip path) + the body's input gradient.
  template <std::size_t B, bool NeedDx, bool ActivationDone, class Update>
  static void backward(parameters& p, const T*, const cache<B>& c, const T*, T* dy, T* dx, T* scratch,
                       Update& update) noexcept {
    if constexpr (NeedDx || list_has_parameters<Layers>) {
      auto& ws = c.ws.value;
      simd::convert_layout<T, B, InShape, layout::rows, list::template out_layout<B>>(dy, list::output_gradient(ws));
      list_update<parameters, 0, Update> inner{&update};
      list::pass::template backward<B, false, NeedDx>(p.template list<0>(), ws, inner, NeedDx ? scratch : nullptr);
      if constexpr (NeedDx) {
        simd::convert_layout<T, B, InShape, list::template in_layout<B>, layout::rows>(scratch, dx);
        for (std::size_t k = 0; k < B * stride; ++k) dx[k] += dy[k];
      }
    }
  }
};

template <std::size_t Index, class InShape, class... Specs>
constexpr bool check_residual() {
  if constexpr (sizeof...(Specs) == 0)
    return residual_empty_body<Index>::value;
  else
    return true;
}

template <class T, class InShape, std::size_t Index, class Layers>
using bind_residual =
    std::enable_if_t<residual_shape_mismatch<Index, InShape, typename inner_list<T, Layers>::out_shape>::value,
                     residual_layer<T, InShape, Layers>>;

}  // namespace detail

/// A skip connection: y = x + f(x), f the layers given (its body), e.g.
/// `residual<dense<16, relu>, dense<16>>` or `residual<conv1d<8, 5, relu, padding_same>>`. The
/// body must map its input shape to itself (a compile error names the layer and both shapes).
/// `get<k>(get<I>(net))` is the body's layer k; weight files name it as a PyTorch module with
/// `body = nn.Sequential(...)` would ("2.body.0.weight").
template <class... Specs>
struct residual {
  template <class T, class InShape, std::size_t Index>
  using bind =
      std::enable_if_t<detail::check_residual<Index, InShape, Specs...>(),
                       detail::bind_residual<T, InShape, Index,
                                             detail::bound_list<T, InShape, detail::residual_input<Index>, Specs...>>>;
};

}  // namespace typegrad

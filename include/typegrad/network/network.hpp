// network<input<N>, Layers...>: a whole model as one type; forward and backward are folds over it.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>

#include <boost/hana/at.hpp>
#include <boost/hana/ext/std/tuple.hpp>
#include <boost/hana/for_each.hpp>
#include <boost/hana/range.hpp>
#include <boost/hana/tuple.hpp>

#include <typegrad/core/config.hpp>
#include <typegrad/core/init.hpp>
#include <typegrad/core/shape.hpp>
#include <typegrad/core/tensor.hpp>
#include <typegrad/layers/layer.hpp>
#include <typegrad/simd/kernels.hpp>
#include <typegrad/simd/layout.hpp>

namespace typegrad {

namespace hana = boost::hana;

/// The network's input: N features of scalar type T (float unless stated).
template <std::size_t N, class T = float>
struct input {
  static_assert(N > 0, "typegrad::input<N, T>: N must be at least 1");
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "typegrad::input<N, T>: T must be float or double");
  using value_type = T;
  using out_shape = shape<N>;
  static constexpr std::size_t out_size = N;
};

/// The parameters of every layer of a network (also the type of its gradient and optimizer state).
/// `get<I>(p)` is layer I's block, e.g. `get<0>(p).weight(o, i)`.
template <class... Blocks>
struct network_parameters {
  hana::tuple<Blocks...> blocks;
  static constexpr std::size_t depth = sizeof...(Blocks);
  static constexpr std::size_t count() noexcept { return (Blocks::count() + ... + 0); }
  /// Calls f(layer_index, block, o, i, value&) for every parameter, in layer order.
  template <class F>
  constexpr void for_each(F&& f) {
    hana::for_each(hana::make_range(hana::size_c<0>, hana::size_c<depth>), [&](auto I) {
      hana::at(blocks, I).for_each([&](auto blk, std::size_t o, std::size_t i, auto& v) { f(decltype(I)::value, blk, o, i, v); });
    });
  }
  template <class F>
  constexpr void for_each(F&& f) const {
    hana::for_each(hana::make_range(hana::size_c<0>, hana::size_c<depth>), [&](auto I) {
      hana::at(blocks, I).for_each([&](auto blk, std::size_t o, std::size_t i, const auto& v) { f(decltype(I)::value, blk, o, i, v); });
    });
  }
  friend constexpr bool operator==(const network_parameters& a, const network_parameters& b) {
    bool same = true;
    hana::for_each(hana::make_range(hana::size_c<0>, hana::size_c<depth>),
                   [&](auto I) { same = same && hana::at(a.blocks, I) == hana::at(b.blocks, I); });
    return same;
  }
};

/// Layer I's parameter block.
template <std::size_t I, class... Blocks>
constexpr auto& get(network_parameters<Blocks...>& p) noexcept {
  static_assert(I < sizeof...(Blocks), "typegrad::get<I>: I is past the last layer");
  return hana::at_c<I>(p.blocks);
}
template <std::size_t I, class... Blocks>
constexpr const auto& get(const network_parameters<Blocks...>& p) noexcept {
  static_assert(I < sizeof...(Blocks), "typegrad::get<I>: I is past the last layer");
  return hana::at_c<I>(p.blocks);
}

namespace detail {

/// Instantiated only to report a size mismatch: its template arguments name both layers.
template <std::size_t LayerIndex, class Layer, std::size_t LayerExpectsInputs, class PreviousLayer,
          std::size_t PreviousLayerProducesOutputs>
struct layer_size_mismatch {
  static_assert(LayerExpectsInputs == PreviousLayerProducesOutputs,
                "typegrad::network: layer size mismatch between consecutive layers: layer LayerIndex expects "
                "LayerExpectsInputs inputs but PreviousLayer produces PreviousLayerProducesOutputs outputs "
                "(the values are the template arguments of layer_size_mismatch<...> in this message)");
  static constexpr bool value = true;
};

template <std::size_t Index, class Spec, class Previous, class InShape>
constexpr bool check_link() {
  if constexpr (!requires { Spec::declared_in_size; }) return true;
  else if constexpr (Spec::declared_in_size == 0) return true;  // input size taken from the previous layer
  else return layer_size_mismatch<Index, Spec, Spec::declared_in_size, Previous, InShape::size>::value;
}

/// Instantiated only to report that x does not have the network's input size.
template <std::size_t NetworkInputSize, std::size_t InputHasColumns>
struct input_size_mismatch {
  static_assert(NetworkInputSize == InputHasColumns,
                "typegrad: the input has the wrong number of features: the network's input<NetworkInputSize> "
                "does not match InputHasColumns (see input_size_mismatch<NetworkInputSize, InputHasColumns>)");
  static constexpr bool value = true;
};
template <std::size_t Expected, std::size_t Got>
struct input_fits : std::true_type {};
template <std::size_t Expected, std::size_t Got>
  requires(Expected != Got)
struct input_fits<Expected, Got> : std::bool_constant<input_size_mismatch<Expected, Got>::value> {};

/// A spec's bound layer: `bind<T, InShape, Index>`, or `bind_after<Previous, T, InShape, Index>` for a
/// spec that depends on what precedes it (a parallel right after inputs<...> splits them).
template <class Spec, class Previous, class T, class InShape, std::size_t Index>
struct bind_spec {
  using type = typename Spec::template bind<T, InShape, Index>;
};
template <class Spec, class Previous, class T, class InShape, std::size_t Index>
  requires requires { typename Spec::template bind_after<Previous, T, InShape, Index>; }
struct bind_spec<Spec, Previous, T, InShape, Index> {
  using type = typename Spec::template bind_after<Previous, T, InShape, Index>;
};

/// Binds each spec to the scalar type, the shape the previous layer produces and its index.
template <class T, std::size_t Index, class Previous, class InShape, class... Specs>
struct layer_chain {
  using type = std::tuple<>;
};
template <class T, std::size_t Index, class Previous, class InShape, class Spec, class... Rest>
struct layer_chain<T, Index, Previous, InShape, Spec, Rest...> {
  static_assert(check_link<Index, Spec, Previous, InShape>());
  using layer = typename bind_spec<Spec, Previous, T, InShape, Index>::type;
  static_assert(explain_layer<Index, Spec, layer>());
  using type = decltype(std::tuple_cat(
      std::declval<std::tuple<layer>>(),
      std::declval<typename layer_chain<T, Index + 1, Spec, typename layer::out_shape, Rest...>::type>()));
};

template <class Layers>
struct parameters_of;
template <class... Layers>
struct parameters_of<std::tuple<Layers...>> {
  using type = network_parameters<typename Layers::parameters...>;
};

/// A member the workspace never value-initialises (a layer's cache may hold large buffers).
template <class C>
struct uninitialized {
  uninitialized() noexcept {}
  C value;
};

template <class T, std::size_t B, class Layers, class Seq>
struct workspace_impl;
/// Scratch memory for one forward + backward pass of B samples: each layer's output and its
/// gradient in the layer's layout, what each layer keeps, the input and gradient of a layer
/// converted where its layout differs from its predecessor's, and scratch shared by all layers.
template <class T, std::size_t B, class... Layers, std::size_t... I>
struct workspace_impl<T, B, std::tuple<Layers...>, std::index_sequence<I...>> {
  using layer_list = std::tuple<Layers...>;
  template <std::size_t K>
  using layer_at = std::tuple_element_t<K, layer_list>;
  static constexpr std::size_t depth = sizeof...(Layers);
  template <std::size_t K>
  static constexpr layout layout_of = layer_at<K>::template data_layout<B>;
  /// Whether layer K's input must be converted from layer K − 1's layout.
  template <std::size_t K>
  static constexpr bool converts_input = [] {
    if constexpr (K == 0) return false;
    else return !same_layout<typename layer_at<K>::in_shape, layout_of<K - 1>, layout_of<K>>;
  }();
  using first = layer_at<0>;
  using last = layer_at<depth - 1>;
  /// A first layer in rows layout that reads unpadded rows takes the caller's x in place.
  static constexpr bool reads_caller_rows = layout_of<0> == layout::rows && reads_unpadded_input<first>;
  /// Whether the network output is converted to rows for the loss.
  static constexpr bool converts_output = !same_layout<typename last::out_shape, layout_of<depth - 1>, layout::rows>;
  static constexpr std::size_t scratch_size = std::max({std::size_t{1}, Layers::template scratch_size<B>...});

  buffer<T, reads_caller_rows ? 1 : layout_size<T, B, typename first::in_shape, layout_of<0>>> input;
  const T* x = nullptr;  // the first layer's input: `input`, or the caller's rows
  // std::tuple, not hana::tuple: hana's default constructor value-initialises its storage as a
  // whole, which zero-fills every buffer (a memset of the whole workspace per pass); std::tuple
  // constructs each buffer on its own, and buffer's constructor leaves it alone. (hana::at_c
  // works on both: boost/hana/ext/std/tuple.hpp.)
  std::tuple<buffer<T, layout_size<T, B, typename Layers::out_shape, layout_of<I>>>...> out;   // layer outputs
  std::tuple<buffer<T, layout_size<T, B, typename Layers::out_shape, layout_of<I>>>...> grad;  // dL/d(output)
  std::tuple<uninitialized<typename Layers::template cache<B>>...> cache;
  std::tuple<buffer<T, converts_input<I> ? layout_size<T, B, typename Layers::in_shape, layout_of<I>> : 1>...> in_converted;
  std::tuple<buffer<T, converts_input<I> ? layout_size<T, B, typename Layers::in_shape, layout_of<I>> : 1>...> dx_converted;
  buffer<T, scratch_size> scratch;
  buffer<T, converts_output ? B * padded<T>(last::out_size) : 1> y_rows, dy_rows;  // for the loss
};

// A policy may hand each layer its own updater (optimizer state, gradient sink); else it is shared.
template <std::size_t I, class Update>
constexpr decltype(auto) layer_updater(Update& u) noexcept {
  if constexpr (requires { u.template layer<I>(); }) return u.template layer<I>();
  else return (u);
}

/// Whether any of the first N layers has parameters (else no gradient needs to reach them).
template <class Layers, std::size_t N>
inline constexpr bool parameters_before = [] {
  return []<std::size_t... K>(std::index_sequence<K...>) {
    return (has_parameters<std::tuple_element_t<K, Layers>> || ... || false);
  }(std::make_index_sequence<N>{});
}();

/// The generated passes over a list of bound layers (std::tuple<Layers...>), their parameters
/// (network_parameters of their blocks) and a workspace_impl: what a network runs over its layers
/// and what a combinator (parallel, residual) runs over each inner list, one level down.
template <class T, class Layers>
struct layer_list_pass;
template <class T, class... Layers>
struct layer_list_pass<T, std::tuple<Layers...>> {
  using layers = std::tuple<Layers...>;
  static constexpr std::size_t depth = sizeof...(Layers);
  template <std::size_t I>
  using layer_t = std::tuple_element_t<I, layers>;
  template <std::size_t B>
  using workspace = workspace_impl<T, B, layers, std::make_index_sequence<depth>>;

  template <class F>
  static constexpr void for_each_layer(F&& f) {
    hana::for_each(hana::make_range(hana::size_c<0>, hana::size_c<depth>), f);
  }
  template <std::size_t B, class I>
  static const T* layer_input(const workspace<B>& ws, I) noexcept {
    constexpr std::size_t i = I::value;
    if constexpr (i == 0) return ws.x;
    else if constexpr (workspace<B>::template converts_input<i>) return hana::at_c<i>(ws.in_converted).data;
    else return hana::at_c<i - 1>(ws.out).data;
  }

  /// Every layer's forward pass from ws.x (set by the caller), each output in its layer's layout.
  template <std::size_t B, pass Pass, class Params>
  static void forward(const Params& params, workspace<B>& ws) noexcept {
    using ws_t = workspace<B>;
    for_each_layer([&](auto I) {
      constexpr std::size_t i = decltype(I)::value;
      if constexpr (ws_t::template converts_input<i>)
        simd::convert_layout<T, B, typename layer_t<i>::in_shape, ws_t::template layout_of<i - 1>,
                             ws_t::template layout_of<i>>(hana::at_c<i - 1>(ws.out).data, hana::at_c<i>(ws.in_converted).data);
      layer_t<i>::template forward<B, Pass>(get<i>(params), layer_input(ws, I), hana::at_c<i>(ws.cache).value,
                                            hana::at_c<i>(ws.out).data, ws.scratch.data);
    });
  }

  template <std::size_t B, class Params>
  static void update_running_statistics(Params& params, const workspace<B>& ws) noexcept {
    for_each_layer([&](auto I) {
      constexpr std::size_t i = decltype(I)::value;
      if constexpr (requires { layer_t<i>::template update_running_statistics<B>(get<i>(params), hana::at_c<i>(ws.cache).value); })
        layer_t<i>::template update_running_statistics<B>(get<i>(params), hana::at_c<i>(ws.cache).value);
    });
  }

  /// Every layer's backward pass, last first, from dL/d(output) in the last layer's grad slot (its
  /// layout); see network::backward for LossFusedActivation, InputGradient and the skipped layers.
  template <std::size_t B, bool LossFusedActivation, bool InputGradient, class Params, class Update>
  static void backward(Params& params, workspace<B>& ws, Update& update, T* input_gradient) noexcept {
    using ws_t = workspace<B>;
    for_each_layer([&](auto J) {
      constexpr std::size_t i = depth - 1 - decltype(J)::value;
      if constexpr (InputGradient || parameters_before<layers, i + 1>) {
        constexpr bool need_dx = InputGradient || parameters_before<layers, i>;
        constexpr bool fused = LossFusedActivation && i == depth - 1;
        T* dx = nullptr;
        if constexpr (need_dx) {
          if constexpr (i == 0) dx = input_gradient;
          else if constexpr (ws_t::template converts_input<i>) dx = hana::at_c<i>(ws.dx_converted).data;
          else dx = hana::at_c<i - 1>(ws.grad).data;
        }
        decltype(auto) layer_update = layer_updater<i>(update);
        layer_t<i>::template backward<B, need_dx, fused>(get<i>(params), layer_input(ws, hana::size_c<i>),
                                                         hana::at_c<i>(ws.cache).value, hana::at_c<i>(ws.out).data,
                                                         hana::at_c<i>(ws.grad).data, dx, ws.scratch.data, layer_update);
        if constexpr (i > 0 && need_dx && ws_t::template converts_input<i>)
          simd::convert_layout<T, B, typename layer_t<i>::in_shape, ws_t::template layout_of<i>,
                               ws_t::template layout_of<i - 1>>(dx, hana::at_c<i - 1>(ws.grad).data);
      }
    });
  }
};

/// The network's input type in another scalar type: input<N, U>, or Input::rebind<U> (inputs<...>).
template <class Input, class U>
struct rebind_input {
  using type = input<Input::out_size, U>;
};
template <class Input, class U>
  requires requires { typename Input::template rebind<U>; }
struct rebind_input<Input, U> {
  using type = typename Input::template rebind<U>;
};

}  // namespace detail

/// A feed-forward network. `Input` is `input<N, T>`; each of `Specs` a layer such as `dense<16, relu>`.
/// The object holds nothing but the parameters: sizeof(network) is their size plus alignment.
template <class Input, class... Specs>
class network {
  static_assert(sizeof...(Specs) > 0, "typegrad::network<input<N>, Layers...>: give at least one layer");

 public:
  using value_type = typename Input::value_type;
  using input_type = Input;
  using layers = typename detail::layer_chain<value_type, 0, Input, typename Input::out_shape, Specs...>::type;
  template <std::size_t I>
  using layer_t = std::tuple_element_t<I, layers>;
  static constexpr std::size_t depth = sizeof...(Specs);
  using in_shape = typename Input::out_shape;
  using out_shape = typename layer_t<depth - 1>::out_shape;
  static constexpr std::size_t in_size = in_shape::size;
  static constexpr std::size_t out_size = out_shape::size;
  using parameters_type = typename detail::parameters_of<layers>::type;
  /// Whether some layer computes differently at inference (batch norm's running statistics).
  static constexpr bool inference_differs = []<std::size_t... I>(std::index_sequence<I...>) {
    return (detail::inference_differs<layer_t<I>> || ...);
  }(std::make_index_sequence<depth>{});
  /// Scratch memory for one forward + backward pass of B samples (lives on the caller's stack).
  template <std::size_t B>
  using workspace = typename detail::layer_list_pass<value_type, layers>::template workspace<B>;
  /// The same architecture in another scalar type.
  template <class U>
  using rebind = network<typename detail::rebind_input<Input, U>::type, Specs...>;

  /// PyTorch's nn.Linear initialisation with seed 0.
  network() noexcept : network(init::pytorch_default{}) {}
  template <initializer Init>
  explicit network(const Init& init) noexcept { initialize(init); }

  /// Re-draws every parameter from `init` (deterministic in init.seed).
  template <initializer Init>
  void initialize(const Init& init) noexcept {
    random_engine rng{init.seed};
    for_each_layer([&](auto I) {
      constexpr std::size_t i = decltype(I)::value;
      if constexpr (requires { layer_t<i>::initialize(get<i>(params_), init, rng); })
        layer_t<i>::initialize(get<i>(params_), init, rng);
    });
  }

  /// Inference for one sample (vector<T, N>) or B samples (matrix<T, B, N>, rows = samples).
  template <tensor X>
  auto operator()(const X& x) const noexcept {
    static_assert(std::is_same_v<typename X::value_type, value_type>,
                  "typegrad::network::operator(): x's scalar type differs from the network's");
    static_assert(detail::input_fits<in_size, cols_of<X>>::value);
    if constexpr (requires { x[0]; }) {
      vector<value_type, out_size> y;
      predict<1>(x.data(), y.data());
      return y;
    } else {
      matrix<value_type, rows_of<X>, out_size> y;
      predict<rows_of<X>>(x.data(), y.data());
      return y;
    }
  }

  parameters_type& parameters() noexcept { return params_; }
  const parameters_type& parameters() const noexcept { return params_; }

  /// True when every parameter is a finite number (a diverged run shows up here).
  bool is_finite() const noexcept {
    bool finite = true;
    params_.for_each([&](auto, auto, std::size_t, std::size_t, value_type v) { finite = finite && std::isfinite(v); });
    return finite;
  }

  friend bool operator==(const network& a, const network& b) noexcept { return a.params_ == b.params_; }

  // ---- The generated passes. Public for the training functions; users call train_step etc. ----

  /// Forward pass of B samples (rows of `x`, in_size apart) keeping what the backward needs.
  /// A first layer that reads unpadded rows takes x in place, so x must stay valid until
  /// backward() has run. Pass: training (batch statistics) or inference (running statistics).
  template <std::size_t B, pass Pass = pass::training>
  void forward(workspace<B>& ws, const value_type* x) const noexcept {
    using ws_t = workspace<B>;
    if constexpr (ws_t::reads_caller_rows) {
      ws.x = x;
    } else {
      simd::from_caller_rows<value_type, B, in_shape, ws_t::template layout_of<0>>(x, ws.input.data);
      ws.x = ws.input.data;
    }
    pass_t::template forward<B, Pass>(params_, ws);
    if constexpr (ws_t::converts_output)
      simd::convert_layout<value_type, B, out_shape, ws_t::template layout_of<depth - 1>, layout::rows>(
          hana::at_c<depth - 1>(ws.out).data, ws.y_rows.data);
  }
  /// The layout of the first layer's input for B samples (that of backward's input_gradient).
  template <std::size_t B>
  static constexpr layout input_layout = workspace<B>::template layout_of<0>;
  /// Padded output rows ([B][padded(out_size)]) of the last forward pass, and the slot of the same
  /// shape where the loss writes its gradient.
  template <std::size_t B>
  static const value_type* output(const workspace<B>& ws) noexcept {
    if constexpr (workspace<B>::converts_output) return ws.y_rows.data;
    else return hana::at_c<depth - 1>(ws.out).data;
  }
  template <std::size_t B>
  static value_type* output_gradient(workspace<B>& ws) noexcept {
    if constexpr (workspace<B>::converts_output) return ws.dy_rows.data;
    else return hana::at_c<depth - 1>(ws.grad).data;
  }

  /// Folds what the last training forward pass measured into layers that keep running
  /// statistics (batch norm); train_step and fit call it once per step.
  template <std::size_t B>
  void update_running_statistics(const workspace<B>& ws) noexcept {
    pass_t::template update_running_statistics<B>(params_, ws);
  }

  /// Backward pass from the loss gradient in output_gradient(ws), last layer first; each layer's
  /// parameters go through `update` in the same sweep that produces their gradient. With
  /// LossFusedActivation, the gradient given is already dL/dz of the last layer (the loss
  /// fused the last activation's derivative, e.g. sigmoid + binary cross-entropy). Layers with
  /// no parameters at or before them are skipped: no gradient has to reach them.
  /// With InputGradient, dL/dx of the first layer is written to `input_gradient` (B samples of
  /// in_shape in the first layer's layout, see input_layout) and every layer runs.
  template <std::size_t B, class Update, bool LossFusedActivation = false, bool InputGradient = false>
  void backward(workspace<B>& ws, Update& update, value_type* input_gradient = nullptr) noexcept {
    using ws_t = workspace<B>;
    if constexpr (ws_t::converts_output)
      simd::convert_layout<value_type, B, out_shape, layout::rows, ws_t::template layout_of<depth - 1>>(
          ws.dy_rows.data, hana::at_c<depth - 1>(ws.grad).data);
    pass_t::template backward<B, LossFusedActivation, InputGradient>(params_, ws, update, input_gradient);
  }

 private:
  using pass_t = detail::layer_list_pass<value_type, layers>;
  template <class F>
  static constexpr void for_each_layer(F&& f) {
    hana::for_each(hana::make_range(hana::size_c<0>, hana::size_c<depth>), f);
  }
  template <std::size_t B>
  void predict(const value_type* x, value_type* y) const noexcept {
    workspace<B> ws;
    forward<B, pass::inference>(ws, x);
    simd::unpack_rows<value_type, B, out_size>(output<B>(ws), y);
  }

  parameters_type params_;
};

/// Layer I's parameters: `get<I>(net).weight(o, i)`, `.bias(o)`.
template <std::size_t I, class Input, class... Specs>
constexpr auto& get(network<Input, Specs...>& net) noexcept {
  return get<I>(net.parameters());
}
template <std::size_t I, class Input, class... Specs>
constexpr const auto& get(const network<Input, Specs...>& net) noexcept {
  return get<I>(net.parameters());
}

namespace detail {
template <class N>
struct is_network : std::false_type {};
template <class Input, class... Specs>
struct is_network<network<Input, Specs...>> : std::true_type {};
}  // namespace detail

/// A typegrad::network<...>.
template <class N>
concept network_type = detail::is_network<std::remove_cvref_t<N>>::value;

}  // namespace typegrad

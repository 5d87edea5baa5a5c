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
#include <boost/hana/for_each.hpp>
#include <boost/hana/range.hpp>
#include <boost/hana/tuple.hpp>

#include <typegrad/core/config.hpp>
#include <typegrad/core/init.hpp>
#include <typegrad/core/tensor.hpp>
#include <typegrad/simd/kernels.hpp>

namespace typegrad {

namespace hana = boost::hana;

/// The network's input: N features of scalar type T (float unless stated).
template <std::size_t N, class T = float>
struct input {
  static_assert(N > 0, "typegrad::input<N, T>: N must be at least 1");
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "typegrad::input<N, T>: T must be float or double");
  using value_type = T;
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

template <std::size_t Index, class Spec, class Previous>
constexpr bool check_link() {
  if constexpr (Spec::declared_in_size == 0) return true;  // input size taken from the previous layer
  else return layer_size_mismatch<Index, Spec, Spec::declared_in_size, Previous, Previous::out_size>::value;
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

template <class T, std::size_t Index, class Previous, class... Specs>
struct layer_chain {
  using type = std::tuple<>;
};
template <class T, std::size_t Index, class Previous, class Spec, class... Rest>
struct layer_chain<T, Index, Previous, Spec, Rest...> {
  static constexpr std::size_t in = Previous::out_size;
  static_assert(check_link<Index, Spec, Previous>());
  using layer = typename Spec::template bind<T, in, Index == 0>;
  using type = decltype(std::tuple_cat(std::declval<std::tuple<layer>>(),
                                       std::declval<typename layer_chain<T, Index + 1, Spec, Rest...>::type>()));
};

template <class Layers>
struct parameters_of;
template <class... Layers>
struct parameters_of<std::tuple<Layers...>> {
  using type = network_parameters<typename Layers::parameters...>;
};

/// A stack buffer that is never zero-filled: every kernel writes what it later reads.
template <class T, std::size_t N>
struct buffer {
  // User-provided, so that value-initialisation (hana::tuple's default constructor) leaves the
  // storage alone: zero-filling the workspace was a memset per step.
  buffer() noexcept {}
  alignas(alignment) T data[N];
};

/// Batches of at least one register of samples are kept feature-major ([feature][sample]), so
/// that every product of the dense layers is a register-blocked GEMM without horizontal sums;
/// smaller batches (and networks with a softmax layer) stay row-major.
template <class T, std::size_t B, class... Layers>
inline constexpr bool use_feature_major = B >= lanes<T> && (Layers::activation_type::is_elementwise && ...);

template <class T, std::size_t B, std::size_t N, bool FeatureMajor>
inline constexpr std::size_t batch_buffer_size = FeatureMajor ? N * padded<T>(B) : B * padded<T>(N);

template <class Layers, class Seq>
struct workspace_impl;
template <class... Layers, std::size_t... I>
struct workspace_impl<std::tuple<Layers...>, std::index_sequence<I...>> {
  template <class T, std::size_t B>
  struct type {
    static constexpr bool feature_major = use_feature_major<T, B, Layers...>;
    static constexpr std::size_t first_in = std::tuple_element_t<0, std::tuple<Layers...>>::in_size;
    static constexpr std::size_t last_out = std::tuple_element_t<sizeof...(Layers) - 1, std::tuple<Layers...>>::out_size;
    static constexpr std::size_t widest = std::max({Layers::in_size..., Layers::out_size...});
    // An input-major first layer reads the caller's x in place (caller_rows); otherwise x is
    // copied into `input`, row-major and padded.
    static constexpr bool reads_caller_rows = std::tuple_element_t<0, std::tuple<Layers...>>::input_major;
    buffer<T, reads_caller_rows ? 1 : B * padded<T>(first_in)> input;
    const T* caller_rows = nullptr;
    hana::tuple<buffer<T, batch_buffer_size<T, B, Layers::out_size, use_feature_major<T, B, Layers...>>>...> out;  // layer outputs
    hana::tuple<buffer<T, Layers::keeps_preactivation ? batch_buffer_size<T, B, Layers::out_size, use_feature_major<T, B, Layers...>> : 1>...> pre;
    hana::tuple<buffer<T, batch_buffer_size<T, B, Layers::out_size, use_feature_major<T, B, Layers...>>>...> grad;  // dL/d(layer output)
    // Feature-major only: the input transposed, a row-major scratch for a layer's input, and the
    // network output and its gradient row-major for the loss.
    buffer<T, feature_major ? first_in * padded<T>(B) : 1> input_t;
    buffer<T, feature_major ? B * padded<T>(widest) : 1> rows;  // also the first layer's dZ rows
    buffer<T, feature_major ? B * padded<T>(last_out) : 1> y_rows, dy_rows;
  };
};

// A policy may hand each layer its own updater (optimizer state, gradient sink); else it is shared.
template <std::size_t I, class Update>
constexpr decltype(auto) layer_updater(Update& u) noexcept {
  if constexpr (requires { u.template layer<I>(); }) return u.template layer<I>();
  else return (u);
}

}  // namespace detail

/// A feed-forward network. `Input` is `input<N, T>`; each of `Specs` a layer such as `dense<16, relu>`.
/// The object holds nothing but the parameters: sizeof(network) is their size plus alignment.
template <class Input, class... Specs>
class network {
  static_assert(sizeof...(Specs) > 0, "typegrad::network<input<N>, Layers...>: give at least one layer");

 public:
  using value_type = typename Input::value_type;
  using input_type = Input;
  using layers = typename detail::layer_chain<value_type, 0, Input, Specs...>::type;
  template <std::size_t I>
  using layer_t = std::tuple_element_t<I, layers>;
  static constexpr std::size_t depth = sizeof...(Specs);
  static constexpr std::size_t in_size = Input::out_size;
  static constexpr std::size_t out_size = layer_t<depth - 1>::out_size;
  using parameters_type = typename detail::parameters_of<layers>::type;
  /// Scratch memory for one forward + backward pass of B samples (lives on the caller's stack).
  template <std::size_t B>
  using workspace = typename detail::workspace_impl<layers, std::make_index_sequence<depth>>::template type<value_type, B>;
  /// The same architecture in another scalar type.
  template <class U>
  using rebind = network<input<in_size, U>, Specs...>;

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
  /// An input-major first layer reads x in place (scalars only: no padded copy), so x must
  /// stay valid until backward() has run.
  template <std::size_t B>
  void forward(workspace<B>& ws, const value_type* x) const noexcept {
    if constexpr (workspace<B>::reads_caller_rows) ws.caller_rows = x;
    else simd::pack_rows<value_type, B, in_size>(x, ws.input.data);
    if constexpr (workspace<B>::feature_major) {
      if constexpr (workspace<B>::reads_caller_rows) simd::rows_to_features<value_type, B, in_size, in_size>(x, ws.input_t.data);
      else simd::rows_to_features<value_type, B, in_size, padded<value_type>(in_size)>(ws.input.data, ws.input_t.data);
      for_each_layer([&](auto I) {
        constexpr std::size_t i = decltype(I)::value;
        const value_type* xt = ws.input_t.data;
        if constexpr (i > 0) xt = hana::at_c<i - 1>(ws.out).data;
        layer_t<i>::template forward_fm<B>(get<i>(params_), xt, hana::at_c<i>(ws.pre).data, hana::at_c<i>(ws.out).data);
      });
      simd::features_to_rows<value_type, B, out_size>(hana::at_c<depth - 1>(ws.out).data, ws.y_rows.data);
    } else {
      for_each_layer([&](auto I) {
        constexpr std::size_t i = decltype(I)::value;
        layer_t<i>::template forward<B>(get<i>(params_), layer_input(ws, I), hana::at_c<i>(ws.pre).data,
                                        hana::at_c<i>(ws.out).data);
      });
    }
  }
  /// Padded output rows ([B][padded(out_size)]) of the last forward pass, and the slot of the same
  /// shape where the loss writes its gradient.
  template <std::size_t B>
  static const value_type* output(const workspace<B>& ws) noexcept {
    if constexpr (workspace<B>::feature_major) return ws.y_rows.data;
    else return hana::at_c<depth - 1>(ws.out).data;
  }
  template <std::size_t B>
  static value_type* output_gradient(workspace<B>& ws) noexcept {
    if constexpr (workspace<B>::feature_major) return ws.dy_rows.data;
    else return hana::at_c<depth - 1>(ws.grad).data;
  }

  /// Backward pass from the loss gradient in output_gradient(ws), last layer first; each layer's
  /// parameters go through `update` in the same sweep that produces their gradient. With
  /// LossFusedActivation, the gradient given is already dL/dz of the last layer (the loss
  /// fused the last activation's derivative, e.g. sigmoid + binary cross-entropy).
  template <std::size_t B, class Update, bool LossFusedActivation = false>
  void backward(workspace<B>& ws, Update& update) noexcept {
    if constexpr (workspace<B>::feature_major)
      simd::rows_to_features<value_type, B, out_size, padded<value_type>(out_size)>(
          ws.dy_rows.data, hana::at_c<depth - 1>(ws.grad).data);
    for_each_layer([&](auto J) {
      constexpr std::size_t i = depth - 1 - decltype(J)::value;
      constexpr bool need_dx = i > 0;
      constexpr bool fused = LossFusedActivation && i == depth - 1;
      value_type* dx = nullptr;
      if constexpr (need_dx) dx = hana::at_c<i - 1>(ws.grad).data;
      decltype(auto) layer_update = detail::layer_updater<i>(update);
      if constexpr (workspace<B>::feature_major) {
        const value_type* xr = layer_input(ws, hana::size_c<0>);
        const value_type* xt = ws.input_t.data;
        if constexpr (i > 0) {
          xt = hana::at_c<i - 1>(ws.out).data;
          simd::features_to_rows<value_type, B, layer_t<i>::in_size>(xt, ws.rows.data);
          xr = ws.rows.data;
        }
        layer_t<i>::template backward_fm<B, need_dx, std::remove_reference_t<decltype(layer_update)>, fused>(get<i>(params_), xr, xt, hana::at_c<i>(ws.pre).data,
                                                     hana::at_c<i>(ws.out).data, hana::at_c<i>(ws.grad).data, dx,
                                                     ws.rows.data, layer_update);
      } else {
        layer_t<i>::template backward<B, need_dx, std::remove_reference_t<decltype(layer_update)>, fused>(get<i>(params_), layer_input(ws, hana::size_c<i>),
                                                  hana::at_c<i>(ws.pre).data, hana::at_c<i>(ws.out).data,
                                                  hana::at_c<i>(ws.grad).data, dx, layer_update);
      }
    });
  }

 private:
  template <class F>
  static constexpr void for_each_layer(F&& f) {
    hana::for_each(hana::make_range(hana::size_c<0>, hana::size_c<depth>), f);
  }
  template <std::size_t B, class I>
  static const value_type* layer_input(const workspace<B>& ws, I) noexcept {
    constexpr std::size_t i = I::value;
    if constexpr (i == 0 && workspace<B>::reads_caller_rows) return ws.caller_rows;
    else if constexpr (i == 0) return ws.input.data;
    else return hana::at_c<i - 1>(ws.out).data;
  }
  template <std::size_t B>
  void predict(const value_type* x, value_type* y) const noexcept {
    workspace<B> ws;
    forward<B>(ws, x);
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

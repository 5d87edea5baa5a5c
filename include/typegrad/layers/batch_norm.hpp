// batch_norm<Act>: batch normalisation over the channel axis (PyTorch's BatchNorm1d/2d), then Act; fold_batch_norm.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <typegrad/activations/activation.hpp>
#include <typegrad/activations/builtin.hpp>
#include <typegrad/core/config.hpp>
#include <typegrad/core/init.hpp>
#include <typegrad/core/shape.hpp>
#include <typegrad/layers/dense.hpp>
#include <typegrad/layers/detail/activation_step.hpp>
#include <typegrad/layers/layer.hpp>
#include <typegrad/network/network.hpp>
#include <typegrad/simd/batch_norm.hpp>
#include <typegrad/simd/kernels.hpp>

namespace typegrad {

/// Parameters of a batch norm layer over C channels, as PyTorch's state_dict: the trainable
/// weight γ [C] and bias β [C] (blocks 0 and 1, what optimizers and gradients see), and the
/// running statistics running_mean [C], running_var [C] and num_batches_tracked, which only a
/// training step changes (they are saved, loaded and compared, but never optimised).
/// Value-initialised storage is all zero (so are gradients and optimizer state of this shape);
/// the layer's initialize() sets PyTorch's start: γ = 1, β = 0, mean 0, variance 1.
template <class T, std::size_t C>
struct batch_norm_parameters {
  using value_type = T;
  static constexpr std::size_t channels = C;
  static constexpr std::size_t parameter_blocks = 2;  // weight, bias

  alignas(alignment) T w_[padded<T>(C)] = {};
  alignas(alignment) T b_[padded<T>(C)] = {};
  alignas(alignment) T running_mean_[padded<T>(C)] = {};
  alignas(alignment) T running_var_[padded<T>(C)] = {};
  /// Training steps taken with batch statistics (PyTorch's num_batches_tracked).
  std::int64_t num_batches_tracked = 0;

  constexpr T& weight(std::size_t c) noexcept { return w_[c]; }
  constexpr const T& weight(std::size_t c) const noexcept { return w_[c]; }
  constexpr T& bias(std::size_t c) noexcept { return b_[c]; }
  constexpr const T& bias(std::size_t c) const noexcept { return b_[c]; }
  constexpr T& running_mean(std::size_t c) noexcept { return running_mean_[c]; }
  constexpr const T& running_mean(std::size_t c) const noexcept { return running_mean_[c]; }
  constexpr T& running_var(std::size_t c) noexcept { return running_var_[c]; }
  constexpr const T& running_var(std::size_t c) const noexcept { return running_var_[c]; }

  /// Length of block P's padded storage (0 = weight, 1 = bias).
  static constexpr std::size_t padded_size(simd::param_c<0>) noexcept { return padded<T>(C); }
  static constexpr std::size_t padded_size(simd::param_c<1>) noexcept { return padded<T>(C); }
  constexpr T* data(simd::param_c<0>) noexcept { return w_; }
  constexpr T* data(simd::param_c<1>) noexcept { return b_; }
  constexpr const T* data(simd::param_c<0>) const noexcept { return w_; }
  constexpr const T* data(simd::param_c<1>) const noexcept { return b_; }

  /// Calls f(block, c, 0, value&) for γ then β (the trainable values only).
  template <class F>
  constexpr void for_each(F&& f) {
    for (std::size_t c = 0; c < C; ++c) f(simd::weight_c, c, std::size_t{0}, w_[c]);
    for (std::size_t c = 0; c < C; ++c) f(simd::bias_c, c, std::size_t{0}, b_[c]);
  }
  template <class F>
  constexpr void for_each(F&& f) const {
    for (std::size_t c = 0; c < C; ++c) f(simd::weight_c, c, std::size_t{0}, w_[c]);
    for (std::size_t c = 0; c < C; ++c) f(simd::bias_c, c, std::size_t{0}, b_[c]);
  }
  /// Calls f(name, shape, data, row_stride, col_stride) for weight, bias, running_mean and
  /// running_var (PyTorch's state_dict order; num_batches_tracked is the member of that name).
  template <class F>
  void for_each_tensor(F&& f) {
    f(std::string_view("weight"), std::initializer_list<std::size_t>{C}, w_, std::size_t{1}, std::size_t{1});
    f(std::string_view("bias"), std::initializer_list<std::size_t>{C}, b_, std::size_t{1}, std::size_t{1});
    f(std::string_view("running_mean"), std::initializer_list<std::size_t>{C}, running_mean_, std::size_t{1},
      std::size_t{1});
    f(std::string_view("running_var"), std::initializer_list<std::size_t>{C}, running_var_, std::size_t{1},
      std::size_t{1});
  }
  template <class F>
  void for_each_tensor(F&& f) const {
    f(std::string_view("weight"), std::initializer_list<std::size_t>{C}, static_cast<const T*>(w_), std::size_t{1},
      std::size_t{1});
    f(std::string_view("bias"), std::initializer_list<std::size_t>{C}, static_cast<const T*>(b_), std::size_t{1},
      std::size_t{1});
    f(std::string_view("running_mean"), std::initializer_list<std::size_t>{C}, static_cast<const T*>(running_mean_),
      std::size_t{1}, std::size_t{1});
    f(std::string_view("running_var"), std::initializer_list<std::size_t>{C}, static_cast<const T*>(running_var_),
      std::size_t{1}, std::size_t{1});
  }
  /// Trainable values only (γ and β), as in PyTorch's parameters().
  static constexpr std::size_t count() noexcept { return 2 * C; }
  friend constexpr bool operator==(const batch_norm_parameters&, const batch_norm_parameters&) = default;
};

namespace detail {

/// batch_norm<Act> bound to a scalar type and an input shape: channels are the first axis of a
/// shaped input ((C, L), (C, H, W)), or every feature of a flat one (N): BatchNorm1d/2d.
template <class T, class InShape, class Act>
struct batch_norm_layer {
  using value_type = T;
  using activation_type = Act;
  using in_shape = InShape;
  using out_shape = InShape;
  static constexpr std::size_t in_size = InShape::size, out_size = InShape::size;
  /// Channels and values per channel in one sample.
  static constexpr std::size_t channels = InShape::rank == 1 ? InShape::size : InShape::dims[0];
  static constexpr std::size_t spatial = InShape::size / channels;
  using parameters = batch_norm_parameters<T, channels>;
  static constexpr double eps = 1e-5, momentum = 0.1;
  /// Training at B ≥ 2 normalises with batch statistics, inference with the running ones.
  static constexpr bool inference_differs = true;
  /// Modules in PyTorch's nn.Sequential (BatchNorm, then the activation if any).
  static constexpr std::size_t modules = Act::is_identity ? 1 : 2;
  /// Its entry in a weight file's architecture string (eps 1e-5 and momentum 0.1 are implied).
  static std::string describe(std::string_view act) { return "batch_norm<" + std::string(act) + ">"; }

  static constexpr std::size_t size = InShape::size, P = padded<T>(size), PC = padded<T>(channels);
  using step = activation_step<Act>;
  static constexpr bool keeps_preactivation = step::keeps_preactivation;

  template <std::size_t B>
  static constexpr layout data_layout = layout::rows;
  /// Per channel: mean and biased variance of the batch (or the running mean), 1/√(var + eps);
  /// x̂ of every value (the backward's input); the pre-activation z when Act's slope needs it.
  template <std::size_t B>
  struct cache {
    cache() noexcept {}
    detail::buffer<T, PC> mean, var, inv_std;
    detail::buffer<T, B * P> xhat;
    detail::buffer<T, keeps_preactivation ? B * P : 1> pre;
  };
  /// Forward: column sums + four per-position arrays; backward: two column sums, five
  /// per-channel arrays and three per-position ones.
  template <std::size_t B>
  static constexpr std::size_t scratch_size = 5 * P + 5 * PC;

  /// PyTorch's reset_parameters: γ = 1, β = 0, running mean 0, running variance 1 (no draws).
  template <initializer Init>
  static void initialize(parameters& p, const Init&, random_engine&) noexcept {
    p = parameters{};
    for (std::size_t c = 0; c < channels; ++c) {
      p.weight(c) = T(1);
      p.running_var(c) = T(1);
    }
  }

  template <std::size_t B, pass Pass>
  static void forward(const parameters& p, const T* x, cache<B>& c, T* y, T* scratch) noexcept {
    constexpr bool batch_statistics = Pass == pass::training && B >= 2;
    constexpr T n = T(B * spatial);
    T* acc = scratch;
    T* at = scratch + P;  // four per-position arrays
    if constexpr (batch_statistics) {
      simd::column_sums<T, B, P>(x, acc);
      for (std::size_t k = 0; k < PC; ++k) c.mean.data[k] = k < channels ? channel_sum(acc, k) / n : T(0);
      simd::column_squared_deviations<T, B, P>(x, at_positions(c.mean.data, at), acc);
      for (std::size_t k = 0; k < PC; ++k) {
        const T var = k < channels ? channel_sum(acc, k) / n : T(0);
        c.var.data[k] = var;
        c.inv_std.data[k] = k < channels ? T(1) / std::sqrt(var + T(eps)) : T(0);
      }
    } else {
      for (std::size_t k = 0; k < PC; ++k) {
        c.mean.data[k] = k < channels ? p.running_mean(k) : T(0);
        c.var.data[k] = k < channels ? p.running_var(k) : T(0);
        c.inv_std.data[k] = k < channels ? T(1) / std::sqrt(p.running_var(k) + T(eps)) : T(0);
      }
    }
    T* z = step::linear_output(c.pre.data, y);
    simd::batch_norm_forward<T, B, P, Pass == pass::training>(
        x, at_positions(c.mean.data, at), at_positions(c.inv_std.data, at + P), at_positions(p.w_, at + 2 * P),
        at_positions(p.b_, at + 3 * P), c.xhat.data, z);
    step::template forward<T, B, size>(c.pre.data, y);
  }

  /// With batch statistics (B ≥ 2) the full gradient through the mean and variance:
  /// dx = γ/σ · (dz − mean(dz) − x̂·mean(dz·x̂)) per channel; with running ones (B = 1) dx = γ/σ·dz.
  /// dγ = Σ dz·x̂, dβ = Σ dz either way.
  template <std::size_t B, bool NeedDx, bool ActivationDone, class Update>
  static void backward(parameters& p, const T*, const cache<B>& c, const T* y, T* dy, T* dx, T* scratch,
                       Update& update) noexcept {
    constexpr bool batch_statistics = B >= 2;
    constexpr T n = T(B * spatial);
    step::template backward<T, B, size, ActivationDone>(c.pre.data, y, dy);
    T* sum_dz = scratch;
    T* sum_dz_xhat = scratch + P;
    T* g_bias = scratch + 2 * P;
    T* g_weight = g_bias + PC;
    simd::column_sums<T, B, P>(dy, sum_dz);
    simd::column_dots<T, B, P>(dy, c.xhat.data, sum_dz_xhat);
    for (std::size_t k = 0; k < PC; ++k) {
      g_bias[k] = k < channels ? channel_sum(sum_dz, k) : T(0);
      g_weight[k] = k < channels ? channel_sum(sum_dz_xhat, k) : T(0);
    }
    if constexpr (NeedDx) {
      // Per channel a = γ/σ, c1 = −a·Σdz/n, c2 = −a·Σ(dz·x̂)/n, with the old γ.
      T* a = g_weight + PC;
      T* c1 = a + PC;
      T* c2 = c1 + PC;
      T* at = c2 + PC;
      for (std::size_t k = 0; k < PC; ++k) {
        a[k] = p.w_[k] * c.inv_std.data[k];  // zero in the padding
        c1[k] = -a[k] * g_bias[k] / n;
        c2[k] = -a[k] * g_weight[k] / n;
      }
      simd::batch_norm_input_gradient<T, B, P, batch_statistics>(
          dy, c.xhat.data, at_positions(a, at), batch_statistics ? at_positions(c1, at + P) : c1,
          batch_statistics ? at_positions(c2, at + 2 * P) : c2, dx);
    }
    simd::update_block<T, PC>(simd::weight_c, p.w_, g_weight, update);
    simd::update_block<T, PC>(simd::bias_c, p.b_, g_bias, update);
  }

  /// After a training forward pass of B ≥ 2 samples: running ← (1 − m)·running + m·batch, the
  /// variance unbiased (n/(n − 1)), num_batches_tracked + 1. Batch 1 used the running statistics
  /// and changes nothing.
  template <std::size_t B>
  static void update_running_statistics(parameters& p, const cache<B>& c) noexcept {
    if constexpr (B >= 2) {
      constexpr std::size_t n = B * spatial;
      constexpr T m = T(momentum), keep = T(1.0 - momentum), unbias = T(double(n) / double(n - 1));
      for (std::size_t k = 0; k < channels; ++k) {
        p.running_mean(k) = keep * p.running_mean(k) + m * c.mean.data[k];
        p.running_var(k) = keep * p.running_var(k) + m * (c.var.data[k] * unbias);
      }
      ++p.num_batches_tracked;
    }
  }

 private:
  // Σ over channel k's positions of a per-position array.
  static T channel_sum(const T* v, std::size_t k) noexcept {
    T s = v[k * spatial];
    for (std::size_t i = 1; i < spatial; ++i) s += v[k * spatial + i];
    return s;
  }
  // A per-channel array (PC values, zero padding) at every position of a sample (P values, zero
  // padding) in `out`; a flat input's channels are its positions, so the array itself is returned.
  static const T* at_positions(const T* per_channel, T* out) noexcept {
    if constexpr (spatial == 1) {
      return per_channel;
    } else {
      for (std::size_t k = 0; k < channels; ++k)
        for (std::size_t i = 0; i < spatial; ++i) out[k * spatial + i] = per_channel[k];
      for (std::size_t i = size; i < P; ++i) out[i] = T(0);
      return out;
    }
  }
};

/// Instantiated only to report an activation batch_norm cannot apply (softmax is not element-wise).
template <std::size_t LayerIndex, class Activation>
struct batch_norm_needs_elementwise_activation {
  static_assert(elementwise_activation<Activation>,
                "typegrad::batch_norm<Act>: layer LayerIndex: Act must be an element-wise activation (typegrad::relu, "
                "typegrad::activation<E>, ...), not softmax (see batch_norm_needs_elementwise_activation<LayerIndex, "
                "Activation>)");
  static constexpr bool value = true;
};

}  // namespace detail

/// Batch normalisation (PyTorch's BatchNorm1d / BatchNorm2d, eps 1e-5, momentum 0.1) followed by
/// the activation Act, as conv → BatchNorm → ReLU: `batch_norm<relu>`. The channel axis is the
/// first of a shaped input ((C, L) or (C, H, W)); a flat input (N) has N channels. Training
/// (train_step, fit, gradient, loss_value) normalises with the batch's statistics when B ≥ 2, and
/// train_step / fit then update the running ones; inference (net(x), predict) and batches of one
/// use the running statistics.
template <class Act = identity>
struct batch_norm {
  static_assert(activation_function<Act>,
                "typegrad::batch_norm<Act>: Act must be an activation (typegrad::relu, typegrad::activation<E>, ...)");
  using activation_type = Act;
  static constexpr double eps = 1e-5, momentum = 0.1;
  template <class T, class InShape, std::size_t Index>
  using bind = std::enable_if_t<detail::batch_norm_needs_elementwise_activation<Index, Act>::value,
                                detail::batch_norm_layer<T, InShape, Act>>;
};

// ---- Folding batch norm into the layer before it ----

namespace detail {

template <class Spec>
struct batch_norm_spec : std::false_type {};
template <class Act>
struct batch_norm_spec<batch_norm<Act>> : std::true_type {
  using activation = Act;
};

template <class Spec, class Act>
concept has_with_activation = requires {
  typename Spec::template with_activation<Act>;
};

/// Spec with its activation replaced by Act: Spec::with_activation<Act>, or dense's and linear's
/// own until they define it; no `type` for a spec that has none.
template <class Spec, class Act>
struct with_activation_impl {};
template <class Spec, class Act>
requires has_with_activation<Spec, Act>
struct with_activation_impl<Spec, Act> {
  using type = typename Spec::template with_activation<Act>;
};
template <std::size_t Out, class Old, class Act>
requires(!has_with_activation<dense<Out, Old>, Act>) struct with_activation_impl<dense<Out, Old>, Act> {
  using type = dense<Out, Act>;
};
template <std::size_t In, std::size_t Out, class Old, class Act>
requires(!has_with_activation<linear<In, Out, Old>, Act>) struct with_activation_impl<linear<In, Out, Old>, Act> {
  using type = linear<In, Out, Act>;
};

/// A dense layer acting on the last axis of a shaped input: its outputs are not the channels
/// batch norm sees (the first axis), so it does not fold.
template <class L>
inline constexpr bool dense_on_vectors = [] {
  if constexpr (is_dense_layer<L>)
    return L::in_shape::rank > 1;
  else
    return false;
}();

/// A layer batch norm can fold into: identity activation, weight rows and bias(o) per output
/// channel (dense, convolutions), its output channels on the first axis.
template <class L>
concept batch_norm_foldable_layer = requires(typename L::parameters& p) {
  typename L::activation_type;
  requires L::activation_type::is_elementwise && L::activation_type::is_identity;
  requires L::parameters::parameter_blocks == 2;
  p.bias(std::size_t{});
}
&&!dense_on_vectors<L>;

template <class Net>
struct network_specs;
template <class Input, class... Specs>
struct network_specs<network<Input, Specs...>> {
  using input = Input;
  using type = std::tuple<Specs...>;
};

/// Whether layer I of Net absorbs the batch norm at I + 1.
template <class Net, std::size_t I>
constexpr bool batch_norm_folds_at() {
  if constexpr (I + 1 >= Net::depth) {
    return false;
  } else {
    using specs = typename network_specs<Net>::type;
    using spec = std::tuple_element_t<I, specs>;
    using next = std::tuple_element_t<I + 1, specs>;
    if constexpr (!batch_norm_spec<next>::value || batch_norm_spec<spec>::value)
      return false;
    else if constexpr (!requires {
                         typename with_activation_impl<spec, typename batch_norm_spec<next>::activation>::type;
                       })
      return false;
    else
      return batch_norm_foldable_layer<typename Net::template layer_t<I>>;
  }
}

/// Whether layer I of Net is a batch norm absorbed by layer I − 1.
template <class Net, std::size_t I>
constexpr bool batch_norm_absorbed_at() {
  if constexpr (I == 0)
    return false;
  else
    return batch_norm_folds_at<Net, I - 1>();
}

/// Layer I's index in the folded network (absorbed layers before it removed).
template <class Net, std::size_t I>
constexpr std::size_t folded_index() {
  return []<std::size_t... K>(std::index_sequence<K...>) {
    return I - (std::size_t{batch_norm_absorbed_at<Net, K>()} + ... + 0);
  }
  (std::make_index_sequence<I>{});
}

/// The spec(s) layer I contributes to the folded network.
template <class Net, std::size_t I>
auto folded_spec() {
  using specs = typename network_specs<Net>::type;
  if constexpr (batch_norm_absorbed_at<Net, I>()) {
    return std::type_identity<std::tuple<>>{};
  } else if constexpr (batch_norm_folds_at<Net, I>()) {
    using act = typename batch_norm_spec<std::tuple_element_t<I + 1, specs>>::activation;
    return std::type_identity<std::tuple<typename with_activation_impl<std::tuple_element_t<I, specs>, act>::type>>{};
  } else {
    return std::type_identity<std::tuple<std::tuple_element_t<I, specs>>>{};
  }
}

template <class Input, class Specs>
struct network_of;
template <class Input, class... Specs>
struct network_of<Input, std::tuple<Specs...>> {
  using type = network<Input, Specs...>;
};

template <class Net, class Seq>
struct folded_network_impl;
template <class Net, std::size_t... I>
struct folded_network_impl<Net, std::index_sequence<I...>> {
  using specs = decltype(std::tuple_cat(std::declval<typename decltype(folded_spec<Net, I>())::type>()...));
  using type = typename network_of<typename network_specs<Net>::input, specs>::type;
};

// Copies a block's values into a block of the same layer kind (the storage may differ, e.g. a
// dense layer's weights stored input-major at index 0): whole when the types agree, else value
// by value in for_each order.
template <class From, class To>
void copy_parameter_block(const From& from, To& to) {
  if constexpr (std::is_same_v<From, To>) {
    to = from;
  } else {
    using T = typename To::value_type;
    std::vector<T> values;
    values.reserve(From::count());
    from.for_each([&](auto, std::size_t, std::size_t, const auto& v) { values.push_back(T(v)); });
    std::size_t k = 0;
    to.for_each([&](auto, std::size_t, std::size_t, T& v) { v = values[k++]; });
  }
}

template <class Net, class Folded, std::size_t I>
void fold_layer(const Net& net, Folded& out) {
  if constexpr (!batch_norm_absorbed_at<Net, I>()) {
    auto& dst = get<folded_index<Net, I>()>(out);
    copy_parameter_block(get<I>(net), dst);
    if constexpr (batch_norm_folds_at<Net, I>()) {
      // W' = W·s and b' = (b − mean)·s + β per output channel o, s = γ/√(var + eps).
      using T = typename Net::value_type;
      const auto& bn = get<I + 1>(net);
      constexpr double eps = Net::template layer_t<I + 1>::eps;
      dst.for_each([&](auto block, std::size_t o, std::size_t, T& v) {
        const double s = double(bn.weight(o)) / std::sqrt(double(bn.running_var(o)) + eps);
        if constexpr (decltype(block)::value == 0)
          v = T(double(v) * s);
        else
          v = T((double(v) - double(bn.running_mean(o))) * s + double(bn.bias(o)));
      });
    }
  }
}

}  // namespace detail

/// Net with every batch_norm that directly follows a dense or convolution layer without
/// activation merged into that layer (which takes over the batch norm's activation).
template <network_type Net>
using batch_norm_folded_network =
    typename detail::folded_network_impl<std::remove_cvref_t<Net>,
                                         std::make_index_sequence<std::remove_cvref_t<Net>::depth>>::type;

/// A network for inference whose outputs equal `net`'s inference outputs (up to rounding), with
/// each batch norm that directly follows a dense or convolution layer of identity activation
/// folded into it using the running statistics: W' = W·γ/√(var + eps) per output channel,
/// b' = (b − running_mean)·γ/√(var + eps) + β, and the batch norm's activation moved onto the
/// merged layer. Other layers (and other batch norms) are copied unchanged.
///
///     network<input<8>, dense<16>, batch_norm<relu>, dense<1>> net;  // ... trained
///     auto fast = typegrad::fold_batch_norm(net);  // network<input<8>, dense<16, relu>, dense<1>>
template <network_type Net>
batch_norm_folded_network<Net> fold_batch_norm(const Net& net) {
  batch_norm_folded_network<Net> out{init::zeros{}};  // every value is overwritten
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (detail::fold_layer<Net, batch_norm_folded_network<Net>, I>(net, out), ...);
  }
  (std::make_index_sequence<Net::depth>{});
  return out;
}

}  // namespace typegrad

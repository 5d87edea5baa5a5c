// save_weights / load_weights: a network's parameters as a safetensors file, named like PyTorch's nn.Sequential.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <typegrad/activations/name.hpp>
#include <typegrad/io/detail/weights_layers.hpp>
#include <typegrad/io/error.hpp>
#include <typegrad/io/safetensors.hpp>
#include <typegrad/layers/dense.hpp>
#include <typegrad/layers/reshape.hpp>
#include <typegrad/network/network.hpp>

namespace typegrad {

/// String metadata stored in a weight file's "__metadata__" (e.g. standardisation mean/std).
/// Keys starting with "typegrad." belong to the library: save_weights writes
/// "typegrad.architecture" and "typegrad.version" itself, replacing any given ones.
using weights_metadata = std::map<std::string, std::string>;

namespace detail {

/// What for_each_tensor is called with (the concept below only checks that it accepts it).
template <class T>
struct weights_tensor_visitor {
  void operator()(std::string_view, std::initializer_list<std::size_t>, const T*, std::size_t, std::size_t) const noexcept {}
};

template <class P>
concept weights_tensor_block = requires(const P& p) { p.for_each_tensor(weights_tensor_visitor<typename P::value_type>{}); };

// Batch norm's step counter (PyTorch's num_batches_tracked buffer).
template <class P>
concept weights_counter_block = requires { requires std::is_same_v<decltype(P::num_batches_tracked), std::int64_t>; };

// describe(), or describe(activation name) for a layer with an activation_type (the names live
// here, so a layer header need not include this one).
template <class L>
concept weights_described_layer = requires {
  { L::describe() } -> std::convertible_to<std::string>;
};
template <class L>
concept weights_described_with_activation = requires(std::string_view act) {
  typename L::activation_type;
  { L::describe(act) } -> std::convertible_to<std::string>;
};
template <class L>
concept weights_module_count = requires {
  { L::modules } -> std::convertible_to<std::size_t>;
};

template <class L>
inline constexpr bool weights_is_reshape = false;
template <class T, class In, class Out>
inline constexpr bool weights_is_reshape<reshape_layer<T, In, Out>> = true;

/// Instantiated only to report a layer whose parameters cannot be named in a weight file.
template <std::size_t LayerIndex, class Layer>
struct weights_unnamed_parameters {
  static_assert(Layer::parameters::count() == 0,
                "typegrad::save_weights / load_weights: layer LayerIndex (Layer) has parameters but its parameter "
                "block has no for_each_tensor(f) naming them as PyTorch tensors (see layers/layer.hpp)");
  static constexpr bool value = true;
};

template <class T>
[[gnu::noinline]] void add_weights_tensor(weights_layer<T>& l, std::string_view name,
                                          std::initializer_list<std::size_t> shape, const T* data,
                                          std::size_t row_stride, std::size_t col_stride) {
  l.tensors.push_back({std::string(name), std::vector<std::uint64_t>(shape.begin(), shape.end()), data, row_stride,
                       col_stride});
}

template <std::size_t Index, class Layer, class T>
void gather_weights_layer(std::vector<weights_layer<T>>& layers, const typename Layer::parameters& p) {
  using block = typename Layer::parameters;
  weights_layer<T>& l = layers.emplace_back();
  if constexpr (is_dense_layer<Layer>) l.kind = weights_layer_kind::dense;
  if constexpr (weights_is_reshape<Layer>) l.kind = weights_layer_kind::reshape;
  if constexpr (weights_module_count<Layer>) l.modules = Layer::modules;
  if constexpr (requires { typename Layer::activation_type; })
    l.activation = activation_name<typename Layer::activation_type>();
  if constexpr (weights_described_with_activation<Layer>) l.description = Layer::describe(l.activation);
  else if constexpr (weights_described_layer<Layer>) l.description = Layer::describe();
  l.in_dims.assign(Layer::in_shape::dims.begin(), Layer::in_shape::dims.end());
  l.out_dims.assign(Layer::out_shape::dims.begin(), Layer::out_shape::dims.end());
  if constexpr (weights_tensor_block<block>) {
    p.for_each_tensor([&](std::string_view name, std::initializer_list<std::size_t> shape, const T* data,
                          std::size_t row_stride, std::size_t col_stride) {
      add_weights_tensor<T>(l, name, shape, data, row_stride, col_stride);
    });
  } else {
    static_assert(weights_unnamed_parameters<Index, Layer>::value);
  }
  if constexpr (weights_counter_block<block>) l.counter = &p.num_batches_tracked;
}

/// Every layer of Net with its tensors in `params` (which load_weights writes through).
template <network_type Net>
std::vector<weights_layer<typename Net::value_type>> weights_layers(const typename Net::parameters_type& params) {
  std::vector<weights_layer<typename Net::value_type>> layers;
  layers.reserve(Net::depth);
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (gather_weights_layer<I, typename Net::template layer_t<I>>(layers, get<I>(params)), ...);
  }(std::make_index_sequence<Net::depth>{});
  return layers;
}

/// The same descriptions without a network object (for the names and the architecture string only).
template <network_type Net>
std::vector<weights_layer<typename Net::value_type>> weights_layers() {
  const auto params = std::make_unique<typename Net::parameters_type>();  // on the heap: it may be large
  return weights_layers<Net>(*params);                                      // (the pointers dangle: unused)
}

}  // namespace detail

/// The architecture string of a network type, e.g.
/// "input<30>,dense<16,relu>,dense<16,relu>,dense<1,sigmoid>" (the scalar type is not part of it:
/// the tensors' dtype says F32 or F64). Saved as "typegrad.architecture" and checked on load.
/// Each layer is its bound type's `describe()` (or `describe(activation_name)`) when it has one:
/// conv1d<...>, max_pool2d<...>, batch_norm<...> in the grammar of tools/export_pytorch.py; else
/// dense<Out,act>, flatten, unflatten<Dims...>, or "layer(shape<In...> -> shape<Out...>)" (plus
/// ", act") for a layer that does not describe itself, which tools/import_pytorch.py refuses.
template <network_type Net>
std::string architecture_string() {
  return detail::architecture_of(Net::in_size, detail::weights_layers<Net>());
}

/// The tensor names of a network's parameters, as PyTorch's nn.Sequential state_dict names them:
/// "<module index>.<tensor>" in state_dict order ("0.weight", "0.bias", "2.running_mean",
/// "2.num_batches_tracked", ...). Each layer takes its bound type's `modules` indices (reshapes
/// and pooling one, index kept but no tensors), or else one plus one for a non-identity
/// activation (nn.Linear + nn.ReLU; an identity activation has no module), as written by
/// tools/export_pytorch.py and rebuilt by tools/import_pytorch.py.
template <network_type Net>
std::vector<std::string> weight_tensor_names() {
  return detail::tensor_names_of(detail::weights_layers<Net>());
}

/// The safetensors file of `net`'s parameters (each layer's tensors in PyTorch's shapes, e.g.
/// dense weight [out, in] and bias [out], conv1d weight [out, in / groups, K]; F32 or F64; batch
/// norm's num_batches_tracked as an I64 scalar) with `metadata` plus "typegrad.architecture",
/// "typegrad.version" and "format": "pt" (unless given). Throws io_error when a parameter is not
/// finite (such a file could not be loaded back).
template <network_type Net>
std::vector<std::byte> save_weights_to_bytes(const Net& net, const weights_metadata& metadata = {}) {
  return detail::save_layers<typename Net::value_type>(Net::in_size, detail::weights_layers<Net>(net.parameters()),
                                                       metadata);
}

/// Saves `net`'s parameters and `metadata` to `path` as safetensors (see save_weights_to_bytes).
/// The file is written to a temporary name and renamed into place, so a failed save never
/// leaves a partial file. Throws io_error.
/// @code
/// typegrad::save_weights(net, "model.safetensors", {{"mean", "0.5,1.5"}});
/// @endcode
template <network_type Net>
void save_weights(const Net& net, const std::filesystem::path& path, const weights_metadata& metadata = {}) {
  const auto bytes = save_weights_to_bytes(net, metadata);
  try {
    safetensors::write_file_atomically(path, bytes);
  } catch (const io_error& e) {
    throw io_error(std::string("typegrad::save_weights: ") + e.what());
  }
}

/// Loads parameters from the safetensors file held in `file` into `net` and returns the file's
/// metadata; `source` names the file in messages. Everything is checked first (structure,
/// "typegrad.architecture" when present, names, no extra tensors, dtype = the network's own
/// F32/F64 with no conversion, shapes, finite values) and only then is `net` changed: on any
/// io_error `net` is exactly as before. A batch counter ("<i>.num_batches_tracked", I64 []) is
/// optional: when the file has none (older tools) it is set to 0.
template <network_type Net>
weights_metadata load_weights_from_bytes(Net& net, std::span<const std::byte> file,
                                         std::string_view source = "typegrad::load_weights(<memory>)") {
  // Gathered through a const view (one instantiation shared with save): the loader writes
  // through those pointers, which is fine because `net` itself is not const.
  return detail::load_layers<typename Net::value_type>(
      Net::in_size, detail::weights_layers<Net>(std::as_const(net).parameters()), file, source);
}

/// Loads the safetensors file at `path` (as written by save_weights or tools/export_pytorch.py)
/// into `net` and returns its metadata. Throws io_error naming the file, the tensor and what is
/// wrong; on any error `net` is left exactly as it was. See load_weights_from_bytes.
/// @code
/// net_t net;
/// auto meta = typegrad::load_weights(net, "model.safetensors");   // meta["mean"], ...
/// @endcode
template <network_type Net>
weights_metadata load_weights(Net& net, const std::filesystem::path& path) {
  const std::string source = "typegrad::load_weights('" + path.string() + "')";
  return load_weights_from_bytes(net, safetensors::read_file(path, source), source);
}

/// The "__metadata__" of the safetensors file at `path` (after validating the whole header),
/// including "typegrad.architecture" and "typegrad.version". Throws io_error.
weights_metadata read_weights_metadata(const std::filesystem::path& path);

}  // namespace typegrad

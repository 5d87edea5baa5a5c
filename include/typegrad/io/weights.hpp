// save_weights / load_weights: a network's parameters as a safetensors file, named like PyTorch's nn.Sequential.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <memory>
#include <numeric>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <typegrad/activations/builtin.hpp>
#include <typegrad/activations/name.hpp>
#include <typegrad/io/detail/message.hpp>
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

/// The version of typegrad written into every weight file ("typegrad.version").
inline constexpr std::string_view weights_typegrad_version = "0.1.0";

namespace detail {

template <class T>
using weights_bits_t = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;

template <class T>
constexpr std::string_view weights_dtype() noexcept {
  if constexpr (std::is_same_v<T, float>)
    return "F32";
  else
    return "F64";
}

// Explicit little-endian (de)serialisation: correct on any host byte order, no alignment needs.
template <class T>
void put_le(std::vector<std::byte>& out, T value) {
  const auto u = std::bit_cast<weights_bits_t<T>>(value);
  for (std::size_t k = 0; k < sizeof(T); ++k) out.push_back(static_cast<std::byte>((u >> (8 * k)) & 0xff));
}
template <class T>
T get_le(const std::byte* p) noexcept {
  weights_bits_t<T> u = 0;
  for (std::size_t k = sizeof(T); k-- > 0;)
    u = static_cast<weights_bits_t<T>>((u << 8) | std::to_integer<weights_bits_t<T>>(p[k]));
  return std::bit_cast<T>(u);
}

// Out of line: building the message inline trips GCC 12's bogus -Wstringop-overflow at -O3.
[[noreturn, gnu::noinline, gnu::cold]] inline void non_finite_on_save(const std::string& name, const std::string& where,
                                                                      double value) {
  throw io_error("typegrad::save_weights: " + name + where + " is " + std::to_string(value) +
                 "; refusing to save non-finite weights (load_weights would reject them)");
}

// The values of tensor `name`, the `role` ("weight", "running_mean", ...) of shape `shape` of `layer_name`,
// after checking its dtype, shape and that every value is finite. Templated on T only.
template <class T>
std::vector<T> read_tensor(const safetensors::header& h, std::span<const std::byte> file, std::string_view source,
                           const std::string& name, std::string_view role, const std::vector<std::uint64_t>& shape,
                           const std::string& layer_name) {
  const auto fail = [&](std::initializer_list<message_part> what) { safetensors::detail::fail(source, message(what)); };
  const safetensors::tensor_info* t = h.find(name);
  if (!t) fail({"missing tensor '", name, "', the ", role, " ", safetensors::shape_string(shape), " of ", layer_name});
  if (t->dtype != weights_dtype<T>())
    fail({"tensor '", name, "' has dtype ", t->dtype, " but this network's scalar type needs ", weights_dtype<T>(),
          " (no conversion is done on load)"});
  if (t->shape != shape)
    fail({"tensor '", name, "' has shape ", safetensors::shape_string(t->shape), " but the ", role, " of ", layer_name,
          " is ", safetensors::shape_string(shape)});
  const std::byte* data = file.data() + h.data_offset + t->begin;
  std::vector<T> values((t->end - t->begin) / sizeof(T));
  for (std::size_t e = 0; e < values.size(); ++e) {
    values[e] = get_le<T>(data + e * sizeof(T));
    if (!std::isfinite(values[e]))
      fail({"tensor '", name, "' element ", e, " is ", std::to_string(values[e]), "; non-finite weights are rejected"});
  }
  return values;
}

}  // namespace detail

namespace detail {

// ---- What save/load need to know of a layer's type, gathered at run time -------------------
// The code that names, checks and (de)serialises the tensors is then shared by every network of
// the same scalar type instead of being generated per network and per layer: the per-network
// code below only fills these descriptions.

/// How a layer without describe() is described: dense and reshapes by their typegrad spelling.
enum class weights_layer_kind : unsigned char { other, dense, reshape };

/// A layer as the architecture string and the module numbering see it.
struct weights_layer_info {
  weights_layer_kind kind = weights_layer_kind::other;
  std::size_t modules = 0;  // the layer's `modules`, or 0: one, plus one for a non-identity activation
  std::string activation;   // the name of its activation_type ("" when it has none)
  std::string description;  // its describe() ("" when it has none)
  std::vector<std::size_t> in_dims, out_dims;
};

/// One tensor of a layer: its state_dict name after "<module>.", its PyTorch shape, and where
/// its values live: element (r, c) of the tensor seen as [shape[0], rest] is
/// data[r * row_stride + c * col_stride].
template <class T>
struct weights_tensor {
  std::string name;
  std::vector<std::uint64_t> shape;
  const T* data = nullptr;  // written through (const_cast) by load_layers: see load_weights_from_bytes
  std::size_t row_stride = 0, col_stride = 0;
};

template <class T>
struct weights_layer : weights_layer_info {
  std::vector<weights_tensor<T>> tensors;  // in state_dict order
  const std::int64_t* counter = nullptr;   // a `num_batches_tracked` member, saved as an I64 scalar
};

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
inline constexpr bool weights_is_dense = false;
template <class T, class S, std::size_t Out, class Act, bool InputMajor>
inline constexpr bool weights_is_dense<dense_layer<T, S, Out, Act, InputMajor>> = true;
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
  if constexpr (weights_is_dense<Layer>) l.kind = weights_layer_kind::dense;
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

/// The number of nn.Sequential modules a layer stands for.
inline std::size_t module_count(const weights_layer_info& l) noexcept {
  if (l.modules != 0) return l.modules;
  return l.activation.empty() || l.activation == "identity" ? 1 : 2;
}

/// A layer's part of the architecture string: its describe(), else "dense<16,relu>", "flatten",
/// "unflatten<2,9,8>", or "layer(shape<2,19> -> shape<6,10>)" (plus ", act" for an activation).
[[gnu::noinline, gnu::cold]] inline std::string describe_layer(const weights_layer_info& l) {
  const auto dims = [](const std::vector<std::size_t>& d) {
    std::string s;
    for (std::size_t k = 0; k < d.size(); ++k) s += message({k ? "," : "", d[k]});
    return s;
  };
  if (!l.description.empty()) return l.description;
  if (l.kind == weights_layer_kind::dense) return message({"dense<", l.out_dims.back(), ",", l.activation, ">"});
  if (l.kind == weights_layer_kind::reshape)
    return l.out_dims.size() == 1 ? std::string("flatten") : message({"unflatten<", dims(l.out_dims), ">"});
  const bool act = !l.activation.empty() && l.activation != "identity";
  return message({"layer(shape<", dims(l.in_dims), "> -> shape<", dims(l.out_dims), ">", act ? ", " : "",
                  act ? l.activation : "", ")"});
}

/// "input<30>,dense<16,relu>,...": see architecture_string.
template <class T>
[[gnu::noinline]] std::string architecture_of(std::size_t in_size, const std::vector<weights_layer<T>>& layers) {
  std::string s = message({"input<", in_size, ">"});
  for (const auto& l : layers) s += "," + describe_layer(l);
  return s;
}

/// The first module index of each layer (PyTorch's nn.Sequential numbering).
template <class T>
std::vector<std::size_t> module_indices(const std::vector<weights_layer<T>>& layers) {
  std::vector<std::size_t> first;
  std::size_t module = 0;
  for (const auto& l : layers) {
    first.push_back(module);
    module += module_count(l);
  }
  return first;
}

/// PyTorch nn.Sequential state_dict names, in state_dict order: see weight_tensor_names.
template <class T>
[[gnu::noinline]] std::vector<std::string> tensor_names_of(const std::vector<weights_layer<T>>& layers) {
  std::vector<std::string> names;
  const auto first = module_indices(layers);
  for (std::size_t l = 0; l < layers.size(); ++l) {
    for (const auto& t : layers[l].tensors) names.push_back(message({first[l], ".", t.name}));
    if (layers[l].counter) names.push_back(message({first[l], ".num_batches_tracked"}));
  }
  return names;
}

/// The top-level comma-separated parts of an architecture string (commas inside <>, () or [] kept).
[[gnu::noinline, gnu::cold]] inline std::vector<std::string> architecture_parts(std::string_view a) {
  std::vector<std::string> parts(1);
  int depth = 0;
  for (std::size_t k = 0; k < a.size(); ++k) {
    const char c = a[k];
    if (c == '<' || c == '(' || c == '[') ++depth;
    if ((c == '>' && (k == 0 || a[k - 1] != '-')) || c == ')' || c == ']') --depth;  // "->" is no bracket
    if (c == ',' && depth == 0) parts.emplace_back();
    else parts.back() += c;
  }
  return parts;
}

/// Why two architecture strings differ, naming the first layer that does.
[[gnu::noinline, gnu::cold]] inline std::string architecture_difference(std::string_view file, std::string_view net) {
  const auto f = architecture_parts(file), n = architecture_parts(net);
  for (std::size_t k = 0; k < std::min(f.size(), n.size()); ++k)
    if (f[k] != n[k])
      return k == 0 ? message({"the file's input is ", f[0], ", this network's ", n[0]})
                    : message({"layer ", k - 1, " is \"", f[k], "\" in the file but \"", n[k], "\" in this network"});
  return message({"the file has ", f.size() - 1, " layers, this network ", n.size() - 1});
}

// One tensor's little-endian bytes; refuses non-finite values, naming the element by its full
// index. Templated on T only: every network and layer shares this code.
template <class T>
safetensors::tensor_bytes tensor_of(std::string name, const weights_tensor<T>& src) {
  safetensors::tensor_bytes t{std::move(name), std::string(weights_dtype<T>()), src.shape, {}};
  const std::size_t rows = src.shape.empty() ? 1 : static_cast<std::size_t>(src.shape[0]);
  std::size_t cols = 1;
  for (std::size_t k = 1; k < src.shape.size(); ++k) cols *= static_cast<std::size_t>(src.shape[k]);
  t.bytes.reserve(rows * cols * sizeof(T));
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) {
      const T v = src.data[r * src.row_stride + c * src.col_stride];
      if (!std::isfinite(v)) {
        std::string where = "]";
        for (std::size_t k = src.shape.size(), e = r * cols + c; k-- > 0;) {
          where.insert(0, message({k ? ", " : "[", e % src.shape[k]}));
          e /= static_cast<std::size_t>(src.shape[k]);
        }
        non_finite_on_save(t.name, where, double(v));
      }
      put_le(t.bytes, v);
    }
  return t;
}

inline safetensors::tensor_bytes counter_tensor(std::string name, std::int64_t value) {
  safetensors::tensor_bytes t{std::move(name), "I64", {}, {}};
  put_le(t.bytes, value);
  return t;
}

// The body of save_weights_to_bytes, for any network of scalar type T. Cold (optimised for size:
// it runs once per save), and reached through save_layers so that the caller's code is not
// predicted cold too.
template <class T>
[[gnu::noinline, gnu::cold]] std::vector<std::byte> save_layers_cold(std::size_t in_size,
                                                                     const std::vector<weights_layer<T>>& layers,
                                                                     const std::map<std::string, std::string>& metadata) {
  std::map<std::string, std::string> meta;
  for (const auto& [k, v] : metadata)
    if (!k.starts_with("typegrad.")) meta.emplace(k, v);
  meta.emplace("format", "pt");
  meta["typegrad.architecture"] = architecture_of(in_size, layers);
  meta["typegrad.version"] = std::string(weights_typegrad_version);

  const auto first = module_indices(layers);
  std::vector<safetensors::tensor_bytes> tensors;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    for (const auto& t : layers[l].tensors) tensors.push_back(tensor_of(message({first[l], ".", t.name}), t));
    if (layers[l].counter)
      tensors.push_back(counter_tensor(message({first[l], ".num_batches_tracked"}), *layers[l].counter));
  }
  return safetensors::serialize(tensors, meta);
}

// The body of load_weights_from_bytes, for any network of scalar type T: every check first,
// then the parameters the layers point to are written (and nothing is written on an error).
// Cold like save_layers_cold, reached through load_layers.
template <class T>
[[gnu::noinline, gnu::cold]] std::map<std::string, std::string> load_layers_cold(std::size_t in_size,
                                                                                 const std::vector<weights_layer<T>>& layers,
                                                                                 std::span<const std::byte> file,
                                                                                 std::string_view source) {
  const auto fail = [&](const std::string& what) { safetensors::detail::fail(source, what); };
  const safetensors::header h = safetensors::parse(file, source);

  const std::string arch = architecture_of(in_size, layers);
  if (const auto a = h.metadata.find("typegrad.architecture"); a != h.metadata.end() && a->second != arch)
    fail(message({"wrong architecture: the file holds \"", a->second, "\" but this network is \"", arch, "\" (",
                  architecture_difference(a->second, arch), ")"}));

  const auto names = tensor_names_of(layers);
  for (const auto& t : h.tensors)
    if (std::find(names.begin(), names.end(), t.name) == names.end()) {
      std::string expected;
      for (const auto& n : names) expected += (expected.empty() ? "" : ", ") + n;
      if (expected.empty()) expected = "no tensors";
      fail(message({"unexpected tensor '", t.name, "' (this network ", arch, " has exactly ", expected, ")"}));
    }

  const auto first = module_indices(layers);
  std::vector<std::vector<T>> values;      // every tensor of every layer, checked
  std::vector<std::int64_t> counters;      // every counter, 0 when the file has none
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const std::string layer_name = message({"layer ", l, " (", describe_layer(layers[l]), ")"});
    for (const auto& t : layers[l].tensors)
      values.push_back(read_tensor<T>(h, file, source, message({first[l], ".", t.name}), t.name, t.shape, layer_name));
    if (layers[l].counter) {
      const std::string name = message({first[l], ".num_batches_tracked"});
      std::int64_t count = 0;
      if (const safetensors::tensor_info* t = h.find(name)) {
        if (t->dtype != "I64" || !t->shape.empty())
          fail(message({"tensor '", name, "' has dtype ", t->dtype, " and shape ", safetensors::shape_string(t->shape),
                        " but the batch counter of ", layer_name, " is I64 []"}));
        count = get_le<std::int64_t>(file.data() + h.data_offset + t->begin);
      }
      counters.push_back(count);
    }
  }

  // Everything checked: write. The pointers come from the network's own (non-const) parameters.
  std::size_t v = 0, n = 0;
  for (const auto& l : layers) {
    for (const auto& t : l.tensors) {
      T* data = const_cast<T*>(t.data);
      const std::vector<T>& src = values[v++];
      const std::size_t rows = t.shape.empty() ? 1 : static_cast<std::size_t>(t.shape[0]), cols = src.size() / rows;
      for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = 0; c < cols; ++c) data[r * t.row_stride + c * t.col_stride] = src[r * cols + c];
    }
    if (l.counter) *const_cast<std::int64_t*>(l.counter) = counters[n++];
  }
  return h.metadata;
}

template <class T>
[[gnu::noinline]] std::vector<std::byte> save_layers(std::size_t in_size, const std::vector<weights_layer<T>>& layers,
                                                     const std::map<std::string, std::string>& metadata) {
  return save_layers_cold<T>(in_size, layers, metadata);
}

template <class T>
[[gnu::noinline]] std::map<std::string, std::string> load_layers(std::size_t in_size,
                                                                 const std::vector<weights_layer<T>>& layers,
                                                                 std::span<const std::byte> file, std::string_view source) {
  return load_layers_cold<T>(in_size, layers, file, source);
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
inline weights_metadata read_weights_metadata(const std::filesystem::path& path) {
  const std::string source = "typegrad::read_weights_metadata('" + path.string() + "')";
  return safetensors::parse(safetensors::read_file(path, source), source).metadata;
}

}  // namespace typegrad

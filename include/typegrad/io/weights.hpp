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
#include <numeric>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <typegrad/activations/builtin.hpp>
#include <typegrad/io/detail/message.hpp>
#include <typegrad/io/error.hpp>
#include <typegrad/io/safetensors.hpp>
#include <typegrad/network/network.hpp>

namespace typegrad {

/// String metadata stored in a weight file's "__metadata__" (e.g. standardisation mean/std).
/// Keys starting with "typegrad." belong to the library: save_weights writes
/// "typegrad.architecture" and "typegrad.version" itself, replacing any given ones.
using weights_metadata = std::map<std::string, std::string>;

/// The version of typegrad written into every weight file ("typegrad.version").
inline constexpr std::string_view weights_typegrad_version = "0.1.0";

namespace detail {

template <class Act>
concept named_activation = requires {
  { Act::name } -> std::convertible_to<std::string_view>;
};

// Matches leaky_relu and every leaky_relu_with<N, D> (a derived class converts to its base).
template <std::intmax_t Num, std::intmax_t Den>
constexpr std::pair<std::intmax_t, std::intmax_t> leaky_slope(const leaky_relu_with<Num, Den>*) noexcept {
  return {Num, Den};
}
template <class Act>
concept leaky_activation = requires(const Act* a) {
  detail::leaky_slope(a);
};

// A layer save/load understands: weight [Out, In] and bias [Out] with an element-wise or softmax activation.
template <class Layer>
concept weights_dense_layer = requires(typename Layer::parameters& p) {
  typename Layer::activation_type;
  Layer::in_size;
  Layer::out_size;
  p.weight(std::size_t{}, std::size_t{});
  p.bias(std::size_t{});
};

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

// One tensor's little-endian bytes from `values` (row-major for `shape`); refuses non-finite
// values. Templated on T only: every network and layer shares this code.
template <class T>
safetensors::tensor_bytes tensor_of(std::string name, std::vector<std::uint64_t> shape, const std::vector<T>& values) {
  safetensors::tensor_bytes t{std::move(name), std::string(weights_dtype<T>()), std::move(shape), {}};
  t.bytes.reserve(values.size() * sizeof(T));
  const std::size_t cols = static_cast<std::size_t>(t.shape.back());
  for (std::size_t e = 0; e < values.size(); ++e) {
    if (!std::isfinite(values[e]))
      non_finite_on_save(t.name, t.shape.size() == 1 ? message({"[", e, "]"}) : message({"[", e / cols, ", ", e % cols, "]"}),
                         double(values[e]));
    put_le(t.bytes, values[e]);
  }
  return t;
}

// The values of tensor `name`, the `role` ("weight" or "bias") of shape `shape` of `layer_name`,
// after checking its dtype, shape and that every value is finite. Templated on T only.
template <class T>
std::vector<T> read_tensor(const safetensors::header& h, std::span<const std::byte> file, std::string_view source,
                           const std::string& name, const char* role, const std::vector<std::uint64_t>& shape,
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

template <class Net, class F>
void for_each_weights_layer(F&& f) {
  [&]<std::size_t... I>(std::index_sequence<I...>) { (f(std::integral_constant<std::size_t, I>{}), ...); }
  (std::make_index_sequence<Net::depth>{});
}

}  // namespace detail

/// The name an activation has in architecture strings and for tools/export_pytorch.py:
/// identity, relu, tanh, sigmoid, leaky_relu (slope 0.01) or leaky_relu(Num/Den), elu, softplus,
/// gelu (tanh form), silu, softmax. A custom `activation<E>` may declare
/// `static constexpr std::string_view name = "...";`, else it is "custom" (or "identity" when f' = 1).
template <class Act>
std::string activation_name() {
  if constexpr (detail::named_activation<Act>)
    return std::string(std::string_view(Act::name));
  else if constexpr (std::is_same_v<Act, identity>)
    return "identity";
  else if constexpr (std::is_same_v<Act, relu>)
    return "relu";
  else if constexpr (std::is_same_v<Act, tanh>)
    return "tanh";
  else if constexpr (std::is_same_v<Act, sigmoid>)
    return "sigmoid";
  else if constexpr (std::is_same_v<Act, elu>)
    return "elu";
  else if constexpr (std::is_same_v<Act, softplus>)
    return "softplus";
  else if constexpr (std::is_same_v<Act, gelu>)
    return "gelu";
  else if constexpr (std::is_same_v<Act, swish>)
    return "silu";
  else if constexpr (std::is_same_v<Act, softmax>)
    return "softmax";
  else if constexpr (detail::leaky_activation<Act>) {
    auto [num, den] = detail::leaky_slope(static_cast<const Act*>(nullptr));
    const std::intmax_t g = std::gcd(num, den);
    num /= g, den /= g;
    if (den < 0) num = -num, den = -den;
    if (num == 1 && den == 100) return "leaky_relu";
    return "leaky_relu(" + std::to_string(num) + (den == 1 ? "" : "/" + std::to_string(den)) + ")";
  } else if constexpr (requires { requires Act::is_identity; })
    return "identity";
  else
    return "custom";
}

namespace detail {

// What save/load need to know of one dense layer's type, at run time: the code that names,
// checks and (de)serialises the tensors is then shared by every network of the same scalar type
// instead of being generated per network and per layer.
struct weights_layer_info {
  std::size_t in = 0, out = 0;
  std::string activation;
};

// Where one layer's parameters live: W(o, i) is w[o * o_stride + i * i_stride], b(o) is b[o].
template <class T>  // T or const T
struct weights_layer_data {
  T* w = nullptr;
  T* b = nullptr;
  std::size_t o_stride = 0, i_stride = 0;
};

template <network_type Net>
std::vector<weights_layer_info> weights_layers() {
  std::vector<weights_layer_info> layers;
  for_each_weights_layer<Net>([&](auto I) {
    using layer = typename Net::template layer_t<decltype(I)::value>;
    static_assert(weights_dense_layer<layer>,
                  "typegrad::save_weights / load_weights: only networks of dense layers can be saved so far");
    layers.push_back({layer::in_size, layer::out_size, activation_name<typename layer::activation_type>()});
  });
  return layers;
}

template <network_type Net, class Params>  // Params: Net::parameters_type, const or not
auto weights_data(Params& params) {
  using T = std::conditional_t<std::is_const_v<Params>, const typename Net::value_type, typename Net::value_type>;
  std::vector<weights_layer_data<T>> data;
  for_each_weights_layer<Net>([&](auto I) {
    auto& p = get<decltype(I)::value>(params);
    using block = std::remove_cvref_t<decltype(p)>;
    const std::size_t o_stride = block::input_major ? 1 : block::row_stride;
    const std::size_t i_stride = block::input_major ? block::row_stride : 1;
    data.push_back({p.data(simd::weight_c), p.data(simd::bias_c), o_stride, i_stride});
  });
  return data;
}

// "input<30>,dense<16,relu>,...": see architecture_string.
[[gnu::noinline]] inline std::string architecture_of(std::size_t in_size, const std::vector<weights_layer_info>& layers) {
  std::string s = message({"input<", in_size, ">"});
  for (const auto& l : layers) s += message({",dense<", l.out, ",", l.activation, ">"});
  return s;
}

// PyTorch nn.Sequential state_dict names: see weight_tensor_names.
[[gnu::noinline]] inline std::vector<std::string> tensor_names_of(const std::vector<weights_layer_info>& layers) {
  std::vector<std::string> names;
  std::size_t module = 0;
  for (const auto& l : layers) {
    names.push_back(message({module, ".weight"}));
    names.push_back(message({module, ".bias"}));
    module += l.activation == "identity" ? 1 : 2;
  }
  return names;
}

// The body of save_weights_to_bytes, for any network of scalar type T. Cold (optimised for size:
// it runs once per save), and reached through save_layers so that the caller's code is not
// predicted cold too.
template <class T>
[[gnu::noinline, gnu::cold]] std::vector<std::byte> save_layers_cold(std::size_t in_size, const std::vector<weights_layer_info>& layers,
                                                     const std::vector<weights_layer_data<const T>>& data,
                                                     const std::map<std::string, std::string>& metadata) {
  std::map<std::string, std::string> meta;
  for (const auto& [k, v] : metadata)
    if (!k.starts_with("typegrad.")) meta.emplace(k, v);
  meta.emplace("format", "pt");
  meta["typegrad.architecture"] = architecture_of(in_size, layers);
  meta["typegrad.version"] = std::string(weights_typegrad_version);

  const auto names = tensor_names_of(layers);
  std::vector<safetensors::tensor_bytes> tensors;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const std::size_t in = layers[l].in, out = layers[l].out;
    const weights_layer_data<const T>& p = data[l];
    std::vector<T> w(out * in), b(out);
    for (std::size_t o = 0; o < out; ++o) {
      for (std::size_t k = 0; k < in; ++k) w[o * in + k] = p.w[o * p.o_stride + k * p.i_stride];
      b[o] = p.b[o];
    }
    tensors.push_back(tensor_of(names[2 * l], {out, in}, w));
    tensors.push_back(tensor_of(names[2 * l + 1], {out}, b));
  }
  return safetensors::serialize(tensors, meta);
}

// The body of load_weights_from_bytes, for any network of scalar type T: every check first,
// then the parameters in `data` are written (and nothing is written on an error). Cold like
// save_layers_cold, reached through load_layers.
template <class T>
[[gnu::noinline, gnu::cold]] std::map<std::string, std::string> load_layers_cold(std::size_t in_size,
                                                                 const std::vector<weights_layer_info>& layers,
                                                                 const std::vector<weights_layer_data<T>>& data,
                                                                 std::span<const std::byte> file,
                                                                 std::string_view source) {
  const auto fail = [&](const std::string& what) { safetensors::detail::fail(source, what); };
  const safetensors::header h = safetensors::parse(file, source);

  const std::string arch = architecture_of(in_size, layers);
  if (const auto a = h.metadata.find("typegrad.architecture"); a != h.metadata.end() && a->second != arch)
    fail(message({"wrong architecture: the file holds \"", a->second, "\" but this network is \"", arch, "\""}));

  const auto names = tensor_names_of(layers);
  for (const auto& t : h.tensors)
    if (std::find(names.begin(), names.end(), t.name) == names.end()) {
      std::string expected;
      for (const auto& n : names) expected += (expected.empty() ? "" : ", ") + n;
      fail(message({"unexpected tensor '", t.name, "' (this network ", arch, " has exactly ", expected, ")"}));
    }

  std::vector<std::vector<T>> values;  // weight and bias of each layer, checked
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const std::size_t in = layers[l].in, out = layers[l].out;
    const std::string layer_name = message({"layer ", l, " (dense<", out, ",", layers[l].activation, ">)"});
    values.push_back(read_tensor<T>(h, file, source, names[2 * l], "weight", {out, in}, layer_name));
    values.push_back(read_tensor<T>(h, file, source, names[2 * l + 1], "bias", {out}, layer_name));
  }
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const std::size_t in = layers[l].in, out = layers[l].out;
    const weights_layer_data<T>& p = data[l];
    for (std::size_t o = 0; o < out; ++o) {
      for (std::size_t k = 0; k < in; ++k) p.w[o * p.o_stride + k * p.i_stride] = values[2 * l][o * in + k];
      p.b[o] = values[2 * l + 1][o];
    }
  }
  return h.metadata;
}

template <class T>
[[gnu::noinline]] std::vector<std::byte> save_layers(std::size_t in_size, const std::vector<weights_layer_info>& layers,
                                                     const std::vector<weights_layer_data<const T>>& data,
                                                     const std::map<std::string, std::string>& metadata) {
  return save_layers_cold<T>(in_size, layers, data, metadata);
}

template <class T>
[[gnu::noinline]] std::map<std::string, std::string> load_layers(std::size_t in_size,
                                                                 const std::vector<weights_layer_info>& layers,
                                                                 const std::vector<weights_layer_data<T>>& data,
                                                                 std::span<const std::byte> file, std::string_view source) {
  return load_layers_cold<T>(in_size, layers, data, file, source);
}

}  // namespace detail

/// The architecture string of a network type, e.g.
/// "input<30>,dense<16,relu>,dense<16,relu>,dense<1,sigmoid>" (the scalar type is not part of it:
/// the tensors' dtype says F32 or F64). Saved as "typegrad.architecture" and checked on load.
template <network_type Net>
std::string architecture_string() {
  return detail::architecture_of(Net::in_size, detail::weights_layers<Net>());
}

/// The tensor names of a network's parameters, as PyTorch's `nn.Sequential(Linear, act, ...)`
/// state_dict names them: "0.weight", "0.bias", then the next Linear's module index. Every
/// activation takes one module slot except identity, which has no module (as written by
/// tools/export_pytorch.py and rebuilt by tools/import_pytorch.py).
template <network_type Net>
std::vector<std::string> weight_tensor_names() {
  return detail::tensor_names_of(detail::weights_layers<Net>());
}

/// The safetensors file of `net`'s parameters (weight [out, in], bias [out]; F32 or F64) with
/// `metadata` plus "typegrad.architecture", "typegrad.version" and "format": "pt" (unless given).
/// Throws io_error when a parameter is not finite (such a file could not be loaded back).
template <network_type Net>
std::vector<std::byte> save_weights_to_bytes(const Net& net, const weights_metadata& metadata = {}) {
  return detail::save_layers<typename Net::value_type>(Net::in_size, detail::weights_layers<Net>(),
                                                       detail::weights_data<Net>(net.parameters()), metadata);
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
/// io_error `net` is exactly as before.
template <network_type Net>
weights_metadata load_weights_from_bytes(Net& net, std::span<const std::byte> file,
                                         std::string_view source = "typegrad::load_weights(<memory>)") {
  return detail::load_layers<typename Net::value_type>(Net::in_size, detail::weights_layers<Net>(),
                                                       detail::weights_data<Net>(net.parameters()), file, source);
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

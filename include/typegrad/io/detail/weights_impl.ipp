// The definitions behind io/detail/weights_layers.hpp and read_weights_metadata: naming, checking
// and (de)serialising a network's tensors, for any network of scalar type T. Compiled into the
// typegrad library for float and double (src/weights.cpp), or included by
// io/detail/weights_layers.hpp when TYPEGRAD_HEADER_ONLY is defined. Never include it directly.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <typegrad/io/detail/linkage.hpp>
#include <typegrad/io/detail/message.hpp>
#include <typegrad/io/detail/weights_layers.hpp>
#include <typegrad/io/error.hpp>
#include <typegrad/io/safetensors.hpp>

namespace typegrad {

/// String metadata of a weight file (the same type as in io/weights.hpp).
using weights_metadata = std::map<std::string, std::string>;

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

/// The "__metadata__" of the safetensors file at `path` (after validating the whole header),
/// including "typegrad.architecture" and "typegrad.version". Throws io_error.
TYPEGRAD_IO_INLINE weights_metadata read_weights_metadata(const std::filesystem::path& path) {
  const std::string source = "typegrad::read_weights_metadata('" + path.string() + "')";
  return safetensors::parse(safetensors::read_file(path, source), source).metadata;
}

}  // namespace typegrad

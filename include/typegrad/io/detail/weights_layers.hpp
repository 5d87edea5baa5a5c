// What save_weights / load_weights know of a network, gathered at run time, and the compiled
// functions that name, check and (de)serialise its tensors for any network of scalar type T.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>


namespace typegrad {

/// The version of typegrad written into every weight file ("typegrad.version").
inline constexpr std::string_view weights_typegrad_version = "0.1.0";

namespace detail {

// The code that names, checks and (de)serialises the tensors is shared by every network of the
// same scalar type instead of being generated per network and per layer: the per-network code
// (io/weights.hpp) only fills these descriptions. The functions below are compiled into the
// typegrad library for float and double (src/weights.cpp), or defined inline by
// io/detail/weights_impl.ipp under TYPEGRAD_HEADER_ONLY.

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

/// "input<30>,dense<16,relu>,...": see architecture_string.
template <class T>
std::string architecture_of(std::size_t in_size, const std::vector<weights_layer<T>>& layers);

/// PyTorch nn.Sequential state_dict names, in state_dict order: see weight_tensor_names.
template <class T>
std::vector<std::string> tensor_names_of(const std::vector<weights_layer<T>>& layers);

/// The body of save_weights_to_bytes for any network of scalar type T.
template <class T>
std::vector<std::byte> save_layers(std::size_t in_size, const std::vector<weights_layer<T>>& layers,
                                   const std::map<std::string, std::string>& metadata);

/// The body of load_weights_from_bytes for any network of scalar type T: every check first, then
/// the parameters the layers point to are written (nothing is written on an error).
template <class T>
std::map<std::string, std::string> load_layers(std::size_t in_size, const std::vector<weights_layer<T>>& layers,
                                               std::span<const std::byte> file, std::string_view source);

}  // namespace detail
}  // namespace typegrad

#ifdef TYPEGRAD_HEADER_ONLY
#include <typegrad/io/detail/weights_impl.ipp>
#endif

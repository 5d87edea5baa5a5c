// The compiled part of io/weights.hpp: naming, checking and (de)serialising the tensors of any
// float or double network, built once into the typegrad library.
#include <typegrad/io/detail/weights_layers.hpp>

#include <typegrad/io/detail/weights_impl.ipp>

namespace typegrad::detail {

#define TYPEGRAD_INSTANTIATE_WEIGHTS(T)                                                                          \
  template std::string architecture_of<T>(std::size_t, const std::vector<weights_layer<T>>&);                   \
  template std::vector<std::string> tensor_names_of<T>(const std::vector<weights_layer<T>>&);                   \
  template std::vector<std::byte> save_layers<T>(std::size_t, const std::vector<weights_layer<T>>&,             \
                                                 const std::map<std::string, std::string>&);                    \
  template std::map<std::string, std::string> load_layers<T>(std::size_t, const std::vector<weights_layer<T>>&, \
                                                             std::span<const std::byte>, std::string_view);

TYPEGRAD_INSTANTIATE_WEIGHTS(float)
TYPEGRAD_INSTANTIATE_WEIGHTS(double)

#undef TYPEGRAD_INSTANTIATE_WEIGHTS

}  // namespace typegrad::detail

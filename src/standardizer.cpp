// The metadata text of standardizer<float | double, Features> (data/standardizer.hpp), built once
// into the typegrad library.
#include <typegrad/data/standardizer.hpp>

#include <typegrad/data/detail/standardizer_impl.ipp>

namespace typegrad::detail {

template std::map<std::string, std::string> standardizer_to_metadata<float>(const std::string&, std::size_t,
                                                                             const float*, const float*,
                                                                             const float*, const float*);
template std::map<std::string, std::string> standardizer_to_metadata<double>(const std::string&, std::size_t,
                                                                              const double*, const double*,
                                                                              const double*, const double*);
template void standardizer_from_metadata<float>(const std::map<std::string, std::string>&, const std::string&,
                                                std::size_t, float*, float*, float*, float*);
template void standardizer_from_metadata<double>(const std::map<std::string, std::string>&, const std::string&,
                                                 std::size_t, double*, double*, double*, double*);

}  // namespace typegrad::detail

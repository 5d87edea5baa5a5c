// The compiled part of io/csv.hpp: the CSV scanner and row parser for float and double, built
// once into the typegrad library.
#include <typegrad/io/csv.hpp>

#include <typegrad/io/detail/csv_impl.ipp>

namespace typegrad {

#define TYPEGRAD_INSTANTIATE_CSV(T)                                                                                   \
  template void detail::parse_csv_rows<T>(std::string_view, std::string_view, const csv_options&, std::size_t,       \
                                          std::size_t, std::vector<T>&, std::vector<T>&, std::vector<std::string>&,  \
                                          std::vector<std::string>&);                                                \
  template void detail::read_csv_rows<T>(const std::filesystem::path&, const csv_options&, std::size_t, std::size_t, \
                                         std::vector<T>&, std::vector<T>&, std::vector<std::string>&,                \
                                         std::vector<std::string>&);                                                 \
  template csv_table<T> parse_csv_table<T>(std::string_view, std::string_view, const csv_options&);                  \
  template csv_table<T> read_csv_table<T>(const std::filesystem::path&, const csv_options&);

TYPEGRAD_INSTANTIATE_CSV(float)
TYPEGRAD_INSTANTIATE_CSV(double)

#undef TYPEGRAD_INSTANTIATE_CSV

}  // namespace typegrad

// The stratified splits of float and double labels (data/split.hpp), built once into the typegrad
// library.
#include <typegrad/data/split.hpp>

namespace typegrad {

template split_indices stratified_split<float>(std::span<const float>, double, std::uint64_t);
template split_indices stratified_split<double>(std::span<const double>, double, std::uint64_t);
template std::vector<split_indices> stratified_kfold<float>(std::span<const float>, std::size_t, std::uint64_t);
template std::vector<split_indices> stratified_kfold<double>(std::span<const double>, std::size_t, std::uint64_t);

}  // namespace typegrad

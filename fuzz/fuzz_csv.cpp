// libFuzzer target: typegrad::parse_csv / parse_csv_table on arbitrary bytes. Only data_error may
// escape the parser; any other exception, sanitizer report or broken invariant is a finding.
#include <typegrad/io/csv.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tg = typegrad;

namespace {

template <class T, std::size_t F, std::size_t Tg>
void dataset_case(std::string_view text, const tg::csv_options& options) {
  try {
    const auto data = tg::parse_csv<T, F, Tg>(text, "fuzz.csv", options);
    if (data.empty()) __builtin_trap();  // an empty result must be an error instead
    for (const T v : data.feature_data())
      if (!std::isfinite(v)) __builtin_trap();
    for (const T v : data.target_data())
      if (!std::isfinite(v)) __builtin_trap();
  } catch (const tg::data_error&) {
  }
}

}  // namespace

// The first byte picks the options (header mode, separator, column choice); the rest is the file.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t mode = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  tg::csv_options options;
  options.header = static_cast<tg::csv_header>(mode % 4);
  options.separator = (mode >> 2) % 4 == 3 ? ' ' : (mode >> 2) % 4 == 2 ? ';' : ',';
  if (mode & 0x10) {
    options.feature_columns = {3, 0};
    options.target_columns = {1};
  }
  if (mode & 0x20) {
    dataset_case<double, 2, 1>(text, options);
  } else if (mode & 0x10) {
    dataset_case<float, 2, 1>(text, options);
  } else {
    dataset_case<float, 3, 1>(text, options);
    dataset_case<double, 1, 2>(text, options);
  }
  try {
    const auto table = tg::parse_csv_table<double>(text, "fuzz.csv", options);
    if (table.rows == 0 || table.values.size() != table.rows * table.cols) __builtin_trap();
  } catch (const tg::data_error&) {
  }
  return 0;
}

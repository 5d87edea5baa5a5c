// libFuzzer target: typegrad::parse_npy on arbitrary bytes. Only data_error may escape the
// parser; any other exception, sanitizer report or broken invariant is a finding.
#include <typegrad/io/npy.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tg = typegrad;

namespace {

template <class T>
void check(std::string_view bytes) {
  try {
    const auto a = tg::parse_npy<T>(bytes, "fuzz.npy");
    if (a.shape.empty() || a.shape.size() > 2) __builtin_trap();
    std::size_t count = 1;
    for (const auto e : a.shape) count *= e;
    if (a.values.size() != count || a.rows() * a.cols() != count) __builtin_trap();
    for (const T v : a.values)
      if (!std::isfinite(v)) __builtin_trap();
  } catch (const tg::data_error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  check<float>(bytes);
  check<double>(bytes);
  return 0;
}

// typegrad::read_npy / parse_npy: NumPy .npy arrays (1-D or 2-D, little-endian, C order).
#pragma once

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <typegrad/data/detail/text.hpp>
#include <typegrad/io/error.hpp>

namespace typegrad {

/// A 1-D or 2-D array read from a .npy file, values converted to T.
template <class T>
struct npy_array {
  std::vector<std::size_t> shape;  ///< one or two extents, as in NumPy
  std::vector<T> values;           ///< C order (row-major)
  std::string dtype;               ///< the file's dtype descriptor, e.g. "<u2"

  /// Rows: shape[0]. Columns: shape[1] for 2-D, 1 for 1-D.
  std::size_t rows() const noexcept { return shape.empty() ? 0 : shape[0]; }
  std::size_t cols() const noexcept { return shape.size() == 2 ? shape[1] : 1; }
};

namespace detail {

[[noreturn]] inline void npy_fail(std::string_view name, std::size_t byte, const std::string& why) {
  throw data_error(std::string(name) + ": byte " + std::to_string(byte) + ": " + why);
}

// A cursor over the header's Python dict literal, e.g.
// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }
struct npy_header_parser {
  std::string_view text, name;
  std::size_t base;  // file offset of text[0], for messages
  std::size_t pos = 0;

  [[noreturn]] void fail(const std::string& why) const { npy_fail(name, base + pos, "header: " + why); }
  void skip_space() noexcept {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\n' || text[pos] == '\r')) ++pos;
  }
  bool accept(char c) noexcept {
    skip_space();
    if (pos < text.size() && text[pos] == c) return ++pos, true;
    return false;
  }
  void expect(char c) {
    if (!accept(c)) fail(std::string("expected '") + c + "', found " + (pos < text.size() ? quoted_excerpt(text.substr(pos, 12)) : "the end"));
  }
  std::string_view string() {
    skip_space();
    if (pos >= text.size() || (text[pos] != '\'' && text[pos] != '"')) fail("expected a quoted string");
    const char quote = text[pos++];
    const std::size_t start = pos;
    while (pos < text.size() && text[pos] != quote) {
      if (text[pos] == '\\') fail("escapes in strings are not supported");
      ++pos;
    }
    if (pos >= text.size()) fail("unterminated string");
    return text.substr(start, pos++ - start);
  }
  bool boolean() {
    skip_space();
    if (text.substr(pos).starts_with("True")) return pos += 4, true;
    if (text.substr(pos).starts_with("False")) return pos += 5, false;
    fail("expected True or False");
  }
  std::size_t integer() {
    skip_space();
    const std::size_t start = pos;
    std::size_t value = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      const std::size_t digit = static_cast<std::size_t>(text[pos] - '0');
      if (value > (std::numeric_limits<std::size_t>::max() - digit) / 10) fail("extent too large");
      value = value * 10 + digit;
      ++pos;
    }
    if (pos == start) fail("expected a non-negative integer");
    if (pos < text.size() && text[pos] == 'L') ++pos;  // Python 2 long suffix
    return value;
  }
};

struct npy_dtype {
  char kind = 0;  // 'f', 'i', 'u'
  std::size_t size = 0;
};

template <class T, class Source>
T npy_convert(const unsigned char* p) noexcept {
  std::conditional_t<sizeof(Source) == 8, std::uint64_t,
                     std::conditional_t<sizeof(Source) == 4, std::uint32_t,
                                        std::conditional_t<sizeof(Source) == 2, std::uint16_t, std::uint8_t>>>
      bits = 0;
  for (std::size_t b = 0; b < sizeof(Source); ++b) bits |= static_cast<decltype(bits)>(static_cast<decltype(bits)>(p[b]) << (8 * b));
  return static_cast<T>(std::bit_cast<Source>(bits));  // little-endian assembled by hand: host-independent
}

}  // namespace detail

/// Parses the bytes of a .npy file (called `name` in messages).
///
/// Accepts format versions 1.0 and 2.0, C order, shapes `(n,)` and `(n, m)`, and dtypes
/// `<f4 <f8 <i1 <i2 <i4 <i8 <u1 <u2 <u4 <u8` (`|` for one-byte types); values are converted
/// to T (64-bit integers above 2^53, or 2^24 for float, round). Floating-point data must be
/// finite, and the data must be exactly as long as the shape says.
/// @throws data_error "name: byte B: what is wrong" (B is the 0-based file offset; in the text
///         header it points at the offending character, in the data at the offending element)
template <class T>
npy_array<T> parse_npy(std::string_view bytes, std::string_view name) {
  static_assert(std::is_floating_point_v<T>, "typegrad::parse_npy<T>: T must be float or double");
  constexpr std::string_view magic = "\x93NUMPY";
  if (bytes.size() < magic.size() || !bytes.starts_with(magic))
    detail::npy_fail(name, 0, "not a .npy file (bad magic; expected \\x93NUMPY)");
  if (bytes.size() < 8) detail::npy_fail(name, bytes.size(), "truncated before the format version");
  const auto u8 = [&](std::size_t i) { return static_cast<unsigned char>(bytes[i]); };
  const unsigned major = u8(6), minor = u8(7);
  if ((major != 1 && major != 2) || minor != 0)
    detail::npy_fail(name, 6, "unsupported format version " + std::to_string(major) + "." + std::to_string(minor) +
                                  " (1.0 and 2.0 are)");
  const std::size_t len_bytes = major == 1 ? 2 : 4, header_start = 8 + len_bytes;
  if (bytes.size() < header_start) detail::npy_fail(name, bytes.size(), "truncated in the header length");
  std::size_t header_len = 0;
  for (std::size_t b = 0; b < len_bytes; ++b) header_len |= std::size_t{u8(8 + b)} << (8 * b);
  if (bytes.size() - header_start < header_len)
    detail::npy_fail(name, bytes.size(), "truncated header: " + std::to_string(header_len) + " bytes announced at byte 8, " +
                                             std::to_string(bytes.size() - header_start) + " present");

  detail::npy_header_parser p{bytes.substr(header_start, header_len), name, header_start};
  std::string_view descr;
  bool fortran = false, have_descr = false, have_fortran = false, have_shape = false;
  std::vector<std::size_t> shape;
  p.expect('{');
  while (!p.accept('}')) {
    p.skip_space();
    const std::size_t key_pos = p.pos;
    const std::string_view key = p.string();
    p.expect(':');
    if (key == "descr" && !have_descr) {
      descr = p.string();
      have_descr = true;
    } else if (key == "fortran_order" && !have_fortran) {
      fortran = p.boolean();
      have_fortran = true;
    } else if (key == "shape" && !have_shape) {
      p.expect('(');
      while (!p.accept(')')) {
        if (shape.size() == 8) p.fail("too many dimensions");
        shape.push_back(p.integer());
        if (!p.accept(',')) {
          p.expect(')');
          break;
        }
      }
      have_shape = true;
    } else {
      p.pos = key_pos;
      p.fail("unexpected or repeated key " + detail::quoted_excerpt(key));
    }
    if (!p.accept(',')) {
      p.expect('}');
      break;
    }
  }
  p.skip_space();
  if (p.pos != p.text.size()) p.fail("unexpected text after the dictionary");
  if (!have_descr || !have_fortran || !have_shape) {
    p.pos = 0;
    p.fail("'descr', 'fortran_order' and 'shape' are all required");
  }

  detail::npy_dtype dtype;
  if (descr.size() == 3 && (descr[0] == '<' || descr[0] == '|') && (descr[2] == '1' || descr[2] == '2' || descr[2] == '4' || descr[2] == '8')) {
    dtype.kind = descr[1];
    dtype.size = static_cast<std::size_t>(descr[2] - '0');
  }
  const bool known = (dtype.kind == 'f' && (dtype.size == 4 || dtype.size == 8)) ||
                     ((dtype.kind == 'i' || dtype.kind == 'u') && dtype.size != 0);
  if (!known || (descr[0] == '|' && dtype.size != 1))
    detail::npy_fail(name, header_start, "header: unsupported dtype " + detail::quoted_excerpt(descr) +
                                             " (little-endian f4, f8, i1..i8, u1..u8 are supported)");
  if (fortran) detail::npy_fail(name, header_start, "header: Fortran order is not supported (save a C-order array)");
  if (shape.size() != 1 && shape.size() != 2)
    detail::npy_fail(name, header_start, "header: " + std::to_string(shape.size()) + "-D arrays are not supported (1-D and 2-D are)");

  const std::size_t data_start = header_start + header_len;
  std::size_t count = 1;
  for (const auto extent : shape) {
    if (extent != 0 && count > std::numeric_limits<std::size_t>::max() / extent / dtype.size)
      detail::npy_fail(name, header_start, "header: shape too large");
    count *= extent;
  }
  const std::size_t available = bytes.size() - data_start;
  if (available < count * dtype.size)
    detail::npy_fail(name, bytes.size(), "truncated data: shape needs " + std::to_string(count * dtype.size) +
                                             " bytes after the header, " + std::to_string(available) + " present");
  if (available != count * dtype.size)
    detail::npy_fail(name, data_start + count * dtype.size,
                     std::to_string(available - count * dtype.size) + " unexpected bytes after the data");

  npy_array<T> out;
  out.shape = shape;
  out.dtype = std::string(descr);
  out.values.resize(count);
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data() + data_start);
  const auto convert_all = [&]<class Source>() {
    for (std::size_t i = 0; i < count; ++i) {
      out.values[i] = detail::npy_convert<T, Source>(data + i * sizeof(Source));
      if constexpr (std::is_floating_point_v<Source>) {
        const auto v = detail::npy_convert<Source, Source>(data + i * sizeof(Source));
        if (!std::isfinite(v))
          detail::npy_fail(name, data_start + i * sizeof(Source),
                           "element " + std::to_string(i) + (shape.size() == 2 ? " (row " + std::to_string(i / shape[1]) + ", column " + std::to_string(i % shape[1]) + ")" : std::string()) +
                               " is NaN or infinite");
        if (std::fabs(static_cast<double>(v)) > static_cast<double>(std::numeric_limits<T>::max()))
          detail::npy_fail(name, data_start + i * sizeof(Source),
                           "element " + std::to_string(i) + " is out of the range of float");
      }
    }
  };
  switch (dtype.kind == 'f' ? 10 * dtype.size : (dtype.kind == 'i' ? 100 : 200) + dtype.size) {
    case 40: convert_all.template operator()<float>(); break;
    case 80: convert_all.template operator()<double>(); break;
    case 101: convert_all.template operator()<std::int8_t>(); break;
    case 102: convert_all.template operator()<std::int16_t>(); break;
    case 104: convert_all.template operator()<std::int32_t>(); break;
    case 108: convert_all.template operator()<std::int64_t>(); break;
    case 201: convert_all.template operator()<std::uint8_t>(); break;
    case 202: convert_all.template operator()<std::uint16_t>(); break;
    case 204: convert_all.template operator()<std::uint32_t>(); break;
    default: convert_all.template operator()<std::uint64_t>(); break;
  }
  return out;
}

/// Reads a .npy file; see `parse_npy`.
/// ```
/// auto ecg = typegrad::read_npy<float>("ecg_mitbih208.npy");   // shape {108000}, dtype "<u2"
/// ```
template <class T>
npy_array<T> read_npy(const std::filesystem::path& path) {
  const std::string bytes = detail::read_whole_file(path);
  return parse_npy<T>(bytes, path.string());
}

}  // namespace typegrad

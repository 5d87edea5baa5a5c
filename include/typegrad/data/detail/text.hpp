// Helpers shared by the data readers: whole-file reads and printable excerpts of bad input.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

#include <typegrad/io/error.hpp>

namespace typegrad::detail {

/// The whole file as bytes; `data_error` naming the file if it cannot be opened or read.
[[gnu::noinline]] inline std::string read_whole_file(const std::filesystem::path& path) {
  std::FILE* in = std::fopen(path.c_str(), "rb");
  if (!in) throw data_error(path.string() + ": cannot open the file for reading");
  std::string bytes;
  std::size_t size = 0;
  bool failed = false;
  while (true) {  // chunks of doubling size: no seek, so pipes and special files work too
    bytes.resize(std::max<std::size_t>(4096, 2 * size));
    size += std::fread(bytes.data() + size, 1, bytes.size() - size, in);
    if (size < bytes.size()) {
      failed = std::ferror(in) != 0;
      break;
    }
  }
  std::fclose(in);
  if (failed) throw data_error(path.string() + ": read error");
  bytes.resize(size);
  return bytes;
}

/// A short, printable, quoted excerpt of untrusted input for an error message: control and
/// non-ASCII bytes as \xNN, cut at `max_chars` (fuzzed fields can be megabytes long).
inline std::string quoted_excerpt(std::string_view text, std::size_t max_chars = 40) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "'";
  for (std::size_t i = 0; i < text.size() && i < max_chars; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  if (text.size() > max_chars) out += "...";
  return out + "'";
}

}  // namespace typegrad::detail

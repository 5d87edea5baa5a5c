// The safetensors file format: a validating header parser, a writer, and atomic file I/O.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <typegrad/data/detail/text.hpp>
#include <typegrad/io/detail/json.hpp>
#include <typegrad/io/detail/message.hpp>
#include <typegrad/io/error.hpp>

/// Reading and writing safetensors files (https://github.com/huggingface/safetensors):
/// an 8-byte little-endian header length N, N bytes of JSON header, then the data area.
/// The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}
/// (offsets relative to the data area) and may hold "__metadata__", a string → string map.
/// Nothing here is on a training hot path; every failure throws typegrad::io_error.
namespace typegrad::safetensors {

/// The largest header accepted (the reference implementation's limit too): a corrupt length
/// field must not make us allocate gigabytes.
inline constexpr std::uint64_t max_header_size = 100'000'000;

/// Bytes per element of a safetensors dtype ("F32" → 4), or 0 for a name it does not define.
constexpr std::size_t dtype_size(std::string_view dtype) noexcept {
  if (dtype == "F64" || dtype == "I64" || dtype == "U64") return 8;
  if (dtype == "F32" || dtype == "I32" || dtype == "U32") return 4;
  if (dtype == "F16" || dtype == "BF16" || dtype == "I16" || dtype == "U16") return 2;
  if (dtype == "BOOL" || dtype == "U8" || dtype == "I8" || dtype == "F8_E5M2" || dtype == "F8_E4M3") return 1;
  return 0;
}

/// One header entry: dtype, shape and its byte range [begin, end) within the data area.
struct tensor_info {
  std::string name;
  std::string dtype;
  std::vector<std::uint64_t> shape;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
};

/// A parsed and validated file: every tensor's range lies in the data area, matches its
/// dtype × shape, and the ranges tile the data area exactly (no overlap, no gap, no tail).
struct header {
  std::map<std::string, std::string> metadata;  ///< "__metadata__" (empty when absent)
  std::vector<tensor_info> tensors;             ///< sorted by data offset
  std::size_t data_offset = 0;                  ///< where the data area starts in the file (8 + N)
  std::size_t data_size = 0;                    ///< bytes in the data area

  /// The entry named `name`, or nullptr.
  const tensor_info* find(std::string_view name) const noexcept {
    for (const auto& t : tensors)
      if (t.name == name) return &t;
    return nullptr;
  }
};

/// "[3, 7]": a shape as the messages print it.
inline std::string shape_string(const std::vector<std::uint64_t>& shape) {
  std::string s = "[";
  for (std::size_t k = 0; k < shape.size(); ++k) {
    if (k) s += ", ";
    s += std::to_string(shape[k]);
  }
  return s + "]";
}

namespace detail {

namespace json = typegrad::detail::json;
using typegrad::detail::message;

[[noreturn]] inline void fail(std::string_view source, const std::string& what) {
  throw io_error(message({source, ": ", what}));
}

inline std::uint64_t read_u64_le(const std::byte* p) noexcept {
  std::uint64_t v = 0;
  for (int k = 7; k >= 0; --k) v = (v << 8) | std::to_integer<std::uint64_t>(p[k]);
  return v;
}

inline std::uint64_t get_unsigned(const json::value& v, std::string_view source, std::string_view who,
                                  std::string_view what) {
  if (!v.is_unsigned) fail(source, message({who, what, " must be a non-negative integer, got ", v.raw}));
  return v.unsigned_value;
}

inline tensor_info parse_entry(const std::string& name, const json::value& v, std::size_t data_size,
                               std::string_view source) {
  using kind = json::value::kind;
  const std::string who = message({"tensor '", name, "'"});
  const auto bad = [&](std::initializer_list<typegrad::detail::message_part> what) {
    fail(source, who + message(what));
  };
  if (v.type != kind::object) bad({": its header entry is not a JSON object"});
  tensor_info t;
  t.name = name;

  const json::value* dtype = v.find("dtype");
  if (!dtype || dtype->type != kind::string) bad({": no \"dtype\" string"});
  t.dtype = dtype->text;
  const std::size_t esize = dtype_size(t.dtype);
  if (esize == 0) bad({": unknown dtype '", t.dtype, "'"});

  const json::value* shape = v.find("shape");
  if (!shape || shape->type != kind::array) bad({": no \"shape\" array"});
  for (const auto& d : shape->items) t.shape.push_back(get_unsigned(d, source, who, ": every shape entry"));

  const json::value* offsets = v.find("data_offsets");
  if (!offsets || offsets->type != kind::array || offsets->items.size() != 2)
    bad({": \"data_offsets\" must be an array [begin, end]"});
  t.begin = get_unsigned(offsets->items[0], source, who, ": data_offsets begin");
  t.end = get_unsigned(offsets->items[1], source, who, ": data_offsets end");
  if (t.begin > t.end) bad({": data_offsets [", t.begin, ", ", t.end, "] end before they begin"});
  if (t.end > data_size)
    bad({": data_offsets [", t.begin, ", ", t.end, "] lie outside the data area (", data_size, " bytes)"});

  // dtype × shape in bytes, refusing to overflow on absurd shapes.
  std::uint64_t bytes = esize;
  for (std::uint64_t d : t.shape) {
    if (d != 0 && bytes > std::numeric_limits<std::uint64_t>::max() / d)
      bad({": shape ", shape_string(t.shape), " is too large"});
    bytes *= d;
  }
  if (bytes != t.end - t.begin)
    bad({": data_offsets [", t.begin, ", ", t.end, "] hold ", t.end - t.begin, " bytes but ", t.dtype, " ",
         shape_string(t.shape), " needs ", bytes});
  return t;
}

}  // namespace detail

/// Parses and validates the safetensors file held in `file`; `source` (a path) starts every
/// error message. Throws typegrad::io_error on any malformation.
inline header parse(std::span<const std::byte> file, std::string_view source) {
  namespace json = detail::json;
  using detail::message;
  const auto bad = [&](std::initializer_list<typegrad::detail::message_part> what) {
    detail::fail(source, message(what));
  };
  if (file.size() < 8)
    bad({"file is ", file.size(), " bytes, too short for the 8-byte header length of a safetensors file"});
  const std::uint64_t n = detail::read_u64_le(file.data());
  const std::uint64_t available = file.size() - 8;
  if (n == 0) bad({"header length is 0"});
  if (n > available)
    bad({"header length ", n, " exceeds the ", available,
         " bytes that follow it (truncated file, or not a safetensors file)"});
  if (n > max_header_size) bad({"header length ", n, " exceeds the limit of ", max_header_size, " bytes"});

  header h;
  h.data_offset = static_cast<std::size_t>(8 + n);
  h.data_size = static_cast<std::size_t>(available - n);

  const std::string_view text(reinterpret_cast<const char*>(file.data() + 8), static_cast<std::size_t>(n));
  json::value j;
  try {
    j = json::parser(text).parse();
  } catch (const json::syntax_error& e) {
    bad({"header is not valid JSON (", e.what, " at byte ", e.offset, " of the header)"});
  }
  if (j.type != json::value::kind::object) bad({"header is not a JSON object"});
  // JSON parsers differ on repeated keys (most keep the last): a repeated tensor name must not pass silently.
  std::set<std::string_view> seen;
  for (const auto& key : j.keys)
    if (!seen.insert(key).second) bad({"header names '", key, "' more than once"});

  for (std::size_t k = 0; k < j.keys.size(); ++k) {
    const std::string& key = j.keys[k];
    const json::value& value = j.items[k];
    if (key == "__metadata__") {
      if (value.type != json::value::kind::object) bad({"\"__metadata__\" is not a JSON object"});
      for (std::size_t m = 0; m < value.keys.size(); ++m) {
        const json::value& mv = value.items[m];
        if (mv.type != json::value::kind::string)
          bad({"metadata '", value.keys[m], "' is not a string (got ", mv.raw, ")"});
        h.metadata[value.keys[m]] = mv.text;  // a repeated key: the last one wins
      }
    } else {
      h.tensors.push_back(detail::parse_entry(key, value, h.data_size, source));
    }
  }

  // The ranges must tile the data area: sorted by begin, each starts where the previous ended.
  // (Sorting plain (begin, end, index) keys and then moving the entries is far less code than
  // sorting the entries themselves.)
  std::vector<std::array<std::uint64_t, 3>> order(h.tensors.size());
  for (std::size_t k = 0; k < order.size(); ++k) order[k] = {h.tensors[k].begin, h.tensors[k].end, k};
  std::sort(order.begin(), order.end());
  std::vector<tensor_info> sorted(order.size());
  for (std::size_t k = 0; k < order.size(); ++k) sorted[k] = std::move(h.tensors[order[k][2]]);
  h.tensors = std::move(sorted);
  std::uint64_t covered = 0;
  for (std::size_t k = 0; k < h.tensors.size(); ++k) {
    const tensor_info& t = h.tensors[k];
    if (t.begin < covered) {
      const tensor_info& p = h.tensors[k - 1];
      bad({"data_offsets of tensors '", p.name, "' [", p.begin, ", ", p.end, "] and '", t.name, "' [", t.begin, ", ",
           t.end, "] overlap"});
    }
    if (t.begin > covered)
      bad({"bytes [", covered, ", ", t.begin, ") of the data area belong to no tensor (before tensor '", t.name, "' [",
           t.begin, ", ", t.end, "])"});
    covered = t.end;
  }
  if (covered != h.data_size)
    bad({"the data area holds ", h.data_size, " bytes but the tensors use ", covered,
         " (trailing bytes, or a wrong header length)"});
  return h;
}

/// A tensor to write: name, dtype, shape, and its bytes, already little-endian.
struct tensor_bytes {
  std::string name;
  std::string dtype;
  std::vector<std::uint64_t> shape;
  std::vector<std::byte> bytes;
};

/// The file holding `tensors` (data in the order given) and `metadata`; the header is padded
/// with spaces so the data area starts 8-byte aligned, as the reference writer does. The header
/// is compact JSON with its keys sorted (as nlohmann-json writes it). Throws io_error for a
/// repeated or reserved ("__metadata__") tensor name, or a name or metadata that is not UTF-8.
inline std::vector<std::byte> serialize(const std::vector<tensor_bytes>& tensors,
                                        const std::map<std::string, std::string>& metadata) {
  namespace json = detail::json;
  using detail::message;
  constexpr std::size_t metadata_entry = std::size_t(-1);
  std::vector<std::pair<std::string_view, std::size_t>> keys;  // top-level key, tensor index
  std::vector<std::uint64_t> offsets;                          // data offset of each tensor
  std::uint64_t offset = 0;
  for (std::size_t k = 0; k < tensors.size(); ++k) {
    if (tensors[k].name == "__metadata__")
      throw io_error("typegrad::safetensors::serialize: the tensor name '__metadata__' is reserved");
    keys.emplace_back(tensors[k].name, k);
    offsets.push_back(offset);
    offset += tensors[k].bytes.size();
  }
  if (!metadata.empty()) keys.emplace_back("__metadata__", metadata_entry);
  std::sort(keys.begin(), keys.end());
  const auto bad_string = [](const std::string& what, std::string_view s) {
    throw io_error("typegrad::safetensors::serialize: " + what + " " + typegrad::detail::quoted_excerpt(s) +
                   " is not valid UTF-8");
  };
  for (std::size_t k = 1; k < keys.size(); ++k)
    if (keys[k].first == keys[k - 1].first)
      throw io_error("typegrad::safetensors::serialize: the tensor name '" + std::string(keys[k].first) +
                     "' is used twice");

  std::string text = "{";
  for (const auto& [key, k] : keys) {
    if (text.size() > 1) text += ',';
    if (!json::write_string(text, key)) bad_string("tensor name", key);
    text += ':';
    if (k == metadata_entry) {
      text += '{';
      bool first = true;
      for (const auto& [mk, mv] : metadata) {
        if (!first) text += ',';
        first = false;
        if (!json::write_string(text, mk)) bad_string("metadata key", mk);
        text += ':';
        if (!json::write_string(text, mv)) bad_string("metadata value", mv);
      }
      text += '}';
    } else {
      const tensor_bytes& t = tensors[k];
      text += message({"{\"data_offsets\":[", offsets[k], ",", offsets[k] + t.bytes.size(), "],\"dtype\":"});
      if (!json::write_string(text, t.dtype)) bad_string("dtype", t.dtype);
      text += ",\"shape\":[";
      for (std::size_t d = 0; d < t.shape.size(); ++d) text += message({d ? "," : "", t.shape[d]});
      text += "]}";
    }
  }
  text += '}';
  text.append((8 - text.size() % 8) % 8, ' ');

  std::vector<std::byte> file;
  file.reserve(8 + text.size() + offset);
  for (int k = 0; k < 8; ++k)
    file.push_back(static_cast<std::byte>((static_cast<std::uint64_t>(text.size()) >> (8 * k)) & 0xff));
  for (char c : text) file.push_back(static_cast<std::byte>(c));
  for (const auto& t : tensors) file.insert(file.end(), t.bytes.begin(), t.bytes.end());
  return file;
}

/// The whole content of the file at `path`; `source` (default: the path) starts error messages.
inline std::vector<std::byte> read_file(const std::filesystem::path& path, std::string_view source = {}) {
  const std::string who = source.empty() ? path.string() : std::string(source);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw io_error(who + ": cannot open the file for reading");
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0) throw io_error(who + ": cannot determine the file size");
  in.seekg(0, std::ios::beg);
  std::vector<std::byte> bytes(static_cast<std::size_t>(size));
  if (!in.read(reinterpret_cast<char*>(bytes.data()), size)) throw io_error(who + ": reading the file failed");
  return bytes;
}

/// Writes `bytes` to a temporary file next to `path`, then renames it over `path`: a failed
/// write never leaves a partial file at `path` (the rename is atomic on POSIX file systems).
inline void write_file_atomically(const std::filesystem::path& path, std::span<const std::byte> bytes) {
  using detail::message;
  static std::atomic<std::uint64_t> counter{0};
  std::filesystem::path tmp = path;
  tmp += message({".tmp-", std::chrono::steady_clock::now().time_since_epoch().count(), "-", counter++});
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw io_error(message({path.string(), ": cannot open '", tmp.string(), "' for writing"}));
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) {
      std::error_code ignored;
      std::filesystem::remove(tmp, ignored);
      throw io_error(message({path.string(), ": writing '", tmp.string(), "' failed"}));
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw io_error(message({path.string(), ": cannot rename '", tmp.string(), "' into place (", ec.message(), ")"}));
  }
}

}  // namespace typegrad::safetensors

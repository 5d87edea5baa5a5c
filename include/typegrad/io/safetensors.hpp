// The safetensors file format: a validating header parser, a writer, and atomic file I/O.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

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
  for (std::size_t k = 0; k < shape.size(); ++k) s += (k ? ", " : "") + std::to_string(shape[k]);
  return s + "]";
}

namespace detail {

[[noreturn]] inline void fail(std::string_view source, const std::string& what) {
  throw io_error(std::string(source) + ": " + what);
}

inline std::uint64_t read_u64_le(const std::byte* p) noexcept {
  std::uint64_t v = 0;
  for (int k = 7; k >= 0; --k) v = (v << 8) | std::to_integer<std::uint64_t>(p[k]);
  return v;
}

inline std::uint64_t get_unsigned(const nlohmann::json& v, std::string_view source, const std::string& what) {
  if (!v.is_number_unsigned()) fail(source, what + " must be a non-negative integer, got " + v.dump());
  return v.get<std::uint64_t>();
}

inline tensor_info parse_entry(const std::string& name, const nlohmann::json& v, std::size_t data_size,
                               std::string_view source) {
  const std::string who = "tensor '" + name + "'";
  if (!v.is_object()) fail(source, who + ": its header entry is not a JSON object");
  tensor_info t;
  t.name = name;

  const auto dtype = v.find("dtype");
  if (dtype == v.end() || !dtype->is_string()) fail(source, who + ": no \"dtype\" string");
  t.dtype = dtype->get<std::string>();
  const std::size_t esize = dtype_size(t.dtype);
  if (esize == 0) fail(source, who + ": unknown dtype '" + t.dtype + "'");

  const auto shape = v.find("shape");
  if (shape == v.end() || !shape->is_array()) fail(source, who + ": no \"shape\" array");
  for (const auto& d : *shape) t.shape.push_back(get_unsigned(d, source, who + ": every shape entry"));

  const auto offsets = v.find("data_offsets");
  if (offsets == v.end() || !offsets->is_array() || offsets->size() != 2)
    fail(source, who + ": \"data_offsets\" must be an array [begin, end]");
  t.begin = get_unsigned((*offsets)[0], source, who + ": data_offsets begin");
  t.end = get_unsigned((*offsets)[1], source, who + ": data_offsets end");
  const std::string range = "data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) + "]";
  if (t.begin > t.end) fail(source, who + ": " + range + " end before they begin");
  if (t.end > data_size)
    fail(source, who + ": " + range + " lie outside the data area (" + std::to_string(data_size) + " bytes)");

  // dtype × shape in bytes, refusing to overflow on absurd shapes.
  std::uint64_t bytes = esize;
  for (std::uint64_t d : t.shape) {
    if (d != 0 && bytes > std::numeric_limits<std::uint64_t>::max() / d)
      fail(source, who + ": shape " + shape_string(t.shape) + " is too large");
    bytes *= d;
  }
  if (bytes != t.end - t.begin)
    fail(source, who + ": " + range + " hold " + std::to_string(t.end - t.begin) + " bytes but " + t.dtype + " " +
                     shape_string(t.shape) + " needs " + std::to_string(bytes));
  return t;
}

}  // namespace detail

/// Parses and validates the safetensors file held in `file`; `source` (a path) starts every
/// error message. Throws typegrad::io_error on any malformation.
inline header parse(std::span<const std::byte> file, std::string_view source) {
  using nlohmann::json;
  if (file.size() < 8)
    detail::fail(source, "file is " + std::to_string(file.size()) +
                             " bytes, too short for the 8-byte header length of a safetensors file");
  const std::uint64_t n = detail::read_u64_le(file.data());
  const std::uint64_t available = file.size() - 8;
  if (n == 0) detail::fail(source, "header length is 0");
  if (n > available)
    detail::fail(source, "header length " + std::to_string(n) + " exceeds the " + std::to_string(available) +
                             " bytes that follow it (truncated file, or not a safetensors file)");
  if (n > max_header_size)
    detail::fail(source, "header length " + std::to_string(n) + " exceeds the limit of " +
                             std::to_string(max_header_size) + " bytes");

  header h;
  h.data_offset = static_cast<std::size_t>(8 + n);
  h.data_size = static_cast<std::size_t>(available - n);

  // nlohmann keeps the last of duplicate keys; a duplicated tensor name must not pass silently.
  std::set<std::string> seen;
  std::string duplicate;
  const auto track_keys = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::key && depth == 1 && !seen.insert(parsed.get<std::string>()).second &&
        duplicate.empty())
      duplicate = parsed.get<std::string>();
    return true;
  };
  const auto* text = reinterpret_cast<const char*>(file.data() + 8);
  json j;
  try {
    j = json::parse(text, text + n, track_keys);
  } catch (const json::exception& e) {
    detail::fail(source, std::string("header is not valid JSON (") + e.what() + ")");
  }
  if (!j.is_object()) detail::fail(source, "header is not a JSON object");
  if (!duplicate.empty()) detail::fail(source, "header names '" + duplicate + "' more than once");

  for (const auto& [key, value] : j.items()) {
    if (key == "__metadata__") {
      if (!value.is_object()) detail::fail(source, "\"__metadata__\" is not a JSON object");
      for (const auto& [mk, mv] : value.items()) {
        if (!mv.is_string()) detail::fail(source, "metadata '" + mk + "' is not a string (got " + mv.dump() + ")");
        h.metadata.emplace(mk, mv.get<std::string>());
      }
    } else {
      h.tensors.push_back(detail::parse_entry(key, value, h.data_size, source));
    }
  }

  // The ranges must tile the data area: sorted by begin, each starts where the previous ended.
  std::sort(h.tensors.begin(), h.tensors.end(), [](const tensor_info& a, const tensor_info& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  const auto range = [](const tensor_info& t) {
    return "'" + t.name + "' [" + std::to_string(t.begin) + ", " + std::to_string(t.end) + "]";
  };
  std::uint64_t covered = 0;
  for (std::size_t k = 0; k < h.tensors.size(); ++k) {
    const tensor_info& t = h.tensors[k];
    if (t.begin < covered)
      detail::fail(source, "data_offsets of tensors " + range(h.tensors[k - 1]) + " and " + range(t) + " overlap");
    if (t.begin > covered)
      detail::fail(source, "bytes [" + std::to_string(covered) + ", " + std::to_string(t.begin) +
                               ") of the data area belong to no tensor (before tensor " + range(t) + ")");
    covered = t.end;
  }
  if (covered != h.data_size)
    detail::fail(source, "the data area holds " + std::to_string(h.data_size) + " bytes but the tensors use " +
                             std::to_string(covered) + " (trailing bytes, or a wrong header length)");
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
/// with spaces so the data area starts 8-byte aligned, as the reference writer does.
inline std::vector<std::byte> serialize(const std::vector<tensor_bytes>& tensors,
                                        const std::map<std::string, std::string>& metadata) {
  nlohmann::json h = nlohmann::json::object();
  if (!metadata.empty()) h["__metadata__"] = metadata;
  std::uint64_t offset = 0;
  for (const auto& t : tensors) {
    h[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string text = h.dump();
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
  static std::atomic<std::uint64_t> counter{0};
  std::filesystem::path tmp = path;
  tmp += ".tmp-" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()) + "-" +
         std::to_string(counter++);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw io_error(path.string() + ": cannot open '" + tmp.string() + "' for writing");
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) {
      std::error_code ignored;
      std::filesystem::remove(tmp, ignored);
      throw io_error(path.string() + ": writing '" + tmp.string() + "' failed");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw io_error(path.string() + ": cannot rename '" + tmp.string() + "' into place (" + ec.message() + ")");
  }
}

}  // namespace typegrad::safetensors

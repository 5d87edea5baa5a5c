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

#include <nlohmann/json.hpp>

#include <typegrad/data/detail/text.hpp>
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

using typegrad::detail::message;

[[noreturn]] inline void fail(std::string_view source, const std::string& what) {
  throw io_error(message({source, ": ", what}));
}

inline std::uint64_t read_u64_le(const std::byte* p) noexcept {
  std::uint64_t v = 0;
  for (int k = 7; k >= 0; --k) v = (v << 8) | std::to_integer<std::uint64_t>(p[k]);
  return v;
}

/// Deeper JSON nesting is rejected: a 100 MB header of '[' would otherwise build a tree of
/// gigabytes (the reference Rust reader stops at 128 levels).
inline constexpr int max_json_depth = 256;

// nlohmann-json is confined to the few out-of-line functions below (parse_json, the readers of
// its values, header_json), so a program that saves or loads weights instantiates its
// templates once instead of once per inlined call site.

/// The header text as JSON, with its top-level keys checked for repeats (nlohmann-json keeps the
/// last of repeated keys; a repeated tensor name must not pass silently).
[[gnu::noinline]] inline nlohmann::json parse_json(std::string_view text, std::string_view source) {
  using nlohmann::json;
  std::set<std::string> seen;
  std::string duplicate;
  bool repeated = false;
  const auto watch = [&](int depth, json::parse_event_t event, json& parsed) {
    if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) &&
        depth >= max_json_depth)
      fail(source, message({"header is not valid JSON (nested more than ", max_json_depth, " levels deep)"}));
    if (event == json::parse_event_t::key && depth == 1 && !repeated &&
        !seen.insert(parsed.get_ref<const std::string&>()).second) {
      duplicate = parsed.get_ref<const std::string&>();
      repeated = true;
    }
    return true;
  };
  json j;
  try {
    j = json::parse(text.data(), text.data() + text.size(), watch);
  } catch (const json::exception& e) {
    fail(source, message({"header is not valid JSON (", e.what(), ")"}));
  }
  if (!j.is_object()) fail(source, "header is not a JSON object");
  if (repeated) fail(source, message({"header names '", duplicate, "' more than once"}));
  return j;
}

// The checks below read the parsed JSON through typed pointers (get_ptr) into nlohmann's plain
// std::map / std::vector storage: its checked accessors would add throwing code to every call.
using json_object = nlohmann::json::object_t;
using json_array = nlohmann::json::array_t;

inline const nlohmann::json* member(const json_object& object, std::string_view key) noexcept {
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &it->second;
}

inline std::uint64_t get_unsigned(const nlohmann::json& v, std::string_view source, std::string_view who,
                                  std::string_view what) {
  const auto* u = v.get_ptr<const nlohmann::json::number_unsigned_t*>();
  if (!u) fail(source, message({who, what, " must be a non-negative integer, got ", v.dump()}));
  return *u;
}

[[gnu::noinline]] inline tensor_info parse_entry(const std::string& name, const nlohmann::json& v,
                                                 std::size_t data_size, std::string_view source) {
  const std::string who = message({"tensor '", name, "'"});
  const auto bad = [&](std::initializer_list<typegrad::detail::message_part> what) {
    fail(source, who + message(what));
  };
  const json_object* entry = v.get_ptr<const json_object*>();
  if (!entry) bad({": its header entry is not a JSON object"});
  tensor_info t;
  t.name = name;

  const nlohmann::json* dtype = member(*entry, "dtype");
  const std::string* dtype_text = dtype ? dtype->get_ptr<const std::string*>() : nullptr;
  if (!dtype_text) bad({": no \"dtype\" string"});
  t.dtype = *dtype_text;
  const std::size_t esize = dtype_size(t.dtype);
  if (esize == 0) bad({": unknown dtype '", t.dtype, "'"});

  const nlohmann::json* shape_value = member(*entry, "shape");
  const json_array* shape = shape_value ? shape_value->get_ptr<const json_array*>() : nullptr;
  if (!shape) bad({": no \"shape\" array"});
  for (const auto& d : *shape) t.shape.push_back(get_unsigned(d, source, who, ": every shape entry"));

  const nlohmann::json* offsets_value = member(*entry, "data_offsets");
  const json_array* offsets = offsets_value ? offsets_value->get_ptr<const json_array*>() : nullptr;
  if (!offsets || offsets->size() != 2) bad({": \"data_offsets\" must be an array [begin, end]"});
  t.begin = get_unsigned((*offsets)[0], source, who, ": data_offsets begin");
  t.end = get_unsigned((*offsets)[1], source, who, ": data_offsets end");
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

/// The tensors and metadata of a parsed header, in the header's (sorted) key order.
[[gnu::noinline]] inline void read_entries(const nlohmann::json& j, header& h, std::string_view source) {
  for (const auto& [key, value] : *j.get_ptr<const json_object*>()) {
    if (key == "__metadata__") {
      const json_object* metadata = value.get_ptr<const json_object*>();
      if (!metadata) fail(source, "\"__metadata__\" is not a JSON object");
      for (const auto& [mk, mv] : *metadata) {
        const std::string* text = mv.get_ptr<const std::string*>();
        if (!text) fail(source, message({"metadata '", mk, "' is not a string (got ", mv.dump(), ")"}));
        h.metadata.emplace(mk, *text);
      }
    } else {
      h.tensors.push_back(parse_entry(key, value, h.data_size, source));
    }
  }
}

}  // namespace detail

/// Parses and validates the safetensors file held in `file`; `source` (a path) starts every
/// error message. Throws typegrad::io_error on any malformation.
[[gnu::noinline]] inline header parse(std::span<const std::byte> file, std::string_view source) {
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
  detail::read_entries(detail::parse_json(text, source), h, source);

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

namespace detail {

/// The header of `tensors` (data in the order given) and `metadata` as compact JSON with its keys
/// sorted (nlohmann-json's dump()); throws io_error for names that would make an unreadable file.
[[gnu::noinline]] inline std::string header_json(const std::vector<tensor_bytes>& tensors,
                                                 const std::map<std::string, std::string>& metadata) {
  using nlohmann::json;
  for (const auto& t : tensors)
    if (t.name == "__metadata__")
      throw io_error("typegrad::safetensors::serialize: the tensor name '__metadata__' is reserved");
  // Built in nlohmann's own std::map / std::vector storage (see json_object above).
  json h(json::value_t::object);
  json_object& top = *h.get_ptr<json_object*>();
  if (!metadata.empty()) {
    json m(json::value_t::object);
    for (const auto& [key, value] : metadata) m.get_ptr<json_object*>()->emplace(key, value);
    top.emplace("__metadata__", std::move(m));
  }
  std::uint64_t offset = 0;
  for (const auto& t : tensors) {
    json entry(json::value_t::object), shape(json::value_t::array), offsets(json::value_t::array);
    for (std::uint64_t d : t.shape) shape.get_ptr<json_array*>()->emplace_back(d);
    offsets.get_ptr<json_array*>()->emplace_back(offset);
    offsets.get_ptr<json_array*>()->emplace_back(offset + t.bytes.size());
    offset += t.bytes.size();
    json_object& e = *entry.get_ptr<json_object*>();
    e.emplace("dtype", t.dtype);
    e.emplace("shape", std::move(shape));
    e.emplace("data_offsets", std::move(offsets));
    if (!top.emplace(t.name, std::move(entry)).second)
      throw io_error(message({"typegrad::safetensors::serialize: the tensor name '", t.name, "' is used twice"}));
  }
  try {
    return h.dump();
  } catch (const json::type_error&) {
    // dump() refuses invalid UTF-8 without saying where: name the first offending string, in
    // the order the header lists them.
  }
  const auto check = [](const char* what, const std::string& s) {
    try {
      (void)json(s).dump();
    } catch (const json::type_error&) {
      throw io_error(message({"typegrad::safetensors::serialize: ", what, " ", typegrad::detail::quoted_excerpt(s),
                              " is not valid UTF-8"}));
    }
  };
  for (const auto& [key, value] : top) {
    check("tensor name", key);
    if (key == "__metadata__") {
      for (const auto& [mk, mv] : metadata) {
        check("metadata key", mk);
        check("metadata value", mv);
      }
    } else {
      check("dtype", *value.get_ptr<const json_object*>()->find("dtype")->second.get_ptr<const std::string*>());
    }
  }
  throw io_error("typegrad::safetensors::serialize: the header cannot be written as JSON");
}

}  // namespace detail

/// The file holding `tensors` (data in the order given) and `metadata`; the header is padded
/// with spaces so the data area starts 8-byte aligned, as the reference writer does. The header
/// is compact JSON with its keys sorted (nlohmann-json's dump()). Throws io_error for a repeated
/// or reserved ("__metadata__") tensor name, or a name or metadata that is not UTF-8.
[[gnu::noinline]] inline std::vector<std::byte> serialize(const std::vector<tensor_bytes>& tensors,
                                                          const std::map<std::string, std::string>& metadata) {
  std::string text = detail::header_json(tensors, metadata);
  text.append((8 - text.size() % 8) % 8, ' ');
  std::size_t size = 8 + text.size();
  for (const auto& t : tensors) size += t.bytes.size();

  std::vector<std::byte> file;
  file.reserve(size);
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

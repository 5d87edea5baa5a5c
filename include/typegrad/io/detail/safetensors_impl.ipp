// The definitions behind io/safetensors.hpp: the header parser (nlohmann-json's SAX interface),
// the writer and the file I/O. Compiled once into the typegrad library (src/safetensors.cpp), or
// included by io/safetensors.hpp itself when TYPEGRAD_HEADER_ONLY is defined. Never include it
// directly: this is the only place that includes nlohmann-json.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <typegrad/data/detail/text.hpp>
#include <typegrad/io/detail/linkage.hpp>
#include <typegrad/io/detail/message.hpp>
#include <typegrad/io/error.hpp>
#include <typegrad/io/safetensors.hpp>

namespace typegrad::safetensors {

/// "[3, 7]": a shape as the messages print it.
[[gnu::noinline, gnu::cold]] TYPEGRAD_IO_INLINE std::string shape_string(const std::vector<std::uint64_t>& shape) {
  std::string s = "[";
  for (std::size_t k = 0; k < shape.size(); ++k) s += typegrad::detail::message({k ? ", " : "", shape[k]});
  return s + "]";
}

namespace detail {

using typegrad::detail::message;

[[noreturn]] TYPEGRAD_IO_INLINE void fail(std::string_view source, const std::string& what) {
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

/// Appends `s` as a JSON string literal escaped as nlohmann-json's dump() writes it (messages
/// quote rejected string values this way).
inline void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  for (const char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += "\\u00";
          out += hex[(c >> 4) & 15];
          out += hex[c & 15];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

// An array member of a tensor entry ("shape", "data_offsets") as far as the checks need it.
struct number_list {
  bool present = false;                // the (last) member of this name is an array
  std::size_t size = 0;                // its element count
  std::vector<std::uint64_t> values;   // its leading non-negative integers
  std::string bad;                     // the first other element as JSON text ("" if none)
};

// A tensor entry's members as the checks need them; a repeated member keeps its last value
// (as in nlohmann-json's objects and Python's json), other members are ignored.
struct entry_fields {
  bool has_dtype = false;  // a string "dtype"
  std::string dtype;
  number_list shape, offsets;
};

// The checks of one entry, in the order the messages promise; "" when the entry is valid.
[[gnu::noinline, gnu::cold]] inline std::string check_entry(const std::string& name, const entry_fields& e, std::size_t data_size,
                                                 tensor_info& t) {
  using part = typegrad::detail::message_part;
  const std::string who = message({"tensor '", name, "'"});
  const auto bad = [&](std::initializer_list<part> what) { return who + message(what); };
  if (!e.has_dtype) return bad({": no \"dtype\" string"});
  const std::size_t esize = dtype_size(e.dtype);
  if (esize == 0) return bad({": unknown dtype '", e.dtype, "'"});
  if (!e.shape.present) return bad({": no \"shape\" array"});
  if (!e.shape.bad.empty()) return bad({": every shape entry must be a non-negative integer, got ", e.shape.bad});
  if (!e.offsets.present || e.offsets.size != 2) return bad({": \"data_offsets\" must be an array [begin, end]"});
  if (e.offsets.values.empty()) return bad({": data_offsets begin must be a non-negative integer, got ", e.offsets.bad});
  if (e.offsets.values.size() < 2) return bad({": data_offsets end must be a non-negative integer, got ", e.offsets.bad});
  t.name = name;
  t.dtype = e.dtype;
  t.shape = e.shape.values;
  t.begin = e.offsets.values[0];
  t.end = e.offsets.values[1];
  if (t.begin > t.end) return bad({": data_offsets [", t.begin, ", ", t.end, "] end before they begin"});
  if (t.end > data_size)
    return bad({": data_offsets [", t.begin, ", ", t.end, "] lie outside the data area (", data_size, " bytes)"});
  // dtype × shape in bytes, refusing to overflow on absurd shapes.
  std::uint64_t bytes = esize;
  for (std::uint64_t d : t.shape) {
    if (d != 0 && bytes > std::numeric_limits<std::uint64_t>::max() / d)
      return bad({": shape ", shape_string(t.shape), " is too large"});
    bytes *= d;
  }
  if (bytes != t.end - t.begin)
    return bad({": data_offsets [", t.begin, ", ", t.end, "] hold ", t.end - t.begin, " bytes but ", t.dtype, " ",
                shape_string(t.shape), " needs ", bytes});
  return {};
}

/// The SAX handler nlohmann-json's parser drives over a header: it keeps only what a safetensors
/// header holds (the metadata strings, each entry's dtype, shape and offsets) and builds no JSON
/// document. A value of an unexpected type is kept as its JSON text, for the message. Errors
/// are collected per top-level name and reported once the whole text has parsed, so a syntax
/// error anywhere wins, then the first offending name in key order (as a document's sorted
/// object gives them).
class header_reader {
 public:
  using json = nlohmann::json;
  using number_integer_t = json::number_integer_t;
  using number_unsigned_t = json::number_unsigned_t;
  using number_float_t = json::number_float_t;
  using string_t = json::string_t;
  using binary_t = json::binary_t;

  explicit header_reader(header& h) noexcept : h_(h) {}

  bool null() { return scalar("null"); }
  bool boolean(bool b) { return scalar(b ? "true" : "false"); }
  bool number_integer(number_integer_t v) { return scalar(message({v})); }
  bool number_unsigned(number_unsigned_t v) {
    if (capture_depth_ == 0 && !frames_.empty() && frames_.back() >= frame::shape) {
      list().size += 1;
      if (list().bad.empty()) list().values.push_back(v);
      return true;
    }
    return scalar(message({v}));
  }
  bool number_float(number_float_t, const string_t& text) { return scalar(text); }  // as written
  bool string(string_t& s) {
    if (capture_depth_ > 0) {
      separate();
      append_json_string(capture_, s);
      return true;
    }
    value(s, true);
    return true;
  }
  bool binary(binary_t&) { return true; }  // never produced by the JSON parser
  bool start_object(std::size_t) { return open(false); }
  bool start_array(std::size_t) { return open(true); }
  bool end_object() { return close('}'); }
  bool end_array() { return close(']'); }
  bool key(string_t& k) {
    if (capture_depth_ > 0) {
      separate();
      append_json_string(capture_, k);
      capture_ += ':';
    } else if (frames_.back() == frame::root) {
      top_key_ = k;
      if (!names_.emplace(k, npos).second && !repeated_) {
        repeated_ = true;
        repeated_name_ = k;
      }
    } else {
      member_key_ = k;
    }
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
    syntax_error_ = e.what();
    return false;
  }

  /// After a successful parse: throws the first error, else fills the header's tensors in key
  /// order (its metadata is filled as the parse goes).
  void finish(std::string_view source) {
    if (not_object_) fail(source, "header is not a JSON object");
    if (repeated_) fail(source, message({"header names '", repeated_name_, "' more than once"}));
    if (!metadata_errors_.empty()) {
      const auto& [k, v] = *metadata_errors_.begin();
      errors_.insert_or_assign("__metadata__", message({"metadata '", k, "' is not a string (got ", v, ")"}));
    }
    if (!errors_.empty()) fail(source, errors_.begin()->second);
    for (const auto& [name, index] : names_)
      if (index != npos) h_.tensors.push_back(std::move(tensors_[index]));
  }
  /// Why the parse stopped: nlohmann-json's message, or "" when the nesting limit stopped it.
  const std::string& syntax_error() const noexcept { return syntax_error_; }

 private:
  enum class frame : unsigned char { root, metadata, entry, shape, offsets };
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  number_list& list() noexcept { return frames_.back() == frame::shape ? entry_.shape : entry_.offsets; }

  // A comma before the next key or value of a captured container.
  void separate() {
    const char last = capture_.back();
    if (last != '[' && last != '{' && last != ':') capture_ += ',';
  }

  bool scalar(std::string_view text) {
    if (capture_depth_ > 0) {
      separate();
      capture_ += text;
    } else {
      value(text, false);
    }
    return true;
  }

  // Containers the schema expects become frames; any other is captured as text.
  bool open(bool array) {
    if (frames_.size() + capture_depth_ >= static_cast<std::size_t>(max_json_depth)) return false;  // too deep
    if (capture_depth_ == 0) {
      if (frames_.empty() && !array) {
        frames_.push_back(frame::root);
        return true;
      }
      if (!frames_.empty() && frames_.back() == frame::root && !array) {
        entry_ = {};
        frames_.push_back(top_key_ == "__metadata__" ? frame::metadata : frame::entry);
        return true;
      }
      if (!frames_.empty() && frames_.back() == frame::entry && array &&
          (member_key_ == "shape" || member_key_ == "data_offsets")) {
        frames_.push_back(member_key_ == "shape" ? frame::shape : frame::offsets);
        list() = {};
        list().present = true;
        return true;
      }
      capture_.clear();
    } else {
      separate();
    }
    capture_ += array ? '[' : '{';
    ++capture_depth_;
    return true;
  }

  bool close(char c) {
    if (capture_depth_ > 0) {
      capture_ += c;
      if (--capture_depth_ == 0) value(capture_, false);
      return true;
    }
    const frame f = frames_.back();
    frames_.pop_back();
    if (f == frame::entry) {
      tensor_info t;
      std::string error = check_entry(top_key_, entry_, h_.data_size, t);
      if (!error.empty()) {
        errors_.insert_or_assign(top_key_, std::move(error));
      } else {
        names_[top_key_] = tensors_.size();
        tensors_.push_back(std::move(t));
      }
    }
    return true;
  }

  // A complete value that is not an expected container: a string's text, or JSON text.
  void value(std::string_view text, bool is_string) {
    if (frames_.empty()) {
      not_object_ = true;
      return;
    }
    switch (frames_.back()) {
      case frame::root:
        errors_.insert_or_assign(top_key_, top_key_ == "__metadata__"
                                               ? std::string("\"__metadata__\" is not a JSON object")
                                               : message({"tensor '", top_key_, "': its header entry is not a JSON object"}));
        break;
      case frame::metadata:
        if (is_string) {
          h_.metadata.insert_or_assign(member_key_, std::string(text));
          metadata_errors_.erase(member_key_);
        } else {
          h_.metadata.erase(member_key_);
          metadata_errors_.insert_or_assign(member_key_, std::string(text));
        }
        break;
      case frame::entry:
        if (member_key_ == "dtype") {
          entry_.has_dtype = is_string;
          entry_.dtype = is_string ? std::string(text) : std::string();
        } else if (member_key_ == "shape") {
          entry_.shape = {};
        } else if (member_key_ == "data_offsets") {
          entry_.offsets = {};
        }
        break;
      case frame::shape:
      case frame::offsets:
        list().size += 1;
        if (list().bad.empty()) {
          if (is_string) append_json_string(list().bad, text);
          else list().bad = text;
        }
        break;
    }
  }

  header& h_;
  std::vector<frame> frames_;       // the expected containers the parse is in
  std::size_t capture_depth_ = 0;   // containers open in the value being captured
  std::string capture_;             // that value's JSON text so far
  std::string top_key_, member_key_;
  entry_fields entry_;
  std::map<std::string, std::size_t> names_;  // every top-level name → its index in tensors_ (npos: none)
  std::vector<tensor_info> tensors_;          // valid entries, in file order
  std::map<std::string, std::string> errors_;           // top-level name → what is wrong with it
  std::map<std::string, std::string> metadata_errors_;  // metadata key → its non-string value
  bool not_object_ = false, repeated_ = false;
  std::string repeated_name_, syntax_error_;
};

/// Parses the header text into `h` (metadata and tensors, in key order) with nlohmann-json's
/// public SAX interface and the handler above (no JSON document is built).
[[gnu::noinline, gnu::cold]] inline void read_header(std::string_view text, header& h, std::string_view source) {
  header_reader reader(h);
  const bool ok = nlohmann::json::sax_parse(text.data(), text.data() + text.size(), &reader,
                                            nlohmann::json::input_format_t::json, /*strict=*/true);
  if (!ok) {
    if (reader.syntax_error().empty())
      fail(source, message({"header is not valid JSON (nested more than ", max_json_depth, " levels deep)"}));
    fail(source, message({"header is not valid JSON (", reader.syntax_error(), ")"}));
  }
  reader.finish(source);
}

}  // namespace detail

/// Parses and validates the safetensors file held in `file`; `source` (a path) starts every
/// error message. Throws typegrad::io_error on any malformation.
[[gnu::noinline]] TYPEGRAD_IO_INLINE header parse(std::span<const std::byte> file, std::string_view source) {
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
  detail::read_header(text, h, source);

  // The ranges must tile the data area: sorted by begin, each starts where the previous ended.
  // (Sorting plain (begin, end, index) keys and then moving the entries is far less code than
  // sorting the entries themselves.)
  std::vector<std::array<std::uint64_t, 3>> order(h.tensors.size());
  for (std::size_t k = 0; k < order.size(); ++k) order[k] = {h.tensors[k].begin, h.tensors[k].end, k};
  std::make_heap(order.begin(), order.end());  // a heap sort: far less code than std::sort's introsort
  std::sort_heap(order.begin(), order.end());
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


namespace detail {

/// The header of `tensors` (data in the order given) and `metadata` as compact JSON with its keys
/// sorted (nlohmann-json's dump()); throws io_error for names that would make an unreadable file.
[[gnu::noinline, gnu::cold]] inline std::string header_json(const std::vector<tensor_bytes>& tensors,
                                                 const std::map<std::string, std::string>& metadata) {
  using nlohmann::json;
  for (const auto& t : tensors)
    if (t.name == "__metadata__")
      throw io_error("typegrad::safetensors::serialize: the tensor name '__metadata__' is reserved");
  // Built in nlohmann's own std::map / std::vector storage: its checked accessors would add
  // throwing code to every call.
  using json_object = nlohmann::json::object_t;
  using json_array = nlohmann::json::array_t;
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
[[gnu::noinline]] TYPEGRAD_IO_INLINE std::vector<std::byte> serialize(const std::vector<tensor_bytes>& tensors,
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
[[gnu::noinline]] TYPEGRAD_IO_INLINE std::vector<std::byte> read_file(const std::filesystem::path& path, std::string_view source) {
  using detail::message;
  const std::string who = source.empty() ? path.string() : std::string(source);
  std::FILE* in = std::fopen(path.c_str(), "rb");
  if (!in) throw io_error(message({who, ": cannot open the file for reading"}));
  std::vector<std::byte> bytes;
  std::size_t size = 0;
  bool failed = false;
  while (!failed) {  // chunks of doubling size: no seek, so pipes and special files work too
    bytes.resize(std::max<std::size_t>(4096, 2 * size));
    const std::size_t got = std::fread(bytes.data() + size, 1, bytes.size() - size, in);
    size += got;
    if (size < bytes.size()) {
      failed = std::ferror(in) != 0;
      break;
    }
  }
  std::fclose(in);
  if (failed) throw io_error(message({who, ": reading the file failed"}));
  bytes.resize(size);
  return bytes;
}

/// Writes `bytes` to a temporary file next to `path`, then renames it over `path`: a failed
/// write never leaves a partial file at `path` (the rename is atomic on POSIX file systems).
[[gnu::noinline]] TYPEGRAD_IO_INLINE void write_file_atomically(const std::filesystem::path& path,
                                                           std::span<const std::byte> bytes) {
  using detail::message;
  static std::atomic<std::uint64_t> counter{0};
  std::filesystem::path tmp = path;
  tmp += message({".tmp-", std::chrono::steady_clock::now().time_since_epoch().count(), "-", counter++});
  std::error_code ignored;
  std::FILE* out = std::fopen(tmp.c_str(), "wb");
  if (!out) throw io_error(message({path.string(), ": cannot open '", tmp.string(), "' for writing"}));
  const bool written = std::fwrite(bytes.data(), 1, bytes.size(), out) == bytes.size();
  if (std::fclose(out) != 0 || !written) {
    std::filesystem::remove(tmp, ignored);
    throw io_error(message({path.string(), ": writing '", tmp.string(), "' failed"}));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ignored);
    throw io_error(message({path.string(), ": cannot rename '", tmp.string(), "' into place (", ec.message(), ")"}));
  }
}

}  // namespace typegrad::safetensors

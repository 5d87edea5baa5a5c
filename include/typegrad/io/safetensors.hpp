// The safetensors file format: a validating header parser, a writer, and atomic file I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

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
std::string shape_string(const std::vector<std::uint64_t>& shape);

namespace detail {
/// Throws io_error("<source>: <what>").
[[noreturn]] void fail(std::string_view source, const std::string& what);
}  // namespace detail

/// Parses and validates the safetensors file held in `file`; `source` (a path) starts every
/// error message. Throws typegrad::io_error on any malformation.
header parse(std::span<const std::byte> file, std::string_view source);

/// A tensor to write: name, dtype, shape, and its bytes, already little-endian.
struct tensor_bytes {
  std::string name;
  std::string dtype;
  std::vector<std::uint64_t> shape;
  std::vector<std::byte> bytes;
};

/// The file holding `tensors` (data in the order given) and `metadata`; the header is padded
/// with spaces so the data area starts 8-byte aligned, as the reference writer does. The header
/// is compact JSON with its keys sorted (nlohmann-json's dump()). Throws io_error for a repeated
/// or reserved ("__metadata__") tensor name, or a name or metadata that is not UTF-8.
std::vector<std::byte> serialize(const std::vector<tensor_bytes>& tensors,
                                 const std::map<std::string, std::string>& metadata);

/// The whole content of the file at `path`; `source` (default: the path) starts error messages.
std::vector<std::byte> read_file(const std::filesystem::path& path, std::string_view source = {});

/// Writes `bytes` to a temporary file next to `path`, then renames it over `path`: a failed
/// write never leaves a partial file at `path` (the rename is atomic on POSIX file systems).
void write_file_atomically(const std::filesystem::path& path, std::span<const std::byte> bytes);

}  // namespace typegrad::safetensors

#ifdef TYPEGRAD_HEADER_ONLY
#include <typegrad/io/detail/safetensors_impl.ipp>
#endif

// encode_png / write_png: 8-bit RGB images as PNG files, with no compression library.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

namespace typegrad {

namespace detail {

/// CRC-32 (ISO-HDLC, reflected polynomial 0xEDB88320), as PNG chunks use it.
std::uint32_t crc32(std::span<const std::uint8_t> bytes, std::uint32_t crc = 0) noexcept;

/// Adler-32, the checksum that ends a zlib stream.
std::uint32_t adler32(std::span<const std::uint8_t> bytes) noexcept;

}  // namespace detail

/// The bytes of a PNG file holding an 8-bit RGB image: `rgb` has height rows, top first, of width
/// pixels of 3 bytes (red, green, blue). The image data is a zlib stream of one deflate block that
/// codes runs of equal bytes only: small for charts and diagrams, not for photographs.
/// Throws std::invalid_argument when rgb.size() is not 3·width·height or a side is 0 or over 2³¹ − 1.
std::vector<std::uint8_t> encode_png(std::size_t width, std::size_t height, std::span<const std::uint8_t> rgb);

/// Writes an 8-bit RGB image (see encode_png) to `path` as PNG. The file is written next to
/// `path` and renamed into place, so a failed write leaves no partial file; throws io_error
/// naming the path when it cannot be written, std::invalid_argument for a wrong image size.
/// @code
/// std::vector<std::uint8_t> rgb(3 * 64 * 48, 255);   // white
/// tg::write_png("white.png", 64, 48, rgb);
/// @endcode
void write_png(const std::filesystem::path& path, std::size_t width, std::size_t height,
               std::span<const std::uint8_t> rgb);

}  // namespace typegrad

#ifdef TYPEGRAD_HEADER_ONLY
#include <typegrad/io/detail/png_impl.ipp>
#endif

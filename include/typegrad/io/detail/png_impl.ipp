// The definitions behind io/png.hpp: the PNG encoder (CRC-32, Adler-32, a run-length deflate
// block). Compiled once into the typegrad library (src/png.cpp), or included by io/png.hpp itself
// when TYPEGRAD_HEADER_ONLY is defined. Never include it directly.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <typegrad/io/detail/linkage.hpp>
#include <typegrad/io/error.hpp>
#include <typegrad/io/png.hpp>
#include <typegrad/io/safetensors.hpp>

namespace typegrad {

namespace detail {

/// CRC-32 (ISO-HDLC, reflected polynomial 0xEDB88320), as PNG chunks use it.
TYPEGRAD_IO_INLINE std::uint32_t crc32(std::span<const std::uint8_t> bytes, std::uint32_t crc) noexcept {
  static constexpr auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t n = 0; n < 256; ++n) {
      std::uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
    return t;
  }();
  crc = ~crc;
  for (std::uint8_t b : bytes) crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

/// Adler-32, the checksum that ends a zlib stream.
TYPEGRAD_IO_INLINE std::uint32_t adler32(std::span<const std::uint8_t> bytes) noexcept {
  std::uint32_t a = 1, b = 0;
  for (std::uint8_t v : bytes) {
    a = (a + v) % 65521;
    b = (b + a) % 65521;
  }
  return b << 16 | a;
}

inline void put_u32_be(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(std::uint8_t(v >> s));
}

// Appends one chunk: length, type, data, CRC of type and data.
inline void put_png_chunk(std::vector<std::uint8_t>& out, const char (&type)[5], std::span<const std::uint8_t> data) {
  put_u32_be(out, std::uint32_t(data.size()));
  const std::size_t start = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data.begin(), data.end());
  put_u32_be(out, crc32(std::span(out).subspan(start)));
}


// Appends bits to a deflate stream, least significant bit first.
struct deflate_bits {
  std::vector<std::uint8_t>& out;
  std::uint32_t pending = 0;
  int count = 0;
  void put(std::uint32_t value, int bits) {
    pending |= value << count;
    for (count += bits; count >= 8; count -= 8, pending >>= 8) out.push_back(std::uint8_t(pending));
  }
  // Huffman codes go most significant bit first.
  void put_code(std::uint32_t code, int bits) {
    for (int k = bits - 1; k >= 0; --k) put(code >> k & 1, 1);
  }
  void flush() {
    if (count > 0) out.push_back(std::uint8_t(pending));
    pending = 0;
    count = 0;
  }
};

// One final deflate block with the fixed Huffman codes (RFC 1951, 3.2.6) in which every run of
// a repeated byte becomes matches at distance 1: no search, and scanlines filtered "up" shrink
// from 3 bytes a pixel to a few bits per row where nothing changes.
inline void deflate_runs(std::span<const std::uint8_t> raw, std::vector<std::uint8_t>& out) {
  static constexpr std::array<std::uint16_t, 29> length_base{3,  4,  5,  6,  7,  8,  9,  10,  11,  13,  15,  17,  19,  23, 27,
                                                             31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
  static constexpr std::array<std::uint8_t, 29> length_extra{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                                             2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
  deflate_bits bits{out};
  bits.put(1, 1);  // BFINAL
  bits.put(1, 2);  // BTYPE 01: fixed Huffman codes
  auto literal = [&](unsigned v) {  // also the length symbols 256..287
    if (v < 144) bits.put_code(0x30 + v, 8);
    else if (v < 256) bits.put_code(0x190 + v - 144, 9);
    else if (v < 280) bits.put_code(v - 256, 7);
    else bits.put_code(0xC0 + v - 280, 8);
  };
  for (std::size_t i = 0; i < raw.size();) {
    literal(raw[i]);
    std::size_t run = 0;
    while (i + 1 + run < raw.size() && raw[i + 1 + run] == raw[i]) ++run;
    ++i;
    while (run >= 3) {
      const std::size_t length = std::min<std::size_t>(run, 258);  // what is left under 3 goes as literals
      const std::size_t code = std::size_t(std::upper_bound(length_base.begin(), length_base.end(), length) - length_base.begin()) - 1;
      literal(unsigned(257 + code));
      bits.put(std::uint32_t(length - length_base[code]), length_extra[code]);
      bits.put_code(0, 5);  // distance code 0: distance 1
      i += length;
      run -= length;
    }
  }
  literal(256);  // end of block
  bits.flush();
}
}  // namespace detail

TYPEGRAD_IO_INLINE std::vector<std::uint8_t> encode_png(std::size_t width, std::size_t height, std::span<const std::uint8_t> rgb) {
  constexpr std::size_t max_side = 0x7FFFFFFF;  // the PNG specification's limit
  if (width == 0 || height == 0 || width > max_side || height > max_side)
    throw std::invalid_argument("typegrad::encode_png: the image is " + std::to_string(width) + " x " +
                                std::to_string(height) + " pixels; each side must be 1 to 2^31 - 1");
  if (rgb.size() / 3 / width != height || rgb.size() != 3 * width * height)
    throw std::invalid_argument("typegrad::encode_png: a " + std::to_string(width) + " x " + std::to_string(height) +
                                " RGB image takes " + std::to_string(3 * width * height) + " bytes, got " +
                                std::to_string(rgb.size()));
  // Scanlines, each led by its filter type: none for the first, "up" (minus the byte above) for
  // the others, so a row like the one above it (most rows of a chart) becomes a run of zeros.
  const std::size_t row = 3 * width;
  std::vector<std::uint8_t> raw;
  raw.reserve((row + 1) * height);
  for (std::size_t y = 0; y < height; ++y) {
    raw.push_back(y == 0 ? 0 : 2);
    for (std::size_t i = y * row; i < (y + 1) * row; ++i) raw.push_back(std::uint8_t(rgb[i] - (y == 0 ? 0 : rgb[i - row])));
  }
  // zlib: header 0x78 0x01 (deflate, 32 KiB window; 0x7801 is a multiple of 31), one deflate
  // block with the fixed Huffman codes, Adler-32.
  std::vector<std::uint8_t> z{0x78, 0x01};
  detail::deflate_runs(raw, z);
  detail::put_u32_be(z, detail::adler32(raw));

  std::vector<std::uint8_t> png{0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  std::vector<std::uint8_t> ihdr;
  detail::put_u32_be(ihdr, std::uint32_t(width));
  detail::put_u32_be(ihdr, std::uint32_t(height));
  ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0});  // 8 bits per channel, RGB, deflate, no filter choice, no interlace
  detail::put_png_chunk(png, "IHDR", ihdr);
  detail::put_png_chunk(png, "IDAT", z);
  detail::put_png_chunk(png, "IEND", {});
  return png;
}

TYPEGRAD_IO_INLINE void write_png(const std::filesystem::path& path, std::size_t width, std::size_t height,
                      std::span<const std::uint8_t> rgb) {
  const auto bytes = encode_png(width, height, rgb);
  safetensors::write_file_atomically(path, std::as_bytes(std::span(bytes)));
}

}  // namespace typegrad

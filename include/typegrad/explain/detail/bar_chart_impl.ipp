// The definitions behind explain/bar_chart.hpp: drawing text and bars, and writing the PNG.
// Compiled once into the typegrad library (src/bar_chart.cpp), or included by
// explain/bar_chart.hpp itself when TYPEGRAD_HEADER_ONLY is defined. Never include it directly.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <typegrad/explain/bar_chart.hpp>
#include <typegrad/explain/detail/bitmap_font.hpp>
#include <typegrad/io/detail/linkage.hpp>
#include <typegrad/io/png.hpp>

namespace typegrad {

TYPEGRAD_IO_INLINE void rgb_image::text(std::size_t x, std::size_t y, std::string_view s, std::size_t scale,
                                        std::array<std::uint8_t, 3> rgb) noexcept {
  for (char c : s) {
    const auto& g = detail::glyph(c);
    const std::size_t top = y + (detail::descends(c) ? scale : 0);
    for (std::size_t col = 0; col < 5; ++col)
      for (std::size_t row = 0; row < 7; ++row)
        if (g[col] >> row & 1) fill(x + col * scale, top + row * scale, scale, scale, rgb);
    x += 6 * scale;  // 5 columns and one blank
  }
}

TYPEGRAD_IO_INLINE rgb_image draw_bar_chart(std::span<const std::string> labels, std::span<const double> values,
                                            std::string_view title, const bar_chart_style& style) {
  if (labels.size() != values.size() || values.empty())
    throw std::invalid_argument("typegrad::draw_bar_chart(labels, values, title): " + std::to_string(labels.size()) +
                                " labels for " + std::to_string(values.size()) +
                                " values; give one label per value, at least one");
  for (std::size_t i = 0; i < values.size(); ++i)
    if (!std::isfinite(values[i]))
      throw std::invalid_argument("typegrad::draw_bar_chart(labels, values, title): value " + std::to_string(i) +
                                  " ('" + labels[i] + "') is not finite");
  const std::size_t cw = 6 * style.scale, ch = 7 * style.scale;
  std::size_t label_chars = 0;
  for (const auto& l : labels) label_chars = std::max(label_chars, l.size());
  constexpr std::size_t value_chars = 10;  // "-1.23e-05" and a space
  const double lo = std::min(0.0, *std::min_element(values.begin(), values.end()));
  const double hi = std::max(0.0, *std::max_element(values.begin(), values.end()));
  const double span = hi > lo ? hi - lo : 1.0;
  const std::size_t negative_room = lo < 0 ? value_chars * cw : 0;  // for values printed left of negative bars
  const std::size_t bars_left = style.margin + label_chars * cw + cw + negative_room;
  const std::size_t zero = bars_left + std::size_t(std::lround(-lo / span * double(style.bar_length)));
  const std::size_t width =
      std::max(bars_left + style.bar_length + value_chars * cw + style.margin, 2 * style.margin + title.size() * cw);
  const std::size_t top = style.margin + ch + 2 * style.scale + 8;
  const std::size_t height = top + values.size() * style.row_height + style.margin;

  rgb_image img(width, height);
  img.text(style.margin, style.margin, title, style.scale, style.ink);
  img.fill(zero, top - 2, 1, values.size() * style.row_height + 4, style.axis);  // the zero line, under the bars
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::size_t y = top + i * style.row_height;
    img.text(style.margin, y + (style.row_height - ch) / 2, labels[i], style.scale, style.ink);
    const auto length = std::size_t(std::lround(std::abs(values[i]) / span * double(style.bar_length)));
    const std::size_t bar_y = y + (style.row_height - style.bar_height) / 2;
    char buf[32];
    const int n = std::snprintf(buf, sizeof buf, "%.3g", values[i]);
    const std::string_view printed(buf, std::size_t(std::max(n, 0)));
    if (values[i] >= 0) {
      img.fill(zero, bar_y, length, style.bar_height, style.positive);
      img.text(zero + length + style.scale * 3, y + (style.row_height - ch) / 2, printed, style.scale, style.ink);
    } else {
      img.fill(zero - length, bar_y, length, style.bar_height, style.negative);
      img.text(zero - length - style.scale * 3 - printed.size() * cw, y + (style.row_height - ch) / 2, printed,
               style.scale, style.ink);
    }
  }
  return img;
}

TYPEGRAD_IO_INLINE void write_bar_chart_png(const std::filesystem::path& path, std::span<const std::string> labels,
                                std::span<const double> values, std::string_view title,
                                const bar_chart_style& style) {
  const rgb_image img = draw_bar_chart(labels, values, title, style);
  write_png(path, img.width, img.height, img.pixels);
}

}  // namespace typegrad

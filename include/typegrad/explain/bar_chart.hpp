// draw_bar_chart / write_bar_chart_png: a labelled horizontal bar chart (e.g. attribution per feature) as an image.
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

#include <typegrad/explain/detail/bitmap_font.hpp>
#include <typegrad/io/png.hpp>

namespace typegrad {

/// An 8-bit RGB image: `pixels` holds height rows, top first, of width × {red, green, blue}.
struct rgb_image {
  std::size_t width = 0, height = 0;
  std::vector<std::uint8_t> pixels;

  rgb_image() = default;
  rgb_image(std::size_t w, std::size_t h, std::uint8_t grey = 255) : width(w), height(h), pixels(3 * w * h, grey) {}
  /// Pixel (x, y)'s three channels; x from the left, y from the top.
  std::uint8_t* at(std::size_t x, std::size_t y) noexcept { return pixels.data() + 3 * (y * width + x); }
  const std::uint8_t* at(std::size_t x, std::size_t y) const noexcept { return pixels.data() + 3 * (y * width + x); }
  /// Paints the rectangle [x, x + w) × [y, y + h), clipped to the image.
  void fill(std::size_t x, std::size_t y, std::size_t w, std::size_t h, std::array<std::uint8_t, 3> rgb) noexcept {
    for (std::size_t j = y; j < std::min(y + h, height); ++j)
      for (std::size_t i = x; i < std::min(x + w, width); ++i) std::copy(rgb.begin(), rgb.end(), at(i, j));
  }
  /// Draws `s` in the built-in 5×7 font, each font pixel `scale` × `scale`, top-left at (x, y);
  /// descenders reach one font row below the 7.
  void text(std::size_t x, std::size_t y, std::string_view s, std::size_t scale,
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
};

/// Geometry and colours of draw_bar_chart, in pixels.
struct bar_chart_style {
  std::size_t scale = 2;         // font pixel size: characters are 6·scale wide, 7·scale tall
  std::size_t bar_length = 400;  // the longest bar
  std::size_t row_height = 22, bar_height = 14, margin = 16;
  std::array<std::uint8_t, 3> positive{70, 130, 180}, negative{200, 80, 60}, ink{30, 30, 30}, axis{150, 150, 150};
};

/// A horizontal bar chart: one row per value, top to bottom in the given order, its label on the
/// left, a bar from the zero line (right for positive values, left for negative ones, lengths
/// proportional to the values) and the value printed after it (%.3g), under `title`.
/// Throws std::invalid_argument when the counts differ, there are no values, or one is not finite.
inline rgb_image draw_bar_chart(std::span<const std::string> labels, std::span<const double> values,
                                std::string_view title, const bar_chart_style& style = {}) {
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

/// draw_bar_chart, written to `path` as a PNG (see write_png).
/// @code
/// tg::write_bar_chart_png("importance.png", names, mean_abs_attribution, "mean |attribution|");
/// @endcode
inline void write_bar_chart_png(const std::filesystem::path& path, std::span<const std::string> labels,
                                std::span<const double> values, std::string_view title,
                                const bar_chart_style& style = {}) {
  const rgb_image img = draw_bar_chart(labels, values, title, style);
  write_png(path, img.width, img.height, img.pixels);
}

}  // namespace typegrad

// draw_bar_chart / write_bar_chart_png: a labelled horizontal bar chart (e.g. attribution per feature) as an image.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

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
            std::array<std::uint8_t, 3> rgb) noexcept;
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
rgb_image draw_bar_chart(std::span<const std::string> labels, std::span<const double> values, std::string_view title,
                         const bar_chart_style& style = {});

/// draw_bar_chart, written to `path` as a PNG (see write_png).
/// @code
/// tg::write_bar_chart_png("importance.png", names, mean_abs_attribution, "mean |attribution|");
/// @endcode
void write_bar_chart_png(const std::filesystem::path& path, std::span<const std::string> labels,
                         std::span<const double> values, std::string_view title, const bar_chart_style& style = {});

}  // namespace typegrad

#ifdef TYPEGRAD_HEADER_ONLY
#include <typegrad/explain/detail/bar_chart_impl.ipp>
#endif

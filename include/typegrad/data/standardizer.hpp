// typegrad::standardizer<T, Features>: per-feature (x - mean) / std, fit on training data only.
#pragma once

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <numeric>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <typegrad/core/tensor.hpp>
#include <typegrad/data/dataset.hpp>
#include <typegrad/io/error.hpp>

namespace typegrad {

namespace detail {

// "v0,v1,...": each value with enough digits to round-trip exactly (out of line, per T only).
template <class T>
[[gnu::noinline]] std::string join_numbers(const T* values, std::size_t n) {
  std::string out;
  char buf[40];
  for (std::size_t j = 0; j < n; ++j) {
    std::snprintf(buf, sizeof buf, "%s%.*g", j ? "," : "", std::numeric_limits<T>::max_digits10,
                  static_cast<double>(values[j]));
    out += buf;
  }
  return out;
}

}  // namespace detail

/// Standardises features to zero mean and unit variance, as scikit-learn's `StandardScaler`:
/// `scale` is the *population* standard deviation (divisor n, not n - 1), and a feature whose
/// standard deviation is zero (or below 10·ε·max(1, |mean|), i.e. rounding noise of a constant)
/// gets scale 1, so it maps to 0 instead of dividing by zero.
///
/// Fit on the training rows only, then transform training, validation and test data alike.
/// `mean` and `scale` are plain public arrays so they can be saved (e.g. in a weights file's
/// metadata) and set again before `transform`.
/// ```
/// typegrad::standardizer<float, 30> s;
/// s.fit(data, split.train);   // statistics of the training rows only
/// s.transform(data);          // every row, in place
/// ```
template <class T, std::size_t Features>
struct standardizer {
  std::array<T, Features> mean{};   ///< per-feature mean of the fitted rows
  std::array<T, Features> scale{};  ///< per-feature population std (1 where it is zero)

  /// Fits on the rows `rows` of a dataset (typically the training split's indices).
  /// @throws std::invalid_argument if `rows` is empty; std::out_of_range for a bad index
  template <std::size_t Targets>
  void fit(const dataset<T, Features, Targets>& data, std::span<const std::size_t> rows) {
    for (const auto r : rows)
      if (r >= data.size()) throw std::out_of_range("typegrad::standardizer::fit: row index out of range");
    fit_rows(rows.size(), [&](std::size_t k) { return data.features(rows[k]).data(); });
  }
  /// Fits on every row of a dataset.
  template <std::size_t Targets>
  void fit(const dataset<T, Features, Targets>& data) {
    fit_rows(data.size(), [&](std::size_t k) { return data.features(k).data(); });
  }
  /// Fits on row-major features (size a multiple of Features).
  void fit(std::span<const T> features) {
    if (features.size() % Features != 0)
      throw std::invalid_argument("typegrad::standardizer::fit: size is not a multiple of Features");
    fit_rows(features.size() / Features, [&](std::size_t k) { return features.data() + k * Features; });
  }

  /// One row in place: x[j] = (x[j] - mean[j]) / scale[j].
  void transform(T* row) const noexcept {
    for (std::size_t j = 0; j < Features; ++j) row[j] = (row[j] - mean[j]) / scale[j];
  }
  void transform(vector<T, Features>& x) const noexcept { transform(x.data()); }
  template <std::size_t B>
  void transform(matrix<T, B, Features>& x) const noexcept {
    for (std::size_t r = 0; r < B; ++r) transform(x.row(r));
  }
  /// Every row of a dataset, in place.
  template <std::size_t Targets>
  void transform(dataset<T, Features, Targets>& data) const noexcept {
    for (std::size_t i = 0; i < data.size(); ++i) transform(data.features(i).data());
  }

  /// Undoes `transform` on one row: x[j] = x[j] * scale[j] + mean[j].
  void inverse(T* row) const noexcept {
    for (std::size_t j = 0; j < Features; ++j) row[j] = row[j] * scale[j] + mean[j];
  }
  void inverse(vector<T, Features>& x) const noexcept { inverse(x.data()); }
  template <std::size_t B>
  void inverse(matrix<T, B, Features>& x) const noexcept {
    for (std::size_t r = 0; r < B; ++r) inverse(x.row(r));
  }

  /// The statistics as text, for a weights file's metadata (save_weights(net, path, meta)):
  /// `<prefix>mean` and `<prefix>scale`, comma-separated, with enough digits to round-trip exactly.
  std::map<std::string, std::string> to_metadata(const std::string& prefix = "standardizer.") const {
    std::map<std::string, std::string> meta;
    meta.emplace(prefix + "mean", detail::join_numbers<T>(mean.data(), Features));
    meta.emplace(prefix + "scale", detail::join_numbers<T>(scale.data(), Features));
    return meta;
  }
  /// Reads what to_metadata wrote (e.g. the map load_weights returns). Throws io_error naming the
  /// key when an entry is missing, has the wrong count or a bad number; the object is unchanged then.
  void from_metadata(const std::map<std::string, std::string>& meta, const std::string& prefix = "standardizer.") {
    const auto new_mean = split(meta, prefix + "mean"), new_scale = split(meta, prefix + "scale");
    for (std::size_t j = 0; j < Features; ++j)
      if (!(new_scale[j] > T(0)))
        throw io_error("typegrad::standardizer::from_metadata: '" + prefix + "scale' entry " + std::to_string(j) +
                       " is not positive");
    mean = new_mean;
    scale = new_scale;
  }

 private:
  [[gnu::noinline]] static std::array<T, Features> split(const std::map<std::string, std::string>& meta, const std::string& key) {
    const auto it = meta.find(key);
    if (it == meta.end()) throw io_error("typegrad::standardizer::from_metadata: no '" + key + "' entry");
    std::array<T, Features> values{};
    const char* p = it->second.c_str();
    for (std::size_t j = 0; j < Features; ++j) {
      char* end = nullptr;
      errno = 0;
      const double v = std::strtod(p, &end);
      if (end == p || errno == ERANGE || !std::isfinite(v) || (*end != (j + 1 < Features ? ',' : '\0')))
        throw io_error("typegrad::standardizer::from_metadata: '" + key + "' must hold " + std::to_string(Features) +
                       " comma-separated finite numbers (entry " + std::to_string(j) + " is bad)");
      values[j] = static_cast<T>(v);
      p = end + 1;
    }
    return values;
  }

  // Two passes in double: the mean first, then squared deviations (no cancellation).
  template <class Row>
  void fit_rows(std::size_t n, Row row) {
    if (n == 0) throw std::invalid_argument("typegrad::standardizer::fit: no rows");
    std::array<double, Features> sum{}, sq{};
    for (std::size_t k = 0; k < n; ++k)
      for (std::size_t j = 0; j < Features; ++j) sum[j] += static_cast<double>(row(k)[j]);
    for (std::size_t j = 0; j < Features; ++j) sum[j] /= static_cast<double>(n);
    for (std::size_t k = 0; k < n; ++k)
      for (std::size_t j = 0; j < Features; ++j) {
        const double d = static_cast<double>(row(k)[j]) - sum[j];
        sq[j] += d * d;
      }
    for (std::size_t j = 0; j < Features; ++j) {
      const double sd = std::sqrt(sq[j] / static_cast<double>(n));
      const double tiny = 10 * std::numeric_limits<T>::epsilon() * std::max(1.0, std::fabs(sum[j]));
      mean[j] = static_cast<T>(sum[j]);
      scale[j] = sd < tiny ? T(1) : static_cast<T>(sd);
    }
  }
};

}  // namespace typegrad

// typegrad::standardizer<T, Features>: per-feature (x - mean) / std, fit on training data only,
// remembering the training range to flag inputs far outside it (a distribution-shift guard).
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

// The metadata text of standardizer<T, Features>, with Features at run time: compiled once per T
// (into the typegrad library for float and double, src/standardizer.cpp), not per feature count.
// `min` and `max` null: the range is unknown. from_metadata checks everything before it writes.
template <class T>
std::map<std::string, std::string> standardizer_to_metadata(const std::string& prefix, std::size_t n, const T* mean,
                                                            const T* scale, const T* min, const T* max);
template <class T>
void standardizer_from_metadata(const std::map<std::string, std::string>& meta, const std::string& prefix,
                                std::size_t n, T* mean, T* scale, T* min, T* max);

}  // namespace detail

/// Standardises features to zero mean and unit variance, as scikit-learn's `StandardScaler`:
/// `scale` is the *population* standard deviation (divisor n, not n - 1), and a feature whose
/// standard deviation is zero (or below 10·ε·max(1, |mean|), i.e. rounding noise of a constant)
/// gets scale 1, so it maps to 0 instead of dividing by zero.
///
/// Fit on the training rows only, then transform training, validation and test data alike.
/// `mean`, `scale`, `min` and `max` are plain public arrays so they can be saved (e.g. in a
/// weights file's metadata) and set again before `transform`.
///
/// Distribution-shift guard: `check(x)` on a raw (not yet transformed) input returns the features
/// that lie far outside the training range, i.e. outside [min − k·span, max + k·span] with
/// span = max − min (scale for a feature that was constant) and k = `tolerance` (default 1: a
/// whole training range beyond either end), or that are NaN or infinite.
/// ```
/// typegrad::standardizer<float, 30> s;
/// s.fit(data, split.train);   // statistics of the training rows only
/// s.transform(data);          // every row, in place
/// ```
template <class T, std::size_t Features>
struct standardizer {
  std::array<T, Features> mean{};   ///< per-feature mean of the fitted rows
  std::array<T, Features> scale{};  ///< per-feature population std (1 where it is zero)
  /// Per-feature minimum and maximum of the fitted rows (NaN until fitted: unknown, e.g. loaded
  /// from metadata written before typegrad stored them; check() then throws).
  std::array<T, Features> min = unknown();
  std::array<T, Features> max = unknown();

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

  /// The features (ascending indices) of a raw input row far outside the training range (see the
  /// class comment); empty when none is. Inference-time guard: call it before `transform`.
  /// @throws std::logic_error if the training range is unknown (not fitted, or an old file)
  std::vector<std::size_t> check(const T* row, double tolerance = 1.0) const {
    if (!(tolerance >= 0)) throw std::invalid_argument("typegrad::standardizer::check: tolerance must be >= 0");
    std::vector<std::size_t> outside;
    for (std::size_t j = 0; j < Features; ++j) {
      if (std::isnan(min[j]) || std::isnan(max[j]))
        throw std::logic_error("typegrad::standardizer::check: the training range of feature " + std::to_string(j) +
                               " is unknown (fit the standardizer, or save it again: metadata without "
                               "'standardizer.min' and 'standardizer.max' predates the range check)");
      const double span = max[j] > min[j] ? double(max[j]) - double(min[j]) : double(scale[j]);
      const double v = static_cast<double>(row[j]);
      if (!(v >= double(min[j]) - tolerance * span && v <= double(max[j]) + tolerance * span)) outside.push_back(j);
    }
    return outside;
  }
  std::vector<std::size_t> check(std::span<const T, Features> x, double tolerance = 1.0) const {
    return check(x.data(), tolerance);
  }
  std::vector<std::size_t> check(const vector<T, Features>& x, double tolerance = 1.0) const {
    return check(x.data(), tolerance);
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
  /// `<prefix>mean`, `<prefix>scale` and, once known, `<prefix>min` and `<prefix>max`,
  /// comma-separated, with enough digits to round-trip exactly.
  std::map<std::string, std::string> to_metadata(const std::string& prefix = "standardizer.") const {
    const bool known = range_known();
    return detail::standardizer_to_metadata<T>(prefix, Features, mean.data(), scale.data(), known ? min.data() : nullptr,
                                               known ? max.data() : nullptr);
  }
  /// Reads what to_metadata wrote (e.g. the map load_weights returns). Throws io_error naming the
  /// key when an entry is missing, has the wrong count or a bad number; the object is unchanged then.
  /// Metadata without `min` and `max` (written before they were stored) loads with the range
  /// unknown, so transform works and check() says why it cannot.
  void from_metadata(const std::map<std::string, std::string>& meta, const std::string& prefix = "standardizer.") {
    detail::standardizer_from_metadata<T>(meta, prefix, Features, mean.data(), scale.data(), min.data(), max.data());
  }

  /// Whether min and max hold a training range (fitted, or loaded with them).
  bool range_known() const noexcept {
    for (std::size_t j = 0; j < Features; ++j)
      if (std::isnan(min[j]) || std::isnan(max[j])) return false;
    return true;
  }

 private:
  static constexpr std::array<T, Features> unknown() noexcept {
    std::array<T, Features> a{};
    a.fill(std::numeric_limits<T>::quiet_NaN());
    return a;
  }

  // Two passes in double: the mean first, then squared deviations (no cancellation).
  template <class Row>
  void fit_rows(std::size_t n, Row row) {
    if (n == 0) throw std::invalid_argument("typegrad::standardizer::fit: no rows");
    std::array<double, Features> sum{}, sq{};
    std::array<T, Features> lo = unknown(), hi = unknown();
    for (std::size_t j = 0; j < Features; ++j) lo[j] = hi[j] = row(0)[j];
    for (std::size_t k = 0; k < n; ++k)
      for (std::size_t j = 0; j < Features; ++j) {
        sum[j] += static_cast<double>(row(k)[j]);
        lo[j] = std::min(lo[j], row(k)[j]);
        hi[j] = std::max(hi[j], row(k)[j]);
      }
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
    min = lo;
    max = hi;
  }
};

}  // namespace typegrad

#ifdef TYPEGRAD_HEADER_ONLY
#include <typegrad/data/detail/standardizer_impl.ipp>
#endif

// typegrad::mean_imputer<T, Features>: fills missing (NaN) features with training-row means.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <typegrad/data/dataset.hpp>
#include <typegrad/io/detail/message.hpp>

namespace typegrad {

/// Replaces missing feature values (NaN, as `read_csv` leaves them with
/// `csv_options::missing = missing_values::impute_mean`) by the mean of that feature over the
/// present values of the training rows only, so nothing of the test rows leaks into training.
/// ```
/// auto data = typegrad::read_csv<float, 8>("pima.csv", {.missing = typegrad::missing_values::impute_mean});
/// auto split = typegrad::stratified_split(data, 0.2, 7);
/// typegrad::mean_imputer<float, 8> imputer;
/// imputer.fit(data, split.train);   // means of the training rows' present values
/// imputer.transform(data);          // fills train and test rows alike; imputer.filled counts them
/// ```
template <class T, std::size_t Features>
struct mean_imputer {
  std::array<T, Features> mean{};             ///< the value filled in, per feature
  std::array<std::size_t, Features> filled{};  ///< values filled per feature, over every transform call

  /// Fits on the rows `rows` of a dataset (typically the training split's indices).
  /// @throws std::invalid_argument if a feature has no present value in those rows (no mean to
  ///         fill in; the message names the feature); std::out_of_range for a bad index
  template <std::size_t Targets>
  void fit(const dataset<T, Features, Targets>& data, std::span<const std::size_t> rows) {
    std::array<double, Features> sum{};
    std::array<std::size_t, Features> present{};
    for (const auto r : rows) {
      if (r >= data.size()) throw std::out_of_range("typegrad::mean_imputer::fit: row index out of range");
      for (std::size_t j = 0; j < Features; ++j) {
        const T v = data.features(r)[j];
        if (std::isnan(v)) continue;
        sum[j] += static_cast<double>(v);
        ++present[j];
      }
    }
    std::array<T, Features> fitted{};
    for (std::size_t j = 0; j < Features; ++j) {
      if (present[j] == 0)
        throw std::invalid_argument(detail::message(
            {"typegrad::mean_imputer::fit: feature ", j,
             j < data.feature_names().size() ? detail::message({" ('", data.feature_names()[j], "')"}) : std::string(),
             " has no value in the ", rows.size(), " training rows"}));
      fitted[j] = static_cast<T>(sum[j] / static_cast<double>(present[j]));
    }
    mean = fitted;
    filled = {};
  }
  /// Fits on every row of a dataset.
  template <std::size_t Targets>
  void fit(const dataset<T, Features, Targets>& data) {
    std::vector<std::size_t> rows(data.size());
    for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = i;
    fit(data, rows);
  }

  /// Fills the missing features of every row in place.
  /// @return how many values this call filled, per feature (also added to `filled`)
  template <std::size_t Targets>
  std::array<std::size_t, Features> transform(dataset<T, Features, Targets>& data) noexcept {
    std::array<std::size_t, Features> now{};
    for (std::size_t i = 0; i < data.size(); ++i)
      for (std::size_t j = 0; j < Features; ++j) {
        T& v = data.features(i)[j];
        if (std::isnan(v)) {
          v = mean[j];
          ++now[j];
        }
      }
    for (std::size_t j = 0; j < Features; ++j) filled[j] += now[j];
    return now;
  }

  /// Total of `filled` over the features.
  std::size_t filled_total() const noexcept {
    std::size_t n = 0;
    for (const auto f : filled) n += f;
    return n;
  }
};

}  // namespace typegrad

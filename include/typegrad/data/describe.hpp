// typegrad::describe(dataset): per-feature count, missing, range, mean, std and outliers, as a table.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <limits>
#include <numeric>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <typegrad/data/dataset.hpp>

namespace typegrad {

/// One feature's statistics over the described rows (missing values left out).
struct feature_summary {
  std::string name;          ///< the dataset's feature name, or "x<j>"
  std::size_t count = 0;     ///< present (finite) values
  std::size_t missing = 0;   ///< NaN or infinite values
  double min = std::numeric_limits<double>::quiet_NaN();
  double max = std::numeric_limits<double>::quiet_NaN();
  double mean = std::numeric_limits<double>::quiet_NaN();
  double std_dev = std::numeric_limits<double>::quiet_NaN();  ///< population std (divisor count), as standardizer's scale
  std::size_t outliers = 0;  ///< values with |x − mean| > outlier_z · std_dev
};

/// What typegrad::describe returns: one summary per feature, printable as an aligned table.
struct data_summary {
  std::size_t rows = 0;      ///< rows described (the training rows)
  double outlier_z = 4;      ///< the |z| above which a value counts as an outlier
  std::vector<feature_summary> features;

  /// The table: a header line, then one line per feature.
  [[gnu::noinline]] std::string to_string() const {
    std::size_t width = 7;
    for (const auto& f : features) width = std::max(width, f.name.size());
    std::string out;
    char line[512];
    std::snprintf(line, sizeof line, "%-*s %7s %7s %12s %12s %12s %12s %8s\n", int(width), "feature", "count", "missing",
                  "min", "max", "mean", "std", "outliers");
    out += line;
    for (const auto& f : features) {
      std::snprintf(line, sizeof line, "%-*s %7zu %7zu %12.5g %12.5g %12.5g %12.5g %8zu\n", int(width), f.name.c_str(),
                    f.count, f.missing, f.min, f.max, f.mean, f.std_dev, f.outliers);
      out += line;
    }
    char foot[128];
    std::snprintf(foot, sizeof foot, "%zu rows; outliers: |z| > %g from these rows' mean and std\n", rows, outlier_z);
    return out + foot;
  }
  /// Prints the table to `out` (stdout by default).
  void print(std::FILE* out = stdout) const { std::fputs(to_string().c_str(), out); }
};

namespace detail {
// The body of describe with Features as a run-time value: one copy per T, not per dataset shape.
template <class T>
[[gnu::noinline]] data_summary describe_rows(const T* features, std::size_t n_features, std::span<const std::size_t> rows,
                                             const std::vector<std::string>& names, double outlier_z) {
  data_summary s;
  s.rows = rows.size();
  s.outlier_z = outlier_z;
  s.features.resize(n_features);
  for (std::size_t j = 0; j < n_features; ++j) {
    feature_summary& f = s.features[j];
    if (j < names.size()) {
      f.name = names[j];
    } else {  // not "x" + to_string(j): GCC 12 at -O3 warns falsely on that (stringop-overflow)
      f.name = std::to_string(j);
      f.name.insert(f.name.begin(), 'x');
    }
    double sum = 0, lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (const auto r : rows) {
      const double v = static_cast<double>(features[r * n_features + j]);
      if (!std::isfinite(v)) {
        ++f.missing;
        continue;
      }
      ++f.count;
      sum += v;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    if (f.count == 0) continue;
    f.min = lo;
    f.max = hi;
    f.mean = sum / double(f.count);
    double sq = 0;  // second pass: no cancellation
    for (const auto r : rows) {
      const double v = static_cast<double>(features[r * n_features + j]);
      if (std::isfinite(v)) sq += (v - f.mean) * (v - f.mean);
    }
    f.std_dev = std::sqrt(sq / double(f.count));
    for (const auto r : rows) {
      const double v = static_cast<double>(features[r * n_features + j]);
      if (std::isfinite(v) && std::fabs(v - f.mean) > outlier_z * f.std_dev) ++f.outliers;
    }
  }
  return s;
}
}  // namespace detail

/// Per-feature count, missing (NaN or infinite), min, max, mean, population std and outliers
/// (|x − mean| > outlier_z · std) over the rows `rows` of `data` — pass the training rows, so
/// the statistics and the outlier rule come from them only, as the standardizer's do.
/// ```
/// typegrad::describe(data, split.train).print();   // or .to_string(), or the numbers in .features
/// ```
/// @throws std::out_of_range for a row index past the end
template <class T, std::size_t Features, std::size_t Targets>
data_summary describe(const dataset<T, Features, Targets>& data, std::span<const std::size_t> rows, double outlier_z = 4) {
  for (const auto r : rows)
    if (r >= data.size())
      throw std::out_of_range("typegrad::describe: row index " + std::to_string(r) + " >= size " + std::to_string(data.size()));
  return detail::describe_rows<T>(data.feature_data().data(), Features, rows, data.feature_names(), outlier_z);
}
/// describe over every row of `data`.
template <class T, std::size_t Features, std::size_t Targets>
data_summary describe(const dataset<T, Features, Targets>& data, double outlier_z = 4) {
  std::vector<std::size_t> rows(data.size());
  std::iota(rows.begin(), rows.end(), std::size_t{0});
  return describe(data, std::span<const std::size_t>(rows), outlier_z);
}

}  // namespace typegrad

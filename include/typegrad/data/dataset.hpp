// typegrad::dataset<T, Features, Targets>: a run-time number of samples of compile-time width.
#pragma once

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <typegrad/core/tensor.hpp>

namespace typegrad {

/// Samples with `Features` inputs and `Targets` targets each, stored row-major in two vectors.
///
/// Targets are values of `T`: a regression target, a 0/1 label for binary classification, or a
/// class index (0, 1, ..., k-1 stored as `T`) for `softmax_cross_entropy` and the metrics.
/// ```
/// auto data = typegrad::read_csv<float, 30>("breast_cancer.csv");
/// typegrad::matrix<float, 32, 30> x; typegrad::matrix<float, 32, 1> t;
/// data.batch(std::span(indices).subspan(0, 32), x, t);   // copies rows, allocates nothing
/// ```
/// @tparam T        float or double
/// @tparam Features values per sample fed to the network (its input size)
/// @tparam Targets  target values per sample
template <class T, std::size_t Features, std::size_t Targets = 1>
class dataset {
  static_assert(Features > 0 && Targets > 0, "typegrad::dataset<T, Features, Targets>: sizes must be at least 1");

 public:
  using value_type = T;
  static constexpr std::size_t feature_count = Features;
  static constexpr std::size_t target_count = Targets;

  dataset() = default;
  /// From row-major features (size n·Features) and targets (size n·Targets).
  /// @throws std::invalid_argument if the sizes do not describe the same number of samples
  dataset(std::vector<T> features, std::vector<T> targets)
      : features_(std::move(features)), targets_(std::move(targets)) {
    if (features_.size() % Features != 0 || targets_.size() % Targets != 0 ||
        features_.size() / Features != targets_.size() / Targets)
      throw std::invalid_argument("typegrad::dataset: " + std::to_string(features_.size()) + " feature values and " +
                                  std::to_string(targets_.size()) + " target values do not make whole samples of " +
                                  std::to_string(Features) + " + " + std::to_string(Targets));
  }

  /// Number of samples.
  std::size_t size() const noexcept { return features_.size() / Features; }
  bool empty() const noexcept { return features_.empty(); }
  void reserve(std::size_t samples) {
    features_.reserve(samples * Features);
    targets_.reserve(samples * Targets);
  }
  /// Appends one sample.
  void push_back(std::span<const T, Features> x, std::span<const T, Targets> t) {
    features_.insert(features_.end(), x.begin(), x.end());
    targets_.insert(targets_.end(), t.begin(), t.end());
  }

  /// The features of sample i.
  std::span<const T, Features> features(std::size_t i) const noexcept {
    assert(i < size());
    return std::span<const T, Features>(features_.data() + i * Features, Features);
  }
  std::span<T, Features> features(std::size_t i) noexcept {
    assert(i < size());
    return std::span<T, Features>(features_.data() + i * Features, Features);
  }
  /// The targets of sample i.
  std::span<const T, Targets> targets(std::size_t i) const noexcept {
    assert(i < size());
    return std::span<const T, Targets>(targets_.data() + i * Targets, Targets);
  }
  std::span<T, Targets> targets(std::size_t i) noexcept {
    assert(i < size());
    return std::span<T, Targets>(targets_.data() + i * Targets, Targets);
  }
  /// Target j of sample i (the label, for one target).
  T target(std::size_t i, std::size_t j = 0) const noexcept {
    assert(i < size() && j < Targets);
    return targets_[i * Targets + j];
  }

  /// All features, row-major (n × Features); writable, e.g. for standardisation.
  std::span<const T> feature_data() const noexcept { return features_; }
  std::span<T> feature_data() noexcept { return features_; }
  /// All targets, row-major (n × Targets).
  std::span<const T> target_data() const noexcept { return targets_; }
  std::span<T> target_data() noexcept { return targets_; }

  /// Copies sample i into one input and one target vector.
  void sample(std::size_t i, vector<T, Features>& x, vector<T, Targets>& t) const noexcept {
    assert(i < size());
    std::copy_n(features_.data() + i * Features, Features, x.data());
    std::copy_n(targets_.data() + i * Targets, Targets, t.data());
  }

  /// Copies the samples `indices[0..B)` into the rows of x and t; allocates nothing.
  /// If fewer than B indices are given, the rows after them are set to zero.
  /// @return the number of rows filled, min(B, indices.size())
  template <std::size_t B>
  std::size_t batch(std::span<const std::size_t> indices, matrix<T, B, Features>& x,
                    matrix<T, B, Targets>& t) const noexcept {
    const std::size_t n = std::min(B, indices.size());
    for (std::size_t r = 0; r < n; ++r) {
      assert(indices[r] < size());
      std::copy_n(features_.data() + indices[r] * Features, Features, x.row(r));
      std::copy_n(targets_.data() + indices[r] * Targets, Targets, t.row(r));
    }
    std::fill(x.row(0) + n * Features, x.data() + B * Features, T(0));
    std::fill(t.row(0) + n * Targets, t.data() + B * Targets, T(0));
    return n;
  }

  /// A new dataset with the samples `indices`, in that order (e.g. a train or test split).
  dataset subset(std::span<const std::size_t> indices) const {
    dataset out;
    out.reserve(indices.size());
    for (const std::size_t i : indices) {
      if (i >= size())
        throw std::out_of_range("typegrad::dataset::subset: index " + std::to_string(i) + " >= size " +
                                std::to_string(size()));
      out.push_back(features(i), targets(i));
    }
    out.class_names_ = class_names_;
    out.feature_names_ = feature_names_;
    return out;
  }

  /// Class names, if the source named them (sklearn-style CSV header); index = class label.
  std::vector<std::string>& class_names() noexcept { return class_names_; }
  const std::vector<std::string>& class_names() const noexcept { return class_names_; }
  /// Feature names, if the source had a header line of column names.
  std::vector<std::string>& feature_names() noexcept { return feature_names_; }
  const std::vector<std::string>& feature_names() const noexcept { return feature_names_; }

 private:
  std::vector<T> features_;
  std::vector<T> targets_;
  std::vector<std::string> class_names_;
  std::vector<std::string> feature_names_;
};

}  // namespace typegrad

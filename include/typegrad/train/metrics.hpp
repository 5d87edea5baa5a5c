// Evaluation metrics: binary and multi-class classification, ROC AUC, confusion matrices, regression.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <numeric>
#include <iterator>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <typegrad/core/tensor.hpp>
#include <typegrad/data/split.hpp>

namespace typegrad {

/// A sized random-access range of numbers (std::vector, std::span, std::array, ...).
template <class R>
concept number_range = std::random_access_iterator<decltype(std::begin(std::declval<const R&>()))> &&
                       requires(const R& r) { std::size(r); } &&
                       std::is_arithmetic_v<std::remove_cvref_t<decltype(*std::begin(std::declval<const R&>()))>>;
// (<iterator>'s std::begin / std::size rather than <ranges>, whose header alone costs every
// translation unit about 0.3 s of compile time.)

// Every function takes (y_true, y_pred) in that order, as scikit-learn does, and returns double.
// Class labels may be integers or floating-point values holding integers (dataset targets).

namespace detail {

template <class A, class B>
std::size_t metric_size(const A& a, const B& b, const char* who) {
  const auto n = std::size(a);
  if (n != std::size(b))
    throw std::invalid_argument(std::string(who) + ": y_true has " + std::to_string(n) + " values, y_pred " +
                                std::to_string(std::size(b)));
  if (n == 0) throw std::invalid_argument(std::string(who) + ": no samples");
  return n;
}

template <class V>
bool binary_label(V v, const char* who, std::size_t i) {
  if (v == V(0)) return false;
  if (v == V(1)) return true;
  throw std::invalid_argument(std::string(who) + ": y_true[" + std::to_string(i) + "] is not a 0/1 label");
}

template <class V>
std::size_t class_label(V v, std::size_t classes, const char* who, std::size_t i) {
  const auto d = static_cast<double>(v);
  if (!(d >= 0 && d < static_cast<double>(classes) && d == std::floor(d)))
    throw std::invalid_argument(std::string(who) + ": label " + std::to_string(d) + " at " + std::to_string(i) +
                                " is not a class index 0.." + std::to_string(classes - 1));
  return static_cast<std::size_t>(d);
}

}  // namespace detail

/// Counts of a binary classification: true/false positives/negatives (positive = label 1).
struct binary_confusion_matrix {
  std::size_t tp = 0, fp = 0, tn = 0, fn = 0;

  std::size_t total() const noexcept { return tp + fp + tn + fn; }
  /// (tp + tn) / total.
  double accuracy() const noexcept { return total() == 0 ? 0.0 : double(tp + tn) / double(total()); }
  /// tp / (tp + fp); 0 when nothing is predicted positive (scikit-learn's zero_division default).
  double precision() const noexcept { return tp + fp == 0 ? 0.0 : double(tp) / double(tp + fp); }
  /// tp / (tp + fn); 0 when there are no positives.
  double recall() const noexcept { return tp + fn == 0 ? 0.0 : double(tp) / double(tp + fn); }
  /// Harmonic mean of precision and recall, 2tp / (2tp + fp + fn); 0 when tp + fp + fn = 0.
  double f1() const noexcept { return 2 * tp + fp + fn == 0 ? 0.0 : double(2 * tp) / double(2 * tp + fp + fn); }
  friend bool operator==(const binary_confusion_matrix&, const binary_confusion_matrix&) = default;
};

/// Binary confusion counts of labels `y_true` (0/1) against predicted probabilities `y_prob`:
/// a sample is predicted positive when its probability is strictly above `threshold` (as
/// scikit-learn's `predict` and Keras' `binary_accuracy`: 0.5 exactly counts as negative).
/// @throws std::invalid_argument on a size mismatch, no samples, or a label other than 0/1
template <number_range Truth, number_range Prob>
binary_confusion_matrix binary_confusion(const Truth& y_true, const Prob& y_prob, double threshold = 0.5) {
  const std::size_t n = detail::metric_size(y_true, y_prob, "typegrad::binary_confusion");
  binary_confusion_matrix m;
  for (std::size_t i = 0; i < n; ++i) {
    const bool actual = detail::binary_label(std::begin(y_true)[i], "typegrad::binary_confusion", i);
    const bool predicted = static_cast<double>(std::begin(y_prob)[i]) > threshold;
    (actual ? (predicted ? m.tp : m.fn) : (predicted ? m.fp : m.tn)) += 1;
  }
  return m;
}

/// Fraction of samples whose thresholded probability equals the 0/1 label.
template <number_range Truth, number_range Prob>
double binary_accuracy(const Truth& y_true, const Prob& y_prob, double threshold = 0.5) {
  return binary_confusion(y_true, y_prob, threshold).accuracy();
}
/// Precision of the positive class (label 1) at `threshold`.
template <number_range Truth, number_range Prob>
double precision_score(const Truth& y_true, const Prob& y_prob, double threshold = 0.5) {
  return binary_confusion(y_true, y_prob, threshold).precision();
}
/// Recall (sensitivity) of the positive class at `threshold`.
template <number_range Truth, number_range Prob>
double recall_score(const Truth& y_true, const Prob& y_prob, double threshold = 0.5) {
  return binary_confusion(y_true, y_prob, threshold).recall();
}
/// F1 score of the positive class at `threshold`.
template <number_range Truth, number_range Prob>
double f1_score(const Truth& y_true, const Prob& y_prob, double threshold = 0.5) {
  return binary_confusion(y_true, y_prob, threshold).f1();
}

/// Area under the ROC curve of scores (probabilities or logits) against 0/1 labels, by the
/// Mann–Whitney U statistic: AUC = (R₊ − n₊(n₊+1)/2) / (n₊·n₋), R₊ the sum of the positives'
/// ranks, tied scores sharing their average rank (so a tied positive/negative pair counts 1/2).
/// @throws std::invalid_argument if a class is missing (AUC undefined), a score is NaN, or as
///         `binary_confusion`
template <number_range Truth, number_range Score>
double roc_auc(const Truth& y_true, const Score& y_score) {
  const char* who = "typegrad::roc_auc";
  const std::size_t n = detail::metric_size(y_true, y_score, who);
  // (score, index) pairs in ascending order (detail::sort_keyed: the splits' instantiation of std::sort).
  std::vector<std::pair<double, std::size_t>> order(n);
  for (std::size_t i = 0; i < n; ++i) {
    order[i] = {static_cast<double>(std::begin(y_score)[i]), i};
    if (std::isnan(order[i].first)) throw std::invalid_argument(std::string(who) + ": score " + std::to_string(i) + " is NaN");
  }
  detail::sort_keyed(order);
  double positive_rank_sum = 0;
  std::size_t positives = 0;
  for (std::size_t start = 0; start < n;) {
    std::size_t end = start;
    while (end < n && order[end].first == order[start].first) ++end;
    const double rank = (static_cast<double>(start + 1) + static_cast<double>(end)) / 2;  // ranks start+1..end
    for (std::size_t k = start; k < end; ++k)
      if (detail::binary_label(std::begin(y_true)[order[k].second], who, order[k].second)) {
        positive_rank_sum += rank;
        ++positives;
      }
    start = end;
  }
  const std::size_t negatives = n - positives;
  if (positives == 0 || negatives == 0)
    throw std::invalid_argument(std::string(who) + ": ROC AUC needs both classes in y_true");
  const double p = static_cast<double>(positives);
  return (positive_rank_sum - p * (p + 1) / 2) / (p * static_cast<double>(negatives));
}

/// A k-class confusion matrix: `m(actual, predicted)` counts samples of class `actual`
/// predicted as `predicted` (rows = truth, as scikit-learn).
class confusion_matrix {
 public:
  explicit confusion_matrix(std::size_t classes) : classes_(classes), counts_(classes * classes, 0) {}

  std::size_t classes() const noexcept { return classes_; }
  std::size_t& operator()(std::size_t actual, std::size_t predicted) noexcept {
    return counts_[actual * classes_ + predicted];
  }
  std::size_t operator()(std::size_t actual, std::size_t predicted) const noexcept {
    return counts_[actual * classes_ + predicted];
  }
  std::size_t total() const noexcept { return std::accumulate(counts_.begin(), counts_.end(), std::size_t{0}); }
  /// The diagonal's sum.
  std::size_t correct() const noexcept {
    std::size_t sum = 0;
    for (std::size_t c = 0; c < classes_; ++c) sum += (*this)(c, c);
    return sum;
  }
  double accuracy() const noexcept { return total() == 0 ? 0.0 : double(correct()) / double(total()); }
  /// One-vs-rest precision of class c: m(c,c) / column sum; 0 if c is never predicted.
  double precision(std::size_t c) const noexcept {
    std::size_t col = 0;
    for (std::size_t a = 0; a < classes_; ++a) col += (*this)(a, c);
    return col == 0 ? 0.0 : double((*this)(c, c)) / double(col);
  }
  /// One-vs-rest recall of class c: m(c,c) / row sum; 0 if class c never occurs.
  double recall(std::size_t c) const noexcept {
    std::size_t row = 0;
    for (std::size_t p = 0; p < classes_; ++p) row += (*this)(c, p);
    return row == 0 ? 0.0 : double((*this)(c, c)) / double(row);
  }
  friend bool operator==(const confusion_matrix&, const confusion_matrix&) = default;

 private:
  std::size_t classes_;
  std::vector<std::size_t> counts_;
};

/// The k-class confusion matrix of class labels `y_true` against predicted classes `y_pred`.
/// @throws std::invalid_argument on a size mismatch, no samples, or a label outside 0..classes-1
template <number_range Truth, number_range Pred>
confusion_matrix multiclass_confusion(const Truth& y_true, const Pred& y_pred, std::size_t classes) {
  const char* who = "typegrad::multiclass_confusion";
  const std::size_t n = detail::metric_size(y_true, y_pred, who);
  if (classes == 0) throw std::invalid_argument(std::string(who) + ": no classes");
  confusion_matrix m(classes);
  for (std::size_t i = 0; i < n; ++i)
    ++m(detail::class_label(std::begin(y_true)[i], classes, who, i),
        detail::class_label(std::begin(y_pred)[i], classes, who, i));
  return m;
}

/// Fraction of samples whose predicted class equals the class label.
/// @throws std::invalid_argument on a size mismatch, no samples, or a non-integer/negative label
template <number_range Truth, number_range Pred>
double multiclass_accuracy(const Truth& y_true, const Pred& y_pred) {
  const char* who = "typegrad::multiclass_accuracy";
  const std::size_t n = detail::metric_size(y_true, y_pred, who);
  constexpr std::size_t any = static_cast<std::size_t>(1) << 52;  // exact in double
  std::size_t correct = 0;
  for (std::size_t i = 0; i < n; ++i)
    correct += detail::class_label(std::begin(y_true)[i], any, who, i) ==
               detail::class_label(std::begin(y_pred)[i], any, who, i);
  return double(correct) / double(n);
}

/// The predicted class of each row of network outputs (`classes` scores per row, row-major):
/// the index of the largest score, the first one on ties.
template <number_range Outputs>
std::vector<std::size_t> argmax_rows(const Outputs& outputs, std::size_t classes) {
  const std::size_t n = std::size(outputs);
  if (classes == 0 || n % classes != 0)
    throw std::invalid_argument("typegrad::argmax_rows: " + std::to_string(n) + " outputs are not rows of " +
                                std::to_string(classes));
  std::vector<std::size_t> out(n / classes);
  const auto first = std::begin(outputs);
  for (std::size_t r = 0; r < out.size(); ++r)
    out[r] = static_cast<std::size_t>(std::max_element(first + static_cast<std::ptrdiff_t>(r * classes),
                                                       first + static_cast<std::ptrdiff_t>((r + 1) * classes)) -
                                      (first + static_cast<std::ptrdiff_t>(r * classes)));
  return out;
}
/// The predicted class of each row of a batch of outputs.
template <class T, std::size_t B, std::size_t K>
std::array<std::size_t, B> argmax_rows(const matrix<T, B, K>& outputs) noexcept {
  std::array<std::size_t, B> out{};
  for (std::size_t r = 0; r < B; ++r)
    out[r] = static_cast<std::size_t>(std::max_element(outputs.row(r), outputs.row(r) + K) - outputs.row(r));
  return out;
}

/// Mean absolute error: Σ|y − ŷ| / n.
template <number_range Truth, number_range Pred>
double mean_absolute_error(const Truth& y_true, const Pred& y_pred) {
  const std::size_t n = detail::metric_size(y_true, y_pred, "typegrad::mean_absolute_error");
  double sum = 0;
  for (std::size_t i = 0; i < n; ++i)
    sum += std::fabs(static_cast<double>(std::begin(y_true)[i]) - static_cast<double>(std::begin(y_pred)[i]));
  return sum / static_cast<double>(n);
}

/// Root mean squared error: sqrt(Σ(y − ŷ)² / n).
template <number_range Truth, number_range Pred>
double root_mean_squared_error(const Truth& y_true, const Pred& y_pred) {
  const std::size_t n = detail::metric_size(y_true, y_pred, "typegrad::root_mean_squared_error");
  double sum = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(std::begin(y_true)[i]) - static_cast<double>(std::begin(y_pred)[i]);
    sum += d * d;
  }
  return std::sqrt(sum / static_cast<double>(n));
}

/// Coefficient of determination R² = 1 − Σ(y − ŷ)² / Σ(y − ȳ)². All values are one variable
/// (for several targets, pass one target's values at a time). If y_true is constant, R² is 1
/// for a perfect prediction and 0 otherwise (scikit-learn's `force_finite`).
template <number_range Truth, number_range Pred>
double r2_score(const Truth& y_true, const Pred& y_pred) {
  const std::size_t n = detail::metric_size(y_true, y_pred, "typegrad::r2_score");
  const auto t = [&](std::size_t i) { return static_cast<double>(std::begin(y_true)[i]); };
  double mean = 0;
  for (std::size_t i = 0; i < n; ++i) mean += t(i);
  mean /= static_cast<double>(n);
  double ss_res = 0, ss_tot = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double r = t(i) - static_cast<double>(std::begin(y_pred)[i]), d = t(i) - mean;
    ss_res += r * r;
    ss_tot += d * d;
  }
  if (ss_tot == 0) return ss_res == 0 ? 1.0 : 0.0;
  return 1 - ss_res / ss_tot;
}

#ifndef TYPEGRAD_HEADER_ONLY
// The binary metrics of the vectors predict() returns and dataset targets fill are compiled once
// into the typegrad library (src/metrics.cpp), not in every translation unit that reports them.
extern template binary_confusion_matrix binary_confusion(const std::vector<float>&, const std::vector<float>&, double);
extern template binary_confusion_matrix binary_confusion(const std::vector<double>&, const std::vector<double>&, double);
extern template double roc_auc(const std::vector<float>&, const std::vector<float>&);
extern template double roc_auc(const std::vector<double>&, const std::vector<double>&);
#endif

}  // namespace typegrad

// Seeded index splits: shuffle, stratified train/test split and stratified k-fold.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <numeric>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <typegrad/core/random.hpp>
#include <typegrad/data/dataset.hpp>

namespace typegrad {

/// Row indices of one split; both lists sorted ascending, disjoint.
struct split_indices {
  std::vector<std::size_t> train;
  std::vector<std::size_t> test;
};

/// Fisher–Yates shuffle driven by `typegrad::random_engine`: the same order for the same seed
/// on every platform (std::shuffle's algorithm is unspecified).
inline void shuffle(std::span<std::size_t> indices, random_engine& rng) noexcept {
  for (std::size_t i = indices.size(); i > 1; --i) std::swap(indices[i - 1], indices[rng.below(i)]);
}

/// 0..n-1 in a seeded random order (e.g. one epoch's mini-batch order).
inline std::vector<std::size_t> shuffled_indices(std::size_t n, std::uint64_t seed) {
  std::vector<std::size_t> out(n);
  std::iota(out.begin(), out.end(), std::size_t{0});
  random_engine rng{seed};
  shuffle(out, rng);
  return out;
}

namespace detail {

// Indices of each class (distinct label values, ascending), each list shuffled by `rng`.
template <class L>
std::vector<std::vector<std::size_t>> shuffled_classes(std::span<const L> labels, random_engine& rng,
                                                       const char* who) {
  std::map<L, std::vector<std::size_t>> by_class;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] != labels[i])  // NaN: not a class, and it would break the map's order
      throw std::invalid_argument(std::string(who) + ": label " + std::to_string(i) + " is NaN");
    by_class[labels[i]].push_back(i);
  }
  std::vector<std::vector<std::size_t>> classes;
  for (auto& entry : by_class) {
    shuffle(entry.second, rng);
    classes.push_back(std::move(entry.second));
  }
  return classes;
}

}  // namespace detail

/// Seeded stratified train/test split of samples labelled `labels` (class labels such as 0/1 or
/// class indices; any values compared exactly). The test set has round(test_fraction · n)
/// samples, shared among the classes in proportion to their sizes by the largest remainder
/// method: a class of n_c samples puts floor or ceil of n_test · n_c / n samples in the test set.
/// @throws std::invalid_argument unless 0 < test_fraction < 1 and both sets are non-empty
template <class L>
split_indices stratified_split(std::span<const L> labels, double test_fraction, std::uint64_t seed) {
  const std::size_t n = labels.size();
  if (!(test_fraction > 0 && test_fraction < 1))
    throw std::invalid_argument("typegrad::stratified_split: test_fraction must be in (0, 1)");
  const auto n_test = static_cast<std::size_t>(std::llround(test_fraction * static_cast<double>(n)));
  if (n_test == 0 || n_test >= n)
    throw std::invalid_argument("typegrad::stratified_split: " + std::to_string(n) + " samples give " +
                                std::to_string(n_test) + " test samples; both sets must be non-empty");
  random_engine rng{seed};
  const auto classes = detail::shuffled_classes(labels, rng, "typegrad::stratified_split");

  // Hamilton apportionment: floors first, then the largest remainders (ties: smaller class label).
  std::vector<std::size_t> take(classes.size());
  std::vector<std::pair<double, std::size_t>> remainder;
  std::size_t given = 0;
  for (std::size_t c = 0; c < classes.size(); ++c) {
    const double exact = static_cast<double>(n_test) * static_cast<double>(classes[c].size()) / static_cast<double>(n);
    take[c] = static_cast<std::size_t>(std::floor(exact));
    given += take[c];
    remainder.emplace_back(exact - static_cast<double>(take[c]), c);
  }
  // Larger remainder first, then smaller class index: the order a stable sort on the remainder
  // alone gives, with much less code than std::stable_sort's merges.
  std::sort(remainder.begin(), remainder.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  for (std::size_t k = 0; given < n_test; ++k, ++given) ++take[remainder[k].second];

  split_indices out;
  for (std::size_t c = 0; c < classes.size(); ++c) {
    out.test.insert(out.test.end(), classes[c].begin(), classes[c].begin() + static_cast<std::ptrdiff_t>(take[c]));
    out.train.insert(out.train.end(), classes[c].begin() + static_cast<std::ptrdiff_t>(take[c]), classes[c].end());
  }
  std::sort(out.train.begin(), out.train.end());
  std::sort(out.test.begin(), out.test.end());
  return out;
}

template <class L>
split_indices stratified_split(const std::vector<L>& labels, double test_fraction, std::uint64_t seed) {
  return stratified_split(std::span<const L>(labels), test_fraction, seed);
}

/// Stratified split of a dataset with one target (its class label).
template <class T, std::size_t Features>
split_indices stratified_split(const dataset<T, Features, 1>& data, double test_fraction, std::uint64_t seed) {
  return stratified_split(data.target_data(), test_fraction, seed);
}

/// Seeded stratified k-fold: fold f's `test` is its share of every class, `train` all the rest.
/// Each class, shuffled, is dealt round-robin over the folds, continuing where the previous
/// class stopped, so fold sizes differ by at most 1 and so do a class's counts in any two folds.
/// @throws std::invalid_argument unless 2 <= k <= labels.size()
template <class L>
std::vector<split_indices> stratified_kfold(std::span<const L> labels, std::size_t k, std::uint64_t seed) {
  if (k < 2 || k > labels.size())
    throw std::invalid_argument("typegrad::stratified_kfold: k = " + std::to_string(k) + " for " +
                                std::to_string(labels.size()) + " samples; need 2 <= k <= n");
  random_engine rng{seed};
  const auto classes = detail::shuffled_classes(labels, rng, "typegrad::stratified_kfold");
  std::vector<std::size_t> fold_of(labels.size());
  std::size_t next = 0;
  for (const auto& members : classes)
    for (const auto i : members) fold_of[i] = next++ % k;
  std::vector<split_indices> folds(k);
  for (std::size_t i = 0; i < labels.size(); ++i)  // ascending i: both lists come out sorted
    for (std::size_t f = 0; f < k; ++f) (fold_of[i] == f ? folds[f].test : folds[f].train).push_back(i);
  return folds;
}

template <class L>
std::vector<split_indices> stratified_kfold(const std::vector<L>& labels, std::size_t k, std::uint64_t seed) {
  return stratified_kfold(std::span<const L>(labels), k, seed);
}

/// Stratified k-fold of a dataset with one target (its class label).
template <class T, std::size_t Features>
std::vector<split_indices> stratified_kfold(const dataset<T, Features, 1>& data, std::size_t k, std::uint64_t seed) {
  return stratified_kfold(data.target_data(), k, seed);
}

}  // namespace typegrad

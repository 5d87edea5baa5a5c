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
#include <type_traits>
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

// Sorts (key, index) pairs ascending. Every sort of the splits and metrics goes through this one
// instantiation of std::sort (each comparator or element type would generate its own).
[[gnu::noinline]] inline void sort_keyed(std::vector<std::pair<double, std::size_t>>& v) { std::sort(v.begin(), v.end()); }

// Indices of each class (distinct label values, ascending), each list shuffled by `rng`.
template <class L>
std::vector<std::vector<std::size_t>> shuffled_classes(std::span<const L> labels, random_engine& rng,
                                                       const char* who) {
  for (std::size_t i = 0; i < labels.size(); ++i)
    if (labels[i] != labels[i])  // NaN: not a class, and it would break the order
      throw std::invalid_argument(std::string(who) + ": label " + std::to_string(i) + " is NaN");
  std::vector<std::vector<std::size_t>> classes;
  if constexpr (std::is_floating_point_v<L> ? sizeof(L) <= sizeof(double) : sizeof(L) <= 4) {
    // Exact in double: sort (label, index) pairs, so each class's indices come out ascending.
    std::vector<std::pair<double, std::size_t>> keyed(labels.size());
    for (std::size_t i = 0; i < labels.size(); ++i) keyed[i] = {static_cast<double>(labels[i]), i};
    sort_keyed(keyed);
    for (std::size_t k = 0; k < keyed.size(); ++k) {
      if (k == 0 || keyed[k].first != keyed[k - 1].first) classes.emplace_back();
      classes.back().push_back(keyed[k].second);
    }
  } else {
    std::map<L, std::vector<std::size_t>> by_class;
    for (std::size_t i = 0; i < labels.size(); ++i) by_class[labels[i]].push_back(i);
    for (auto& entry : by_class) classes.push_back(std::move(entry.second));
  }
  for (auto& c : classes) shuffle(c, rng);
  return classes;
}

}  // namespace detail

/// Seeded stratified train/test split of samples labelled `labels` (class labels such as 0/1 or
/// class indices; any values compared exactly). The test set has round(test_fraction · n)
/// samples, shared among the classes in proportion to their sizes by the largest remainder
/// method: a class of n_c samples puts floor or ceil of n_test · n_c / n samples in the test set.
/// @throws std::invalid_argument unless 0 < test_fraction < 1 and both sets are non-empty
// Out of line: one copy however many callers (fit, the examples) split the same label type.
template <class L>
[[gnu::noinline]] split_indices stratified_split(std::span<const L> labels, double test_fraction, std::uint64_t seed) {
  const std::size_t n = labels.size();
  if (!(test_fraction > 0 && test_fraction < 1))
    throw std::invalid_argument("typegrad::stratified_split: test_fraction must be in (0, 1)");
  const auto n_test = static_cast<std::size_t>(std::llround(test_fraction * static_cast<double>(n)));
  if (n_test == 0 || n_test >= n)
    throw std::invalid_argument("typegrad::stratified_split: " + std::to_string(n) + " samples give " +
                                std::to_string(n_test) + " test samples; both sets must be non-empty");
  random_engine rng{seed};
  const auto classes = detail::shuffled_classes(labels, rng, "typegrad::stratified_split");

  // Hamilton apportionment: floors first, then the largest remainders (ties: smaller class label),
  // i.e. ascending (-remainder, class).
  std::vector<std::size_t> take(classes.size());
  std::vector<std::pair<double, std::size_t>> remainder;
  std::size_t given = 0;
  for (std::size_t c = 0; c < classes.size(); ++c) {
    const double exact = static_cast<double>(n_test) * static_cast<double>(classes[c].size()) / static_cast<double>(n);
    take[c] = static_cast<std::size_t>(std::floor(exact));
    given += take[c];
    remainder.emplace_back(static_cast<double>(take[c]) - exact, c);
  }
  detail::sort_keyed(remainder);
  for (std::size_t k = 0; given < n_test; ++k, ++given) ++take[remainder[k].second];

  // Both lists ascending without a sort: mark the test rows, then one pass over 0..n-1.
  std::vector<unsigned char> in_test(n, 0);
  for (std::size_t c = 0; c < classes.size(); ++c)
    for (std::size_t k = 0; k < take[c]; ++k) in_test[classes[c][k]] = 1;
  split_indices out;
  out.test.reserve(n_test);
  out.train.reserve(n - n_test);
  for (std::size_t i = 0; i < n; ++i) (in_test[i] ? out.test : out.train).push_back(i);
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
[[gnu::noinline]] std::vector<split_indices> stratified_kfold(std::span<const L> labels, std::size_t k, std::uint64_t seed) {
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

#ifndef TYPEGRAD_HEADER_ONLY
// Dataset labels (float, double) are split by copies compiled once into the typegrad library
// (src/split.cpp), not in every translation unit that splits a dataset.
extern template split_indices stratified_split<float>(std::span<const float>, double, std::uint64_t);
extern template split_indices stratified_split<double>(std::span<const double>, double, std::uint64_t);
extern template std::vector<split_indices> stratified_kfold<float>(std::span<const float>, std::size_t, std::uint64_t);
extern template std::vector<split_indices> stratified_kfold<double>(std::span<const double>, std::size_t, std::uint64_t);
#endif

}  // namespace typegrad

// Seeded stratified train/test split and k-fold: proportions, disjointness, coverage, determinism.
#include <catch2/catch.hpp>

#include <typegrad/data/split.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>
#include <vector>

namespace tg = typegrad;

namespace {

// Labels in blocks: `sizes[c]` samples of class c, interleaved so that classes are not contiguous.
std::vector<float> labels_of(const std::vector<std::size_t>& sizes) {
  std::vector<float> out;
  std::vector<std::size_t> left = sizes;
  for (bool any = true; any;) {
    any = false;
    for (std::size_t c = 0; c < left.size(); ++c)
      if (left[c] > 0) {
        out.push_back(float(c));
        --left[c];
        any = true;
      }
  }
  return out;
}

std::map<float, std::size_t> count(const std::vector<float>& labels, const std::vector<std::size_t>& idx) {
  std::map<float, std::size_t> out;
  for (const auto i : idx) ++out[labels[i]];
  return out;
}

void check_partition(const tg::split_indices& s, std::size_t n) {
  CHECK(std::is_sorted(s.train.begin(), s.train.end()));
  CHECK(std::is_sorted(s.test.begin(), s.test.end()));
  std::vector<std::size_t> all = s.train;
  all.insert(all.end(), s.test.begin(), s.test.end());
  std::sort(all.begin(), all.end());
  std::vector<std::size_t> expected(n);
  std::iota(expected.begin(), expected.end(), std::size_t{0});
  CHECK(all == expected);  // disjoint and covering: every index exactly once
}

}  // namespace

TEST_CASE("stratified_split: class proportions, partition, determinism", "[data][split]") {
  const std::vector<std::size_t> sizes{212, 357};  // breast cancer's classes
  const auto labels = labels_of(sizes);
  const auto s = tg::stratified_split(labels, 0.2, 42);
  check_partition(s, labels.size());
  // n_test = round(0.2 · 569) = round(113.8) = 114; 114·212/569 = 42.47 -> 42, 114·357/569 = 71.53 -> 72.
  REQUIRE(s.test.size() == 114);
  const auto per_class = count(labels, s.test);
  CHECK(per_class.at(0.f) == 42);
  CHECK(per_class.at(1.f) == 72);

  const auto again = tg::stratified_split(labels, 0.2, 42);
  CHECK(again.test == s.test);
  CHECK(again.train == s.train);
  CHECK(tg::stratified_split(labels, 0.2, 43).test != s.test);

  // Three uneven classes 7, 5, 1 at 0.3: n_test = round(3.9) = 4; exact shares 2.15, 1.54, 0.31
  // -> floors 2, 1, 0 and the one left over goes to the largest remainder (class 1): 2, 2, 0.
  const auto small = labels_of({7, 5, 1});
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    const auto t = tg::stratified_split(small, 0.3, seed);
    check_partition(t, small.size());
    const auto c = count(small, t.test);
    CHECK(c.at(0.f) == 2);
    CHECK(c.at(1.f) == 2);
    CHECK(c.count(2.f) == 0);
  }

  // Any class mix: each class gives floor or ceil of its exact share.
  tg::random_engine rng{7};
  for (int trial = 0; trial < 30; ++trial) {
    std::vector<std::size_t> mix(1 + rng.below(4));
    for (auto& m : mix) m = 1 + rng.below(40);
    const auto lab = labels_of(mix);
    const double f = 0.1 + 0.8 * rng.uniform();
    const auto n_test = std::size_t(std::llround(f * double(lab.size())));
    if (n_test == 0 || n_test >= lab.size()) continue;
    const auto t = tg::stratified_split(lab, f, std::uint64_t(trial));
    check_partition(t, lab.size());
    CHECK(t.test.size() == n_test);
    const auto c = count(lab, t.test);
    for (std::size_t k = 0; k < mix.size(); ++k) {
      const double exact = double(n_test) * double(mix[k]) / double(lab.size());
      const double got = c.count(float(k)) ? double(c.at(float(k))) : 0.0;
      CHECK(std::fabs(got - exact) < 1.0);
    }
  }

  CHECK_THROWS_AS(tg::stratified_split(labels, 0.0, 1), std::invalid_argument);
  CHECK_THROWS_AS(tg::stratified_split(labels, 1.0, 1), std::invalid_argument);
  CHECK_THROWS_AS(tg::stratified_split(std::vector<float>{0, 1}, 0.1, 1), std::invalid_argument);  // 0 test samples
}

TEST_CASE("stratified_split on a dataset uses its labels", "[data][split]") {
  tg::dataset<double, 1> data({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {0, 0, 0, 0, 0, 1, 1, 1, 1, 1});
  const auto s = tg::stratified_split(data, 0.4, 3);
  check_partition(s, 10);
  std::size_t ones = 0;
  for (const auto i : s.test) ones += data.target(i) == 1.0;
  CHECK(s.test.size() == 4);
  CHECK(ones == 2);
}

TEST_CASE("stratified_kfold: folds partition the data with balanced classes", "[data][split]") {
  const auto labels = labels_of({212, 357});
  const auto folds = tg::stratified_kfold(labels, 5, 11);
  REQUIRE(folds.size() == 5);
  std::vector<std::size_t> all_test;
  std::size_t min_size = labels.size(), max_size = 0;
  std::map<float, std::pair<std::size_t, std::size_t>> class_range;  // min, max count per fold
  for (const auto& f : folds) {
    check_partition(f, labels.size());
    all_test.insert(all_test.end(), f.test.begin(), f.test.end());
    min_size = std::min(min_size, f.test.size());
    max_size = std::max(max_size, f.test.size());
    for (const auto& [c, n] : count(labels, f.test)) {
      auto& r = class_range.try_emplace(c, n, n).first->second;
      r.first = std::min(r.first, n);
      r.second = std::max(r.second, n);
    }
  }
  // 569 / 5 = 113.8: fold sizes 113 or 114; 212/5 = 42.4, 357/5 = 71.4: class counts differ by <= 1.
  CHECK(min_size == 113);
  CHECK(max_size == 114);
  CHECK(class_range.at(0.f).first == 42);
  CHECK(class_range.at(0.f).second == 43);
  CHECK(class_range.at(1.f).first == 71);
  CHECK(class_range.at(1.f).second == 72);
  std::sort(all_test.begin(), all_test.end());
  CHECK(std::adjacent_find(all_test.begin(), all_test.end()) == all_test.end());  // test sets disjoint
  CHECK(all_test.size() == labels.size());                                           // and covering

  const auto again = tg::stratified_kfold(labels, 5, 11);
  for (std::size_t f = 0; f < 5; ++f) CHECK(again[f].test == folds[f].test);
  CHECK(tg::stratified_kfold(labels, 5, 12)[0].test != folds[0].test);

  CHECK_THROWS_AS(tg::stratified_kfold(labels, 1, 0), std::invalid_argument);
  CHECK_THROWS_AS(tg::stratified_kfold(std::vector<float>{0, 1}, 3, 0), std::invalid_argument);
}

TEST_CASE("shuffled_indices: a seeded permutation", "[data][split]") {
  const auto a = tg::shuffled_indices(100, 5);
  auto sorted = a;
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::size_t> expected(100);
  std::iota(expected.begin(), expected.end(), std::size_t{0});
  CHECK(sorted == expected);
  CHECK(a != expected);
  CHECK(tg::shuffled_indices(100, 5) == a);
  CHECK(tg::shuffled_indices(100, 6) != a);
}

// Metrics against hand-worked cases, and ROC AUC against an independent O(n²) pair count.
#include <catch2/catch.hpp>

#include <typegrad/core/random.hpp>
#include <typegrad/train/metrics.hpp>

#include <array>
#include <cmath>
#include <stdexcept>
#include <vector>

namespace tg = typegrad;

TEMPLATE_TEST_CASE("binary metrics at threshold 0.5", "[metrics]", float, double) {
  using T = TestType;
  const std::vector<T> y{1, 1, 1, 0, 0, 0, 1, 0};
  const std::vector<T> p{0.9, 0.6, 0.4, 0.2, 0.7, 0.5, 0.5, 0.1};
  // predicted (p > 0.5):   1    1    0    0    1    0    0    0
  // tp: #0 #1 = 2; fn: #2 #6 = 2; fp: #4 = 1; tn: #3 #5 #7 = 3  (0.5 itself is negative)
  const auto m = tg::binary_confusion(y, p);
  CHECK(m == tg::binary_confusion_matrix{.tp = 2, .fp = 1, .tn = 3, .fn = 2});
  CHECK(tg::binary_accuracy(y, p) == Approx(5.0 / 8));   // (2 + 3) / 8
  CHECK(tg::precision_score(y, p) == Approx(2.0 / 3));   // 2 / (2 + 1)
  CHECK(tg::recall_score(y, p) == Approx(0.5));          // 2 / (2 + 2)
  CHECK(tg::f1_score(y, p) == Approx(4.0 / 7));          // 2·2 / (2·2 + 1 + 2); = 2PR/(P+R) = (2/3)/(7/6)
  // Another threshold: p > 0.45 predicts #5 and #6 positive too: tp 3, fp 2, tn 2, fn 1.
  CHECK(tg::binary_confusion(y, p, 0.45) == tg::binary_confusion_matrix{.tp = 3, .fp = 2, .tn = 2, .fn = 1});

  // No positive prediction: precision and F1 are 0 (scikit-learn's zero_division default).
  const std::vector<T> none{0.1, 0.2, 0.3};
  const std::vector<T> y3{1, 0, 1};
  CHECK(tg::precision_score(y3, none) == 0.0);
  CHECK(tg::f1_score(y3, none) == 0.0);
  CHECK(tg::recall_score(y3, none) == 0.0);

  CHECK_THROWS_AS(tg::binary_confusion(std::vector<T>{0, 2}, std::vector<T>{0.1, 0.9}), std::invalid_argument);
  CHECK_THROWS_AS(tg::binary_confusion(std::vector<T>{0, 1}, std::vector<T>{0.1}), std::invalid_argument);
  CHECK_THROWS_AS(tg::binary_confusion(std::vector<T>{}, std::vector<T>{}), std::invalid_argument);
}

TEST_CASE("roc_auc: hand-worked case with a tie", "[metrics][auc]") {
  const std::vector<float> y{1, 1, 1, 0, 0, 0, 1, 0};
  const std::vector<float> s{0.9f, 0.6f, 0.4f, 0.2f, 0.7f, 0.5f, 0.5f, 0.1f};
  // Sorted: 0.1 N r1, 0.2 N r2, 0.4 P r3, 0.5 P/N r4.5 each, 0.6 P r6, 0.7 N r7, 0.9 P r8.
  // R+ = 3 + 4.5 + 6 + 8 = 21.5; U = 21.5 - 4·5/2 = 11.5; AUC = 11.5 / (4·4) = 0.71875.
  // Pairs: 0.9 beats 4 negatives, 0.6 beats 3, 0.4 beats 2, 0.5 beats 2 and ties 1 -> 11.5 ✓.
  CHECK(tg::roc_auc(y, s) == Approx(0.71875));
  CHECK(tg::roc_auc(std::vector<int>{0, 0, 1, 1}, std::vector<double>{1, 2, 3, 4}) == 1.0);
  CHECK(tg::roc_auc(std::vector<int>{1, 1, 0, 0}, std::vector<double>{1, 2, 3, 4}) == 0.0);
  CHECK(tg::roc_auc(std::vector<int>{1, 0, 1, 0}, std::vector<double>{5, 5, 5, 5}) == 0.5);  // all tied
  CHECK_THROWS_AS(tg::roc_auc(std::vector<int>{1, 1}, std::vector<double>{0.2, 0.3}), std::invalid_argument);
  CHECK_THROWS_AS(tg::roc_auc(std::vector<int>{0, 1}, std::vector<double>{NAN, 0.3}), std::invalid_argument);
}

TEST_CASE("roc_auc equals the pair count P(s+ > s-) + P(s+ = s-)/2", "[metrics][auc]") {
  tg::random_engine rng{2024};
  for (int trial = 0; trial < 50; ++trial) {
    const std::size_t n = 2 + rng.below(200);
    std::vector<double> y(n), s(n);
    for (std::size_t i = 0; i < n; ++i) {
      y[i] = double(rng.below(2));
      // Scores on a coarse grid (many ties), shifted up for positives so the AUC is not 0.5.
      s[i] = std::round((rng.uniform() + 0.3 * y[i]) * 10) / 10;
    }
    y[0] = 0;
    y[1] = 1;
    double wins = 0, pairs = 0;
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < n; ++j)
        if (y[i] == 1 && y[j] == 0) {
          pairs += 1;
          wins += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
        }
    CHECK(tg::roc_auc(y, s) == Approx(wins / pairs).epsilon(1e-12));
  }
}

TEST_CASE("multi-class confusion matrix and accuracy", "[metrics]") {
  const std::vector<float> y{0, 1, 2, 2, 1, 0, 2};          // class indices as float targets
  const std::vector<std::size_t> p{0, 2, 2, 1, 1, 0, 2};
  // rows = truth: class 0 -> predicted 0, 0; class 1 -> 2, 1; class 2 -> 2, 1, 2.
  const auto m = tg::multiclass_confusion(y, p, 3);
  const std::array<std::array<std::size_t, 3>, 3> expected{{{2, 0, 0}, {0, 1, 1}, {0, 1, 2}}};
  for (std::size_t a = 0; a < 3; ++a)
    for (std::size_t b = 0; b < 3; ++b) CHECK(m(a, b) == expected[a][b]);
  CHECK(m.total() == 7);
  CHECK(m.correct() == 5);                          // 2 + 1 + 2
  CHECK(m.accuracy() == Approx(5.0 / 7));
  CHECK(tg::multiclass_accuracy(y, p) == Approx(5.0 / 7));
  CHECK(m.precision(1) == Approx(0.5));             // column 1: 0 + 1 + 1, of which 1 correct
  CHECK(m.recall(2) == Approx(2.0 / 3));            // row 2: 0 + 1 + 2, of which 2 correct
  CHECK(m.precision(0) == 1.0);
  CHECK_THROWS_AS(tg::multiclass_confusion(y, p, 2), std::invalid_argument);  // label 2 of 2 classes
  CHECK_THROWS_AS(tg::multiclass_accuracy(std::vector<float>{0.5f}, std::vector<int>{0}), std::invalid_argument);

  // Binary as the 2-class case: same counts as binary_confusion.
  const std::vector<double> yb{1, 0, 1, 1, 0};
  const std::vector<double> pb{0.8, 0.6, 0.3, 0.9, 0.2};
  const auto b = tg::binary_confusion(yb, pb);
  std::vector<std::size_t> predicted;
  for (const double v : pb) predicted.push_back(v > 0.5);
  const auto m2 = tg::multiclass_confusion(yb, predicted, 2);
  CHECK(m2(1, 1) == b.tp);
  CHECK(m2(0, 1) == b.fp);
  CHECK(m2(0, 0) == b.tn);
  CHECK(m2(1, 0) == b.fn);
}

TEST_CASE("argmax_rows picks the first largest score", "[metrics]") {
  const tg::matrix<float, 3, 3> out{{0.1f, 0.7f, 0.2f}, {0.5f, 0.5f, 0.0f}, {-1, -3, -0.5f}};
  CHECK(tg::argmax_rows(out) == std::array<std::size_t, 3>{1, 0, 2});
  const std::vector<double> flat{1, 2, 3, 9, 0, 0};
  CHECK(tg::argmax_rows(flat, 3) == std::vector<std::size_t>{2, 0});
  CHECK_THROWS_AS(tg::argmax_rows(flat, 4), std::invalid_argument);
}

TEMPLATE_TEST_CASE("regression metrics", "[metrics]", float, double) {
  using T = TestType;
  const std::vector<T> y{3, -0.5, 2, 7};
  const std::vector<T> p{2.5, 0.0, 2, 8};
  // errors 0.5, -0.5, 0, -1: MAE = 2/4 = 0.5; MSE = (0.25 + 0.25 + 0 + 1)/4 = 0.375.
  // mean y = 11.5/4 = 2.875; SS_tot = 0.125² + 3.375² + 0.875² + 4.125² = 29.1875; SS_res = 1.5.
  CHECK(tg::mean_absolute_error(y, p) == Approx(0.5));
  CHECK(tg::root_mean_squared_error(y, p) == Approx(std::sqrt(0.375)));
  CHECK(tg::r2_score(y, p) == Approx(1 - 1.5 / 29.1875));
  CHECK(tg::r2_score(y, y) == 1.0);
  // Constant truth: 1 if predicted exactly, else 0.
  const std::vector<T> c{2, 2, 2};
  CHECK(tg::r2_score(c, c) == 1.0);
  CHECK(tg::r2_score(c, std::vector<T>{2, 2, 3}) == 0.0);
  CHECK_THROWS_AS(tg::mean_absolute_error(y, std::vector<T>{1}), std::invalid_argument);
}

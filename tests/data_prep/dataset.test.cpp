// typegrad::dataset: construction, per-sample access, mini-batch copies and subsets.
#include <catch2/catch.hpp>

#include <typegrad/data/dataset.hpp>

#include <array>
#include <stdexcept>
#include <vector>

namespace tg = typegrad;

TEMPLATE_TEST_CASE("dataset: samples, batches by index, subsets", "[data][dataset]", float, double) {
  using T = TestType;
  // Sample i has features (10i, 10i+1, 10i+2) and targets (i, -i).
  std::vector<T> x, t;
  for (int i = 0; i < 5; ++i) {
    for (int j = 0; j < 3; ++j) x.push_back(T(10 * i + j));
    t.push_back(T(i));
    t.push_back(T(-i));
  }
  tg::dataset<T, 3, 2> data(x, t);
  static_assert(decltype(data)::feature_count == 3 && decltype(data)::target_count == 2);
  REQUIRE(data.size() == 5);
  CHECK(data.features(3)[2] == T(32));
  CHECK(data.target(4, 1) == T(-4));
  CHECK(data.targets(2)[0] == T(2));

  tg::vector<T, 3> xv;
  tg::vector<T, 2> tv;
  data.sample(1, xv, tv);
  CHECK(xv == tg::vector<T, 3>{10, 11, 12});
  CHECK(tv == tg::vector<T, 2>{1, -1});

  const std::array<std::size_t, 3> idx{4, 0, 2};
  tg::matrix<T, 3, 3> xb;
  tg::matrix<T, 3, 2> tb;
  CHECK(data.batch(idx, xb, tb) == 3);
  CHECK(xb == tg::matrix<T, 3, 3>{{40, 41, 42}, {0, 1, 2}, {20, 21, 22}});
  CHECK(tb == tg::matrix<T, 3, 2>{{4, -4}, {0, 0}, {2, -2}});

  // A last, partial batch: the rows after the given samples are zero.
  tg::matrix<T, 4, 3> xp;
  tg::matrix<T, 4, 2> tp;
  xp(3, 1) = T(99);
  tp(2, 0) = T(99);
  CHECK(data.batch(std::span(idx).first(2), xp, tp) == 2);
  CHECK(xp == tg::matrix<T, 4, 3>{{40, 41, 42}, {0, 1, 2}, {0, 0, 0}, {0, 0, 0}});
  CHECK(tp == tg::matrix<T, 4, 2>{{4, -4}, {0, 0}, {0, 0}, {0, 0}});

  data.class_names() = {"a", "b"};
  const auto sub = data.subset(std::vector<std::size_t>{3, 1});
  REQUIRE(sub.size() == 2);
  CHECK(sub.features(0)[0] == T(30));
  CHECK(sub.target(1) == T(1));
  CHECK(sub.class_names() == data.class_names());
  CHECK_THROWS_AS(data.subset(std::vector<std::size_t>{5}), std::out_of_range);

  data.push_back(std::array<T, 3>{7, 8, 9}, std::array<T, 2>{1, 2});
  CHECK(data.size() == 6);
  CHECK(data.features(5)[1] == T(8));

  CHECK_THROWS_AS((tg::dataset<T, 3, 2>(std::vector<T>(6), std::vector<T>(2))), std::invalid_argument);
  CHECK_THROWS_AS((tg::dataset<T, 3, 2>(std::vector<T>(7), std::vector<T>(4))), std::invalid_argument);
}

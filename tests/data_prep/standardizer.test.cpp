// typegrad::standardizer: population statistics, zero-std guard, fit on training rows only.
#include <catch2/catch.hpp>

#include <typegrad/data/standardizer.hpp>

#include <cmath>
#include <vector>

namespace tg = typegrad;

TEMPLATE_TEST_CASE("standardizer: mean, population std, constant feature, inverse", "[data][standardize]", float, double) {
  using T = TestType;
  // Feature 0: 1, 2, 3, 4  -> mean 2.5, population variance (2.25+0.25+0.25+2.25)/4 = 1.25.
  // Feature 1: 7, 7, 7, 7  -> mean 7, std 0 -> scale 1 (maps to 0, no division by zero).
  // Feature 2: -2, 0, 0, 2 -> mean 0, variance (4+0+0+4)/4 = 2.
  tg::dataset<T, 3> data({1, 7, -2, 2, 7, 0, 3, 7, 0, 4, 7, 2}, {0, 1, 0, 1});
  tg::standardizer<T, 3> s;
  s.fit(data);
  CHECK(s.mean[0] == Approx(2.5));
  CHECK(s.mean[1] == Approx(7.0));
  CHECK(s.mean[2] == Approx(0.0).margin(1e-12));
  CHECK(s.scale[0] == Approx(std::sqrt(1.25)));
  CHECK(s.scale[1] == T(1));
  CHECK(s.scale[2] == Approx(std::sqrt(2.0)));

  tg::vector<T, 3> x{4, 7, 2};
  s.transform(x);
  CHECK(x[0] == Approx(1.5 / std::sqrt(1.25)));
  CHECK(x[1] == T(0));
  CHECK(x[2] == Approx(2 / std::sqrt(2.0)));
  s.inverse(x);
  CHECK(x[0] == Approx(4));
  CHECK(x[1] == Approx(7));
  CHECK(x[2] == Approx(2));

  // After transforming the data it was fitted on: mean 0, population std 1 (or 0 when constant).
  s.transform(data);
  for (std::size_t j = 0; j < 3; ++j) {
    double sum = 0, sq = 0;
    for (std::size_t i = 0; i < 4; ++i) sum += data.features(i)[j];
    for (std::size_t i = 0; i < 4; ++i) sq += std::pow(data.features(i)[j] - sum / 4, 2);
    CHECK(sum / 4 == Approx(0.0).margin(1e-6));
    CHECK(std::sqrt(sq / 4) == Approx(j == 1 ? 0.0 : 1.0).margin(1e-6));
  }

  // Batches, and statistics set by hand (e.g. loaded from a weights file's metadata).
  tg::standardizer<T, 3> loaded;
  loaded.mean = {1, 2, 3};
  loaded.scale = {2, 4, 0.5};
  tg::matrix<T, 2, 3> m{{3, 2, 3.5}, {1, 6, 2}};
  loaded.transform(m);
  CHECK(m == tg::matrix<T, 2, 3>{{1, 0, 1}, {0, 1, -2}});
  loaded.inverse(m);
  CHECK(m == tg::matrix<T, 2, 3>{{3, 2, 3.5}, {1, 6, 2}});
}

TEST_CASE("standardizer: fit uses the given training rows only", "[data][standardize]") {
  // Rows 0..3 are training (values 1..4), row 4 is a test outlier that must not move the statistics.
  tg::dataset<double, 1> data({1, 2, 3, 4, 1000}, {0, 0, 0, 0, 0});
  tg::standardizer<double, 1> s;
  s.fit(data, std::vector<std::size_t>{0, 1, 2, 3});
  CHECK(s.mean[0] == Approx(2.5));
  CHECK(s.scale[0] == Approx(std::sqrt(1.25)));
  tg::standardizer<double, 1> raw;
  raw.fit(std::vector<double>{1, 2, 3, 4});
  CHECK(raw.mean == s.mean);
  CHECK(raw.scale == s.scale);
  // A constant column made inexact by rounding (0.1 is not a binary fraction) still gets scale 1.
  raw.fit(std::vector<double>{0.1, 0.1, 0.1});
  CHECK(raw.scale[0] == 1.0);
  CHECK_THROWS_AS(s.fit(data, std::vector<std::size_t>{}), std::invalid_argument);
  CHECK_THROWS_AS(s.fit(data, std::vector<std::size_t>{5}), std::out_of_range);
}

TEMPLATE_TEST_CASE("standardizer: statistics round-trip exactly through weights metadata", "[data][standardizer]", float,
                   double) {
  tg::standardizer<TestType, 3> s;
  s.mean = {TestType(0.1), TestType(-12345.678), TestType(3e-5)};
  s.scale = {TestType(1) / TestType(3), TestType(7.25), TestType(1)};
  const auto meta = s.to_metadata();
  REQUIRE(meta.size() == 2);
  tg::standardizer<TestType, 3> back;
  back.from_metadata(meta);
  REQUIRE(back.mean == s.mean);  // bit-identical: max_digits10 digits
  REQUIRE(back.scale == s.scale);

  // Bad entries throw io_error naming the key, and leave the object as it was.
  auto bad = meta;
  bad["standardizer.scale"] = "1,2";
  REQUIRE_THROWS_AS(back.from_metadata(bad), tg::io_error);
  REQUIRE_THROWS_WITH(back.from_metadata(bad), Catch::Contains("standardizer.scale"));
  bad = meta;
  bad["standardizer.mean"] = "1,nan,3";
  REQUIRE_THROWS_AS(back.from_metadata(bad), tg::io_error);
  bad = meta;
  bad["standardizer.scale"] = "1,0,3";
  REQUIRE_THROWS_AS(back.from_metadata(bad), tg::io_error);
  bad.erase("standardizer.mean");
  REQUIRE_THROWS_WITH(back.from_metadata(bad), Catch::Contains("no 'standardizer.mean'"));
  REQUIRE(back.mean == s.mean);
  REQUIRE(back.scale == s.scale);
}

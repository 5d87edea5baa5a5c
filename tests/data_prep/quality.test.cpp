// Data quality: non-finite batches in fit, describe(), the CSV missing-value policy and imputation,
// and the standardizer's distribution-shift check.
#include <catch2/catch.hpp>

#include <typegrad/data/describe.hpp>
#include <typegrad/data/impute.hpp>
#include <typegrad/data/standardizer.hpp>
#include <typegrad/io/csv.hpp>
#include <typegrad/layers/dense.hpp>
#include <typegrad/losses/losses.hpp>
#include <typegrad/optim/optim.hpp>
#include <typegrad/train/fit.hpp>

#include <cmath>
#include <cstddef>
#include <limits>
#include <span>
#include <string>
#include <vector>

namespace tg = typegrad;

namespace {

constexpr std::size_t batch = 4;

template <class T>
tg::dataset<T, 3> smooth_data(std::size_t n) {
  tg::dataset<T, 3> d;
  for (std::size_t i = 0; i < n; ++i) {
    const T x[3] = {T(std::sin(0.9 * double(i))), T(std::cos(1.7 * double(i))), T(0.1 * double(i % 5))};
    const T t[1] = {T(0.5) * x[0] - x[1]};
    d.push_back(std::span<const T, 3>(x, 3), std::span<const T, 1>(t, 1));
  }
  return d;
}

// The 0-based batch of `sample` in `epoch` (1-based): fit reshuffles one order every epoch with
// random_engine{seed}, so replay its shuffles (the order fit_options documents).
std::size_t batch_of(std::size_t sample, std::size_t n, std::uint64_t seed, std::size_t epoch) {
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  tg::random_engine rng{seed};
  for (std::size_t e = 0; e < epoch; ++e) tg::shuffle(std::span<std::size_t>(order), rng);
  for (std::size_t k = 0; k < n; ++k)
    if (order[k] == sample) return k / batch;
  return n;
}

// A linear hidden layer: a huge input reaches the output and the gradient unsaturated.
template <class T>
using net_t = tg::network<tg::input<3, T>, tg::dense<5>, tg::dense<1>>;

template <class T>
auto make_adam(const net_t<T>& net) {
  return tg::make_optimizer(net, tg::adam{.lr = 1e-2});
}

// The network and optimizer after every batch before (epoch, batch) of a fit on `clean` data:
// the reference for "the weights from before the bad batch".
template <class T>
std::pair<net_t<T>, decltype(make_adam(net_t<T>{}))> state_before(const tg::dataset<T, 3>& clean, std::size_t epoch,
                                                                 std::size_t bad_batch, std::size_t epochs) {
  net_t<T> net{tg::init::glorot_uniform{3}};
  auto opt = make_adam(net);
  std::pair<net_t<T>, decltype(opt)> before{net, opt};
  tg::fit<batch>(net, tg::mse{}, opt, clean, {.epochs = epochs, .seed = 21, .show = tg::progress::never}, tg::no_callback{},
                 [&](std::size_t e, std::size_t b, double) {
                   if (e < epoch || (e == epoch && b < bad_batch)) before = {net, opt};
                 });
  return before;
}

template <class T>
bool same_state(const net_t<T>& a, const net_t<T>& b, const decltype(make_adam(net_t<T>{}))& oa,
                const decltype(make_adam(net_t<T>{}))& ob) {
  return a == b && oa.step_count() == ob.step_count() && oa.template state<0>() == ob.template state<0>() &&
         oa.template state<1>() == ob.template state<1>();
}

}  // namespace

TEMPLATE_TEST_CASE("fit: a non-finite batch stops with the epoch, batch and sample, weights restored", "[quality][fit]",
                   float, double) {
  using T = TestType;
  constexpr std::size_t n = 23, poisoned = 13;  // 5 full batches of 4 and a short one of 3
  const T big = std::numeric_limits<T>::max();
  struct poison_case {
    const char* what;
    T value;            // written into feature 1 of the poisoned sample
    const char* reason; // expected in the message
  };
  const poison_case cases[] = {
      {"NaN feature", std::numeric_limits<T>::quiet_NaN(), "input feature 1 is nan"},
      // y ≈ x·(w₂·w₁) ~ big^0.6: y² overflows, so the loss is inf before any update
      {"loss overflow", T(std::pow(double(big), 0.6)), "the loss is inf"},
      // y² ~ big^0.8 is finite, but Adam's g² ~ big^1.6 overflows its second moment in the update
      {"gradient overflow", T(std::pow(double(big), 0.4)), "optimizer's state"},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.what) {
      for (const std::size_t epoch : {std::size_t(1), std::size_t(2)}) {
        const auto clean = smooth_data<T>(n);
        auto data = clean;
        if (epoch == 1) data.features(poisoned)[1] = c.value;
        net_t<T> net{tg::init::glorot_uniform{3}};
        auto opt = make_adam(net);
        std::size_t caught_epoch = 0, caught_batch = 0, caught_sample = 0;
        std::string message;
        try {  // epoch 2: the poison appears after epoch 1 (fit reads `data` through a const reference)
          tg::fit<batch>(net, tg::mse{}, opt, data, {.epochs = 3, .seed = 21, .show = tg::progress::never},
                         [&](const tg::epoch_record&) { data.features(poisoned)[1] = c.value; });
        } catch (const tg::non_finite_error& e) {
          caught_epoch = e.epoch;
          caught_batch = e.batch;
          caught_sample = e.sample;
          message = e.what();
        }
        INFO(message);
        REQUIRE(caught_epoch == epoch);
        REQUIRE(caught_batch == batch_of(poisoned, n, 21, epoch));
        REQUIRE(caught_sample == poisoned);
        REQUIRE_THAT(message, Catch::Contains(c.reason) && Catch::Contains("epoch " + std::to_string(epoch)) &&
                                  Catch::Contains("sample 13"));
        const auto [ref_net, ref_opt] = state_before<T>(clean, epoch, caught_batch, 3);
        REQUIRE(same_state<T>(net, ref_net, opt, ref_opt));
      }
    }
  }
}

TEMPLATE_TEST_CASE("fit: skip_batch leaves bad batches out, counts them, and trains on the rest", "[quality][fit]", float,
                   double) {
  using T = TestType;
  constexpr std::size_t n = 23;
  auto data = smooth_data<T>(n);
  data.features(2)[0] = std::numeric_limits<T>::infinity();           // caught before the update
  data.targets(17)[0] = std::numeric_limits<T>::quiet_NaN();
  data.features(8)[1] = T(std::pow(double(std::numeric_limits<T>::max()), 0.4));  // overflows Adam's state: found at the epoch's end
  net_t<T> net{tg::init::glorot_uniform{3}};
  auto opt = make_adam(net);
  const auto h = tg::fit<batch>(net, tg::mse{}, opt, data,
                                {.epochs = 4, .seed = 21, .show = tg::progress::never, .on_non_finite = tg::non_finite::skip_batch});
  REQUIRE(h.epochs.size() == 4);
  std::size_t expected = 0;
  for (std::size_t e = 1; e <= 4; ++e) {
    const std::size_t a = batch_of(2, n, 21, e), b = batch_of(17, n, 21, e), c = batch_of(8, n, 21, e);
    const std::size_t skips = 1 + (b != a) + (c != a && c != b);
    REQUIRE(h.epochs[e - 1].skipped_batches == skips);
    REQUIRE(std::isfinite(h.epochs[e - 1].train_loss));
    expected += skips;
  }
  REQUIRE(h.skipped_batches == expected);
  REQUIRE(net.is_finite());
  REQUIRE(tg::detail::optimizer_finite(opt));
  // Adam took one step per good batch: 6 batches per epoch.
  REQUIRE(opt.step_count() == 4 * 6 - expected);
}

TEMPLATE_TEST_CASE("fit: a gradient that overflows into the weights is traced back to its batch", "[quality][fit]", float,
                   double) {
  // Feature 1 gets zero weights, so sample 13's huge feature 1 leaves its output and loss finite,
  // but its update −lr·dz·x₁ (lr·|dz| ≈ 0.01·|w₂|·|y − 10⁴|/2 ≫ 1) overflows: plain SGD writes inf
  // weights. The next step's (or the epoch end's) check finds them and a replay finds the batch.
  using T = TestType;
  constexpr std::size_t n = 23, poisoned = 13;
  const auto clean = smooth_data<T>(n);
  auto data = clean;
  data.features(poisoned)[1] = T(0.9) * std::numeric_limits<T>::max();
  data.targets(poisoned)[0] = T(1e4);
  net_t<T> start{tg::init::glorot_uniform{3}};
  for (std::size_t o = 0; o < 5; ++o) tg::get<0>(start).weight(o, 1) = T(0);
  const tg::fit_options options{.epochs = 2, .seed = 21, .show = tg::progress::never};
  const std::size_t bad = batch_of(poisoned, n, 21, 1);

  auto net = start;
  tg::sgd opt{0.01};
  REQUIRE_THROWS_MATCHES(tg::fit<batch>(net, tg::mse{}, opt, data, options), tg::non_finite_error,
                         Catch::Predicate<tg::non_finite_error>([&](const auto& e) {
                           return e.epoch == 1 && e.batch == bad && e.sample == poisoned &&
                                  e.reason.find("made weights non-finite") != std::string::npos;
                         }));
  auto reference = start;  // the clean fit, up to the bad batch
  auto ref_before = reference;
  tg::fit<batch>(reference, tg::mse{}, opt, clean, options, tg::no_callback{}, [&](std::size_t e, std::size_t b, double) {
    if (e == 1 && b < bad) ref_before = reference;
  });
  REQUIRE(net.is_finite());
  REQUIRE(bool(net == ref_before));
}

TEST_CASE("fit: with validation_fraction the sample is named by its row in the dataset given to fit", "[quality][fit]") {
  constexpr std::size_t n = 40;
  auto data = smooth_data<double>(n);
  // A regression target is stratified by value: every sample its own class, so take the split fit takes.
  const auto parts = tg::stratified_split(data, 0.25, 21);
  const std::size_t poisoned = parts.train[7];
  data.features(poisoned)[2] = std::numeric_limits<double>::quiet_NaN();
  net_t<double> net{tg::init::glorot_uniform{3}};
  auto opt = make_adam(net);
  REQUIRE_THROWS_MATCHES(
      tg::fit<batch>(net, tg::mse{}, opt, data, {.epochs = 2, .seed = 21, .validation_fraction = 0.25, .show = tg::progress::never}),
      tg::non_finite_error, Catch::Predicate<tg::non_finite_error>([&](const auto& e) { return e.sample == poisoned; }));
}

TEST_CASE("fit: unchecked turns the checks off", "[quality][fit]") {
  auto data = smooth_data<double>(9);
  data.features(4)[0] = std::numeric_limits<double>::quiet_NaN();
  net_t<double> net{tg::init::glorot_uniform{3}};
  auto opt = make_adam(net);
  REQUIRE_NOTHROW(tg::fit<batch>(net, tg::mse{}, opt, data,
                                 {.epochs = 1, .show = tg::progress::never, .on_non_finite = tg::non_finite::unchecked}));
  REQUIRE_FALSE(net.is_finite());
}

// ---- CSV missing values and mean imputation (tests/data/quality_missing.csv) ----

TEST_CASE("read_csv: a missing value is an error by default, naming line and column", "[quality][csv]") {
  const std::string path = TYPEGRAD_SOURCE_DIR "/tests/data/quality_missing.csv";
  REQUIRE_THROWS_WITH((tg::read_csv<double, 3>(path)),
                      Catch::Contains("quality_missing.csv: line 2, column 3: missing value 'NA'") &&
                          Catch::Contains("missing_values::impute_mean"));
  REQUIRE_THROWS_WITH((tg::parse_csv<double, 2>("1,,0\n", "mem.csv", {.header = tg::csv_header::none})),
                      Catch::Contains("mem.csv: line 1, column 2: empty field"));
  // A missing target is an error under either policy; a field that is not a marker stays an error.
  REQUIRE_THROWS_WITH((tg::parse_csv<double, 2>("1,2,NA\n", "mem.csv",
                                                {.header = tg::csv_header::none, .missing = tg::missing_values::impute_mean})),
                      Catch::Contains("line 1, column 3: missing value 'NA' (a target cannot be missing)"));
  REQUIRE_THROWS_WITH((tg::parse_csv<double, 2>("1,x,0\n", "mem.csv",
                                                {.header = tg::csv_header::none, .missing = tg::missing_values::impute_mean})),
                      Catch::Contains("'x' is not a number"));
}

TEMPLATE_TEST_CASE("mean_imputer: means of the training rows only, counts per feature", "[quality][impute]", float, double) {
  using T = TestType;
  auto data = tg::read_csv<T, 3>(TYPEGRAD_SOURCE_DIR "/tests/data/quality_missing.csv",
                                 {.missing = tg::missing_values::impute_mean});
  REQUIRE(data.size() == 8);
  REQUIRE(data.feature_names() == std::vector<std::string>{"a", "b", "c"});
  REQUIRE(std::isnan(data.features(0)[2]));  // NA
  REQUIRE(std::isnan(data.features(1)[1]));  // empty
  REQUIRE(std::isnan(data.features(5)[2]));  // ?
  const std::vector<std::size_t> train = {0, 1, 2, 3, 4, 5}, test = {6, 7};
  tg::mean_imputer<T, 3> imputer;
  imputer.fit(data, train);
  // By hand from the file's rows 1-6: a = (1+2+3+4+100)/5, b = (10+30+40+50+60)/5, c = (5+6+7+8)/4.
  // With the test rows the means would be 125/7, 45 and 7.5.
  CHECK(imputer.mean[0] == T(22));
  CHECK(imputer.mean[1] == T(38));
  CHECK(imputer.mean[2] == T(6.5));
  const auto now = imputer.transform(data);
  CHECK(now == std::array<std::size_t, 3>{1, 2, 2});
  CHECK(imputer.filled == now);
  CHECK(imputer.filled_total() == 5);
  CHECK(data.features(6)[1] == T(38));  // a test row gets the training mean
  CHECK(data.features(4)[0] == T(22));
  CHECK(data.features(7)[1] == T(80));  // present values are untouched
  for (const auto v : data.feature_data()) REQUIRE(std::isfinite(v));

  tg::dataset<T, 3> none({1, std::numeric_limits<T>::quiet_NaN(), 2, 3, std::numeric_limits<T>::quiet_NaN(), 4}, {0, 1});
  none.feature_names() = {"p", "q", "r"};
  REQUIRE_THROWS_WITH(imputer.fit(none), Catch::Contains("feature 1 ('q') has no value in the 2 training rows"));
  CHECK(imputer.mean[0] == T(22));  // unchanged by the failed fit
}

// ---- describe ----

TEST_CASE("describe: count, missing, range, mean, std and outliers over the training rows", "[quality][describe]") {
  const auto data = tg::read_csv<double, 3>(TYPEGRAD_SOURCE_DIR "/tests/data/quality_missing.csv",
                                            {.missing = tg::missing_values::impute_mean});
  const std::vector<std::size_t> train = {0, 1, 2, 3, 4, 5};
  const auto s = tg::describe(data, train, 1.5);
  REQUIRE(s.rows == 6);
  REQUIRE(s.features.size() == 3);
  const auto& a = s.features[0];
  CHECK(a.name == "a");
  CHECK(a.count == 5);
  CHECK(a.missing == 1);
  CHECK(a.min == 1);
  CHECK(a.max == 100);
  CHECK(a.mean == Approx(22));
  // Deviations −21, −20, −19, −18, 78: population variance 7610 / 5.
  CHECK(a.std_dev == Approx(std::sqrt(1522.0)));
  CHECK(a.outliers == 1);  // 100: z = 78 / 39.01 ≈ 2.0 > 1.5
  CHECK(s.features[1].count == 5);
  CHECK(s.features[1].missing == 1);  // row 7's empty b is a test row
  CHECK(s.features[2].count == 4);
  CHECK(s.features[2].missing == 2);
  CHECK(s.features[2].max == 8);

  const std::string table = s.to_string();
  INFO(table);
  CHECK_THAT(table, Catch::StartsWith("feature   count missing"));
  CHECK_THAT(table, Catch::Contains("\na       ") && Catch::Contains("6 rows; outliers: |z| > 1.5"));
  std::size_t lines = 0, first_width = 0;  // aligned: every row of the table as wide as the header
  for (std::size_t start = 0; start < table.size();) {
    const std::size_t end = table.find('\n', start);
    if (lines == 0) first_width = end - start;
    if (lines >= 1 && lines <= 3) CHECK(end - start == first_width);
    ++lines;
    start = end + 1;
  }
  CHECK(lines == 5);
}

TEST_CASE("describe: the default rule |z| > 4, and names x<j> without a header", "[quality][describe]") {
  // 29 zeros and one 1: mean 1/30, population std √29/30, so the 1 has z = √29 ≈ 5.39 and each
  // zero z = 1/√29.
  std::vector<float> x(30, 0.0f);
  x[17] = 1.0f;
  const tg::dataset<float, 1> d(x, std::vector<float>(30, 0.0f));
  const auto s = tg::describe(d);
  CHECK(s.features[0].name == "x0");
  CHECK(s.features[0].outliers == 1);
  CHECK(s.features[0].std_dev == Approx(std::sqrt(29.0) / 30));
  CHECK(tg::describe(d, 5.5).features[0].outliers == 0);
  const std::vector<std::size_t> bad = {30};
  REQUIRE_THROWS_AS(tg::describe(d, bad), std::out_of_range);
}

// ---- the standardizer's distribution-shift guard ----

TEMPLATE_TEST_CASE("standardizer::check flags features far outside the training range", "[quality][standardizer]", float,
                   double) {
  using T = TestType;
  // Feature 0 spans [0, 10] (allowed [−10, 20] at tolerance 1), feature 1 is constant 5 (span = scale = 1:
  // allowed [4, 6]), feature 2 spans [−1, 1]. Row 3 is a test row outside everything: not fitted on.
  tg::dataset<T, 3> data({0, 5, -1, 10, 5, 1, 4, 5, 0, 1000, 1000, 1000}, {0, 0, 0, 0});
  tg::standardizer<T, 3> s;
  const std::vector<std::size_t> train = {0, 1, 2};
  s.fit(data, train);
  CHECK(s.min == std::array<T, 3>{0, 5, -1});
  CHECK(s.max == std::array<T, 3>{10, 5, 1});
  using v = std::vector<std::size_t>;
  CHECK(s.check(data.features(0)).empty());
  CHECK(s.check(data.features(3)) == v{0, 1, 2});
  CHECK(s.check(tg::vector<T, 3>{20, 6, 3}).empty());  // the edges themselves are inside
  CHECK(s.check(tg::vector<T, 3>{T(20.5), T(6.5), T(-3.5)}) == v{0, 1, 2});
  CHECK(s.check(tg::vector<T, 3>{T(-10.5), 4, T(-2)}) == v{0});
  CHECK(s.check(tg::vector<T, 3>{std::numeric_limits<T>::quiet_NaN(), 5, std::numeric_limits<T>::infinity()}) == v{0, 2});
  CHECK(s.check(tg::vector<T, 3>{T(12), 5, 0}, 0.1) == v{0});  // a tighter tolerance: allowed [−1, 11]
  REQUIRE_THROWS_AS(s.check(tg::vector<T, 3>{}, -1), std::invalid_argument);

  // The range round-trips through the metadata of a weights file, exactly.
  tg::standardizer<T, 3> back;
  back.from_metadata(s.to_metadata());
  CHECK(back.min == s.min);
  CHECK(back.max == s.max);
  CHECK(back.check(data.features(3)) == v{0, 1, 2});

  // Metadata written before min and max were stored still loads; check() says why it cannot work.
  auto old = s.to_metadata();
  old.erase("standardizer.min");
  old.erase("standardizer.max");
  tg::standardizer<T, 3> legacy;
  legacy.from_metadata(old);
  CHECK(legacy.mean == s.mean);
  CHECK_FALSE(legacy.range_known());
  CHECK(legacy.to_metadata().count("standardizer.min") == 0);
  REQUIRE_THROWS_WITH(legacy.check(data.features(0)), Catch::Contains("training range of feature 0 is unknown"));
  REQUIRE_THROWS_WITH((tg::standardizer<T, 3>{}.check(data.features(0))), Catch::Contains("unknown"));

  auto half = s.to_metadata();
  half.erase("standardizer.max");
  REQUIRE_THROWS_WITH(back.from_metadata(half), Catch::Contains("'standardizer.min' without 'standardizer.max'"));
  auto swapped = s.to_metadata();
  std::swap(swapped["standardizer.min"], swapped["standardizer.max"]);
  REQUIRE_THROWS_AS(back.from_metadata(swapped), tg::io_error);
  CHECK(back.min == s.min);  // unchanged after a failed load
}

// fit with threads: the data-parallel step, its determinism, the thread pool and cross_validate.
#include <catch2/catch.hpp>
#include <typegrad/typegrad.hpp>

#include <atomic>
#include <cmath>
#include <cstddef>
#include <limits>
#include <thread>
#include <type_traits>
#include <utility>
#include <span>
#include <stdexcept>
#include <vector>

namespace tg = typegrad;

namespace {

// 7 inputs, 13 hidden, 3 outputs: none a multiple of the SIMD width.
template <class T>
using regression_net = tg::network<tg::input<7, T>, tg::dense<13, tg::tanh>, tg::dense<3, tg::identity>>;
template <class T>
using classifier_net = tg::network<tg::input<7, T>, tg::dense<11, tg::relu>, tg::dense<5, tg::identity>>;

template <class T, std::size_t Targets>
tg::dataset<T, 7, Targets> make_data(std::size_t n, bool class_index) {
  tg::dataset<T, 7, Targets> d;
  for (std::size_t i = 0; i < n; ++i) {
    T x[7], t[Targets];
    for (std::size_t j = 0; j < 7; ++j) x[j] = T(std::sin(0.37 * double(i) + 1.3 * double(j)) * 1.2);
    if (class_index) t[0] = T(std::size_t(std::fabs(x[0] * 3 + x[1])) % 5);
    else
      for (std::size_t j = 0; j < Targets; ++j) t[j] = T(std::cos(x[j] + x[j + 1] * x[6]));
    d.push_back(std::span<const T, 7>(x, 7), std::span<const T, Targets>(t, Targets));
  }
  return d;
}

template <class Net>
std::vector<double> weights(const Net& net) {
  std::vector<double> w;
  net.parameters().for_each([&](std::size_t, auto, std::size_t, std::size_t, auto v) { w.push_back(double(v)); });
  return w;
}

template <class Net>
double max_relative_difference(const Net& a, const Net& b) {
  const auto wa = weights(a), wb = weights(b);
  double worst = 0;
  for (std::size_t i = 0; i < wa.size(); ++i)
    worst = std::max(worst, std::fabs(wa[i] - wb[i]) / std::max(1.0, std::fabs(wa[i])));
  return worst;
}

tg::fit_options quiet(std::size_t epochs, std::size_t threads) {
  tg::fit_options o;
  o.epochs = epochs;
  o.seed = 5;
  o.show = tg::progress::never;
  o.threads = threads;
  return o;
}

}  // namespace

static_assert(tg::detail::parallel_chunks<64> == 2 && tg::detail::parallel_chunks<256> == 8);
static_assert(tg::detail::parallel_chunks<32> == 1 && tg::detail::parallel_chunks<96> == 2);
static_assert(tg::fit_options{}.threads == 1, "one thread unless asked");

TEST_CASE("thread_pool: run calls every index once per run, on distinct threads", "[threads]") {
  for (const std::size_t size : {std::size_t{1}, std::size_t{2}, std::size_t{3}}) {
    tg::thread_pool pool(size);
    REQUIRE(pool.size() == size);
    std::vector<std::atomic<int>> calls(size);
    std::vector<std::thread::id> ids(size);
    auto job = [&](std::size_t i) noexcept {
      ++calls[i];
      ids[i] = std::this_thread::get_id();
    };
    for (int r = 0; r < 500; ++r) pool.run(job);
    for (std::size_t i = 0; i < size; ++i) REQUIRE(calls[i].load() == 500);
    REQUIRE(ids[0] == std::this_thread::get_id());
    for (std::size_t i = 1; i < size; ++i) REQUIRE(ids[i] != ids[0]);
  }
  REQUIRE(tg::resolve_threads(3) == 3);
  REQUIRE(tg::resolve_threads(0) >= 1);
}

TEMPLATE_TEST_CASE("fit with threads = 2: two runs give bit-identical weights and history", "[threads]", float, double) {
  const auto data = make_data<TestType, 3>(173, false);  // 2 batches of 64, then 45 rows: one full chunk and 13 rows
  regression_net<TestType> a{tg::init::glorot_uniform{3}};
  auto b = a;
  auto opt_a = tg::make_optimizer(a, tg::adam{.lr = 0.01});
  auto opt_b = opt_a;
  const auto ha = tg::fit<64>(a, tg::mse{}, opt_a, data, quiet(4, 2));
  const auto hb = tg::fit<64>(b, tg::mse{}, opt_b, data, quiet(4, 2));
  REQUIRE(ha.threads == 2);
  REQUIRE(weights(a) == weights(b));
  REQUIRE(bool(opt_a.template state<0>() == opt_b.template state<0>()));
  for (std::size_t e = 0; e < ha.epochs.size(); ++e) REQUIRE(ha.epochs[e].train_loss == hb.epochs[e].train_loss);
  REQUIRE(max_relative_difference(a, regression_net<TestType>{tg::init::glorot_uniform{3}}) > 1e-3);  // it trained
}

TEMPLATE_TEST_CASE("fit with threads = 1 runs the fused single-thread path, bit for bit", "[threads]", float, double) {
  const auto data = make_data<TestType, 3>(128, false);  // two full batches of 64
  regression_net<TestType> a{tg::init::glorot_uniform{4}};
  auto b = a, split = a, manual = a;
  tg::sgd opt{0.05};
  tg::fit_options absent;  // the option left at its default
  absent.epochs = 1;
  absent.seed = 5;
  absent.show = tg::progress::never;
  const auto ha = tg::fit<64>(a, tg::mse{}, opt, data, absent);
  const auto hb = tg::fit<64>(b, tg::mse{}, opt, data, quiet(1, 1));
  tg::fit<64>(split, tg::mse{}, opt, data, quiet(1, 2));
  REQUIRE(ha.threads == 1);
  REQUIRE(hb.threads == 1);
  REQUIRE(weights(a) == weights(b));
  // The fused step is train_step on each batch of fit's shuffled order, bit for bit.
  std::vector<std::size_t> order(data.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  tg::random_engine rng{5};
  tg::shuffle(std::span<std::size_t>(order), rng);
  for (std::size_t start = 0; start < order.size(); start += 64) {
    tg::matrix<TestType, 64, 7> x;
    tg::matrix<TestType, 64, 3> t;
    data.batch(std::span<const std::size_t>(order).subspan(start, 64), x, t);
    tg::train_step(manual, tg::mse{}, opt, x, t);
  }
  REQUIRE(weights(a) == weights(manual));
  // The split step sums in another order: close, and (so the comparison above can fail) not identical.
  REQUIRE(max_relative_difference(split, manual) < (std::is_same_v<TestType, float> ? 1e-5 : 1e-13));
  REQUIRE(weights(split) != weights(manual));
}

// w − lr·typegrad::gradient(net, loss, the batch's n rows in fit's order): independent of the fit loop.
template <std::size_t N>
void check_one_split_step() {
  const auto data = make_data<double, 3>(N, false);
  regression_net<double> net{tg::init::glorot_uniform{7}};
  auto manual = net;
  tg::sgd opt{0.3};
  const auto h = tg::fit<64>(net, tg::mse{}, opt, data, quiet(1, 2));
  std::vector<std::size_t> order(N);
  for (std::size_t i = 0; i < N; ++i) order[i] = i;
  tg::random_engine rng{5};
  tg::shuffle(std::span<std::size_t>(order), rng);
  tg::matrix<double, N, 7> x;
  tg::matrix<double, N, 3> t;
  data.batch(std::span<const std::size_t>(order), x, t);
  const auto g = tg::gradient(manual, tg::mse{}, x, t);
  const double loss = tg::loss_value(manual, tg::mse{}, x, t);
  std::vector<double> gv;
  g.for_each([&](std::size_t, auto, std::size_t, std::size_t, double v) { gv.push_back(v); });
  std::size_t k = 0;
  manual.parameters().for_each([&](std::size_t, auto, std::size_t, std::size_t, double& w) { w -= 0.3 * gv[k++]; });
  REQUIRE(h.threads == 2);
  REQUIRE(h.epochs[0].train_loss == Approx(loss).epsilon(1e-13));
  REQUIRE(max_relative_difference(net, manual) < 1e-14);
  REQUIRE(max_relative_difference(net, regression_net<double>{tg::init::glorot_uniform{7}}) > 1e-3);
}

TEST_CASE("fit with threads = 2: one step is the mean gradient of the batch (full and short batches)", "[threads]") {
  check_one_split_step<64>();  // two chunks of 32
  check_one_split_step<45>();  // a short batch: 32 rows and 13 rows, scaled by 32/45
  check_one_split_step<20>();  // a short batch on the first thread only; the second adds zeros
}

TEST_CASE("fit with threads = 2 agrees with one thread to rounding: losses, targets, optimizers", "[threads]") {
  const auto regression = make_data<double, 3>(301, false);
  const auto classes = make_data<double, 1>(301, true);
  auto compare = [](auto net, auto loss, auto opt, const auto& data, std::size_t epochs) {
    auto one = net;
    auto opt_one = opt;
    const auto h2 = tg::fit<128>(net, loss, opt, data, quiet(epochs, 2));
    const auto h1 = tg::fit<128>(one, loss, opt_one, data, quiet(epochs, 1));
    REQUIRE(h2.threads == 2);
    for (std::size_t e = 0; e < epochs; ++e) REQUIRE(h2.epochs[e].train_loss == Approx(h1.epochs[e].train_loss).epsilon(1e-10));
    // Not bit-identical: one thread sums the 128 rows' gradients in one pass, two threads sum
    // 64 + 64 and then add; floating-point addition is not associative.
    REQUIRE(max_relative_difference(net, one) < 1e-10);
  };
  regression_net<double> r{tg::init::glorot_uniform{1}};
  compare(r, tg::mse{}, tg::make_optimizer(r, tg::adam{.lr = 0.01}), regression, 3);
  compare(r, tg::mse{}, tg::make_optimizer(r, tg::sgd{.lr = 0.05, .momentum = 0.9}, tg::clip_grad_norm{0.5}), regression, 3);
  classifier_net<double> c{tg::init::he_uniform{2}};
  compare(c, tg::softmax_cross_entropy{}, tg::sgd{0.1}, classes, 3);
  compare(c, tg::softmax_cross_entropy{}, tg::make_optimizer(c, tg::adamw{.lr = 0.01}), classes, 2);
}

TEST_CASE("fit with threads: the thread count is clamped to the batch's chunks; 0 is every hardware thread", "[threads]") {
  const auto data = make_data<double, 3>(100, false);
  regression_net<double> a{tg::init::glorot_uniform{1}};
  auto b = a, c = a;
  tg::sgd opt{0.05};
  const auto h_small = tg::fit<32>(a, tg::mse{}, opt, data, quiet(2, 4));  // 32 rows: one chunk
  const auto h_one = tg::fit<32>(b, tg::mse{}, opt, data, quiet(2, 1));
  REQUIRE(h_small.threads == 1);
  REQUIRE(weights(a) == weights(b));
  const auto h_all = tg::fit<64>(c, tg::mse{}, opt, data, quiet(1, 0));
  REQUIRE(h_all.threads == std::min<std::size_t>(tg::resolve_threads(0), 2));
  REQUIRE(tg::fit<256>(c, tg::mse{}, opt, data, quiet(1, 16)).threads == 8);
}

TEST_CASE("fit with threads = 2: non-finite batches stop or are skipped as on one thread", "[threads]") {
  auto data = make_data<double, 3>(300, false);
  tg::dataset<double, 7, 3> bad;
  for (std::size_t i = 0; i < data.size(); ++i) {
    double x[7], t[3];
    for (std::size_t j = 0; j < 7; ++j) x[j] = data.features(i)[j];
    for (std::size_t j = 0; j < 3; ++j) t[j] = data.targets(i)[j];
    if (i == 211) x[4] = std::nan("");
    bad.push_back(std::span<const double, 7>(x, 7), std::span<const double, 3>(t, 3));
  }
  regression_net<double> net{tg::init::glorot_uniform{1}};
  auto before = net;
  tg::sgd opt{0.05};
  try {
    tg::fit<128>(net, tg::mse{}, opt, bad, quiet(2, 2));
    FAIL("no non_finite_error");
  } catch (const tg::non_finite_error& e) {
    REQUIRE(e.epoch == 1);
    REQUIRE(e.sample == 211);
    REQUIRE(e.reason == "input feature 4 is nan");
  }
  REQUIRE(net.is_finite());  // the weights from before the bad batch
  auto skip2 = before, skip1 = before;
  auto o2 = quiet(3, 2), o1 = quiet(3, 1);
  o2.on_non_finite = o1.on_non_finite = tg::non_finite::skip_batch;
  const auto h2 = tg::fit<128>(skip2, tg::mse{}, opt, bad, o2);
  const auto h1 = tg::fit<128>(skip1, tg::mse{}, opt, bad, o1);
  REQUIRE(h2.skipped_batches == 3);
  REQUIRE(h1.skipped_batches == 3);
  REQUIRE(skip2.is_finite());
  REQUIRE(max_relative_difference(skip2, skip1) < 1e-10);
  for (std::size_t e = 0; e < 3; ++e) REQUIRE(h2.epochs[e].train_loss == Approx(h1.epochs[e].train_loss).epsilon(1e-10));
}

TEST_CASE("fit with threads: batch norm and DP-SGD stay on one thread, with an error when asked for more", "[threads]") {
  const auto data = make_data<double, 3>(200, false);
  tg::network<tg::input<7, double>, tg::dense<9>, tg::batch_norm<tg::relu>, tg::dense<3>> bn;
  tg::sgd opt{0.05};
  REQUIRE_THROWS_WITH(tg::fit<64>(bn, tg::mse{}, opt, data, quiet(1, 2)),
                      Catch::Contains("threads = 2") && Catch::Contains("batch norm") && Catch::Contains("threads = 1"));
  REQUIRE(tg::fit<64>(bn, tg::mse{}, opt, data, quiet(1, 0)).threads == 1);

  regression_net<double> net{tg::init::glorot_uniform{1}};
  tg::privacy::fit_options dp{quiet(1, 2)};
  dp.privacy = {.noise_multiplier = 1.0, .lot_size = 50, .noise_seed = 3};
  REQUIRE_THROWS_WITH(tg::fit<64>(net, tg::mse{}, opt, data, dp), Catch::Contains("DP-SGD") && Catch::Contains("threads = 1"));
  dp.threads = 0;
  const auto h = tg::fit<64>(net, tg::mse{}, opt, data, dp);
  REQUIRE(h.threads == 1);
  REQUIRE(std::isfinite(h.epochs[0].epsilon));
  dp.privacy.noise_multiplier = 0;  // privacy off: an ordinary fit, which may split
  dp.threads = 2;
  REQUIRE(tg::fit<64>(net, tg::mse{}, opt, data, dp).threads == 2);
}

TEST_CASE("cross_validate: parallel folds equal sequential folds and a fit per fold", "[threads]") {
  const auto data = make_data<double, 1>(157, true);
  const auto folds = tg::stratified_kfold(data, 5, 11);
  classifier_net<double> net{tg::init::he_uniform{3}};
  const auto opt = tg::make_optimizer(net, tg::adam{.lr = 0.01});
  auto options = quiet(3, 2);
  options.validation_fraction = 0.2;
  const auto parallel = tg::cross_validate<32>(net, tg::softmax_cross_entropy{}, opt, data, folds, options);
  options.threads = 1;
  const auto sequential = tg::cross_validate<32>(net, tg::softmax_cross_entropy{}, opt, data, folds, options);
  REQUIRE(parallel.size() == 5);
  REQUIRE(sequential.size() == 5);
  for (std::size_t f = 0; f < 5; ++f) {
    REQUIRE(parallel[f].net == sequential[f].net);
    REQUIRE(parallel[f].test_loss == sequential[f].test_loss);
    REQUIRE(parallel[f].test_accuracy == sequential[f].test_accuracy);
    REQUIRE(parallel[f].hist.epochs.size() == sequential[f].hist.epochs.size());
    // Independently: a fit on the fold's training rows and a score on its test rows.
    auto fold_net = net;
    auto fold_opt = opt;
    const auto train = data.subset(folds[f].train), test = data.subset(folds[f].test);
    tg::fit<32>(fold_net, tg::softmax_cross_entropy{}, fold_opt, train, options);
    REQUIRE(parallel[f].net == fold_net);
    REQUIRE(parallel[f].test_loss == tg::evaluate_loss<32>(fold_net, tg::softmax_cross_entropy{}, test));
    REQUIRE(parallel[f].test_accuracy == tg::evaluate_accuracy<32>(fold_net, tg::softmax_cross_entropy{}, test));
    REQUIRE(parallel[f].hist.epochs.size() == 3);
    REQUIRE_FALSE(parallel[f].net == net);  // it trained
  }
  REQUIRE_FALSE(parallel[0].net == parallel[1].net);
}

TEST_CASE("cross_validate: a failing fold's error is rethrown after every fold ran", "[threads]") {
  auto data = make_data<double, 1>(60, true);
  double x[7] = {0, 0, std::numeric_limits<double>::infinity(), 0, 0, 0, 0}, t[1] = {1};
  data.push_back(std::span<const double, 7>(x, 7), std::span<const double, 1>(t, 1));  // row 60
  std::vector<tg::split_indices> folds(2);
  for (std::size_t i = 0; i < 30; ++i) folds[0].train.push_back(i), folds[0].test.push_back(30 + i);
  folds[1].train = folds[0].test;
  folds[1].train.push_back(60);
  folds[1].test = folds[0].train;
  classifier_net<double> net{tg::init::he_uniform{3}};
  REQUIRE_THROWS_AS(tg::cross_validate<32>(net, tg::softmax_cross_entropy{}, tg::sgd{0.1}, data, folds, quiet(1, 2)),
                    tg::non_finite_error);
  REQUIRE_THROWS_WITH(tg::cross_validate<32>(net, tg::softmax_cross_entropy{}, tg::sgd{0.1}, data, std::vector<tg::split_indices>{}, quiet(1, 2)),
                      Catch::Contains("no folds"));
}

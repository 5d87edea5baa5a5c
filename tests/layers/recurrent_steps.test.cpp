// rnn, gru and lstm over every Steps 1..17 (finite differences, full BPTT), and tg::fit on
// recurrent networks.
#include <catch2/catch.hpp>
#include <typegrad/typegrad.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numbers>
#include <span>
#include <type_traits>
#include <vector>

#include "../network/test_support.hpp"

namespace tg = typegrad;
using test_support::fill;

namespace {

constexpr double tolerance = 1e-6;  // worst relative error allowed (issue 10: ≤ 1e-6, double)

// Both the parameters (every one, by check_gradient) and dL/dx against fourth-order central
// differences.
template <class Net, class Loss, class X, class Target>
void require_gradients_match(const Net& net, Loss loss, const X& x, const Target& t) {
  const auto r = tg::check_gradient(net, loss, x, t);
  INFO("worst relative error " << r.max_relative_error << " at layer " << r.layer << " block " << r.block << " ("
                               << r.row << ", " << r.col << "): analytic " << r.analytic << " numeric " << r.numeric);
  REQUIRE(r.checked == Net::parameters_type::count());
  REQUIRE(r.max_relative_error <= tolerance);
  const double err = test_support::input_gradient_error(net, loss, x, t);
  INFO("worst relative error of dL/dx " << err);
  REQUIRE(err <= tolerance);
}

// One recurrent layer (Hidden 5 or 17, so one register or several with a tail) over Steps of 3
// features, a dense head on every step, mse: a failure here names the cell.
template <class Recurrent, std::size_t Steps, std::size_t B>
void check_single() {
  using namespace tg;
  network<input<Steps * 3, double>, unflatten<Steps, 3>, Recurrent, dense<2>> net{init::pytorch_default{3}};
  matrix<double, B, Steps * 3> x;
  fill(x);
  matrix<double, B, Steps * 2> t;
  fill(t, 1.0);
  require_gradients_match(net, mse{}, x, t);
}

// An activation with f(0) ≠ 0: the padding of h must still stay zero.
using sigmoid_rnn = tg::rnn<5, tg::sigmoid>;

// All three cells in one network per Steps, so that every Steps value costs one network type per
// batch size. Hidden sizes alternate between 5 and 9 with the parity of Steps, so each cell gets
// one register with a tail and two (double, AVX-512); 9 rather than 17 keeps the finite
// differences (4 losses per parameter) quick under the sanitizers. The order of the cells rotates
// with Steps % 3 (each cell comes first, in the middle and last, before the head), and the
// surroundings alternate: odd Steps go sequence → cells → last_step → dense (many-to-one), even
// Steps conv1d → transpose → cells → dense on every step. (Dense layers between recurrent ones:
// recurrent.test.cpp; each extra layer here costs compile time 34 times over.)
template <std::size_t Steps>
struct stacked {
  static constexpr std::size_t ha = Steps % 2 ? 5 : 9, hb = Steps % 2 ? 9 : 5;
  using r = tg::rnn<ha>;
  using g = tg::gru<hb>;
  using l = tg::lstm<ha>;
  template <class A, class B, class C>
  using net_with = std::conditional_t<
      Steps % 2 == 1,
      tg::network<tg::input<Steps * 3, double>, tg::unflatten<Steps, 3>, A, B, C, tg::last_step, tg::dense<2>>,
      tg::network<tg::input<Steps * 3, double>, tg::unflatten<3, Steps>, tg::conv1d<3, 3, tg::tanh, tg::padding<1>>,
                  tg::transpose, A, B, C, tg::dense<2>>>;
  using type = std::conditional_t<Steps % 3 == 0, net_with<r, g, l>,
                                  std::conditional_t<Steps % 3 == 1, net_with<g, l, r>, net_with<l, r, g>>>;
};

template <std::size_t Steps, std::size_t B>
void check_stacked() {
  using net_t = typename stacked<Steps>::type;
  const net_t net{tg::init::pytorch_default{Steps}};
  tg::matrix<double, B, Steps * 3> x;
  fill(x, 0.1 * double(Steps));
  tg::matrix<double, B, net_t::out_size> t;
  fill(t, 1.0 + 0.1 * double(Steps));
  require_gradients_match(net, tg::mse{}, x, t);
}

}  // namespace

// Every Steps value at both batch sizes is checked below, in the stacked networks; here each cell
// alone at the longest sequence, with both hidden sizes, and the sigmoid rnn (f(0) ≠ 0, so the
// padding of h must be kept zero) also at Steps 1 and 2 and at batch 1.
TEMPLATE_TEST_CASE("each recurrent cell alone matches finite differences over 17 steps, batch 5",
                   "[recurrent][gradient]", tg::rnn<5>, tg::rnn<17>, sigmoid_rnn, tg::gru<5>, tg::gru<17>, tg::lstm<5>,
                   tg::lstm<17>) {
  check_single<TestType, 17, 5>();
}

TEST_CASE("an rnn with sigmoid alone matches finite differences over Steps 1, 2 and 17", "[recurrent][gradient]") {
  SECTION("Steps 1, batch 1") { check_single<sigmoid_rnn, 1, 1>(); }
  SECTION("Steps 2, batch 5") { check_single<sigmoid_rnn, 2, 5>(); }
  SECTION("Steps 17, batch 1") { check_single<sigmoid_rnn, 17, 1>(); }
}

TEMPLATE_TEST_CASE_SIG("rnn, gru and lstm stacked with dense and conv1d match finite differences at every Steps",
                       "[recurrent][gradient][steps]", ((std::size_t Steps), Steps), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
                       12, 13, 14, 15, 16, 17) {
  SECTION("batch 1") { check_stacked<Steps, 1>(); }
  SECTION("batch 5") { check_stacked<Steps, 5>(); }
}

// ---- tg::fit on recurrent networks ----

namespace {

// Windows of a noisy sine with a random frequency and phase; the target is the next clean value.
template <std::size_t Steps>
tg::dataset<float, Steps> noisy_sine(std::size_t n, std::uint64_t seed) {
  tg::random_engine rng{seed};
  tg::dataset<float, Steps> d;
  for (std::size_t i = 0; i < n; ++i) {
    const double w = rng.uniform(0.25, 0.6), phase = rng.uniform(0, 2 * std::numbers::pi);
    float x[Steps];
    for (std::size_t k = 0; k < Steps; ++k) x[k] = float(std::sin(w * double(k) + phase) + 0.05 * rng.normal());
    const float t[1] = {float(std::sin(w * double(Steps) + phase))};
    d.push_back(std::span<const float, Steps>(x, Steps), std::span<const float, 1>(t, 1));
  }
  return d;
}

// Sequences of uniform values in [-1, 1); the label is whether their sum is positive.
template <std::size_t Steps>
tg::dataset<float, Steps> sum_sign(std::size_t n, std::uint64_t seed) {
  tg::random_engine rng{seed};
  tg::dataset<float, Steps> d;
  for (std::size_t i = 0; i < n; ++i) {
    float x[Steps];
    double sum = 0;
    for (std::size_t k = 0; k < Steps; ++k) sum += x[k] = float(rng.uniform(-1, 1));
    const float t[1] = {sum > 0 ? 1.0f : 0.0f};
    d.push_back(std::span<const float, Steps>(x, Steps), std::span<const float, 1>(t, 1));
  }
  return d;
}

template <class Data>
double mean_target(const Data& d) {
  double s = 0;
  for (std::size_t i = 0; i < d.size(); ++i) s += d.targets(i)[0];
  return s / double(d.size());
}

}  // namespace

TEST_CASE("fit trains a gru on a noisy sine's next value far below predicting the mean", "[recurrent][fit]") {
  constexpr std::size_t S = 12;
  const auto train = noisy_sine<S>(500, 1), val = noisy_sine<S>(100, 2), test = noisy_sine<S>(200, 3);
  using net_t = tg::network<tg::input<S>, tg::unflatten<S, 1>, tg::gru<8>, tg::last_step, tg::dense<1>>;
  net_t net{tg::init::pytorch_default{5}};
  auto opt = tg::make_optimizer(net, tg::adam{.lr = 1e-2});
  // 500 = 31 batches of 16 and a short one of 4: fit's padded last batch through a recurrent net.
  const auto h = tg::fit<16>(net, tg::mse{}, opt, train, &val, {.epochs = 30, .seed = 7, .show = tg::progress::never});
  REQUIRE(h.epochs.size() == 30);
  CHECK(std::isfinite(h.epochs.back().validation_loss));
  // The baseline: the training targets' mean as the prediction, its mse on the test set.
  const double m = mean_target(train);
  double baseline = 0;
  for (std::size_t i = 0; i < test.size(); ++i) baseline += std::pow(test.targets(i)[0] - m, 2);
  baseline /= double(test.size());
  const double loss = tg::evaluate_loss<16>(net, tg::mse{}, test);
  INFO("test mse " << loss << ", predicting the mean " << baseline);
  CHECK(baseline > 0.3);  // sin² averages 1/2: the data are what they claim
  CHECK(loss < 0.05 * baseline);
  // evaluate_loss is the mean of predict's squared errors.
  const auto y = tg::predict<16>(net, test);
  double by_hand = 0;
  for (std::size_t i = 0; i < test.size(); ++i) by_hand += std::pow(double(y[i]) - test.targets(i)[0], 2);
  CHECK(loss == Approx(by_hand / double(test.size())).epsilon(1e-5));
}

TEST_CASE("fit trains an lstm to tell the sign of a sequence's sum", "[recurrent][fit]") {
  constexpr std::size_t S = 10;
  const auto train = sum_sign<S>(600, 11), test = sum_sign<S>(300, 12);
  using net_t = tg::network<tg::input<S>, tg::unflatten<S, 1>, tg::lstm<6>, tg::last_step, tg::dense<1, tg::sigmoid>>;
  net_t net{tg::init::pytorch_default{6}};
  auto opt = tg::make_optimizer(net, tg::adam{.lr = 1e-2});
  tg::fit<16>(net, tg::binary_cross_entropy{}, opt, train,
              {.epochs = 30, .seed = 8, .validation_fraction = 0.1, .show = tg::progress::never});
  // The baseline: the training set's base rate p as the prediction, its cross-entropy on the test set.
  const double p = mean_target(train), q = mean_target(test);
  const double baseline = -(q * std::log(p) + (1 - q) * std::log(1 - p));
  const double loss = tg::evaluate_loss<16>(net, tg::binary_cross_entropy{}, test);
  const double accuracy = tg::evaluate_accuracy<16>(net, tg::binary_cross_entropy{}, test);
  INFO("test loss " << loss << ", predicting the base rate " << baseline << "; accuracy " << accuracy);
  CHECK(baseline > 0.6);  // about ln 2: the classes are balanced
  CHECK(loss < 0.3 * baseline);
  CHECK(accuracy > 0.9);
}

// train_step, gradient and inference: hand-computed cases, consistency, determinism, types.
#include <catch2/catch.hpp>
#include <typegrad/typegrad.hpp>

#include <cmath>
#include <type_traits>

#include "test_support.hpp"

namespace tg = typegrad;
using test_support::fill;
using test_support::fill_probabilities;

TEST_CASE("a hand-computed step of a 2 -> 1 linear layer with MSE", "[network][train]") {
  // W = [0.5, -0.25], b = 0.1, x = [1, 2], t = 1.
  // y = 0.5·1 − 0.25·2 + 0.1 = 0.1;  L = (0.1 − 1)² = 0.81;  dL/dy = 2(y − t) = −1.8
  // dL/dW = −1.8·x = [−1.8, −3.6];  dL/db = −1.8
  // after SGD with lr 0.1: W = [0.5 + 0.18, −0.25 + 0.36] = [0.68, 0.11], b = 0.1 + 0.18 = 0.28
  tg::network<tg::input<2, double>, tg::dense<1>> net{tg::init::zeros{}};
  tg::get<0>(net).weight(0, 0) = 0.5;
  tg::get<0>(net).weight(0, 1) = -0.25;
  tg::get<0>(net).bias(0) = 0.1;
  const tg::vector<double, 2> x{1.0, 2.0};
  const tg::vector<double, 1> t{1.0};
  REQUIRE(net(x)[0] == Approx(0.1));
  const auto g = tg::gradient(net, tg::mse{}, x, t);
  REQUIRE(tg::get<0>(g).weight(0, 0) == Approx(-1.8));
  REQUIRE(tg::get<0>(g).weight(0, 1) == Approx(-3.6));
  REQUIRE(tg::get<0>(g).bias(0) == Approx(-1.8));
  tg::sgd opt{0.1};
  REQUIRE(tg::train_step(net, tg::mse{}, opt, x, t) == Approx(0.81));
  REQUIRE(tg::get<0>(net).weight(0, 0) == Approx(0.68));
  REQUIRE(tg::get<0>(net).weight(0, 1) == Approx(0.11));
  REQUIRE(tg::get<0>(net).bias(0) == Approx(0.28));
}

TEST_CASE("a hand-computed sigmoid + binary cross-entropy gradient", "[network][train]") {
  // W = [1, −1], b = 0, x = [0.3, 0.3] → z = 0, y = sigmoid(0) = 0.5; t = 1.
  // L = −log 0.5 = ln 2;  dL/dz = y − t = −0.5;  dL/dW = −0.5·x = [−0.15, −0.15];  dL/db = −0.5.
  tg::network<tg::input<2, double>, tg::dense<1, tg::sigmoid>> net{tg::init::zeros{}};
  tg::get<0>(net).weight(0, 0) = 1;
  tg::get<0>(net).weight(0, 1) = -1;
  const tg::vector<double, 2> x{0.3, 0.3};
  const tg::vector<double, 1> t{1.0};
  REQUIRE(tg::loss_value(net, tg::binary_cross_entropy{}, x, t) == Approx(std::log(2.0)));
  const auto g = tg::gradient(net, tg::binary_cross_entropy{}, x, t);
  REQUIRE(tg::get<0>(g).weight(0, 0) == Approx(-0.15));
  REQUIRE(tg::get<0>(g).weight(0, 1) == Approx(-0.15));
  REQUIRE(tg::get<0>(g).bias(0) == Approx(-0.5));
}

TEST_CASE("softmax cross-entropy of a hand-worked case", "[network][loss]") {
  // logits z = [0, ln 3] (W = 0, b = [0, ln 3]); p = [1/4, 3/4]; class 1: L = −ln(3/4);
  // dL/db = p − onehot = [1/4, −1/4]. Batch of two identical rows → the same mean.
  tg::network<tg::input<1, double>, tg::dense<2>> net{tg::init::zeros{}};
  tg::get<0>(net).bias(1) = std::log(3.0);
  const tg::matrix<double, 2, 1> x{{0.5}, {-2.0}};
  const std::array<int, 2> cls{1, 1};
  REQUIRE(tg::loss_value(net, tg::softmax_cross_entropy{}, x, cls) == Approx(-std::log(0.75)));
  const auto g = tg::gradient(net, tg::softmax_cross_entropy{}, x, cls);
  REQUIRE(tg::get<0>(g).bias(0) == Approx(0.25));
  REQUIRE(tg::get<0>(g).bias(1) == Approx(-0.25));
  // dL/dW = mean_b (p − onehot)·x_b = [1/4, −1/4]·mean(0.5, −2) = [−0.1875, 0.1875]
  REQUIRE(tg::get<0>(g).weight(0, 0) == Approx(-0.1875));
  REQUIRE(tg::get<0>(g).weight(1, 0) == Approx(0.1875));
  const tg::matrix<double, 2, 2> onehot{{0, 1}, {0, 1}};
  REQUIRE(tg::loss_value(net, tg::softmax_cross_entropy{}, x, onehot) == Approx(-std::log(0.75)));
}

TEMPLATE_TEST_CASE("train_step equals gradient followed by a manual SGD update", "[network][train]", float, double) {
  using net_t = tg::network<tg::input<9, TestType>, tg::dense<17, tg::relu>, tg::dense<5, tg::tanh>, tg::dense<3>>;
  net_t net{tg::init::he_uniform{3}};
  tg::matrix<TestType, 4, 9> x;
  fill(x);
  tg::matrix<TestType, 4, 3> t;
  fill(t, 1.0);
  const double lr = 0.05;
  auto manual = net;
  const auto g = tg::gradient(manual, tg::mse{}, x, t);
  // gradient_into fills an existing object with the same gradient and returns the loss.
  typename net_t::parameters_type g2;
  REQUIRE(tg::gradient_into(manual, tg::mse{}, x, t, g2) == tg::loss_value(manual, tg::mse{}, x, t));
  REQUIRE(bool(g2 == g));
  std::vector<TestType> grads;
  g.for_each([&](std::size_t, auto, std::size_t, std::size_t, TestType v) { grads.push_back(v); });
  std::size_t k = 0;
  manual.parameters().for_each(
      [&](std::size_t, auto, std::size_t, std::size_t, TestType& w) { w = TestType(w - TestType(lr) * grads[k++]); });

  tg::sgd opt{lr};
  const TestType expected_loss = tg::loss_value(net, tg::mse{}, x, t);
  REQUIRE(tg::train_step(net, tg::mse{}, opt, x, t) == expected_loss);
  std::vector<TestType> fused, by_hand;
  net.parameters().for_each([&](std::size_t, auto, std::size_t, std::size_t, TestType v) { fused.push_back(v); });
  manual.parameters().for_each([&](std::size_t, auto, std::size_t, std::size_t, TestType v) { by_hand.push_back(v); });
  const double eps = std::is_same_v<TestType, float> ? 1e-6 : 1e-14;  // fused multiply-add vs two roundings
  for (std::size_t i = 0; i < fused.size(); ++i) REQUIRE(fused[i] == Approx(by_hand[i]).epsilon(eps).margin(eps));
}

TEMPLATE_TEST_CASE("inference equals the forward pass inside training; batches equal single samples", "[network][train]",
                   float, double) {
  using net_t = tg::network<tg::input<7, TestType>, tg::dense<9, tg::gelu>, tg::dense<3, tg::sigmoid>>;
  net_t net{tg::init::glorot_normal{9}};
  tg::matrix<TestType, 5, 7> x;
  fill(x);
  tg::matrix<TestType, 5, 3> t;
  fill_probabilities(t);
  const auto y = net(x);
  // The loss train_step reports is computed from its own forward pass: rebuild it from net(x).
  double bce = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    const double p = y.data()[i], q = t.data()[i];
    bce -= q * std::log(p) + (1 - q) * std::log(1 - p);
  }
  bce /= double(y.size());
  tg::sgd opt{0.01};
  REQUIRE(tg::train_step(net, tg::binary_cross_entropy{}, opt, x, t) ==
          Approx(bce).epsilon(std::is_same_v<TestType, float> ? 1e-5 : 1e-12));
  const auto y2 = net(x);
  for (std::size_t r = 0; r < 5; ++r) {
    tg::vector<TestType, 7> row;
    for (std::size_t c = 0; c < 7; ++c) row[c] = x(r, c);
    const auto yr = net(row);
    for (std::size_t c = 0; c < 3; ++c) REQUIRE(yr[c] == Approx(y2(r, c)).epsilon(1e-6));
  }
}

TEST_CASE("training is deterministic: same seed, same data -> bit-identical weights", "[network][train]") {
  using net_t = tg::network<tg::input<30>, tg::dense<16, tg::relu>, tg::dense<16, tg::relu>, tg::dense<1, tg::sigmoid>>;
  auto run = [](std::uint64_t seed) {
    net_t net{tg::init::he_uniform{seed}};
    tg::matrix<float, 8, 30> x;
    fill(x);
    tg::matrix<float, 8, 1> t;
    for (std::size_t b = 0; b < 8; ++b) t(b, 0) = float(b % 2);
    tg::sgd opt{0.05};
    for (int step = 0; step < 50; ++step) tg::train_step(net, tg::binary_cross_entropy{}, opt, x, t);
    return net;
  };
  REQUIRE(bool(run(42) == run(42)));
  REQUIRE_FALSE(bool(run(42) == run(43)));
  REQUIRE(bool(net_t{tg::init::he_uniform{42}} == net_t{tg::init::he_uniform{42}}));
}

TEST_CASE("initialisers draw from the documented ranges", "[network][init]") {
  using net_t = tg::network<tg::input<50, double>, tg::dense<40>>;
  auto check = [](const net_t& net, double weight_bound, double bias_bound) {
    double max_w = 0, max_b = 0, sum_w = 0;
    tg::get<0>(net).for_each([&](auto block, std::size_t, std::size_t, double v) {
      if (decltype(block)::value == 0) { max_w = std::max(max_w, std::abs(v)); sum_w += v; }
      else max_b = std::max(max_b, std::abs(v));
    });
    REQUIRE(max_w <= weight_bound);
    REQUIRE(max_w > 0.9 * weight_bound);  // 2000 draws come close to the bound
    REQUIRE(std::abs(sum_w / 2000) < 0.1 * weight_bound);
    REQUIRE(max_b <= bias_bound);
  };
  check(net_t{tg::init::glorot_uniform{1}}, std::sqrt(6.0 / 90), 0);
  check(net_t{tg::init::he_uniform{1}}, std::sqrt(6.0 / 50), 0);
  check(net_t{tg::init::pytorch_default{1}}, 1 / std::sqrt(50.0), 1 / std::sqrt(50.0));
  net_t normal{tg::init::he_normal{1}};
  double ss = 0;
  tg::get<0>(normal).for_each([&](auto block, std::size_t, std::size_t, double v) { if (decltype(block)::value == 0) ss += v * v; });
  REQUIRE(std::sqrt(ss / 2000) == Approx(std::sqrt(2.0 / 50)).epsilon(0.05));  // sample sd of N(0, 2/fan_in)
}

TEST_CASE("type-level facts: sizes, layout, noexcept", "[network][types]") {
  using net_t = tg::network<tg::input<30>, tg::dense<16, tg::relu>, tg::dense<16, tg::relu>, tg::dense<1, tg::sigmoid>>;
  STATIC_REQUIRE(net_t::in_size == 30);
  STATIC_REQUIRE(net_t::out_size == 1);
  STATIC_REQUIRE(net_t::depth == 3);
  STATIC_REQUIRE(net_t::parameters_type::count() == 30 * 16 + 16 + 16 * 16 + 16 + 16 + 1);
  // The object is its parameters: no pointers, no heap, nothing else.
  STATIC_REQUIRE(sizeof(net_t) == sizeof(net_t::parameters_type));
  STATIC_REQUIRE(std::is_trivially_copyable_v<net_t>);
  STATIC_REQUIRE(std::is_same_v<tg::network<tg::input<3, double>, tg::dense<2>>::value_type, double>);
  net_t net;
  tg::vector<float, 30> x;
  tg::vector<float, 1> t;
  tg::sgd opt{0.1};
  STATIC_REQUIRE(noexcept(tg::train_step(net, tg::binary_cross_entropy{}, opt, x, t)));
  STATIC_REQUIRE(noexcept(net(x)));
  STATIC_REQUIRE(noexcept(tg::gradient(net, tg::binary_cross_entropy{}, x, t)));
  STATIC_REQUIRE(noexcept(tg::loss_value(net, tg::binary_cross_entropy{}, x, t)));
}

TEST_CASE("non-finite values are detectable", "[network][train]") {
  tg::network<tg::input<2>, tg::dense<3, tg::relu>, tg::dense<1>> net{tg::init::he_uniform{1}};
  REQUIRE(net.is_finite());
  tg::vector<float, 2> x{1e30f, -1e30f};
  tg::vector<float, 1> t{0};
  tg::sgd opt{1e10};
  const float loss = tg::train_step(net, tg::mse{}, opt, x, t);
  tg::train_step(net, tg::mse{}, opt, x, t);
  REQUIRE_FALSE((std::isfinite(loss) && net.is_finite()));
}

TEMPLATE_TEST_CASE("sigmoid + binary cross-entropy: the fused gradient equals the derived one", "[network][loss]",
                   float, double) {
  // The same loss expression without the fusion: every derivative derived, sigmoid's included.
  using unfused_bce = tg::elementwise_loss<tg::binary_cross_entropy::expression>;
  STATIC_REQUIRE(tg::binary_cross_entropy::fuses_activation<tg::sigmoid>);
  STATIC_REQUIRE_FALSE(tg::binary_cross_entropy::fuses_activation<tg::tanh>);
  using net_t = tg::network<tg::input<7, TestType>, tg::dense<9, tg::tanh>, tg::dense<3, tg::sigmoid>>;
  net_t net{tg::init::glorot_uniform{17}};
  auto check = [&](const auto& x, const auto& t) {
    const auto fused = tg::gradient(net, tg::binary_cross_entropy{}, x, t);
    const auto derived = tg::gradient(net, unfused_bce{}, x, t);
    std::vector<double> a, b;
    fused.for_each([&](std::size_t, auto, std::size_t, std::size_t, TestType v) { a.push_back(v); });
    derived.for_each([&](std::size_t, auto, std::size_t, std::size_t, TestType v) { b.push_back(v); });
    const double eps = std::is_same_v<TestType, float> ? 1e-5 : 1e-12;
    for (std::size_t i = 0; i < a.size(); ++i) REQUIRE(a[i] == Approx(b[i]).epsilon(eps).margin(eps));
    REQUIRE(tg::loss_value(net, tg::binary_cross_entropy{}, x, t) == tg::loss_value(net, unfused_bce{}, x, t));
  };
  tg::vector<TestType, 7> x1;
  fill(x1);
  tg::vector<TestType, 3> t1;
  fill_probabilities(t1);
  check(x1, t1);
  tg::matrix<TestType, 24, 7> x24;  // the feature-major path too
  fill(x24, 1.0);
  tg::matrix<TestType, 24, 3> t24;
  fill_probabilities(t24, 2.0);
  check(x24, t24);
}

TEMPLATE_TEST_CASE("the loss of one prediction (scalar functions) equals the register-wide loss", "[network][loss]",
                   float, double) {
  // A batch-1 head with one output computes its loss with scalar functions; two or forty copies
  // of the same sample go through the register-wide paths. All equal the formula in double.
  using T = TestType;
  using net_t = tg::network<tg::input<3, T>, tg::dense<1, tg::sigmoid>>;
  using logit_net_t = tg::network<tg::input<3, T>, tg::dense<1>>;
  const double eps = std::is_same_v<T, float> ? 2e-6 : 1e-13;
  auto check = [&](const auto& net, auto loss, double z_bias, double target, auto formula) {
    auto copy = net;
    tg::get<0>(copy).bias(0) = T(z_bias);
    const tg::vector<T, 3> x{T(0.5), T(-1), T(0.25)};
    const tg::vector<T, 1> t{T(target)};
    tg::matrix<T, 2, 3> x2;
    tg::matrix<T, 2, 1> t2;
    tg::matrix<T, 40, 3> x40;
    tg::matrix<T, 40, 1> t40;
    for (std::size_t c = 0; c < 3; ++c) x2(0, c) = x2(1, c) = x[c];
    t2(0, 0) = t2(1, 0) = t[0];
    for (std::size_t r = 0; r < 40; ++r) {
      for (std::size_t c = 0; c < 3; ++c) x40(r, c) = x[c];
      t40(r, 0) = t[0];
    }
    const double expected = formula(double(copy(x)[0]), target);
    const double one = tg::loss_value(copy, loss, x, t);
    CHECK(one == Approx(expected).epsilon(eps).margin(eps));
    CHECK(double(tg::loss_value(copy, loss, x2, t2)) == Approx(one).epsilon(eps).margin(eps));
    CHECK(double(tg::loss_value(copy, loss, x40, t40)) == Approx(one).epsilon(eps).margin(eps));
    // The loss train_step returns is the same value, from the same forward pass.
    tg::sgd opt{0.01};
    CHECK(double(tg::train_step(copy, loss, opt, x, t)) == one);
  };
  const auto bce = [](double y, double t) {  // PyTorch clamps both logarithms at −100
    return -(t * std::max(std::log(y), -100.0) + (1 - t) * std::max(std::log(1 - y), -100.0));
  };
  const auto squared = [](double y, double t) { return (y - t) * (y - t); };
  const auto logits = [](double z, double t) { return std::max(z, 0.0) - z * t + std::log1p(std::exp(-std::abs(z))); };
  net_t net{tg::init::glorot_uniform{3}};
  logit_net_t logit_net{tg::init::glorot_uniform{5}};
  for (const double bias : {-3.0, 0.0, 0.7, 12.0}) {
    for (const double target : {0.0, 0.3, 1.0}) {
      check(net, tg::binary_cross_entropy{}, bias, target, bce);
      check(net, tg::mse{}, bias, target, squared);
      check(logit_net, tg::bce_with_logits{}, bias, target, logits);
    }
  }
  // Saturated: sigmoid(−200) is 0, so log(y) is clamped at −100 on every path.
  check(net, tg::binary_cross_entropy{}, -200.0, 1.0, bce);
}

// Every activation × loss, over sizes that are not multiples of the SIMD width, against finite differences.
#include <catch2/catch.hpp>
#include <typegrad/typegrad.hpp>

#include <tuple>

#include "test_support.hpp"

namespace tg = typegrad;
using test_support::fill;
using test_support::fill_probabilities;

namespace {

constexpr double tolerance = 1e-6;  // worst relative error allowed (issue: ≤ 1e-6, double)

template <class Net, class Loss, class X, class Target>
void require_gradient_matches(const Net& net, Loss loss, const X& x, const Target& t) {
  const auto r = tg::check_gradient(net, loss, x, t);
  INFO("worst relative error " << r.max_relative_error << " at layer " << r.layer << (r.block ? " bias(" : " weight(")
                               << r.row << ", " << r.col << "): analytic " << r.analytic << " numeric " << r.numeric);
  REQUIRE(r.checked == Net::parameters_type::count());
  REQUIRE(r.max_relative_error <= tolerance);
}

// Hidden activation A in a 9-17-(out) network, at batch 1 and batch 5, for every loss.
template <class A, std::size_t B>
void check_all_losses() {
  using namespace tg;
  matrix<double, B, 9> x;
  fill(x);
  {
    network<input<9, double>, dense<17, A>, dense<3, A>, dense<3>> net{init::glorot_uniform{11}};
    matrix<double, B, 3> t;
    fill(t, 1.0);
    require_gradient_matches(net, mse{}, x, t);
  }
  {
    network<input<9, double>, dense<17, A>, dense<1, sigmoid>> net{init::glorot_uniform{12}};
    matrix<double, B, 1> t;
    fill_probabilities(t);
    require_gradient_matches(net, binary_cross_entropy{}, x, t);
  }
  {
    network<input<9, double>, dense<7, A>, dense<3>> net{init::glorot_uniform{13}};
    matrix<double, B, 3> t;
    fill_probabilities(t, 2.0);
    require_gradient_matches(net, bce_with_logits{}, x, t);
  }
  {
    network<input<9, double>, dense<17, A>, dense<5>> net{init::glorot_uniform{14}};
    std::array<int, B> classes{};
    for (std::size_t b = 0; b < B; ++b) classes[b] = int((3 * b + 1) % 5);
    require_gradient_matches(net, softmax_cross_entropy{}, x, classes);
    matrix<double, B, 5> soft;  // probability targets: rows sum to 1
    fill_probabilities(soft, 3.0);
    for (std::size_t b = 0; b < B; ++b) {
      double s = 0;
      for (std::size_t c = 0; c < 5; ++c) s += soft(b, c);
      for (std::size_t c = 0; c < 5; ++c) soft(b, c) /= s;
    }
    require_gradient_matches(net, softmax_cross_entropy{}, x, soft);
  }
}

}  // namespace

TEMPLATE_TEST_CASE("gradient of every activation with every loss matches finite differences", "[network][gradient]",
                   tg::identity, tg::sigmoid, tg::tanh, tg::relu, tg::leaky_relu, tg::elu, tg::softplus, tg::gelu,
                   tg::swish) {
  SECTION("batch 1") { check_all_losses<TestType, 1>(); }
  SECTION("batch 5") { check_all_losses<TestType, 5>(); }
}

TEST_CASE("softmax as an output activation matches finite differences", "[network][gradient]") {
  using namespace tg;
  network<input<4, double>, dense<6, tg::tanh>, dense<3, softmax>> net{init::glorot_normal{5}};
  matrix<double, 3, 4> x;
  fill(x);
  matrix<double, 3, 3> t;
  fill_probabilities(t);
  require_gradient_matches(net, mse{}, x, t);
  require_gradient_matches(net, binary_cross_entropy{}, x, t);
}

TEST_CASE("gradients are right for many layer sizes and depths", "[network][gradient]") {
  using namespace tg;
  // Sizes 1, 3, 7, 9, 17, 33 straddle every lane count (2, 4, 8, 16) in both precisions.
  vector<double, 1> x1{0.7};
  vector<double, 1> t1{0.2};
  require_gradient_matches(network<input<1, double>, dense<1>>{init::he_uniform{1}}, mse{}, x1, t1);
  require_gradient_matches(network<input<1, double>, dense<3, tg::tanh>, dense<1>>{init::he_uniform{2}}, mse{}, x1, t1);

  matrix<double, 2, 33> x33;
  fill(x33);
  matrix<double, 2, 7> t7;
  fill(t7, 0.5);
  require_gradient_matches(network<input<33, double>, dense<7, elu>>{init::he_normal{3}}, mse{}, x33, t7);
  require_gradient_matches(network<input<33, double>, dense<17, tg::tanh>, dense<9, softplus>, dense<3, sigmoid>, dense<7>>{
                               init::glorot_uniform{4}},
                           mse{}, x33, t7);
  vector<double, 3> x3{0.3, -1.1, 0.8};
  vector<double, 1> tb{1.0};
  require_gradient_matches(
      network<input<3, double>, dense<33, gelu>, dense<16, swish>, dense<8, tg::tanh>, dense<1, sigmoid>>{init::pytorch_default{5}},
      binary_cross_entropy{}, x3, tb);
}

TEST_CASE("custom activations and losses from expressions are differentiated correctly", "[network][gradient][expr]") {
  using namespace tg;
  using namespace tg::literals;
  namespace te = tg::expr;
  // A "squashed cube" activation and a Huber-like smooth loss, neither of them built in.
  using cube = activation<decltype(x * x * x / (1_c + x * x))>;
  using log_cosh = elementwise_loss<decltype(te::log((te::exp(y - t) + te::exp(t - y)) * 0.5_c))>;
  network<input<5, double>, dense<9, cube>, dense<2>> net{init::glorot_uniform{21}};
  matrix<double, 4, 5> x;
  fill(x);
  matrix<double, 4, 2> t;
  fill(t, 4.0);
  require_gradient_matches(net, log_cosh{}, x, t);
}

TEMPLATE_TEST_CASE("float gradients agree with double gradients", "[network][gradient]", tg::tanh, tg::relu, tg::gelu) {
  using namespace tg;
  using net_f = network<input<9, float>, dense<17, TestType>, dense<3, sigmoid>>;
  using net_d = typename net_f::template rebind<double>;
  net_f nf{init::glorot_uniform{8}};
  net_d nd{init::glorot_uniform{8}};  // same draws, rounded to float in nf
  nd.parameters().for_each([&](std::size_t, auto, std::size_t, std::size_t, double& v) { v = double(float(v)); });
  matrix<float, 3, 9> xf;
  matrix<double, 3, 9> xd;
  fill(xf);
  for (std::size_t i = 0; i < xf.size(); ++i) xd.data()[i] = xf.data()[i];
  matrix<float, 3, 3> tf;
  matrix<double, 3, 3> td;
  fill_probabilities(tf);
  for (std::size_t i = 0; i < tf.size(); ++i) td.data()[i] = tf.data()[i];

  const auto gf = gradient(nf, binary_cross_entropy{}, xf, tf);
  const auto gd = gradient(nd, binary_cross_entropy{}, xd, td);
  std::vector<double> a, b;
  gf.for_each([&](std::size_t, auto, std::size_t, std::size_t, float v) { a.push_back(v); });
  gd.for_each([&](std::size_t, auto, std::size_t, std::size_t, double v) { b.push_back(v); });
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) REQUIRE(a[i] == Approx(b[i]).epsilon(1e-4).margin(1e-6));
  REQUIRE(loss_value(nf, binary_cross_entropy{}, xf, tf) ==
          Approx(loss_value(nd, binary_cross_entropy{}, xd, td)).epsilon(1e-5));
}

TEMPLATE_TEST_CASE("large batches (feature-major GEMM path) match finite differences and per-sample means",
                   "[network][gradient][batch]", float, double) {
  using namespace tg;
  // 19 and 40 samples: at least one register of samples (the feature-major path) and not a
  // multiple of the lane count (8 or 16 floats, 4 or 8 doubles).
  using net_t = network<input<33, TestType>, dense<17, tg::tanh>, dense<9, relu>, dense<3, sigmoid>>;
  net_t net{init::glorot_uniform{31}};
  matrix<TestType, 40, 33> x;
  fill(x);
  matrix<TestType, 40, 3> t;
  fill_probabilities(t);
  const auto g = gradient(net, binary_cross_entropy{}, x, t);
  // Independent path: mean over the samples of the single-sample (row-major) gradients.
  std::vector<double> mean(net_t::parameters_type::count(), 0.0);
  double loss = 0;
  for (std::size_t b = 0; b < 40; ++b) {
    vector<TestType, 33> xb;
    vector<TestType, 3> tb;
    for (std::size_t c = 0; c < 33; ++c) xb[c] = x(b, c);
    for (std::size_t c = 0; c < 3; ++c) tb[c] = t(b, c);
    std::size_t k = 0;
    gradient(net, binary_cross_entropy{}, xb, tb).for_each([&](std::size_t, auto, std::size_t, std::size_t, TestType v) {
      mean[k++] += double(v) / 40;
    });
    loss += double(loss_value(net, binary_cross_entropy{}, xb, tb)) / 40;
  }
  const double eps = std::is_same_v<TestType, float> ? 2e-5 : 1e-12;
  std::size_t k = 0;
  g.for_each([&](std::size_t, auto, std::size_t, std::size_t, TestType v) {
    REQUIRE(double(v) == Approx(mean[k]).epsilon(eps).margin(eps));
    ++k;
  });
  REQUIRE(double(loss_value(net, binary_cross_entropy{}, x, t)) == Approx(loss).epsilon(eps));
  // Batch inference equals one sample at a time.
  const auto y = net(x);
  for (std::size_t b = 0; b < 40; b += 7) {
    vector<TestType, 33> xb;
    for (std::size_t c = 0; c < 33; ++c) xb[c] = x(b, c);
    const auto yb = net(xb);
    for (std::size_t c = 0; c < 3; ++c) REQUIRE(double(y(b, c)) == Approx(double(yb[c])).epsilon(eps));
  }
  if constexpr (std::is_same_v<TestType, double>) {
    matrix<double, 19, 33> x19;
    fill(x19, 2.0);
    matrix<double, 19, 3> t19;
    fill_probabilities(t19, 1.0);
    require_gradient_matches(net, binary_cross_entropy{}, x19, t19);
    require_gradient_matches(net, mse{}, x19, t19);
  }
}

TEMPLATE_TEST_CASE("train_step on a large batch equals gradient + manual update", "[network][train][batch]", float, double) {
  using namespace tg;
  using net_t = network<input<20, TestType>, dense<24, gelu>, dense<5>>;
  net_t net{init::he_uniform{12}};
  matrix<TestType, 32, 20> x;
  fill(x);
  matrix<TestType, 32, 5> t;
  fill(t, 3.0);
  auto manual = net;
  const auto g = gradient(manual, mse{}, x, t);
  std::vector<TestType> grads;
  g.for_each([&](std::size_t, auto, std::size_t, std::size_t, TestType v) { grads.push_back(v); });
  std::size_t k = 0;
  manual.parameters().for_each([&](std::size_t, auto, std::size_t, std::size_t, TestType& w) { w = TestType(w - TestType(0.1) * grads[k++]); });
  sgd opt{0.1};
  train_step(net, mse{}, opt, x, t);
  std::vector<TestType> a, b;
  net.parameters().for_each([&](std::size_t, auto, std::size_t, std::size_t, TestType v) { a.push_back(v); });
  manual.parameters().for_each([&](std::size_t, auto, std::size_t, std::size_t, TestType v) { b.push_back(v); });
  const double eps = std::is_same_v<TestType, float> ? 1e-6 : 1e-14;
  for (std::size_t i = 0; i < a.size(); ++i) REQUIRE(a[i] == Approx(b[i]).epsilon(eps).margin(eps));
  REQUIRE(bool(net.parameters() == net.parameters()));
}

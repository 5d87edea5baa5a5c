// Attributions (saliency, gradient × input, integrated gradients) against central finite
// differences, PyTorch autograd (tests/data/explain_reference.json, written by
// tools/pytorch_reference/explain.py) and the exact linear case; and the PNG writer and bar chart.
#include <catch2/catch.hpp>
#include <typegrad/typegrad.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../network/test_support.hpp"

namespace tg = typegrad;
using test_support::fill;

namespace {

// Sizes are not multiples of any SIMD width. Every kind of layer appears in one of the three.
template <class T>
using dense_net =
    tg::network<tg::input<13, T>, tg::dense<9, tg::tanh>, tg::dense<7, tg::softplus>, tg::dense<4, tg::softmax>>;
template <class T>
using conv1d_net =
    tg::network<tg::input<22, T>, tg::unflatten<2, 11>, tg::conv1d<5, 3, tg::tanh, tg::padding<1>>,  // (5, 11)
                tg::max_pool1d<2>,                                                                   // (5, 5)
                tg::conv1d<3, 2, tg::sigmoid>,                                                       // (3, 4)
                tg::avg_pool1d<2>, tg::flatten, tg::dense<3>>;                                       // 6 → 3
template <class T>
using conv2d_net =
    tg::network<tg::input<84, T>, tg::unflatten<2, 7, 6>, tg::conv2d<4, 3, 3, tg::identity, tg::padding<1>>,
                tg::batch_norm<tg::tanh>,      // (4, 7, 6), running statistics
                tg::max_pool2d<2>,             // (4, 3, 3)
                tg::conv2d<3, 2, 2, tg::elu>,  // (3, 2, 2)
                tg::global_avg_pool, tg::dense<2, tg::sigmoid>>;

// Batch norm with running statistics that are not the identity, so that inference mode matters.
template <class Net>
void set_running_statistics(Net& net) {
  if constexpr (requires { tg::get<2>(net).running_mean(0); }) {
    for (std::size_t c = 0; c < 4; ++c) {
      tg::get<2>(net).running_mean(c) = typename Net::value_type(0.1 * double(c) - 0.15);
      tg::get<2>(net).running_var(c) = typename Net::value_type(0.6 + 0.3 * double(c));
      tg::get<2>(net).weight(c) = typename Net::value_type(0.8 + 0.15 * double(c));
      tg::get<2>(net).bias(c) = typename Net::value_type(0.05 * double(c) - 0.1);
    }
  }
}

template <class Net>
Net make_net(std::uint64_t seed) {
  Net net{tg::init::glorot_uniform{seed}};
  set_running_statistics(net);
  return net;
}

// d y_k / dx of row `row` by a fourth-order central difference of the inference output net(x).
template <class Net, class X>
double numeric_derivative(const Net& net, X x, std::size_t row, std::size_t i, std::size_t k, double h = 1e-4) {
  double& v = x.data()[row * Net::in_size + i];
  const double saved = v;
  auto at = [&](double d) {
    v = saved + d;
    return double(net(x).data()[row * Net::out_size + k]);
  };
  return (-at(2 * h) + 8 * at(h) - 8 * at(-h) + at(-2 * h)) / (12 * h);
}

double relative_error(double a, double b, double floor = 1e-7) {
  return std::abs(a - b) / std::max({std::abs(a), std::abs(b), floor});
}

// For a double network: saliency and gradient × input of every output against finite
// differences (≤ 1e-6 relative), for one sample and for a batch of 5.
template <class Net>
void require_matches_finite_differences(std::uint64_t seed) {
  const Net net = make_net<Net>(seed);
  constexpr std::size_t n = Net::in_size;
  tg::vector<double, n> x;
  fill(x, 0.3);
  tg::matrix<double, 5, n> xb;
  fill(xb, 1.1);
  double worst = 0;
  for (std::size_t k = 0; k < Net::out_size; ++k) {
    const auto s = tg::saliency(net, x, k);
    const auto gx = tg::gradient_x_input(net, x, k);
    const auto sb = tg::saliency(net, xb, k);
    const auto gxb = tg::gradient_x_input(net, xb, k);
    for (std::size_t i = 0; i < n; ++i) {
      const double numeric = numeric_derivative(net, x, 0, i, k);
      worst = std::max({worst, relative_error(s[i], numeric), relative_error(gx[i], x[i] * numeric)});
      for (std::size_t b = 0; b < 5; ++b) {
        const double nb = numeric_derivative(net, xb, b, i, k);
        worst = std::max({worst, relative_error(sb(b, i), nb), relative_error(gxb(b, i), xb(b, i) * nb)});
      }
    }
  }
  INFO("worst relative error " << worst);
  REQUIRE(worst <= 1e-6);
}

// A float network against the double network with the same initial draws (rounded to float).
template <template <class> class NetOf>
void require_float_matches_double(std::uint64_t seed) {
  const auto netd = make_net<NetOf<double>>(seed);
  const auto netf = make_net<NetOf<float>>(seed);
  constexpr std::size_t n = NetOf<double>::in_size;
  tg::matrix<double, 5, n> xd;
  fill(xd, 0.7);
  tg::matrix<float, 5, n> xf;
  for (std::size_t e = 0; e < xd.size(); ++e) xf.data()[e] = float(xd.data()[e]);
  double worst = 0, largest = 0;
  for (std::size_t k = 0; k < NetOf<double>::out_size; ++k) {
    const auto sd = tg::saliency(netd, xd, k);
    const auto sf = tg::saliency(netf, xf, k);
    tg::vector<float, n> row2;
    std::copy_n(xf.row(2), n, row2.data());
    const auto s1 = tg::saliency(netf, row2, k);
    for (std::size_t e = 0; e < sd.size(); ++e) {
      worst = std::max(worst, std::abs(sd.data()[e] - double(sf.data()[e])));
      largest = std::max(largest, std::abs(sd.data()[e]));
    }
    for (std::size_t i = 0; i < n; ++i) worst = std::max(worst, std::abs(double(s1[i]) - double(sf(2, i))));
  }
  INFO("worst absolute difference " << worst << ", largest |saliency| " << largest);
  REQUIRE(largest > 1e-3);
  REQUIRE(worst <= 1e-4 * largest);
}

}  // namespace

TEST_CASE("saliency and gradient x input match finite differences of the output (double)", "[explain]") {
  SECTION("dense, softmax output") { require_matches_finite_differences<dense_net<double>>(3); }
  SECTION("conv1d, max and average pooling") { require_matches_finite_differences<conv1d_net<double>>(4); }
  SECTION("conv2d, batch norm (running statistics), max pooling, global average pooling") {
    require_matches_finite_differences<conv2d_net<double>>(5);
  }
}

// Layer kinds added alongside this one (recurrent layers, residual blocks): checked when present.
#if __has_include(<typegrad/layers/recurrent.hpp>)
TEST_CASE("saliency through recurrent layers matches finite differences (double)", "[explain][recurrent]") {
  using namespace tg;
  require_matches_finite_differences<
      network<input<15, double>, unflatten<5, 3>, gru<4>, lstm<3>, rnn<2>, last_step, dense<2, sigmoid>>>(12);
}
#endif
#if __has_include(<typegrad/layers/residual.hpp>)
TEST_CASE("saliency through a residual block matches finite differences (double)", "[explain][residual]") {
  using namespace tg;
  require_matches_finite_differences<
      network<input<11, double>, dense<7, tg::tanh>, residual<dense<7, tg::tanh>, dense<7>>, dense<3, softmax>>>(13);
}
#endif

TEST_CASE("float networks give the saliency of the double network, batch rows as single samples", "[explain]") {
  SECTION("dense") { require_float_matches_double<dense_net>(3); }
  SECTION("conv1d") { require_float_matches_double<conv1d_net>(4); }
  SECTION("conv2d with batch norm") { require_float_matches_double<conv2d_net>(5); }
}

TEMPLATE_TEST_CASE("integrated gradients of a linear model are (x - baseline) * w exactly", "[explain]", float,
                   double) {
  using T = TestType;
  tg::network<tg::input<13, T>, tg::dense<3>> net{tg::init::glorot_uniform{8}};
  tg::vector<T, 13> x, x0;
  fill(x, 0.2);
  fill(x0, 2.9);
  tg::matrix<T, 5, 13> xb, xb0;
  fill(xb, 0.4);
  fill(xb0, 1.7);
  const double eps = std::is_same_v<T, float> ? 2e-6 : 1e-14;  // a few roundings, relative to |x − x'|·|w|
  for (std::size_t steps : {1u, 5u, 37u}) {
    for (std::size_t k = 0; k < 3; ++k) {
      const auto ig = tg::integrated_gradients(net, x, x0, k, steps);
      const auto igb = tg::integrated_gradients(net, xb, xb0, k, steps);
      for (std::size_t i = 0; i < 13; ++i) {
        const double w = tg::get<0>(net).weight(k, i);
        const double expected = (double(x[i]) - double(x0[i])) * w;
        REQUIRE(std::abs(ig.attributions[i] - expected) <= eps * (std::abs(expected) + 1e-3));
        for (std::size_t b = 0; b < 5; ++b) {
          const double eb = (double(xb(b, i)) - double(xb0(b, i))) * w;
          REQUIRE(std::abs(igb.attributions(b, i) - eb) <= eps * (std::abs(eb) + 1e-3));
        }
      }
      const double change = double(net(x)[k]) - double(net(x0)[k]);
      REQUIRE(std::abs(ig.delta) <= 20 * eps * (std::abs(change) + 1));
      for (std::size_t b = 0; b < 5; ++b) REQUIRE(std::abs(igb.delta[b]) <= 20 * eps * (std::abs(change) + 1));
    }
  }
}

TEMPLATE_TEST_CASE("integrated gradients: the midpoint rule over chunked passes, batch rows, convergence", "[explain]",
                   float, double) {
  using T = TestType;
  const auto net = make_net<conv2d_net<T>>(6);
  constexpr std::size_t n = 84;
  tg::matrix<T, 5, n> x, x0;
  fill(x, 0.1);
  fill(x0, 3.3);
  for (std::size_t e = 0; e < x0.size(); ++e) x0.data()[e] *= T(0.2);
  constexpr std::size_t steps = 37;  // two full passes of 16 path points and a short one
  const auto igb = tg::integrated_gradients(net, x, x0, 1, steps);
  const double tol = std::is_same_v<T, float> ? 1e-5 : 1e-12;
  for (std::size_t b : {0u, 4u}) {
    tg::vector<T, n> xr, x0r;
    std::copy_n(x.row(b), n, xr.data());
    std::copy_n(x0.row(b), n, x0r.data());
    const auto ig = tg::integrated_gradients(net, xr, x0r, 1, steps);
    // Independently: the midpoint sum of saliency maps, one call per path point.
    std::vector<double> sum(n, 0.0);
    for (std::size_t j = 0; j < steps; ++j) {
      tg::vector<T, n> p;
      const double alpha = (double(j) + 0.5) / steps;
      for (std::size_t i = 0; i < n; ++i) p[i] = T(double(x0r[i]) + alpha * (double(xr[i]) - double(x0r[i])));
      const auto s = tg::saliency(net, p, 1);
      for (std::size_t i = 0; i < n; ++i) sum[i] += double(s[i]);
    }
    double scale = 0;
    for (std::size_t i = 0; i < n; ++i) scale = std::max(scale, std::abs(double(ig.attributions[i])));
    REQUIRE(scale > 1e-4);
    for (std::size_t i = 0; i < n; ++i) {
      const double expected = (double(xr[i]) - double(x0r[i])) * sum[i] / steps;
      REQUIRE(std::abs(ig.attributions[i] - expected) <= tol * scale);
      REQUIRE(std::abs(igb.attributions(b, i) - ig.attributions[i]) <= tol * scale);
    }
    REQUIRE(std::abs(igb.delta[b] - ig.delta) <= tol * scale * n);
  }
  if constexpr (std::is_same_v<T, double>) {
    // A smooth network: the residual falls like 1/steps² (8 → 64 steps: 64 times smaller).
    const auto net_s = make_net<dense_net<double>>(7);
    tg::vector<double, 13> xs, x0s;
    fill(xs, 0.5);
    const double d8 = std::abs(tg::integrated_gradients(net_s, xs, x0s, 2, 8).delta);
    const double d64 = std::abs(tg::integrated_gradients(net_s, xs, x0s, 2, 64).delta);
    INFO("|delta| at 8 steps " << d8 << ", at 64 steps " << d64);
    REQUIRE(d8 > 1e-9);
    REQUIRE(d64 < d8 / 30);
  }
}

TEMPLATE_TEST_CASE("refine_path: within its tolerance and budget, the plain rule when already within", "[explain]",
                   float, double) {
  using T = TestType;
  const auto net = make_net<conv1d_net<T>>(9);
  constexpr std::size_t n = 22;
  tg::matrix<T, 5, n> x, x0;
  fill(x, 0.6);
  const auto y = net(x), y0 = net(x0);
  const auto plain = tg::integrated_gradients(net, x, x0, 2, 4);
  const auto refined = tg::integrated_gradients(net, x, x0, 2, 4, tg::refine_path{.tolerance = 1e-4, .max_steps = 400});
  REQUIRE(refined.gradient_evaluations > plain.gradient_evaluations);
  REQUIRE(refined.gradient_evaluations <= 5 * 400);
  double plain_worst = 0;
  for (std::size_t b = 0; b < 5; ++b) {
    const double change = std::abs(double(y(b, 2)) - double(y0(b, 2)));
    REQUIRE(change > 1e-3);
    plain_worst = std::max(plain_worst, std::abs(double(plain.delta[b])) / change);
    REQUIRE(std::abs(double(refined.delta[b])) <= 1e-4 * change + (std::is_same_v<T, float> ? 1e-6 : 1e-12));
  }
  REQUIRE(plain_worst > 1e-4);  // so that the refinement had something to do
  // A tolerance the first pass already meets changes nothing; a tight budget is respected.
  const auto loose = tg::integrated_gradients(net, x, x0, 2, 4, tg::refine_path{.tolerance = 1e3});
  REQUIRE(loose.gradient_evaluations == 5 * 4);
  for (std::size_t e = 0; e < x.size(); ++e)
    REQUIRE(std::abs(double(loose.attributions.data()[e]) - double(plain.attributions.data()[e])) <=
            (std::is_same_v<T, float> ? 1e-6 : 1e-14));
  const auto capped = tg::integrated_gradients(net, x, x0, 2, 4, tg::refine_path{.tolerance = 0, .max_steps = 9});
  REQUIRE(capped.gradient_evaluations <= 5 * 9);
  REQUIRE_THROWS_WITH(tg::integrated_gradients(net, x, x0, 2, 4, tg::refine_path{.tolerance = -1}),
                      Catch::Contains("tolerance must be at least 0"));
}

TEST_CASE("attribution misuse is reported with the call, and nothing is computed", "[explain]") {
  const auto net = make_net<dense_net<float>>(1);
  tg::vector<float, 13> x, x0;
  fill(x);
  REQUIRE_THROWS_AS(tg::saliency(net, x, 4), std::out_of_range);
  REQUIRE_THROWS_WITH(tg::saliency(net, x, 4),
                      "typegrad::saliency(net, x, k): k = 4, but the network has 4 outputs (k counts from 0)");
  REQUIRE_THROWS_WITH(tg::gradient_x_input(net, x, 9), Catch::Contains("gradient_x_input") && Catch::Contains("k = 9"));
  REQUIRE_THROWS_WITH(tg::integrated_gradients(net, x, x0, 0, 0), Catch::Contains("steps must be at least 1"));
  tg::matrix<float, 3, 13> xb;
  xb(2, 5) = std::nanf("");
  REQUIRE_THROWS_WITH(tg::saliency(net, xb, 0), Catch::Contains("non-finite value at sample 2, feature 5"));
  x0[3] = INFINITY;
  REQUIRE_THROWS_WITH(tg::integrated_gradients(net, x, x0, 0, 8), Catch::Contains("baseline holds a non-finite value"));
}

TEST_CASE("integrated gradients are complete to 1e-3 from 64 steps on a trained WDBC network", "[explain][wdbc]") {
  // The flagship's network (ReLU, ReLU, sigmoid) and preprocessing, trained briefly.
  using net_t = tg::network<tg::input<30>, tg::dense<16, tg::relu>, tg::dense<16, tg::relu>, tg::dense<1, tg::sigmoid>>;
  auto data = tg::read_csv<float, 30>(TYPEGRAD_SOURCE_DIR "/examples/data/breast_cancer.csv");
  const auto split = tg::stratified_split(data, 0.2, 7);
  auto train = data.subset(split.train), test = data.subset(split.test);
  tg::standardizer<float, 30> scaler;
  scaler.fit(train);
  scaler.transform(train);
  scaler.transform(test);
  net_t net{tg::init::he_uniform{7}};
  auto opt = tg::make_optimizer(net, tg::adam{.lr = 3e-3});
  tg::fit<16>(net, tg::binary_cross_entropy{}, opt, train, {.epochs = 40, .seed = 7, .show = tg::progress::never});
  const tg::vector<float, 30> baseline{};  // the training mean, after standardisation
  double worst_plain = 0, worst_refined = 0, worst_vs_fine = 0;
  std::size_t checked = 0, evaluations = 0;
  for (std::size_t s = 0; s < test.size(); ++s) {
    tg::vector<float, 30> x;
    tg::vector<float, 1> t;
    test.sample(s, x, t);
    const double change = double(net(x)[0]) - double(net(baseline)[0]);
    if (std::abs(change) < 0.05) continue;  // the relative residual of a tiny change says little
    const auto plain = tg::integrated_gradients(net, x, baseline, 0, 64);
    const auto refined = tg::integrated_gradients(net, x, baseline, 0, 64, tg::refine_path{.tolerance = 1e-3});
    worst_plain = std::max(worst_plain, std::abs(double(plain.delta)) / std::abs(change));
    worst_refined = std::max(worst_refined, std::abs(double(refined.delta)) / std::abs(change));
    evaluations += refined.gradient_evaluations;
    REQUIRE(plain.gradient_evaluations == 64);
    if (checked % 10 == 0) {  // the refined attributions approach the integral itself
      const auto fine = tg::integrated_gradients(net, x, baseline, 0, 8192);
      for (std::size_t i = 0; i < 30; ++i)
        worst_vs_fine = std::max(
            worst_vs_fine, std::abs(double(refined.attributions[i]) - double(fine.attributions[i])) / std::abs(change));
    }
    ++checked;
  }
  INFO("worst |delta| / |f(x) - f(baseline)| over "
       << checked << " test patients: plain 64-step midpoint " << worst_plain << ", refined " << worst_refined
       << " (mean " << double(evaluations) / double(checked) << " gradients per patient); refined vs 8192 steps "
       << worst_vs_fine);
  REQUIRE(checked >= 60);
  REQUIRE(worst_refined <= 1e-3);
  REQUIRE(worst_vs_fine <= 2e-3);
  // The plain rule's residual on a ReLU network: the reason refine_path exists.
  REQUIRE(worst_plain > 1e-3);
}

// ---- Against PyTorch autograd (tests/data/explain_reference.json, tools/pytorch_reference/explain.py) ----

namespace {

using json = nlohmann::json;

const json& reference() {
  static const json doc = [] {
    std::ifstream in(TYPEGRAD_SOURCE_DIR "/tests/data/explain_reference.json");
    if (!in) throw std::runtime_error("cannot open tests/data/explain_reference.json");
    return json::parse(in);
  }();
  return doc;
}

// Value (row, col) of a tensor seen as [shape[0], product of the rest].
double at(const json& tensors, const std::string& name, std::size_t row, std::size_t col) {
  const json& t = tensors.at(name);
  const auto shape = t.at("shape").get<std::vector<std::size_t>>();
  std::size_t cols = 1;
  for (std::size_t k = 1; k < shape.size(); ++k) cols *= shape[k];
  return t.at("values").at(row * cols + col).get<double>();
}

// nn.Sequential index of each typegrad layer (activations take their own index in PyTorch).
constexpr std::size_t modules_dense[] = {0, 2, 4};
constexpr std::size_t modules_conv[] = {0, 1, 2, 4, 5, 7, 9};

template <class Net, std::size_t N>
Net load(const json& state, const std::size_t (&modules)[N]) {
  Net net{tg::init::zeros{}};
  net.parameters().for_each([&](std::size_t layer, auto block, std::size_t row, std::size_t col, double& v) {
    v = at(state, std::to_string(modules[layer]) + (decltype(block)::value == 0 ? ".weight" : ".bias"), row, col);
  });
  if constexpr (requires { tg::get<2>(net).running_mean(0); })
    for (std::size_t c = 0; c < 4; ++c) {
      tg::get<2>(net).running_mean(c) = at(state, "2.running_mean", c, 0);
      tg::get<2>(net).running_var(c) = at(state, "2.running_var", c, 0);
    }
  return net;
}

template <class Matrix>
void require_close(const Matrix& got, const json& expected, double tol) {
  const auto v = expected.at("values").get<std::vector<double>>();
  REQUIRE(v.size() == Matrix::size());
  double worst = 0;
  for (std::size_t e = 0; e < v.size(); ++e) worst = std::max(worst, relative_error(got.data()[e], v[e], 1e-9));
  INFO("worst relative difference " << worst);
  REQUIRE(worst <= tol);
}

template <class Net, std::size_t N>
void require_matches_pytorch(const json& ref, const std::size_t (&modules)[N]) {
  const Net net = load<Net>(ref.at("state_dict"), modules);
  tg::matrix<double, 5, Net::in_size> x, x0;
  const auto xv = ref.at("x").at("values").get<std::vector<double>>();
  const auto bv = ref.at("baseline").at("values").get<std::vector<double>>();
  std::copy(xv.begin(), xv.end(), x.data());
  std::copy(bv.begin(), bv.end(), x0.data());
  const auto k = ref.at("k").get<std::size_t>();
  const auto steps = ref.at("steps").get<std::size_t>();
  require_close(net(x), ref.at("output"), 1e-12);
  require_close(tg::saliency(net, x, k), ref.at("saliency"), 1e-10);
  require_close(tg::gradient_x_input(net, x, k), ref.at("gradient_x_input"), 1e-10);
  const auto ig = tg::integrated_gradients(net, x, x0, k, steps);
  require_close(ig.attributions, ref.at("integrated_gradients"), 1e-10);
  // delta is a difference of nearly equal sums: compare it absolutely, at the outputs' scale.
  const auto dv = ref.at("delta").at("values").get<std::vector<double>>();
  for (std::size_t b = 0; b < 5; ++b) REQUIRE(std::abs(ig.delta[b] - dv[b]) <= 1e-12);
  // One sample at a time (16 path points per pass) gives the same.
  for (std::size_t b : {0u, 3u}) {
    tg::vector<double, Net::in_size> xr, x0r;
    std::copy_n(x.row(b), Net::in_size, xr.data());
    std::copy_n(x0.row(b), Net::in_size, x0r.data());
    const auto s = tg::saliency(net, xr, k);
    const auto igr = tg::integrated_gradients(net, xr, x0r, k, steps);
    for (std::size_t i = 0; i < Net::in_size; ++i) {
      REQUIRE(relative_error(s[i], at(ref, "saliency", b, i), 1e-9) <= 1e-10);
      REQUIRE(relative_error(igr.attributions[i], at(ref, "integrated_gradients", b, i), 1e-9) <= 1e-10);
    }
    REQUIRE(std::abs(igr.delta - dv[b]) <= 1e-12);
  }
}

}  // namespace

TEST_CASE("attributions equal PyTorch autograd (dense + softmax; conv2d + batch norm + pooling + sigmoid)",
          "[explain][pytorch]") {
  SECTION("dense") { require_matches_pytorch<dense_net<double>>(reference().at("net_dense"), modules_dense); }
  SECTION("conv") { require_matches_pytorch<conv2d_net<double>>(reference().at("net_conv"), modules_conv); }
}

// ---- PNG writer and bar chart ----

namespace {

// An independent bitwise CRC-32 (no table), to check the writer's chunk CRCs.
std::uint32_t crc32_bitwise(const std::uint8_t* p, std::size_t n) {
  std::uint32_t c = 0xFFFFFFFFu;
  for (std::size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return ~c;
}

std::uint32_t be32(const std::uint8_t* p) {
  return std::uint32_t(p[0]) << 24 | std::uint32_t(p[1]) << 16 | std::uint32_t(p[2]) << 8 | p[3];
}

struct decoded_png {
  std::size_t width = 0, height = 0;
  std::vector<std::uint8_t> rgb;
  std::vector<std::string> chunks;
};

// A deflate decoder written from RFC 1951 for stored and fixed-Huffman blocks (what encode_png
// may write), independent of the encoder: it reads symbols bit by bit and copies matches at any
// distance. Starts at z[p] and leaves p after the last block.
void inflate_into(const std::vector<std::uint8_t>& z, std::size_t& p, std::vector<std::uint8_t>& raw) {
  std::size_t bit = p * 8;
  auto get = [&](int n) {  // n bits, least significant first
    std::uint32_t v = 0;
    for (int k = 0; k < n; ++k, ++bit) {
      REQUIRE(bit / 8 < z.size());
      v |= std::uint32_t(z[bit / 8] >> (bit % 8) & 1) << k;
    }
    return v;
  };
  auto get_code = [&](int n) {  // n bits of a Huffman code, most significant first
    std::uint32_t v = 0;
    for (int k = 0; k < n; ++k) v = v << 1 | get(1);
    return v;
  };
  const std::uint16_t length_base[] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                       31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
  const std::uint8_t length_extra[] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
  for (bool last = false; !last;) {
    last = get(1) == 1;
    const std::uint32_t type = get(2);
    REQUIRE(type != 3);
    REQUIRE(type != 2);  // dynamic Huffman codes: encode_png does not write them
    if (type == 0) {
      bit = (bit + 7) / 8 * 8;
      p = bit / 8;
      REQUIRE(p + 4 <= z.size());
      const std::size_t len = z[p] | std::size_t(z[p + 1]) << 8;
      REQUIRE((len ^ (z[p + 2] | std::size_t(z[p + 3]) << 8)) == 0xFFFF);
      p += 4;
      REQUIRE(p + len <= z.size());
      raw.insert(raw.end(), z.begin() + std::ptrdiff_t(p), z.begin() + std::ptrdiff_t(p + len));
      bit = (p + len) * 8;
      continue;
    }
    for (;;) {
      std::uint32_t symbol, code = get_code(7);
      if (code <= 23) symbol = 256 + code;
      else if ((code = code << 1 | get(1)) >= 0x30 && code <= 0xBF) symbol = code - 0x30;
      else if (code >= 0xC0 && code <= 0xC7) symbol = 280 + code - 0xC0;
      else symbol = 144 + ((code << 1 | get(1)) - 0x190);
      if (symbol < 256) raw.push_back(std::uint8_t(symbol));
      if (symbol == 256) break;
      if (symbol <= 256) continue;
      REQUIRE(symbol <= 285);
      const std::size_t length = length_base[symbol - 257] + get(length_extra[symbol - 257]);
      const std::uint32_t dcode = get_code(5);
      REQUIRE(dcode < 30);
      std::size_t distance = 1;
      if (dcode < 4) distance = dcode + 1;
      else {
        const int extra = int(dcode / 2 - 1);
        distance = ((2u + (dcode & 1)) << extra) + 1 + get(extra);
      }
      REQUIRE(distance <= raw.size());
      for (std::size_t k = 0; k < length; ++k) raw.push_back(raw[raw.size() - distance]);
    }
  }
  p = (bit + 7) / 8;
}

// Decodes what encode_png writes, checking every CRC, the zlib header, the deflate stream and
// the Adler-32 on the way, and undoing the scanline filters; REQUIREs fail on anything else.
decoded_png decode(const std::vector<std::uint8_t>& f) {
  decoded_png d;
  const std::uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  REQUIRE(f.size() > 8);
  REQUIRE(std::equal(signature, signature + 8, f.begin()));
  std::vector<std::uint8_t> z;
  std::size_t at = 8;
  while (at < f.size()) {
    REQUIRE(at + 12 <= f.size());
    const std::size_t len = be32(&f[at]);
    REQUIRE(at + 12 + len <= f.size());
    const std::string type(f.begin() + std::ptrdiff_t(at + 4), f.begin() + std::ptrdiff_t(at + 8));
    REQUIRE(be32(&f[at + 8 + len]) == crc32_bitwise(&f[at + 4], len + 4));
    d.chunks.push_back(type);
    if (type == "IHDR") {
      REQUIRE(len == 13);
      d.width = be32(&f[at + 8]);
      d.height = be32(&f[at + 12]);
      REQUIRE(std::vector<int>(f.begin() + std::ptrdiff_t(at + 16), f.begin() + std::ptrdiff_t(at + 21)) ==
              std::vector<int>{8, 2, 0, 0, 0});
    } else if (type == "IDAT") {
      z.insert(z.end(), f.begin() + std::ptrdiff_t(at + 8), f.begin() + std::ptrdiff_t(at + 8 + len));
    }
    at += 12 + len;
  }
  REQUIRE(at == f.size());
  REQUIRE(z.size() >= 6);
  REQUIRE(z[0] == 0x78);
  REQUIRE((z[0] * 256 + z[1]) % 31 == 0);
  std::vector<std::uint8_t> raw;
  std::size_t p = 2;
  inflate_into(z, p, raw);
  REQUIRE(p + 4 == z.size());
  std::uint32_t a = 1, b = 0;  // Adler-32, written out
  for (std::uint8_t v : raw) {
    a = (a + v) % 65521;
    b = (b + a) % 65521;
  }
  REQUIRE(be32(&z[p]) == (b << 16 | a));
  REQUIRE(raw.size() == d.height * (3 * d.width + 1));
  const std::size_t row = 3 * d.width;
  for (std::size_t y = 0; y < d.height; ++y) {
    const std::uint8_t filter = raw[y * (row + 1)];
    REQUIRE((filter == 0 || (filter == 2 && y > 0)));  // none, or "up" below the first row
    for (std::size_t i = 0; i < row; ++i)
      d.rgb.push_back(std::uint8_t(raw[y * (row + 1) + 1 + i] + (filter == 2 ? d.rgb[(y - 1) * row + i] : 0)));
  }
  return d;
}

std::vector<std::uint8_t> read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("PNG writer: signature, chunk CRCs, the deflate stream and the pixels decode back", "[png]") {
  // Check values of the two checksums (CRC-32/ISO-HDLC of "123456789"; Adler-32 of "Wikipedia").
  const std::string check = "123456789", wiki = "Wikipedia";
  REQUIRE(tg::detail::crc32(std::span(reinterpret_cast<const std::uint8_t*>(check.data()), check.size())) ==
          0xCBF43926u);
  REQUIRE(crc32_bitwise(reinterpret_cast<const std::uint8_t*>(check.data()), check.size()) == 0xCBF43926u);
  REQUIRE(tg::detail::adler32(std::span(reinterpret_cast<const std::uint8_t*>(wiki.data()), wiki.size())) ==
          0x11E60398u);
  // 3 x 2 and 211 x 107 with few repeats (literals), and 211 x 107 of runs longer than a match,
  // across rows, of every length mod 258, as a chart has them.
  for (auto [w, h, runs] : {std::tuple<std::size_t, std::size_t, bool>{3, 2, false}, {211, 107, false}, {211, 107, true}}) {
    std::vector<std::uint8_t> rgb(3 * w * h);
    for (std::size_t i = 0; i < rgb.size(); ++i)
      rgb[i] = runs ? std::uint8_t(i / 3 % w < 5 + i / (3 * w) ? 200 : 255) : std::uint8_t((i * 7 + i / 3 * 13) % 256);
    const auto bytes = tg::encode_png(w, h, rgb);
    const auto d = decode(bytes);
    REQUIRE(d.chunks == std::vector<std::string>{"IHDR", "IDAT", "IEND"});
    REQUIRE(d.width == w);
    REQUIRE(d.height == h);
    REQUIRE(d.rgb == rgb);
    if (runs) REQUIRE(bytes.size() < rgb.size() / 40);
    const auto path = std::filesystem::temp_directory_path() / "typegrad_explain_test.png";
    tg::write_png(path, w, h, rgb);
    REQUIRE(read_bytes(path) == bytes);
    std::filesystem::remove(path);
  }
  std::vector<std::uint8_t> six(6);
  REQUIRE_THROWS_WITH(tg::encode_png(2, 2, six), "typegrad::encode_png: a 2 x 2 RGB image takes 12 bytes, got 6");
  REQUIRE_THROWS_WITH(tg::encode_png(0, 2, six), Catch::Contains("each side must be 1 to 2^31 - 1"));
  REQUIRE_THROWS_AS(tg::write_png("/nonexistent-typegrad-dir/x.png", 1, 2, six), tg::io_error);
}

TEST_CASE("bar chart: bar lengths proportional to the values, labels drawn, signed values", "[png]") {
  const std::vector<std::string> labels{"mean radius", "worst texture", "area error"};
  const std::vector<double> values{0.3, 0.15, -0.075};
  tg::bar_chart_style style;
  const auto img = tg::draw_bar_chart(labels, values, "mean |attribution|", style);
  REQUIRE(img.pixels.size() == 3 * img.width * img.height);
  // Count each bar's pixels along its middle row: 400 px span 0.375, so 320, 160 and 80 px.
  const std::size_t top = style.margin + 7 * style.scale + 2 * style.scale + 8;
  auto count = [&](std::size_t i, std::array<std::uint8_t, 3> colour) {
    const std::size_t y = top + i * style.row_height + style.row_height / 2;
    std::size_t n = 0;
    for (std::size_t x = 0; x < img.width; ++x) n += std::equal(colour.begin(), colour.end(), img.at(x, y));
    return n;
  };
  REQUIRE(count(0, style.positive) == 320);
  REQUIRE(count(1, style.positive) == 160);
  REQUIRE(count(2, style.negative) == 80);
  REQUIRE(count(2, style.positive) == 0);
  // The labels are drawn in ink at the left margin of each row.
  for (std::size_t i = 0; i < 3; ++i) {
    std::size_t ink = 0;
    for (std::size_t y = top + i * style.row_height; y < top + (i + 1) * style.row_height; ++y)
      for (std::size_t x = style.margin; x < style.margin + 6 * style.scale * labels[i].size(); ++x)
        ink += std::equal(style.ink.begin(), style.ink.end(), img.at(x, y));
    REQUIRE(ink > 50);
  }
  const auto d = decode(tg::encode_png(img.width, img.height, img.pixels));
  REQUIRE(d.rgb == img.pixels);
  REQUIRE_THROWS_WITH(tg::draw_bar_chart(labels, std::vector<double>{1.0}, "t"),
                      Catch::Contains("3 labels for 1 values"));
  REQUIRE_THROWS_WITH(tg::draw_bar_chart(labels, std::vector<double>{1.0, NAN, 2.0}, "t"),
                      Catch::Contains("value 1 ('worst texture') is not finite"));
}

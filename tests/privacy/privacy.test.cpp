// Differential privacy: the RDP accountant against published values, DP-SGD's clipping against
// brute force, its noise, its determinism, and fit's per-epoch ε.
#include <catch2/catch.hpp>
#include <typegrad/typegrad.hpp>

#include <array>
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <vector>

#include "../network/test_support.hpp"

namespace tg = typegrad;
namespace tp = typegrad::privacy;
using test_support::fill;

namespace {

// Every parameter of a network (or a parameter-shaped gradient), in for_each order, as doubles.
template <class Params>
std::vector<double> flatten(const Params& p) {
  std::vector<double> v;
  p.for_each([&](std::size_t, auto, std::size_t, std::size_t, const auto& x) { v.push_back(double(x)); });
  return v;
}
template <class Params>
void assign(Params& p, const std::vector<double>& v) {
  std::size_t k = 0;
  p.for_each([&](std::size_t, auto, std::size_t, std::size_t, auto& x) { x = static_cast<std::remove_cvref_t<decltype(x)>>(v[k++]); });
}
double norm(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return std::sqrt(s);
}

// A per-example gradient by central differences of loss_value, in double: independent of the
// backward pass that DP-SGD uses.
template <class Net, class Loss, class X, class Target>
std::vector<double> numeric_gradient(const Net& net0, Loss loss, const X& x, const Target& t, double h = 1e-6) {
  Net net = net0;
  std::vector<double> w = flatten(net.parameters()), g(w.size());
  for (std::size_t k = 0; k < w.size(); ++k) {
    auto at = [&](double d) {
      auto p = w;
      p[k] += d;
      assign(net.parameters(), p);
      return double(tg::loss_value(net, loss, x, t));
    };
    g[k] = (at(h) - at(-h)) / (2 * h);
  }
  return g;
}

}  // namespace

// ---- The accountant --------------------------------------------------------------------------

TEST_CASE("privacy: compute_epsilon reproduces Opacus's RDP accountant test", "[privacy]") {
  // opacus/tests/accountants_test.py, test_rdp_accountant: σ = 1.5, q = 0.04, int(90 / 0.04) = 2250
  // steps, δ = 1e-5, RDPAccountant defaults (DEFAULT_ALPHAS, Balle et al. conversion):
  // assertAlmostEqual(epsilon, 7.32911117143) (7 places).
  const tp::spent s = tp::compute_epsilon(0.04, 1.5, 2250, 1e-5);
  REQUIRE(std::abs(s.epsilon - 7.32911117143) < 5e-8);
  REQUIRE(s.order > 1);
  // The default is the improved conversion, and the default orders are Opacus's.
  REQUIRE(tp::compute_epsilon(0.04, 1.5, 2250, 1e-5, tp::conversion::improved, tp::default_orders).epsilon == s.epsilon);
  REQUIRE(tp::default_orders.size() == 99 + 52);
  REQUIRE(tp::default_orders.front() == 1.1);
  REQUIRE(tp::default_orders[98] == 1 + 99 / 10.0);
  REQUIRE(tp::default_orders[99] == 12);
  REQUIRE(tp::default_orders.back() == 63);
}

TEST_CASE("privacy: compute_epsilon reproduces Abadi et al. 2016, section 3.1", "[privacy]") {
  // Abadi et al., "Deep Learning with Differential Privacy" (CCS 2016), §3.1: q = 0.01, σ = 4,
  // 10 000 steps, δ = 1e-5 give (1.26, 1e-5)-DP with the moments accountant, which is the classic
  // conversion over integer orders (λ = α − 1 = 1..31 in the paper's notation).
  std::array<double, 31> orders{};
  for (std::size_t k = 0; k < orders.size(); ++k) orders[k] = double(k + 2);
  const tp::spent classic = tp::compute_epsilon(0.01, 4, 10000, 1e-5, tp::conversion::classic, orders);
  REQUIRE(std::abs(classic.epsilon - 1.26) < 0.005);
  // The orders-first overload is the same computation.
  REQUIRE(tp::compute_epsilon(0.01, 4, 10000, 1e-5, orders, tp::conversion::classic).epsilon == classic.epsilon);
  // Balle et al.'s conversion is below the classic one at every order, so at the minimum too.
  const tp::spent improved = tp::compute_epsilon(0.01, 4, 10000, 1e-5, tp::conversion::improved, orders);
  REQUIRE(improved.epsilon < classic.epsilon);
  for (double a : orders)
    REQUIRE(tp::epsilon_from_rdp(0.5, a, 1e-5, tp::conversion::improved) < tp::epsilon_from_rdp(0.5, a, 1e-5, tp::conversion::classic));
}

TEST_CASE("privacy: noise_multiplier reproduces Opacus's get_noise_multiplier tests and round-trips", "[privacy]") {
  // opacus/tests/accountants_test.py: test_get_noise_multiplier_rdp_epochs (q = 0.04, ε = 8,
  // δ = 1e-5, 90 epochs = 2250 steps → 1.416, 4 places) and _rdp_steps (2000 steps → 1.3562).
  REQUIRE(std::abs(tp::noise_multiplier(0.04, 2250, 8, 1e-5) - 1.416) < 5e-5);
  REQUIRE(std::abs(tp::noise_multiplier(0.04, 2000, 8, 1e-5) - 1.3562) < 5e-5);
  for (const double target : {0.5, 1.0, 2.0, 4.0, 8.0}) {
    for (const auto c : {tp::conversion::improved, tp::conversion::classic}) {
      const double sigma = tp::noise_multiplier(0.05, 600, target, 1e-5, c);
      const double eps = tp::compute_epsilon(0.05, sigma, 600, 1e-5, c).epsilon;
      INFO("target " << target << " sigma " << sigma << " epsilon " << eps);
      REQUIRE(eps <= target);
      REQUIRE(eps >= target - 0.01);  // the stated tolerance
    }
  }
  // A tighter tolerance gets closer, and more privacy needs more noise.
  const double fine = tp::noise_multiplier(0.05, 600, 1.0, 1e-5, tp::conversion::improved, tp::default_orders, 1e-6);
  REQUIRE(std::abs(tp::compute_epsilon(0.05, fine, 600, 1e-5).epsilon - 1.0) < 1e-6);
  REQUIRE(tp::noise_multiplier(0.05, 600, 0.5, 1e-5) > tp::noise_multiplier(0.05, 600, 1.0, 1e-5));
}

TEST_CASE("privacy: compute_rdp matches numerical integration at integer and fractional orders", "[privacy]") {
  // (q, σ, α, RDP per step) from tools/privacy_reference/rdp_quadrature.py, which integrates the
  // Rényi divergence of the sampled Gaussian mechanism numerically (no series).
  struct reference { double q, sigma, alpha, rdp; };
  const reference cases[] = {
      {0.04, 1.5, 3.9, 0.0018332021995746818},  {0.04, 1.5, 2.0, 0.0008949969668474722},
      {0.04, 1.5, 1.1, 0.0004816567399146261},  {0.01, 4.0, 20.0, 6.52631295717623e-05},
      {0.01, 4.0, 7.5, 2.4272465504045962e-05}, {0.2, 0.8, 2.5, 0.23464125049490292},
      {0.2, 0.8, 12.0, 7.619249699837931},      {0.001, 1.1, 33.3, 6.6387129096203},
  };
  for (const auto& r : cases) {
    INFO("q " << r.q << " sigma " << r.sigma << " alpha " << r.alpha);
    REQUIRE(std::abs(tp::compute_rdp(r.q, r.sigma, 1, r.alpha) / r.rdp - 1) < 1e-7);
    REQUIRE(std::abs(tp::compute_rdp(r.q, r.sigma, 250, r.alpha) / (250 * r.rdp) - 1) < 1e-7);  // RDP composes by adding
  }
}

TEST_CASE("privacy: accountant edge cases and argument errors", "[privacy]") {
  // q = 1 is the Gaussian mechanism: RDP α/(2σ²) (Mironov 2017, Proposition 7).
  REQUIRE(tp::compute_rdp(1.0, 2.0, 3, 5.5) == Approx(3 * 5.5 / 8).epsilon(1e-15));
  REQUIRE(tp::compute_rdp(0.0, 2.0, 3, 5.5) == 0);
  // No noise, no privacy: ε = ∞ at every order.
  const tp::spent none = tp::compute_epsilon(0.1, 0, 10, 1e-5);
  REQUIRE(std::isinf(none.epsilon));
  REQUIRE(std::isnan(none.order));
  // More steps spend more.
  REQUIRE(tp::compute_epsilon(0.04, 1.5, 1000, 1e-5).epsilon < tp::compute_epsilon(0.04, 1.5, 2000, 1e-5).epsilon);
  auto message = [](auto f) {
    try {
      f();
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("no exception");
  };
  using Catch::Matchers::Contains;
  REQUIRE_THAT(message([] { tp::compute_epsilon(1.5, 1, 10, 1e-5); }), Contains("sampling rate q"));
  REQUIRE_THAT(message([] { tp::compute_epsilon(0.1, -1, 10, 1e-5); }), Contains("noise multiplier sigma"));
  REQUIRE_THAT(message([] { tp::compute_epsilon(0.1, 1, 10, 0); }), Contains("delta"));
  REQUIRE_THAT(message([] { tp::compute_epsilon(0.1, 1, -3, 1e-5); }), Contains("steps"));
  const std::array<double, 2> bad_orders{2.0, 1.0};
  REQUIRE_THAT(message([&] { tp::compute_epsilon(0.1, 1, 10, 1e-5, bad_orders); }), Contains("RDP order 1.0"));
  REQUIRE_THAT(message([] { tp::noise_multiplier(0.1, 10, 0, 1e-5); }), Contains("target epsilon"));
  REQUIRE_THAT(message([] { tp::noise_multiplier(1.0, 1e9, 1e-4, 1e-5); }), Contains("cannot be reached"));
}

// ---- DP-SGD ---------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("privacy: dp_sgd clips each example's whole gradient to C, against brute force", "[privacy]", float,
                   double) {
  using T = TestType;
  using net_t = tg::network<tg::input<7, T>, tg::dense<5, tg::tanh>, tg::dense<3>>;  // sizes off the SIMD width
  using net64_t = tg::network<tg::input<7, double>, tg::dense<5, tg::tanh>, tg::dense<3>>;
  const net_t net{tg::init::glorot_uniform{3}};
  net64_t net64{tg::init::zeros{}};
  assign(net64.parameters(), flatten(net.parameters()));
  constexpr double C = 0.6;
  tp::dp_sgd<net_t> dp{{.noise_multiplier = 0, .max_grad_norm = C}};

  std::vector<double> expected(net_t::parameters_type::count(), 0.0);
  std::size_t clipped = 0, kept = 0;
  for (std::size_t e = 0; e < 6; ++e) {
    tg::vector<T, 7> x;
    tg::matrix<T, 1, 3> t;
    fill(x, 0.9 * double(e));
    fill(t, 2.0 + double(e));
    const auto y = net(x);  // targets near the output for small gradients, far for large ones
    for (std::size_t k = 0; k < 3; ++k) t.data()[k] = y[k] + T(0.1 * double((e + 1) * (e + 1))) * t.data()[k];
    tg::vector<double, 7> x64;
    tg::matrix<double, 1, 3> t64;
    for (std::size_t i = 0; i < 7; ++i) x64[i] = double(x[i]);
    for (std::size_t i = 0; i < 3; ++i) t64.data()[i] = double(t.data()[i]);
    const auto g = numeric_gradient(net64, tg::mse{}, x64, t64);
    const double n = norm(g);
    const double factor = std::min(1.0, C / (n + 1e-6));  // Opacus's clip factor, by hand
    (factor < 1 ? clipped : kept) += 1;
    INFO("example " << e << " norm " << n);
    for (std::size_t k = 0; k < g.size(); ++k) expected[k] += factor * g[k];

    STATIC_REQUIRE(noexcept(dp.add_example(net, tg::mse{}, x, t)));
    const T loss = dp.add_example(net, tg::mse{}, x, t);
    REQUIRE(double(loss) == Approx(double(tg::loss_value(net, tg::mse{}, x, t))));
    REQUIRE(dp.last_norm() == Approx(n).epsilon(std::is_same_v<T, float> ? 1e-4 : 1e-7).margin(1e-6));
  }
  REQUIRE(clipped > 0);  // both branches of the clipping are exercised
  REQUIRE(kept > 0);
  REQUIRE(dp.lot_examples() == 6);
  const auto got = flatten(dp.clipped_sum());
  const double tol = std::is_same_v<T, float> ? 1e-5 : 1e-8;
  for (std::size_t k = 0; k < got.size(); ++k) {
    INFO("parameter " << k);
    REQUIRE(std::abs(got[k] - expected[k]) <= tol * (1 + std::abs(expected[k])));
  }
  REQUIRE(test_support::padding_is_zero(dp.clipped_sum()));
}

TEMPLATE_TEST_CASE("privacy: every per-example contribution has norm at most C", "[privacy]", float, double) {
  using T = TestType;
  using net_t = tg::network<tg::input<11, T>, tg::dense<9, tg::relu>, tg::dense<1, tg::sigmoid>>;
  const net_t net{tg::init::he_uniform{5}};
  for (const double C : {0.01, 0.3, 5.0}) {
    tp::dp_sgd<net_t> dp{{.max_grad_norm = C}};
    for (std::size_t e = 0; e < 20; ++e) {
      tg::vector<T, 11> x;
      fill(x, double(e));
      for (auto& v : x) v *= T(1 + double(e));
      tg::matrix<T, 1, 1> t{{T(e % 2)}};
      dp.clear();
      dp.add_example(net, tg::binary_cross_entropy{}, x, t);
      const double n = norm(flatten(dp.clipped_sum()));
      INFO("C " << C << " example " << e << " norm before " << dp.last_norm() << " after " << n);
      REQUIRE(n <= C * (1 + (std::is_same_v<T, float> ? 1e-6 : 1e-12)));
      // Unclipped gradients pass unchanged; clipped ones end at C·‖g‖/(‖g‖ + 1e-6) (Opacus's guard).
      const double want = dp.last_norm() * std::min(1.0, C / (dp.last_norm() + 1e-6));
      REQUIRE(n == Approx(want).epsilon(std::is_same_v<T, float> ? 1e-5 : 1e-6));
    }
  }
}

TEST_CASE("privacy: the noise is N(0, sigma^2 C^2) on every coordinate, divided by the lot size", "[privacy]") {
  // An empty lot with sgd{lr = 1} moves the weights by −noise/divisor: the noise, observed exactly.
  using net_t = tg::network<tg::input<13, double>, tg::dense<7, tg::relu>, tg::dense<3>>;  // 122 parameters
  net_t net{tg::init::glorot_uniform{1}};
  const double sigma = 1.7, C = 0.8, divisor = 4;
  tp::dp_sgd<net_t> dp{{.noise_multiplier = sigma, .max_grad_norm = C, .noise_seed = 2024}};
  tg::sgd opt{1.0};
  STATIC_REQUIRE(noexcept(dp.step(net, opt, divisor)));
  double sum = 0, sum2 = 0, sum4 = 0;
  std::size_t n = 0;
  for (int step = 0; step < 2000; ++step) {
    const auto before = flatten(net.parameters());
    dp.step(net, opt, divisor);
    const auto after = flatten(net.parameters());
    for (std::size_t k = 0; k < before.size(); ++k) {
      const double z = (before[k] - after[k]) * divisor / (sigma * C);  // should be N(0, 1)
      sum += z, sum2 += z * z, sum4 += z * z * z * z, ++n;
    }
  }
  const double mean = sum / double(n), var = sum2 / double(n) - mean * mean, kurtosis = sum4 / double(n);
  INFO("n " << n << " mean " << mean << " variance " << var << " E[z^4] " << kurtosis);
  REQUIRE(std::abs(mean) < 5 / std::sqrt(double(n)));           // 5 standard errors
  REQUIRE(std::abs(var - 1) < 5 * std::sqrt(2 / double(n)));   // var of the sample variance ≈ 2/n
  REQUIRE(std::abs(kurtosis - 3) < 5 * std::sqrt(96 / double(n)));  // Gaussian tails: E[z⁴] = 3
  REQUIRE(dp.steps() == 2000);
  REQUIRE(test_support::padding_is_zero(net.parameters()));  // noise only on real coordinates
}

TEST_CASE("privacy: a dp_sgd step applies clipped sum / lot size through any optimizer", "[privacy]") {
  using net_t = tg::network<tg::input<6, double>, tg::dense<4, tg::tanh>, tg::dense<2>>;
  const net_t start{tg::init::glorot_uniform{8}};
  tg::matrix<double, 5, 6> xs;
  tg::matrix<double, 5, 2> ts;
  fill(xs, 0.4);
  fill(ts, 1.1);
  auto example = [&](std::size_t r, tg::vector<double, 6>& x, tg::matrix<double, 1, 2>& t) {
    std::copy_n(xs.row(r), 6, x.data());
    std::copy_n(ts.row(r), 2, t.data());
  };
  // The clipped mean gradient, by hand from typegrad::gradient per example.
  const double C = 0.5, divisor = 3.5;
  net_t::parameters_type mean_grad{};
  {
    std::vector<double> acc(net_t::parameters_type::count(), 0.0);
    for (std::size_t r = 0; r < 5; ++r) {
      tg::vector<double, 6> x;
      tg::matrix<double, 1, 2> t;
      example(r, x, t);
      const auto g = flatten(tg::gradient(start, tg::mse{}, x, t));
      const double f = std::min(1.0, C / (norm(g) + 1e-6));
      for (std::size_t k = 0; k < g.size(); ++k) acc[k] += f * g[k] / divisor;
    }
    assign(mean_grad, acc);
  }
  auto run = [&](auto& opt) {
    net_t net = start;
    tp::dp_sgd<net_t> dp{{.max_grad_norm = C}};
    for (std::size_t r = 0; r < 5; ++r) {
      tg::vector<double, 6> x;
      tg::matrix<double, 1, 2> t;
      example(r, x, t);
      dp.add_example(net, tg::mse{}, x, t);
    }
    dp.step(net, opt, divisor);
    REQUIRE(dp.lot_examples() == 0);  // the sum is cleared for the next lot
    REQUIRE(flatten(dp.clipped_sum()) == std::vector<double>(net_t::parameters_type::count(), 0.0));
    return flatten(net.parameters());
  };
  SECTION("stateless sgd") {
    tg::sgd opt{0.3};
    const auto got = run(opt);
    const auto w0 = flatten(start.parameters()), g = flatten(mean_grad);
    for (std::size_t k = 0; k < got.size(); ++k) REQUIRE(got[k] == Approx(w0[k] - 0.3 * g[k]).margin(1e-12));
  }
  SECTION("an optimizer object (adam)") {
    auto opt = tg::make_optimizer(start, tg::adam{.lr = 0.01});
    const auto got = run(opt);
    net_t ref = start;
    auto ref_opt = tg::make_optimizer(start, tg::adam{.lr = 0.01});
    ref_opt.step(ref.parameters(), mean_grad);
    const auto want = flatten(ref.parameters());
    for (std::size_t k = 0; k < got.size(); ++k) REQUIRE(got[k] == Approx(want[k]).margin(1e-12));
    REQUIRE(opt.step_count() == 1);
  }
}

namespace {

// A small, noisy two-class problem: 7 features, the label from a fixed linear rule.
template <class T>
tg::dataset<T, 7> toy_data(std::size_t n) {
  tg::dataset<T, 7> d;
  tg::random_engine rng{77};
  for (std::size_t i = 0; i < n; ++i) {
    std::array<T, 7> x{};
    double s = 0;
    for (std::size_t k = 0; k < 7; ++k) {
      x[k] = T(rng.normal());
      s += double(x[k]) * (double(k) - 3.0);
    }
    const std::array<T, 1> y{T(s > 0 ? 1 : 0)};
    d.push_back(x, y);
  }
  return d;
}
using toy_net = tg::network<tg::input<7>, tg::dense<5, tg::relu>, tg::dense<1, tg::sigmoid>>;

}  // namespace

TEST_CASE("privacy: fit reports the epsilon spent after each epoch, as compute_epsilon", "[privacy]") {
  const auto data = toy_data<float>(203);
  for (const auto sampling : {tp::lot_sampling::poisson, tp::lot_sampling::fixed_size}) {
    toy_net net{tg::init::he_uniform{1}};
    auto opt = tg::make_optimizer(net, tg::adam{.lr = 0.01});
    tp::fit_options o{{.epochs = 4, .seed = 3, .show = tg::progress::never}};
    o.privacy = {.noise_multiplier = 1.3, .max_grad_norm = 1.0, .delta = 1e-5, .lot_size = 25, .sampling = sampling,
                 .noise_seed = 11};
    std::size_t lots = 0;
    const auto h = tg::fit<16>(net, tg::binary_cross_entropy{}, opt, data, o, tg::no_callback{},
                               [&](std::size_t, std::size_t, double) { ++lots; });
    const auto plan = tp::plan_lots(203, 25, sampling);
    if (sampling == tp::lot_sampling::poisson) {
      REQUIRE(plan.lots_per_epoch == 9);  // ⌈203/25⌉, q = 1/9 (Opacus's DPDataLoader)
      REQUIRE(plan.sample_rate == 1.0 / 9);
      REQUIRE(plan.expected_lot_size == Approx(203.0 / 9));
    } else {
      REQUIRE(plan.lots_per_epoch == 8);  // ⌊203/25⌋ lots of exactly 25
      REQUIRE(plan.sample_rate == 25.0 / 203);
      REQUIRE(plan.expected_lot_size == 25);
    }
    REQUIRE(lots == 4 * plan.lots_per_epoch);
    REQUIRE(opt.step_count() == 4 * plan.lots_per_epoch);
    REQUIRE(h.epochs.size() == 4);
    for (std::size_t e = 0; e < 4; ++e) {
      const double want = tp::compute_epsilon(plan.sample_rate, 1.3, double((e + 1) * plan.lots_per_epoch), 1e-5).epsilon;
      REQUIRE(h.epochs[e].epsilon == Approx(want).epsilon(1e-12));
      if (e > 0) REQUIRE(h.epochs[e].epsilon > h.epochs[e - 1].epsilon);
      REQUIRE(std::isfinite(h.epochs[e].train_loss));
    }
  }
  // Without privacy the record says NaN.
  toy_net net{tg::init::he_uniform{1}};
  tg::sgd opt{0.1};
  const auto h = tg::fit<16>(net, tg::binary_cross_entropy{}, opt, data, {.epochs = 1, .show = tg::progress::never});
  REQUIRE(std::isnan(h.epochs[0].epsilon));
}

TEST_CASE("privacy: same noise seed, same model; another seed, another model", "[privacy]") {
  const auto data = toy_data<float>(150);
  auto train = [&](std::uint64_t noise_seed, tp::lot_sampling sampling) {
    toy_net net{tg::init::he_uniform{4}};
    tg::sgd opt{0.2};
    tp::fit_options o{{.epochs = 3, .seed = 1, .show = tg::progress::never}};
    o.privacy = {.noise_multiplier = 1.0, .lot_size = 30, .sampling = sampling, .noise_seed = noise_seed};
    tg::fit<8>(net, tg::binary_cross_entropy{}, opt, data, o);
    return flatten(net.parameters());
  };
  for (const auto s : {tp::lot_sampling::poisson, tp::lot_sampling::fixed_size}) {
    REQUIRE(train(5, s) == train(5, s));
    REQUIRE(train(5, s) != train(6, s));
  }
}

TEST_CASE("privacy: DP-SGD in fit learns a separable problem", "[privacy]") {
  const auto data = toy_data<float>(600), test = toy_data<float>(200);
  toy_net net{tg::init::he_uniform{2}};
  auto opt = tg::make_optimizer(net, tg::adam{.lr = 0.02});
  tp::fit_options o{{.epochs = 15, .seed = 1, .show = tg::progress::never}};
  const double sigma = tp::noise_multiplier(tp::plan_lots(600, 60, tp::lot_sampling::poisson).sample_rate, 15 * 10, 4.0, 1e-5);
  o.privacy = {.noise_multiplier = sigma, .max_grad_norm = 1.0, .lot_size = 60, .noise_seed = 9};
  const auto h = tg::fit<16>(net, tg::binary_cross_entropy{}, opt, data, o);
  REQUIRE(h.epochs.back().epsilon <= 4.0);
  REQUIRE(h.epochs.back().epsilon > 3.9);
  REQUIRE(tg::evaluate_accuracy(net, tg::binary_cross_entropy{}, test) > 0.85);
}

TEST_CASE("privacy: bad settings and bad data are named, and the network is kept", "[privacy]") {
  auto data = toy_data<float>(50);
  toy_net net{tg::init::he_uniform{1}};
  const auto w0 = flatten(net.parameters());
  tg::sgd opt{0.1};
  auto fit_message = [&](tp::dp_sgd_options p) {
    tp::fit_options o{{.epochs = 2, .show = tg::progress::never}};
    o.privacy = p;
    try {
      tg::fit<8>(net, tg::binary_cross_entropy{}, opt, data, o);
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("no exception");
  };
  using Catch::Matchers::Contains;
  REQUIRE_THAT(fit_message({.noise_multiplier = 1, .max_grad_norm = 0}), Contains("max_grad_norm"));
  REQUIRE_THAT(fit_message({.noise_multiplier = 1, .delta = 2}), Contains("delta"));
  REQUIRE_THAT(fit_message({.noise_multiplier = 1, .lot_size = 51}), Contains("lot size 51"));
  REQUIRE(flatten(net.parameters()) == w0);
  // A NaN feature: the lot holding it is not applied; the error names the example.
  data.features(17)[3] = std::numeric_limits<float>::quiet_NaN();
  const auto msg = fit_message({.noise_multiplier = 1, .lot_size = 50, .sampling = tp::lot_sampling::fixed_size});
  REQUIRE_THAT(msg, Contains("training example 17") && Contains("non-finite"));
  REQUIRE(flatten(net.parameters()) == w0);  // the first lot holds every example: nothing was applied
  REQUIRE(net.is_finite());
  // Batch norm mixes examples: no per-example gradient.
  using bn_net = tg::network<tg::input<7>, tg::dense<4>, tg::batch_norm<tg::relu>, tg::dense<1, tg::sigmoid>>;
  REQUIRE_THROWS_WITH((tp::dp_sgd<bn_net>{{.noise_multiplier = 1}}), Contains("batch_norm"));
}

// Optimizers, lr schedules and clipping against PyTorch trajectories (tests/data/optimizer_reference.json,
// written by tools/pytorch_reference/optimizers.py), plus padding, state and API checks.
#include <catch2/catch.hpp>
#include <typegrad/typegrad.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <fstream>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "../network/test_support.hpp"

namespace tg = typegrad;
using json = nlohmann::json;

namespace {

// The reference problem: 3 -> 5 (tanh) -> 2, MSE, batch 4.
template <class T>
using net_t = tg::network<tg::input<3, T>, tg::dense<5, tg::tanh>, tg::dense<2>>;

const json& reference() {
  static const json doc = [] {
    std::ifstream in(TYPEGRAD_SOURCE_DIR "/tests/data/optimizer_reference.json");
    if (!in) throw std::runtime_error("cannot open tests/data/optimizer_reference.json");
    return json::parse(in);
  }();
  return doc;
}

template <class T>
net_t<T> reference_network() {
  const json& init = reference()["initial"];
  net_t<T> net{tg::init::zeros{}};
  for (std::size_t o = 0; o < 5; ++o) {
    for (std::size_t i = 0; i < 3; ++i) tg::get<0>(net).weight(o, i) = init["w1"][o][i].get<T>();
    tg::get<0>(net).bias(o) = init["b1"][o].get<T>();
  }
  for (std::size_t o = 0; o < 2; ++o) {
    for (std::size_t i = 0; i < 5; ++i) tg::get<1>(net).weight(o, i) = init["w2"][o][i].get<T>();
    tg::get<1>(net).bias(o) = init["b2"][o].get<T>();
  }
  return net;
}

template <class T>
struct batch_data {
  tg::matrix<T, 4, 3> x;
  tg::matrix<T, 4, 2> y;
  batch_data() {
    for (std::size_t b = 0; b < 4; ++b) {
      for (std::size_t i = 0; i < 3; ++i) x(b, i) = reference()["x"][b][i].get<T>();
      for (std::size_t i = 0; i < 2; ++i) y(b, i) = reference()["y"][b][i].get<T>();
    }
  }
};

// Relative error, with an absolute floor so that values near zero are compared absolutely.
double error(double got, double want) { return std::abs(got - want) / std::max(std::abs(want), 1e-3); }

constexpr double tolerance = 1e-4;
double worst_error_seen = 0;  // across replays, printed by the hidden [optim-report] test
bool report_each = false;

/// Runs the reference configuration `name` with `opt` and compares losses, lrs, norms and parameters.
template <class T, class Opt>
void replay(const std::string& name, Opt&& opt) {
  const json& run = reference()["runs"][name];
  REQUIRE(!run.is_null());
  auto net = reference_network<T>();
  const batch_data<T> data;
  const std::size_t steps = reference()["steps"].get<std::size_t>();
  double worst = 0;
  for (std::size_t s = 0; s < steps; ++s) {
    const double loss = tg::train_step(net, tg::mse{}, opt, data.x, data.y);
    INFO(name << " step " << s);
    const double e = error(loss, run["loss"][s].get<double>());
    worst = std::max(worst, e);
    REQUIRE(e <= tolerance);
    if constexpr (requires { opt.last_learning_rate(); }) {
      REQUIRE(opt.last_learning_rate() == Approx(run["lr"][s].get<double>()).epsilon(1e-12).margin(1e-15));
      REQUIRE(opt.step_count() == s + 1);
      if (run.contains("grad_norm")) REQUIRE(error(opt.gradient_norm(), run["grad_norm"][s].get<double>()) <= tolerance);
    }
  }
  const json& final = run["final"];
  auto check = [&](double got, double want) {
    const double e = error(got, want);
    worst = std::max(worst, e);
    REQUIRE(e <= tolerance);
  };
  for (std::size_t o = 0; o < 5; ++o) {
    for (std::size_t i = 0; i < 3; ++i) check(tg::get<0>(net).weight(o, i), final["w1"][o][i].get<double>());
    check(tg::get<0>(net).bias(o), final["b1"][o].get<double>());
  }
  for (std::size_t o = 0; o < 2; ++o) {
    for (std::size_t i = 0; i < 5; ++i) check(tg::get<1>(net).weight(o, i), final["w2"][o][i].get<double>());
    check(tg::get<1>(net).bias(o), final["b2"][o].get<double>());
  }
  worst_error_seen = std::max(worst_error_seen, worst);
  if (report_each) WARN(name << " (" << (sizeof(T) == 4 ? "float" : "double") << "): worst relative error " << worst);
}

using test_support::padding_is_zero;

}  // namespace

namespace {

/// Every configuration of the reference file, replayed in scalar type T.
template <class T>
void replay_all() {
  const net_t<T> net;  // only its type matters to make_optimizer
  // sgd as a stateless policy (lr and weight decay need no state).
  replay<T>("sgd", tg::sgd{0.1});
  replay<T>("sgd_weight_decay", tg::sgd{.lr = 0.1, .weight_decay = 0.05});
  // Stateful sgd.
  replay<T>("sgd", tg::make_optimizer(net, tg::sgd{.lr = 0.1}));
  replay<T>("sgd_momentum", tg::make_optimizer(net, tg::sgd{.lr = 0.05, .momentum = 0.9}));
  replay<T>("sgd_momentum_dampening", tg::make_optimizer(net, tg::sgd{.lr = 0.05, .momentum = 0.9, .dampening = 0.3}));
  replay<T>("sgd_nesterov", tg::make_optimizer(net, tg::sgd{.lr = 0.05, .momentum = 0.9, .nesterov = true}));
  replay<T>("sgd_weight_decay", tg::make_optimizer(net, tg::sgd{.lr = 0.1, .weight_decay = 0.05}));
  replay<T>("sgd_momentum_weight_decay",
            tg::make_optimizer(net, tg::sgd{.lr = 0.05, .momentum = 0.8, .weight_decay = 0.02}));
  // Adam and AdamW.
  replay<T>("adam_default", tg::make_optimizer(net, tg::adam{}));
  replay<T>("adam", tg::make_optimizer(net, tg::adam{.lr = 0.02, .beta1 = 0.8, .beta2 = 0.99}));
  replay<T>("adam_weight_decay", tg::make_optimizer(net, tg::adam{.lr = 0.01, .weight_decay = 0.1}));
  replay<T>("adamw", tg::make_optimizer(net, tg::adamw{.lr = 0.01}));
  replay<T>("adamw_strong_decay", tg::make_optimizer(net, tg::adamw{.lr = 0.02, .weight_decay = 0.5}));
  tg::optimizer<net_t<T>, tg::adamw> opt{tg::adamw{.lr = 0.01}};  // the spelled-out type
  replay<T>("adamw", opt);
  // Clipping by global norm.
  replay<T>("adam_clip", tg::make_optimizer(net, tg::adam{.lr = 0.01}, tg::clip_grad_norm{0.1}));
  replay<T>("sgd_clip", tg::make_optimizer(net, tg::sgd{.lr = 0.1, .momentum = 0.5}, tg::clip_grad_norm{0.2}));
  // Learning-rate schedules.
  replay<T>("sgd_step_lr", tg::make_optimizer(net, tg::sgd{.lr = 0.1}, tg::step_lr{.step_size = 5, .gamma = 0.5}));
  replay<T>("sgd_exponential_lr", tg::make_optimizer(net, tg::sgd{.lr = 0.1}, tg::exponential_lr{.gamma = 0.9}));
  replay<T>("sgd_cosine_lr",
            tg::make_optimizer(net, tg::sgd{.lr = 0.1}, tg::cosine_annealing_lr{.t_max = 20, .eta_min = 0.01}));
  replay<T>("sgd_cosine_lr_restart", tg::make_optimizer(net, tg::sgd{.lr = 0.1}, tg::cosine_annealing_lr{.t_max = 8}));
  replay<T>("sgd_warmup",
            tg::make_optimizer(net, tg::sgd{.lr = 0.1}, tg::linear_warmup{.start_factor = 0.1, .total_iters = 5}));
  replay<T>("sgd_momentum_warmup_cosine",
            tg::make_optimizer(net, tg::sgd{.lr = 0.05, .momentum = 0.9},
                               tg::linear_warmup{.start_factor = 0.25, .total_iters = 4},
                               tg::cosine_annealing_lr{.t_max = 20}));
  // Options in any order; the schedules chain in the order given.
  replay<T>("adamw_warmup_step_clip",
            tg::make_optimizer(net, tg::adamw{.lr = 0.02}, tg::clip_grad_norm{0.3},
                               tg::linear_warmup{.start_factor = 0.5, .total_iters = 3},
                               tg::step_lr{.step_size = 6, .gamma = 0.7}));
}

}  // namespace

TEMPLATE_TEST_CASE("optimizers follow PyTorch's trajectories", "[optim][pytorch]", float, double) {
  replay_all<TestType>();
}

TEST_CASE("worst error against PyTorch (prints the figure)", "[.][optim-report]") {
  report_each = true;
  worst_error_seen = 0;
  replay_all<float>();
  WARN("float: worst relative error over every replay: " << worst_error_seen);
  worst_error_seen = 0;
  replay_all<double>();
  WARN("double: worst relative error over every replay: " << worst_error_seen);
}

TEMPLATE_TEST_CASE("clipping keeps the same update when the norm is below max_norm", "[optim]", float, double) {
  // A clip that never triggers takes the apply() path (whole gradient first) instead of the fused
  // sweep; both must give bit-identical parameters and state.
  using T = TestType;
  auto fused_net = reference_network<T>();
  auto full_net = reference_network<T>();
  const batch_data<T> data;
  auto fused = tg::make_optimizer(fused_net, tg::adam{.lr = 0.01});
  auto full = tg::make_optimizer(full_net, tg::adam{.lr = 0.01}, tg::clip_grad_norm{1e6});
  static_assert(!decltype(fused)::needs_full_gradient && decltype(full)::needs_full_gradient);
  for (int s = 0; s < 5; ++s) {
    tg::train_step(fused_net, tg::mse{}, fused, data.x, data.y);
    tg::train_step(full_net, tg::mse{}, full, data.x, data.y);
  }
  REQUIRE(bool(fused_net == full_net));
  REQUIRE(bool(fused.template state<0>() == full.template state<0>()));
  REQUIRE(bool(fused.template state<1>() == full.template state<1>()));
  REQUIRE(full.gradient_norm() > 0);
}

TEMPLATE_TEST_CASE("optimizer.step from typegrad::gradient equals train_step", "[optim]", float, double) {
  using T = TestType;
  auto a = reference_network<T>();
  auto b = reference_network<T>();
  const batch_data<T> data;
  auto opt_a = tg::make_optimizer(a, tg::sgd{.lr = 0.05, .momentum = 0.9, .nesterov = true}, tg::exponential_lr{0.95});
  auto opt_b = opt_a;
  for (int s = 0; s < 4; ++s) {
    tg::train_step(a, tg::mse{}, opt_a, data.x, data.y);
    const auto g = tg::gradient(b, tg::mse{}, data.x, data.y);
    opt_b.step(b.parameters(), g);
  }
  REQUIRE(bool(a == b));
  REQUIRE(opt_b.step_count() == 4);
}

TEMPLATE_TEST_CASE("optimizer state and parameter padding stay zero", "[optim]", float, double) {
  // 3 -> 5 -> 2: none of the sizes fills a register, so every block has padding.
  using T = TestType;
  auto net = reference_network<T>();
  const batch_data<T> data;
  auto adam = tg::make_optimizer(net, tg::adamw{.lr = 0.05, .weight_decay = 0.1}, tg::cosine_annealing_lr{.t_max = 30});
  for (int s = 0; s < 30; ++s) tg::train_step(net, tg::mse{}, adam, data.x, data.y);
  auto sgd_net = reference_network<T>();
  auto sgd = tg::make_optimizer(sgd_net, tg::sgd{.lr = 0.05, .momentum = 0.9, .weight_decay = 0.01}, tg::clip_grad_norm{0.1});
  for (int s = 0; s < 30; ++s) tg::train_step(sgd_net, tg::mse{}, sgd, data.x, data.y);
  REQUIRE(net.is_finite());
  REQUIRE(padding_is_zero(net.parameters()));
  REQUIRE(padding_is_zero(adam.template state<0>()));
  REQUIRE(padding_is_zero(adam.template state<1>()));
  REQUIRE(padding_is_zero(sgd_net.parameters()));
  REQUIRE(padding_is_zero(sgd.template state<0>()));
  // The state really is in use: Adam's second moment of W1[0][0] is positive.
  REQUIRE(tg::get<0>(adam.template state<1>()).weight(0, 0) > 0);
}

TEST_CASE("optimizer state lives in the object", "[optim]") {
  using net = net_t<float>;
  using params = net::parameters_type;
  static_assert(tg::optimizer<net, tg::adam>::state_slots == 2);
  static_assert(sizeof(tg::optimizer<net, tg::adam>) >= 2 * sizeof(params));
  static_assert(sizeof(tg::optimizer<net, tg::sgd>) >= sizeof(params));
  static_assert(std::is_trivially_copyable_v<tg::optimizer<net, tg::adam, tg::cosine_annealing_lr, tg::clip_grad_norm>>);
  static_assert(std::is_same_v<decltype(tg::make_optimizer(net{}, tg::sgd{}, tg::linear_warmup{}, tg::step_lr{})),
                               tg::optimizer<net, tg::sgd, tg::chained_lr<tg::linear_warmup, tg::step_lr>, tg::no_clipping>>);
  tg::optimizer<net, tg::adam> opt;
  REQUIRE(opt.state<0>() == params{});
  REQUIRE(opt.step_count() == 0);
  REQUIRE(opt.learning_rate() == 1e-3);
}

TEST_CASE("step count, learning rate and reset", "[optim]") {
  net_t<float> net = reference_network<float>();
  const batch_data<float> data;
  auto opt = tg::make_optimizer(net, tg::sgd{.lr = 0.1, .momentum = 0.9}, tg::step_lr{.step_size = 2, .gamma = 0.5});
  REQUIRE(opt.learning_rate() == 0.1);
  REQUIRE(opt.last_learning_rate() == 0.0);
  for (int s = 0; s < 3; ++s) tg::train_step(net, tg::mse{}, opt, data.x, data.y);
  // Steps 0, 1 used 0.1, step 2 used 0.05; step 3 will use 0.05.
  REQUIRE(opt.step_count() == 3);
  REQUIRE(opt.last_learning_rate() == 0.05);
  REQUIRE(opt.learning_rate() == 0.05);
  REQUIRE(tg::get<0>(opt.state<0>()).weight(0, 0) != 0);
  opt.algorithm().lr = 1.0;  // a new base lr is scaled by the schedule
  REQUIRE(opt.learning_rate() == 0.5);
  opt.reset();
  REQUIRE(opt.step_count() == 0);
  REQUIRE(opt.learning_rate() == 1.0);
  REQUIRE(opt.state<0>() == net_t<float>::parameters_type{});
}

TEST_CASE("lr schedules, hand-worked", "[optim][schedule]") {
  // StepLR(step_size 3, gamma 0.1) from 2: 2, 2, 2, 0.2, 0.2, 0.2, 0.02.
  const tg::step_lr step{.step_size = 3, .gamma = 0.1};
  CHECK(step.lr(0, 2.0) == 2.0);
  CHECK(step.lr(2, 2.0) == 2.0);
  CHECK(step.lr(3, 2.0) == Approx(0.2));
  CHECK(step.lr(6, 2.0) == Approx(0.02));
  // ExponentialLR(0.5) from 1: 1, 0.5, 0.25, 0.125.
  CHECK(tg::exponential_lr{0.5}.lr(3, 1.0) == 0.125);
  // Cosine over 10 steps from 1 to 0.1: 1 at t = 0, 0.55 (the midpoint) at t = 5, 0.1 at t = 10, and
  // at t = 15 back at the midpoint (the period is 2·t_max).
  const tg::cosine_annealing_lr cosine{.t_max = 10, .eta_min = 0.1};
  CHECK(cosine.lr(0, 1.0) == 1.0);
  CHECK(cosine.lr(5, 1.0) == Approx(0.55));
  CHECK(cosine.lr(10, 1.0) == Approx(0.1));
  CHECK(cosine.lr(15, 1.0) == Approx(0.55));
  // Warm-up from 0.2 to 1 over 4 steps: factors 0.2, 0.4, 0.6, 0.8, 1, 1.
  const tg::linear_warmup warm{.start_factor = 0.2, .total_iters = 4};
  CHECK(warm.lr(0, 0.5) == Approx(0.1));
  CHECK(warm.lr(2, 0.5) == Approx(0.3));
  CHECK(warm.lr(4, 0.5) == 0.5);
  CHECK(warm.lr(100, 0.5) == 0.5);
  // PyTorch's LinearLR defaults: 1/3 rising to 1 over 5 steps.
  CHECK(tg::linear_warmup{}.lr(0, 3.0) == Approx(1.0));
  // Chained: warm-up factor times the step decay; at t = 3: 0.8 · 0.1 · 2 = 0.16.
  const auto both = tg::chain(warm, step);
  CHECK(both.lr(3, 2.0) == Approx(0.16));
  static_assert(std::is_same_v<decltype(tg::chain(tg::constant_lr{}, step)), tg::step_lr>);
}

TEST_CASE("clip_by_global_norm, hand-worked", "[optim][clip]") {
  using net = tg::network<tg::input<2>, tg::dense<1>>;
  net::parameters_type g{};
  // W = [3, 0], b = [4]: norm 5. Clipping to 1 scales by 1/(5 + 1e-6).
  tg::get<0>(g).weight(0, 0) = 3;
  tg::get<0>(g).bias(0) = 4;
  REQUIRE(tg::global_norm(g) == 5.0);
  auto unclipped = g;
  REQUIRE(tg::clip_by_global_norm(unclipped, 5.5) == 5.0);
  REQUIRE(unclipped == g);
  REQUIRE(tg::clip_by_global_norm(g, 1.0) == 5.0);
  CHECK(tg::get<0>(g).weight(0, 0) == Approx(0.6).epsilon(1e-6));
  CHECK(tg::get<0>(g).bias(0) == Approx(0.8).epsilon(1e-6));
  CHECK(tg::get<0>(g).weight(0, 1) == 0);
}

TEST_CASE("hyperparameters PyTorch rejects throw", "[optim]") {
  using net = net_t<float>;
  using tg::optimizer;
  CHECK_THROWS_AS((optimizer<net, tg::sgd>{tg::sgd{.lr = -1}}), std::invalid_argument);
  CHECK_THROWS_AS((optimizer<net, tg::sgd>{tg::sgd{.lr = 0.1, .nesterov = true}}), std::invalid_argument);
  CHECK_THROWS_AS((optimizer<net, tg::sgd>{tg::sgd{.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true}}),
                  std::invalid_argument);
  CHECK_THROWS_AS((optimizer<net, tg::adam>{tg::adam{.beta1 = 1.0}}), std::invalid_argument);
  CHECK_THROWS_AS((optimizer<net, tg::adamw>{tg::adamw{.eps = -1}}), std::invalid_argument);
  CHECK_NOTHROW((optimizer<net, tg::adam>{tg::adam{}}));
}

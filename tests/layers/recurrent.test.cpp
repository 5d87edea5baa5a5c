// rnn, gru, lstm, transpose and last_step: finite differences (full BPTT), the fused update,
// PyTorch's values (tools/pytorch_reference/recurrent.py), weight files and truncated BPTT.
#include <catch2/catch.hpp>
#include <typegrad/typegrad.hpp>

#include <cmath>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "../network/test_support.hpp"

namespace tg = typegrad;
using test_support::fill;
using test_support::fill_probabilities;

namespace {

constexpr double tolerance = 1e-6;  // worst relative error allowed (issue: ≤ 1e-6, double)

template <class Net, class Loss, class X, class Target>
void require_gradient_matches(const Net& net, Loss loss, const X& x, const Target& t) {
  const auto r = tg::check_gradient(net, loss, x, t);
  INFO("worst relative error " << r.max_relative_error << " at layer " << r.layer << " block " << r.block << " ("
                               << r.row << ", " << r.col << "): analytic " << r.analytic << " numeric " << r.numeric);
  REQUIRE(r.checked == Net::parameters_type::count());
  REQUIRE(r.max_relative_error <= tolerance);
}

template <class Net, class Loss, class X, class Target>
void require_input_gradient_matches(const Net& net, Loss loss, const X& x, const Target& t) {
  const double err = test_support::input_gradient_error(net, loss, x, t);
  INFO("worst relative error of dL/dx " << err);
  REQUIRE(err <= tolerance);
}

}  // namespace

// Every cell at every Steps 1..17, batch 1 and 5, and each cell alone: tests/layers/recurrent_steps.test.cpp.
TEST_CASE("stacked recurrent layers (PyTorch's num_layers) with a many-to-one head match finite differences",
          "[recurrent][gradient]") {
  using namespace tg;
  constexpr std::size_t S = 17;
  network<input<S * 3, double>, unflatten<S, 3>, gru<11>, lstm<7>, rnn<3>, last_step, dense<2>> net{
      init::pytorch_default{5}};
  SECTION("batch 1") {
    matrix<double, 1, S * 3> x;
    fill(x);
    matrix<double, 1, 2> t{{0.3, -0.4}};
    require_gradient_matches(net, mse{}, x, t);
    require_input_gradient_matches(net, mse{}, x, t);
  }
  SECTION("batch 5") {
    matrix<double, 5, S * 3> x;
    fill(x, 0.5);
    matrix<double, 5, 2> t;
    fill(t, 2.0);
    require_gradient_matches(net, mse{}, x, t);
    require_input_gradient_matches(net, mse{}, x, t);
  }
}

TEST_CASE("recurrent layers between dense layers match finite differences, input gradient included",
          "[recurrent][gradient]") {
  using namespace tg;
  constexpr std::size_t S = 7;
  SECTION("dense per step before and after") {
    network<input<S * 3, double>, unflatten<S, 3>, dense<4, tg::tanh>, gru<5>, dense<3, tg::tanh>, lstm<3>, dense<2>>
        net{init::pytorch_default{7}};
    matrix<double, 5, S * 3> x;
    fill(x);
    matrix<double, 5, S * 2> t;
    fill(t, 1.0);
    require_gradient_matches(net, mse{}, x, t);
    require_input_gradient_matches(net, mse{}, x, t);
  }
  SECTION("a flat dense layer in front, a classifier behind") {
    network<input<S * 3, double>, dense<S * 2, tg::tanh>, unflatten<S, 2>, lstm<3>, last_step, flatten,
            dense<1, sigmoid>>
        net{init::pytorch_default{8}};
    matrix<double, 5, S * 3> x;
    fill(x);
    matrix<double, 5, 1> t;
    fill_probabilities(t);
    require_gradient_matches(net, binary_cross_entropy{}, x, t);
    require_input_gradient_matches(net, binary_cross_entropy{}, x, t);
  }
}

TEST_CASE("conv1d → transpose → recurrent layers match finite differences", "[recurrent][gradient]") {
  using namespace tg;
  constexpr std::size_t C = 3, L = 11;
  network<input<C * L, double>, unflatten<C, L>, conv1d<4, 3, tg::tanh, padding<1>>, transpose, lstm<5>, gru<3>,
          last_step, dense<1, sigmoid>>
      net{init::pytorch_default{9}};
  SECTION("batch 1") {
    matrix<double, 1, C * L> x;
    fill(x);
    matrix<double, 1, 1> t{{0.7}};
    require_gradient_matches(net, binary_cross_entropy{}, x, t);
    require_input_gradient_matches(net, binary_cross_entropy{}, x, t);
  }
  SECTION("batch 5") {
    matrix<double, 5, C * L> x;
    fill(x, 1.0);
    matrix<double, 5, 1> t;
    fill_probabilities(t);
    require_gradient_matches(net, binary_cross_entropy{}, x, t);
    require_input_gradient_matches(net, binary_cross_entropy{}, x, t);
  }
}

TEST_CASE("transpose and last_step move the right values", "[recurrent][sequence]") {
  using namespace tg;
  // (2, 3) → (3, 2): y[j][i] = x[i][j]; then the last of the 3 steps.
  network<input<6>, unflatten<2, 3>, transpose> t;
  const auto y = t(vector<float, 6>{0, 1, 2, 10, 11, 12});
  CHECK(y == vector<float, 6>{0, 10, 1, 11, 2, 12});
  network<input<6>, unflatten<2, 3>, transpose, last_step> l;
  CHECK(l(vector<float, 6>{0, 1, 2, 10, 11, 12}) == vector<float, 2>{2, 12});
  STATIC_REQUIRE(std::is_same_v<decltype(l)::out_shape, shape<2>>);
  STATIC_REQUIRE(std::is_same_v<network<input<12>, unflatten<4, 3>, gru<5>>::out_shape, shape<4, 5>>);
}

TEMPLATE_TEST_CASE("a float network computes what its double twin does", "[recurrent]", float, double) {
  using namespace tg;
  constexpr std::size_t S = 13;
  using net_t = network<input<S * 3, TestType>, unflatten<S, 3>, gru<9>, lstm<5>, rnn<4>, dense<2>>;
  const net_t net{init::pytorch_default{4}};
  typename net_t::template rebind<double> twin{init::zeros{}};
  std::vector<double> values;
  net.parameters().for_each([&](std::size_t, auto, std::size_t, std::size_t, TestType v) { values.push_back(v); });
  std::size_t n = 0;
  twin.parameters().for_each([&](std::size_t, auto, std::size_t, std::size_t, double& v) { v = values[n++]; });
  matrix<TestType, 3, S * 3> x;
  fill(x);
  const auto y = net(x);
  const auto yd = twin(tg::detail::to_double(x));
  for (std::size_t k = 0; k < y.size(); ++k) CHECK(double(y.data()[k]) == Approx(yd.data()[k]).margin(1e-5));
}

TEST_CASE("a fused update is the update of the accumulated gradient (sgd), and adam trains", "[recurrent][optim]") {
  using namespace tg;
  constexpr std::size_t S = 9;
  using net_t = network<input<S * 3, double>, unflatten<S, 3>, gru<5>, lstm<4>, last_step, dense<2>>;
  net_t net{init::pytorch_default{2}};
  matrix<double, 5, S * 3> x;
  fill(x);
  matrix<double, 5, 2> t;
  fill(t, 1.0);
  const auto g = gradient(net, mse{}, x, t);
  auto expected = net.parameters();
  {
    std::vector<double> gv;
    g.for_each([&](std::size_t, auto, std::size_t, std::size_t, double v) { gv.push_back(v); });
    std::size_t n = 0;
    expected.for_each([&](std::size_t, auto, std::size_t, std::size_t, double& v) { v -= 0.1 * gv[n++]; });
  }
  net_t stepped = net;
  train_step(stepped, mse{}, sgd{0.1}, x, t);
  std::vector<double> a, b;
  stepped.parameters().for_each([&](std::size_t, auto, std::size_t, std::size_t, double v) { a.push_back(v); });
  expected.for_each([&](std::size_t, auto, std::size_t, std::size_t, double v) { b.push_back(v); });
  for (std::size_t k = 0; k < a.size(); ++k) REQUIRE(a[k] == Approx(b[k]).margin(1e-14));

  // Adam with clipping by global norm (the gradient is accumulated, clipped, then applied): it
  // must train, and the padding must stay zero.
  auto opt = make_optimizer(net, adam{.lr = 1e-2}, clip_grad_norm{0.5});
  const double before = loss_value(net, mse{}, x, t);
  for (int k = 0; k < 50; ++k) train_step(net, mse{}, opt, x, t);
  CHECK(loss_value(net, mse{}, x, t) < 0.5 * before);
  const auto& p = get<2>(net);
  using block = std::remove_cvref_t<decltype(p)>;
  bool padding_zero = true;
  for (std::size_t c = 0; c < block::in_size; ++c)
    for (std::size_t r = block::gates * block::hidden_size; r < block::gate_stride; ++r)
      padding_zero = padding_zero && p.wih_[c * block::gate_stride + r] == 0;
  CHECK(padding_zero);
}

// ---- PyTorch's values (tests/data/recurrent_reference.json, tools/pytorch_reference/recurrent.py) ----

namespace {

const nlohmann::json& torch_reference() {
  static const nlohmann::json doc = [] {
    std::ifstream in(TYPEGRAD_SOURCE_DIR "/tests/data/recurrent_reference.json");
    if (!in) throw std::runtime_error("cannot open tests/data/recurrent_reference.json");
    return nlohmann::json::parse(in);
  }();
  return doc;
}

// Sequential(Unflatten(1, (7, 3)), GRU(3, 5), LSTM(5, 4), RNN(4, 3), Linear(3, 2), Flatten): the
// nn.Sequential index of each typegrad layer is its own index.
using torch_net = tg::network<tg::input<21, double>, tg::unflatten<7, 3>, tg::gru<5>, tg::lstm<4>, tg::rnn<3>,
                              tg::dense<2>, tg::flatten>;

std::vector<double> json_values(const nlohmann::json& t) { return t.at("values").get<std::vector<double>>(); }

// Calls f(json tensor, data, rows, cols, row_stride, col_stride) for every tensor of every layer,
// the json tensor found by its state_dict name ("1.weight_ih_l0") in `tensors`.
template <class Params, class F>
void for_each_named(Params& p, const nlohmann::json& tensors, F&& f) {
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (tg::get<I>(p).for_each_tensor([&](std::string_view name, std::initializer_list<std::size_t> shape, auto* data,
                                       std::size_t rs, std::size_t cs) {
      const std::string key = std::to_string(I) + "." + std::string(name);
      INFO("tensor " << key);
      REQUIRE(tensors.contains(key));
      const auto& t = tensors.at(key);
      REQUIRE(t.at("shape").get<std::vector<std::size_t>>() == std::vector<std::size_t>(shape));
      const std::size_t rows = *shape.begin(), cols = shape.size() > 1 ? *(shape.begin() + 1) : 1;
      f(t, data, rows, cols, rs, cs);
    }),
     ...);
  }
  (std::make_index_sequence<Params::depth>{});
}

template <class Params>
void set_from(Params& p, const nlohmann::json& tensors) {
  for_each_named(
      p, tensors,
      [](const nlohmann::json& t, auto* data, std::size_t rows, std::size_t cols, std::size_t rs, std::size_t cs) {
        const auto v = json_values(t);
        for (std::size_t r = 0; r < rows; ++r)
          for (std::size_t c = 0; c < cols; ++c) data[r * rs + c * cs] = v[r * cols + c];
      });
}

template <class Params>
void require_matches(const Params& p, const nlohmann::json& tensors, double tol) {
  for_each_named(p, tensors,
                 [&](const nlohmann::json& t, const auto* data, std::size_t rows, std::size_t cols, std::size_t rs,
                     std::size_t cs) {
                   const auto v = json_values(t);
                   for (std::size_t r = 0; r < rows; ++r)
                     for (std::size_t c = 0; c < cols; ++c)
                       REQUIRE(double(data[r * rs + c * cs]) == Approx(v[r * cols + c]).margin(tol));
                 });
}

template <std::size_t B>
void check_against_torch(const nlohmann::json& ref, const nlohmann::json& pass) {
  using namespace tg;
  torch_net net{init::zeros{}};
  set_from(net.parameters(), ref.at("state_dict"));
  matrix<double, B, 21> x;
  matrix<double, B, 14> t;
  const auto xs = json_values(ref.at("x")), ts = json_values(ref.at("target"));
  std::copy_n(xs.begin(), x.size(), x.data());
  std::copy_n(ts.begin(), t.size(), t.data());
  const auto y = net(x);
  const auto out = json_values(pass.at("output"));
  for (std::size_t k = 0; k < y.size(); ++k) REQUIRE(y.data()[k] == Approx(out[k]).margin(1e-12));
  REQUIRE(loss_value(net, mse{}, x, t) == Approx(pass.at("loss").get<double>()).margin(1e-12));
  const auto dx = input_gradient(net, mse{}, x, t);
  const auto dx_ref = json_values(pass.at("input_grad"));
  for (std::size_t k = 0; k < dx.size(); ++k) REQUIRE(dx.data()[k] == Approx(dx_ref[k]).margin(1e-12));
  const auto g = gradient(net, mse{}, x, t);
  require_matches(g, pass.at("grad"), 1e-12);
  if (B == ref.at("x").at("shape")[0].get<std::size_t>()) {
    train_step(net, mse{}, sgd{ref.at("sgd_lr_copy").get<double>()}, x, t);
    require_matches(net.parameters(), ref.at("after_sgd_step"), 1e-12);
  }
}

}  // namespace

TEST_CASE("gru, lstm and rnn compute PyTorch's outputs, gradients and SGD step", "[recurrent][pytorch]") {
  auto ref = torch_reference().at("net");
  ref["sgd_lr_copy"] = torch_reference().at("sgd_lr");
  SECTION("batch 5, with one SGD step") { check_against_torch<5>(ref, ref); }
  SECTION("batch 1") { check_against_torch<1>(ref, ref.at("batch1")); }
}

TEST_CASE("weight files use PyTorch's names and shapes (1.weight_ih_l0, ...) and round-trip", "[recurrent][io]") {
  using namespace tg;
  using float_net = torch_net::rebind<float>;
  const auto names = weight_tensor_names<float_net>();
  const std::vector<std::string> expected{"1.weight_ih_l0", "1.weight_hh_l0", "1.bias_ih_l0", "1.bias_hh_l0",
                                          "2.weight_ih_l0", "2.weight_hh_l0", "2.bias_ih_l0", "2.bias_hh_l0",
                                          "3.weight_ih_l0", "3.weight_hh_l0", "3.bias_ih_l0", "3.bias_hh_l0",
                                          "4.weight",       "4.bias"};
  CHECK(names == expected);
  CHECK(architecture_string<float_net>() == "input<21>,unflatten<7,3>,gru<5>,lstm<4>,rnn<3>,dense<2,identity>,flatten");
  // PyTorch's own file (F32, no typegrad metadata) loads into the float network...
  float_net net{init::zeros{}};
  load_weights(net, TYPEGRAD_SOURCE_DIR "/tests/data/recurrent_reference.safetensors");
  require_matches(net.parameters(), torch_reference().at("net").at("state_dict"), 1e-7);
  // A file of another architecture is refused, naming the layer, and the network is untouched.
  using other_net = network<input<21>, unflatten<7, 3>, lstm<5>, lstm<4>, rnn<3>, dense<2>, flatten>;
  other_net other{init::pytorch_default{1}};
  const other_net before = other;
  try {
    load_weights(other, TYPEGRAD_SOURCE_DIR "/tests/data/recurrent_reference.safetensors");
    FAIL("load_weights accepted a gru file for an lstm");
  } catch (const io_error& e) {
    CHECK_THAT(e.what(), Catch::Contains("gru<5>") && Catch::Contains("lstm<5>"));
  }
  CHECK(other == before);
  // ...and a saved file loads back bit for bit.
  const auto path = std::filesystem::temp_directory_path() / "typegrad_recurrent_roundtrip.safetensors";
  save_weights(net, path.string());
  float_net back{init::zeros{}};
  load_weights(back, path.string());
  std::filesystem::remove(path);
  CHECK(back == net);
}

// ---- Truncated BPTT: recurrent_state ----

TEST_CASE("stream_window over two windows with a recurrent_state equals one pass over both", "[recurrent][state]") {
  using namespace tg;
  constexpr std::size_t S = 6;
  using long_net = network<input<2 * S * 3, double>, unflatten<2 * S, 3>, gru<5>, lstm<4>, rnn<3>, dense<2>>;
  using window_net = network<input<S * 3, double>, unflatten<S, 3>, gru<5>, lstm<4>, rnn<3>, dense<2>>;
  const long_net whole{init::pytorch_default{21}};
  window_net window{init::zeros{}};
  window.parameters() = reinterpret_cast<const window_net::parameters_type&>(whole.parameters());  // same blocks
  REQUIRE(bool(window.parameters() == reinterpret_cast<const window_net::parameters_type&>(whole.parameters())));
  matrix<double, 3, 2 * S * 3> x;
  fill(x);
  matrix<double, 3, S * 3> first, second;
  for (std::size_t b = 0; b < 3; ++b)
    for (std::size_t k = 0; k < S * 3; ++k) first(b, k) = x(b, k), second(b, k) = x(b, S * 3 + k);
  const auto y = whole(x);
  recurrent_state<window_net, 3> state;
  const auto y1 = stream_window(window, state, first);
  const auto y2 = stream_window(window, state, second);
  for (std::size_t b = 0; b < 3; ++b)
    for (std::size_t k = 0; k < S * 2; ++k) {
      REQUIRE(y1(b, k) == Approx(y(b, k)).margin(1e-14));
      REQUIRE(y2(b, k) == Approx(y(b, S * 2 + k)).margin(1e-14));
    }
  CHECK(state.hidden<1>(1, 0) != 0.0);
  CHECK(state.cell<2>(2, 3) != 0.0);
  state.reset();
  CHECK(state.hidden<1>(1, 0) == 0.0);
}

TEST_CASE("train_step over a window starts from the state, leaves the final one and has the truncated gradient",
          "[recurrent][state]") {
  using namespace tg;
  constexpr std::size_t S = 5;
  using net_t = network<input<S * 2, double>, unflatten<S, 2>, lstm<3>, gru<4>, last_step, dense<1>>;
  net_t net{init::pytorch_default{31}};
  matrix<double, 2, S * 2> x0, x1;
  fill(x0);
  fill(x1, 3.0);
  matrix<double, 2, 1> t{{0.5}, {-0.25}};
  recurrent_state<net_t, 2> state;
  stream_window(net, state, x0);  // the state after a first window
  const auto start = state;

  // The step's gradient, read off an SGD step: g = (w − w') / lr.
  net_t stepped = net;
  auto at_start = start;
  const double lr = 1e-3;
  train_step(stepped, mse{}, sgd{lr}, at_start, x1, t);
  {  // the state it leaves is that of the window, from the old parameters
    auto expect = start;
    stream_window(net, expect, x1);
    CHECK(at_start.hidden<2>(1, 2) == expect.hidden<2>(1, 2));
    CHECK(at_start.cell<1>(0, 1) == expect.cell<1>(0, 1));
  }
  std::vector<double> w, w_new;
  net.parameters().for_each([&](std::size_t, auto, std::size_t, std::size_t, double v) { w.push_back(v); });
  stepped.parameters().for_each([&](std::size_t, auto, std::size_t, std::size_t, double v) { w_new.push_back(v); });
  // Finite differences of the loss of this window from the same (detached) initial state.
  auto loss_at = [&](const net_t& n) {
    auto s = start;
    const auto y = stream_window(n, s, x1);
    double l = 0;
    for (std::size_t b = 0; b < 2; ++b) l += (y(b, 0) - t(b, 0)) * (y(b, 0) - t(b, 0));
    return l / 2;
  };
  net_t probe = net;
  std::size_t n = 0;
  double worst = 0;
  probe.parameters().for_each([&](std::size_t, auto, std::size_t, std::size_t, double& v) {
    const double saved = v, h = 1e-5;
    v = saved + h;
    const double up = loss_at(probe);
    v = saved - h;
    const double down = loss_at(probe);
    v = saved;
    const double numeric = (up - down) / (2 * h), analytic = (w[n] - w_new[n]) / lr;
    ++n;
    worst = std::max(worst, std::abs(numeric - analytic) / std::max({std::abs(numeric), std::abs(analytic), 1e-4}));
  });
  INFO("worst relative error " << worst);
  CHECK(worst < 1e-6);
  // And the state matters: from zero the step is another one.
  net_t from_zero = net;
  train_step(from_zero, mse{}, sgd{lr}, x1, t);
  CHECK_FALSE(bool(from_zero == stepped));
}

// A window of 1000 steps at batch 8 needs a workspace of megabytes: it is held by the caller (on
// the heap), and a step in it is the step in a stack workspace, exactly (same code, same order).
TEST_CASE("train_step in a caller's (heap) workspace: 1000 steps, the same result as on the stack", "[recurrent][workspace]") {
  constexpr std::size_t steps = 1000, B = 8;
  using net_t = tg::network<tg::input<steps>, tg::unflatten<steps, 1>, tg::gru<8>, tg::last_step, tg::dense<1>>;
  STATIC_REQUIRE(sizeof(net_t::workspace<B>) > (std::size_t{1} << 20));
  net_t on_heap{tg::init::pytorch_default{3}};
  auto ws = std::make_unique<net_t::workspace<B>>();
  tg::matrix<float, B, steps> x;
  tg::matrix<float, B, 1> t;
  for (std::size_t b = 0; b < B; ++b) {
    for (std::size_t s = 0; s < steps; ++s) x(b, s) = float(std::sin(0.01 * double(s * (b + 1))));
    t(b, 0) = float(b % 2);
  }
  tg::sgd opt{0.05};
  tg::recurrent_state<net_t, B> state;
  float first = 0, last = 0;
  for (int i = 0; i < 4; ++i) {
    const float loss = tg::train_step(on_heap, tg::mse{}, opt, x, t, *ws);
    (i == 0 ? first : last) = loss;
  }
  REQUIRE(last < first);  // it trains
  REQUIRE(std::isfinite(tg::train_step(on_heap, tg::mse{}, opt, state, x, t, *ws)));

  // The same steps at batch 1 (a workspace the stack holds) on twin networks.
  using small_t = tg::network<tg::input<steps>, tg::unflatten<steps, 1>, tg::gru<5>, tg::last_step, tg::dense<1>>;
  small_t a{tg::init::pytorch_default{4}}, b = a;
  auto ws1 = std::make_unique<small_t::workspace<1>>();
  tg::vector<float, steps> x1;
  for (std::size_t s = 0; s < steps; ++s) x1[s] = float(std::cos(0.02 * double(s)));
  const tg::vector<float, 1> t1{0.25f};
  tg::recurrent_state<small_t> sa, sb;
  for (int i = 0; i < 3; ++i) {
    REQUIRE(tg::train_step(a, tg::mse{}, opt, x1, t1) == tg::train_step(b, tg::mse{}, opt, x1, t1, *ws1));
    REQUIRE(tg::train_step(a, tg::mse{}, opt, sa, x1, t1) == tg::train_step(b, tg::mse{}, opt, sb, x1, t1, *ws1));
  }
  REQUIRE(a.parameters() == b.parameters());
}

// fit, evaluate_loss and predict keep their workspace on the heap: at batch 48, a GRU over 1000
// steps needs more than the default 8 MiB stack at every vector width (11 MB with SSE2's, more
// with wider registers; a stack workspace overflowed it).
TEST_CASE("fit over 1000 steps at batch 48: the workspace does not fit a thread's stack", "[recurrent][workspace][fit]") {
  constexpr std::size_t steps = 1000, B = 48, samples = 96;
  using net_t = tg::network<tg::input<steps>, tg::unflatten<steps, 1>, tg::gru<8>, tg::last_step, tg::dense<1>>;
  STATIC_REQUIRE(sizeof(net_t::workspace<B>) > (std::size_t{8} << 20));
  std::vector<float> features(samples * steps), targets(samples);
  for (std::size_t i = 0; i < samples; ++i) {
    for (std::size_t s = 0; s < steps; ++s) features[i * steps + s] = float(std::sin(0.003 * double(s * (i % 4 + 1))));
    targets[i] = float(i % 4) * 0.25f;
  }
  const tg::dataset<float, steps, 1> data(std::move(features), std::move(targets));
  net_t net{tg::init::pytorch_default{8}};
  auto opt = tg::make_optimizer(net, tg::adam{.lr = 1e-2});
  const double before = tg::evaluate_loss<B>(net, tg::mse{}, data);
  const auto h = tg::fit<B>(net, tg::mse{}, opt, data, {.epochs = 3, .seed = 1, .show = tg::progress::never});
  REQUIRE(h.epochs.size() == 3);
  const double after = tg::evaluate_loss<B>(net, tg::mse{}, data);
  REQUIRE(after < before);
  REQUIRE(tg::predict<B>(net, data).size() == samples);
}

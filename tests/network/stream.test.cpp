// stream<Net>: one step at a time gives the outputs of the network's forward over the whole sequence.
#include <catch2/catch.hpp>
#include <typegrad/typegrad.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "test_support.hpp"

namespace tg = typegrad;
using test_support::fill;

namespace {

/// Runs the whole sequence x through `net` at once (net(x), the window forward) and step by step
/// through a stream; `in_at(t, k)` / `out_at(t, k)` are the flat indices of step t's k-th input /
/// output in the window's tensors. Returns the worst relative difference (|a − b| / max(1, |b|)).
template <class Net, class InAt, class OutAt>
double stream_vs_window(const Net& net, std::size_t steps, double salt, InAt in_at, OutAt out_at) {
  using T = typename Net::value_type;
  using stream_t = tg::stream<Net>;
  tg::vector<T, Net::in_size> x;
  fill(x, salt);
  const auto y = net(x);
  stream_t s{net};
  double worst = 0;
  for (std::size_t t = 0; t < steps; ++t) {
    tg::vector<T, stream_t::step_in_size> x_t;
    for (std::size_t k = 0; k < stream_t::step_in_size; ++k) x_t[k] = x[in_at(t, k)];
    const auto y_t = s(x_t);
    for (std::size_t k = 0; k < stream_t::step_out_size; ++k) {
      const double a = y_t[k], b = y[out_at(t, k)];
      worst = std::max(worst, std::abs(a - b) / std::max(1.0, std::abs(b)));
    }
  }
  return worst;
}

/// Input (Steps, F) and output (Steps, Out), both time first.
template <class Net>
double time_first_difference(const Net& net, double salt = 0.0) {
  using stream_t = tg::stream<Net>;
  constexpr std::size_t F = stream_t::step_in_size, Out = stream_t::step_out_size, steps = Net::in_size / F;
  static_assert(Net::out_size == steps * Out);
  return stream_vs_window(
      net, steps, salt, [](std::size_t t, std::size_t k) { return t * F + k; },
      [](std::size_t t, std::size_t k) { return t * Out + k; });
}

}  // namespace

TEMPLATE_TEST_CASE("stream: rnn, gru, lstm and stacks step by step equal the window forward, exactly",
                   "[stream][recurrent]", float, double) {
  using T = TestType;
  using namespace tg;
  // The step runs the window forward's kernels on the same values in the same order: bit for bit.
  SECTION("gru") {
    using net_t = network<input<23 * 3, T>, unflatten<23, 3>, gru<13>, dense<5>>;
    net_t net{init::pytorch_default{1}};
    STATIC_REQUIRE(stream<net_t>::step_in_size == 3);
    STATIC_REQUIRE(stream<net_t>::step_out_size == 5);
    REQUIRE(time_first_difference(net) == 0.0);
  }
  SECTION("lstm") {
    network<input<19 * 2, T>, unflatten<19, 2>, lstm<11>, dense<3, tg::tanh>> net{init::pytorch_default{2}};
    REQUIRE(time_first_difference(net) == 0.0);
  }
  SECTION("rnn (tanh and relu)") {
    network<input<17 * 5, T>, unflatten<17, 5>, rnn<9>, dense<1>> a{init::pytorch_default{3}};
    REQUIRE(time_first_difference(a) == 0.0);
    network<input<17 * 5, T>, unflatten<17, 5>, rnn<7, tg::relu>, rnn<18>> b{init::pytorch_default{4}};
    REQUIRE(time_first_difference(b) == 0.0);
  }
  SECTION("stacked gru → lstm → rnn → dense on every step, wider than a register") {
    network<input<29 * 4, T>, unflatten<29, 4>, gru<9>, lstm<21>, rnn<6>, dense<17, tg::relu>, dense<3>> net{
        init::pytorch_default{5}};
    REQUIRE(time_first_difference(net, 0.4) == 0.0);
  }
  SECTION("a flat output (flatten after the sequence) is per step too") {
    using net_t = network<input<11 * 3, T>, unflatten<11, 3>, lstm<5>, dense<2>, flatten>;
    net_t net{init::pytorch_default{6}};
    STATIC_REQUIRE(stream<net_t>::step_out_size == 2);
    REQUIRE(time_first_difference(net) == 0.0);
  }
}

TEMPLATE_TEST_CASE("stream: causal conv1d (dilation, groups) → transpose → gru → dense equals the window forward",
                   "[stream][conv]", float, double) {
  using T = TestType;
  using namespace tg;
  // The window forward sums a convolution's taps in another order (its kernels run along the
  // time axis), so the results agree to rounding: 1e-6 relative in float, 1e-13 in double.
  const double tolerance = std::is_same_v<T, float> ? 1e-6 : 1e-13;
  SECTION("2 → 5 channels, k 5, dilation 2, tanh") {
    constexpr std::size_t L = 37, C = 2;
    using net_t = network<input<C * L, T>, unflatten<C, L>, conv1d<5, 5, tg::tanh, causal, dilation<2>>, transpose,
                          gru<7>, dense<3>>;
    net_t net{init::pytorch_default{7}};
    STATIC_REQUIRE(stream<net_t>::step_in_size == C);
    STATIC_REQUIRE(stream<net_t>::step_out_size == 3);
    const double d = stream_vs_window(
        net, L, 0.2, [](std::size_t t, std::size_t c) { return c * L + t; },
        [](std::size_t t, std::size_t k) { return t * 3 + k; });
    INFO("worst relative difference " << d);
    REQUIRE(d <= tolerance);
  }
  SECTION("groups 2, k 3, relu; a k 1 convolution; output left as (C, L)") {
    constexpr std::size_t L = 21, C = 4;
    using net_t = network<input<C * L, T>, unflatten<C, L>, conv1d<6, 3, tg::relu, causal, groups<2>>, conv1d<3, 1>>;
    net_t net{init::pytorch_default{8}};
    const double d = stream_vs_window(
        net, L, 0.5, [](std::size_t t, std::size_t c) { return c * L + t; },
        [](std::size_t t, std::size_t k) { return k * L + t; });
    INFO("worst relative difference " << d);
    REQUIRE(d <= tolerance);
  }
  SECTION("the one-channel conv1d 1 → 12, k 5 + dense(12 → 1) of the benchmark") {
    constexpr std::size_t L = 40;
    using net_t = network<input<L, T>, unflatten<1, L>, conv1d<12, 5, causal>, transpose, dense<1>>;
    net_t net{init::pytorch_default{9}};
    const double d = stream_vs_window(
        net, L, 0.9, [](std::size_t t, std::size_t) { return t; }, [](std::size_t t, std::size_t) { return t; });
    INFO("worst relative difference " << d);
    REQUIRE(d <= tolerance);
  }
  SECTION("one channel, k 1 then k 3: the window slid in a register at every vector width") {
    // (One undilated channel with K ≤ lanes slides its taps in a register, simd::slide_window; k 3
    // fits SSE2's four floats too, and k 1 is a window of the present alone.)
    constexpr std::size_t L = 23;
    using net_t = network<input<L, T>, unflatten<1, L>, conv1d<1, 1, causal>, conv1d<4, 3, tg::relu, causal>, transpose,
                          dense<2>>;
    net_t net{init::pytorch_default{12}};
    const double d = stream_vs_window(
        net, L, 0.7, [](std::size_t t, std::size_t) { return t; }, [](std::size_t t, std::size_t k) { return t * 2 + k; });
    INFO("worst relative difference " << d);
    REQUIRE(d <= tolerance);
  }
}

TEMPLATE_TEST_CASE("stream: a network of dense layers streams whole samples, exactly as net(x)", "[stream][dense]",
                   float, double) {
  using T = TestType;
  using namespace tg;
  using net_t = network<input<13, T>, dense<9, tg::tanh>, dense<21, tg::relu>, dense<5>>;
  net_t net{init::pytorch_default{10}};
  stream s{net};
  STATIC_REQUIRE(std::is_same_v<decltype(s), stream<net_t>>);
  STATIC_REQUIRE(decltype(s)::step_in_size == 13);
  STATIC_REQUIRE(decltype(s)::step_out_size == 5);
  for (int call = 0; call < 4; ++call) {
    vector<T, 13> x;
    fill(x, 0.3 * call);
    const auto y = s(x), expected = net(x);
    for (std::size_t k = 0; k < 5; ++k) REQUIRE(y[k] == expected[k]);
  }
  // Softmax on the output, 64 → 64 as in the benchmark.
  network<input<64, T>, dense<64, tg::tanh>, dense<10, tg::softmax>> wide{init::pytorch_default{11}};
  stream w{wide};
  vector<T, 64> x;
  fill(x, 1.7);
  const auto y = w(x), expected = wide(x);
  for (std::size_t k = 0; k < 10; ++k) REQUIRE(y[k] == expected[k]);
}

TEMPLATE_TEST_CASE("stream: last_step streams the many-to-one head; its last step is net(x)", "[stream][recurrent]",
                   float, double) {
  using T = TestType;
  using namespace tg;
  using net_t = network<input<15 * 2, T>, unflatten<15, 2>, gru<10>, last_step, dense<2, tg::sigmoid>>;
  net_t net{init::pytorch_default{12}};
  vector<T, 30> x;
  fill(x);
  stream s{net};
  vector<T, 2> y;
  for (std::size_t t = 0; t < 15; ++t) s.step(x.data() + 2 * t, y.data());
  const auto expected = net(x);
  REQUIRE(y[0] == expected[0]);
  REQUIRE(y[1] == expected[1]);
}

TEMPLATE_TEST_CASE("stream: reset() starts a new sequence; the weights are read at each step", "[stream]", float,
                   double) {
  using T = TestType;
  using namespace tg;
  using net_t = network<input<9 * 1, T>, unflatten<9, 1>, lstm<6>, dense<1>>;
  using conv_t = network<input<9, T>, unflatten<1, 9>, conv1d<3, 4, causal, dilation<2>>, transpose, dense<1>>;
  auto run = [](auto& s, auto& out) {
    for (std::size_t t = 0; t < 9; ++t) {
      vector<T, 1> x_t;
      x_t[0] = T(std::sin(0.8 * double(t)) + 0.3);
      out[t] = s(x_t)[0];
    }
  };
  auto check = [&](auto& net) {
    stream s{net};
    T first[9], carried[9], again[9];
    run(s, first);
    run(s, carried);  // the state goes on: the second pass differs
    s.reset();
    run(s, again);
    REQUIRE(std::equal(first, first + 9, again));
    REQUIRE(!std::equal(first, first + 9, carried));
    // A pointer to the network, not a copy: a changed bias shows in the next step.
    s.reset();
    get<std::remove_reference_t<decltype(net)>::depth - 1>(net).bias(0) += T(0.5);
    T moved[9];
    run(s, moved);
    for (std::size_t t = 0; t < 9; ++t) REQUIRE(moved[t] == Approx(first[t] + 0.5).epsilon(1e-6));
  };
  net_t a{init::pytorch_default{13}};
  check(a);
  conv_t b{init::pytorch_default{14}};
  check(b);
}

TEST_CASE("stream: steps are noexcept and the state lives in the object", "[stream]") {
  using namespace tg;
  using net_t = network<input<32>, unflatten<32, 1>, gru<8>, dense<1>>;
  net_t net;
  stream s{net};
  vector<float, 1> x;
  float y[1];
  STATIC_REQUIRE(noexcept(s(x)));
  STATIC_REQUIRE(noexcept(s.step(x.data(), y)));
  STATIC_REQUIRE(noexcept(s.reset()));
  STATIC_REQUIRE(noexcept(stream<net_t>{net}));
  STATIC_REQUIRE(!std::is_constructible_v<stream<net_t>, net_t&&>);  // it would point to a temporary
  // h of the GRU, the step buffers and a pointer: no workspace of the whole window.
  STATIC_REQUIRE(sizeof(stream<net_t>) < sizeof(net_t::workspace<1>));
}

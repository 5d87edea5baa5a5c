// batch_norm<Act>: forward against a nested-loop reference, finite differences, running statistics, folding.
#include <catch2/catch.hpp>
#include <typegrad/typegrad.hpp>

#include <cmath>
#include <cstddef>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "../network/test_support.hpp"

// The convolutions are folded into too, once their header is there.
#if __has_include(<typegrad/layers/conv.hpp>)
#include <typegrad/layers/conv.hpp>
#define TYPEGRAD_TEST_HAS_CONV 1
#else
#define TYPEGRAD_TEST_HAS_CONV 0
#endif

namespace tg = typegrad;
using test_support::fill;
using test_support::fill_probabilities;

namespace {

constexpr double tolerance = 1e-6;  // worst relative error allowed for finite differences (double)

template <class Net, class Loss, class X, class Target>
void require_gradient_matches(const Net& net, Loss loss, const X& x, const Target& t) {
  const auto r = tg::check_gradient(net, loss, x, t);
  INFO("worst relative error " << r.max_relative_error << " at layer " << r.layer << (r.block ? " bias(" : " weight(")
                               << r.row << ", " << r.col << "): analytic " << r.analytic << " numeric " << r.numeric);
  REQUIRE(r.checked == Net::parameters_type::count());
  REQUIRE(r.max_relative_error <= tolerance);
}

// Non-trivial γ, β and running statistics for a batch norm block (deterministic in salt).
template <class Block>
void set_batch_norm(Block& p, double salt) {
  using T = typename Block::value_type;
  for (std::size_t c = 0; c < Block::channels; ++c) {
    p.weight(c) = T(0.6 + 0.5 * std::sin(1.7 * double(c) + salt));
    p.bias(c) = T(0.3 * std::cos(0.9 * double(c) + salt));
    p.running_mean(c) = T(0.4 * std::sin(2.3 * double(c) + 1 + salt));
    p.running_var(c) = T(0.5 + 0.4 * std::cos(1.1 * double(c) + salt) * std::cos(1.1 * double(c) + salt));
  }
}

// y[b][c·S + s] = Act(γ_c (x − mean_c)/√(var_c + eps) + β_c), with the batch's biased statistics
// (Batch) or the block's running ones; x holds B rows of C·S values.
template <class Act, class Block>
std::vector<double> reference_forward(const Block& p, const std::vector<double>& x, std::size_t B, std::size_t C,
                                      std::size_t S, bool batch) {
  std::vector<double> y(x.size());
  for (std::size_t c = 0; c < C; ++c) {
    double mean = p.running_mean(c), var = p.running_var(c);
    if (batch) {
      mean = 0;
      for (std::size_t b = 0; b < B; ++b)
        for (std::size_t s = 0; s < S; ++s) mean += x[b * C * S + c * S + s];
      mean /= double(B * S);
      var = 0;
      for (std::size_t b = 0; b < B; ++b)
        for (std::size_t s = 0; s < S; ++s)
          var += (x[b * C * S + c * S + s] - mean) * (x[b * C * S + c * S + s] - mean);
      var /= double(B * S);
    }
    for (std::size_t b = 0; b < B; ++b)
      for (std::size_t s = 0; s < S; ++s) {
        const std::size_t i = b * C * S + c * S + s;
        y[i] = Act::value(double(p.weight(c)) * (x[i] - mean) / std::sqrt(var + 1e-5) + double(p.bias(c)));
      }
  }
  return y;
}

// Forward of Net (whose batch norm is layer BnIndex, over C channels of S values) against the
// reference, training pass and inference pass, at batch B.
template <class Net, std::size_t BnIndex, std::size_t C, std::size_t S, std::size_t B>
void check_forward() {
  using T = typename Net::value_type;
  using act = typename Net::template layer_t<BnIndex>::activation_type;
  constexpr std::size_t n = C * S;
  static_assert(Net::in_size == n && Net::out_size == n);
  Net net;
  set_batch_norm(tg::get<BnIndex>(net), 0.5);
  tg::matrix<T, B, n> x;
  fill(x, 0.25);
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] += T(0.2 * double(i % 3));  // non-zero means
  std::vector<double> xd(x.data(), x.data() + x.size());
  const double eps = std::is_same_v<T, float> ? 2e-5 : 1e-12;

  typename Net::template workspace<B> ws;
  net.template forward<B, tg::pass::training>(ws, x.data());
  const T* y = Net::template output<B>(ws);
  const auto ref_train = reference_forward<act>(tg::get<BnIndex>(net), xd, B, C, S, B >= 2);
  for (std::size_t b = 0; b < B; ++b) {
    for (std::size_t i = 0; i < n; ++i)
      REQUIRE(double(y[b * tg::padded<T>(n) + i]) == Approx(ref_train[b * n + i]).margin(eps).epsilon(eps));
    for (std::size_t i = n; i < tg::padded<T>(n); ++i) REQUIRE(y[b * tg::padded<T>(n) + i] == T(0));
  }
  const auto y_inf = net(x);
  const auto ref_inf = reference_forward<act>(tg::get<BnIndex>(net), xd, B, C, S, false);
  for (std::size_t i = 0; i < y_inf.size(); ++i)
    REQUIRE(double(y_inf.data()[i]) == Approx(ref_inf[i]).margin(eps).epsilon(eps));
}

}  // namespace

TEMPLATE_TEST_CASE("batch_norm: types, initial values and parameter block", "[layers][batch_norm]", float, double) {
  using namespace tg;
  using net_t = network<input<21, TestType>, unflatten<3, 7>, batch_norm<relu>, flatten, dense<2>>;
  using bn = typename net_t::template layer_t<1>;
  STATIC_REQUIRE(bn::channels == 3);
  STATIC_REQUIRE(bn::spatial == 7);
  STATIC_REQUIRE(bn::modules == 2);
  STATIC_REQUIRE(network<input<5, TestType>, batch_norm<>>::template layer_t<0>::modules == 1);
  STATIC_REQUIRE(network<input<5, TestType>, batch_norm<>>::template layer_t<0>::channels == 5);
  STATIC_REQUIRE(network<input<30, TestType>, unflatten<2, 3, 5>, batch_norm<>>::template layer_t<1>::channels == 2);
  STATIC_REQUIRE(network<input<30, TestType>, unflatten<2, 3, 5>, batch_norm<>>::template layer_t<1>::spatial == 15);
  STATIC_REQUIRE(std::is_same_v<typename bn::activation_type, relu>);
  STATIC_REQUIRE(bn::inference_differs);
  STATIC_REQUIRE(net_t::inference_differs);
  STATIC_REQUIRE(!network<input<5, TestType>, dense<3>>::inference_differs);
  STATIC_REQUIRE(bn::parameters::count() == 6);
  STATIC_REQUIRE(bn::parameters::parameter_blocks == 2);
  STATIC_REQUIRE(tg::layer<bn>);

  net_t net{init::glorot_uniform{3}};  // the initialiser's distribution does not touch batch norm
  const auto& p = get<1>(net);
  for (std::size_t c = 0; c < 3; ++c) {
    REQUIRE(p.weight(c) == TestType(1));
    REQUIRE(p.bias(c) == TestType(0));
    REQUIRE(p.running_mean(c) == TestType(0));
    REQUIRE(p.running_var(c) == TestType(1));
  }
  REQUIRE(p.num_batches_tracked == 0);
  for (std::size_t c = 3; c < padded<TestType>(3); ++c) {
    REQUIRE(p.w_[c] == TestType(0));
    REQUIRE(p.running_var_[c] == TestType(0));
  }

  std::vector<std::string> names;
  p.for_each_tensor([&](std::string_view name, std::initializer_list<std::size_t> shape, const TestType* data,
                        std::size_t rs, std::size_t) {
    names.emplace_back(name);
    REQUIRE(shape.size() == 1);
    REQUIRE(*shape.begin() == 3);
    REQUIRE(rs == 1);
    REQUIRE(data[0] == (names.size() == 1 || names.size() == 4 ? TestType(1) : TestType(0)));
  });
  REQUIRE(names == std::vector<std::string>{"weight", "bias", "running_mean", "running_var"});

  std::size_t visited = 0, weights = 0;
  get<1>(net).for_each([&](auto blk, std::size_t row, std::size_t col, TestType&) {
    ++visited;
    weights += decltype(blk)::value == 0;
    REQUIRE(row < 3);
    REQUIRE(col == 0);
  });
  REQUIRE(visited == 6);
  REQUIRE(weights == 3);

  // Running statistics take part in ==, though not in for_each.
  auto other = net;
  REQUIRE(bool(other == net));
  get<1>(other).running_mean(2) = TestType(0.5);
  REQUIRE(!bool(other == net));
  other = net;
  get<1>(other).num_batches_tracked = 4;
  REQUIRE(!bool(other == net));
}

TEMPLATE_TEST_CASE("batch_norm forward matches a nested-loop reference", "[layers][batch_norm]", float, double) {
  using namespace tg;
  using T = TestType;
  SECTION("flat (N): BatchNorm1d over features") {
    check_forward<network<input<11, T>, batch_norm<>>, 0, 11, 1, 5>();
    check_forward<network<input<11, T>, batch_norm<>>, 0, 11, 1, 1>();
    check_forward<network<input<19, T>, batch_norm<gelu>>, 0, 19, 1, 20>();
  }
  SECTION("(C, L): BatchNorm1d over channels") {
    check_forward<network<input<21, T>, unflatten<3, 7>, batch_norm<tg::tanh>, flatten>, 1, 3, 7, 5>();
    check_forward<network<input<21, T>, unflatten<3, 7>, batch_norm<tg::tanh>, flatten>, 1, 3, 7, 1>();
    check_forward<network<input<34, T>, unflatten<17, 2>, batch_norm<elu>, flatten>, 1, 17, 2, 3>();
  }
  SECTION("(C, H, W): BatchNorm2d") {
    check_forward<network<input<30, T>, unflatten<2, 3, 5>, batch_norm<>, flatten>, 1, 2, 15, 5>();
    check_forward<network<input<30, T>, unflatten<2, 3, 5>, batch_norm<gelu>, flatten>, 1, 2, 15, 2>();
    check_forward<network<input<30, T>, unflatten<2, 3, 5>, batch_norm<sigmoid>, flatten>, 1, 2, 15, 1>();
  }
}

TEMPLATE_TEST_CASE("batch_norm gradients match finite differences (input gradient through a dense layer before it)",
                   "[layers][batch_norm][gradient]", float, double) {
  using namespace tg;
  using T = TestType;
  auto run = [](auto net, auto x, auto t, auto loss) {
    set_batch_norm(get<2>(net), 1.5);
    require_gradient_matches(net, loss, x, t);
  };
  auto batches = [&]<std::size_t B>(std::integral_constant<std::size_t, B>) {
    matrix<T, B, 7> x;
    fill(x);
    matrix<T, B, 3> t;
    fill(t, 1.0);
    // (C, L) = (3, 7): dense → unflatten → batch_norm → flatten → dense
    run(network<input<7, T>, dense<21>, unflatten<3, 7>, batch_norm<tg::tanh>, flatten, dense<3>>{init::glorot_uniform{
            1}},
        x, t, mse{});
    run(network<input<7, T>, dense<21>, unflatten<3, 7>, batch_norm<gelu>, flatten, dense<3>>{init::glorot_uniform{2}},
        x, t, mse{});
    // (C, H, W) = (2, 3, 3)
    run(network<input<7, T>, dense<18>, unflatten<2, 3, 3>, batch_norm<>, flatten, dense<3>>{init::glorot_uniform{3}},
        x, t, mse{});
    // (N) = 9: BatchNorm1d over features
    run(network<input<7, T>, dense<9>, unflatten<9>, batch_norm<softplus>, dense<3>>{init::glorot_uniform{4}}, x, t,
        mse{});
    // The last layer, its sigmoid fused into the loss's gradient.
    matrix<T, B, 5> p;
    fill_probabilities(p);
    run(network<input<7, T>, dense<5>, unflatten<5>, batch_norm<sigmoid>>{init::glorot_uniform{5}}, x, p,
        binary_cross_entropy{});
  };
  SECTION("batch 5 (batch statistics)") { batches(std::integral_constant<std::size_t, 5>{}); }
  SECTION("batch 1 (running statistics)") { batches(std::integral_constant<std::size_t, 1>{}); }
  SECTION("batch 2 and batch 20 (feature-major dense before it)") {
    batches(std::integral_constant<std::size_t, 2>{});
    if constexpr (std::is_same_v<T, double>) batches(std::integral_constant<std::size_t, 20>{});
  }
}

TEMPLATE_TEST_CASE("batch_norm running statistics: one train_step updates them as PyTorch does",
                   "[layers][batch_norm][train]", float, double) {
  using namespace tg;
  using T = TestType;
  constexpr std::size_t B = 5, C = 3, S = 4;
  using net_t = network<input<C * S, T>, unflatten<C, S>, batch_norm<>, flatten, dense<2>>;
  net_t net{init::he_uniform{7}};
  matrix<T, B, C * S> x;
  fill(x, 0.3);
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] += T(0.5 * double(i % 5));
  matrix<T, B, 2> t;
  fill(t, 2.0);
  const double eps = std::is_same_v<T, float> ? 1e-6 : 1e-14;

  const auto before = net;
  const auto g = gradient(net, mse{}, x, t);
  gradient_into(net, mse{}, x, t, *std::make_unique<typename net_t::parameters_type>());
  (void)loss_value(net, mse{}, x, t);
  REQUIRE(bool(net == before));  // gradient, gradient_into and loss_value leave running statistics alone

  train_step(net, mse{}, sgd{0.1}, x, t);
  const auto& p = get<1>(net);
  REQUIRE(p.num_batches_tracked == 1);
  for (std::size_t c = 0; c < C; ++c) {
    double mean = 0, ss = 0;
    for (std::size_t b = 0; b < B; ++b)
      for (std::size_t s = 0; s < S; ++s) mean += double(x(b, c * S + s));
    mean /= double(B * S);
    for (std::size_t b = 0; b < B; ++b)
      for (std::size_t s = 0; s < S; ++s) ss += (double(x(b, c * S + s)) - mean) * (double(x(b, c * S + s)) - mean);
    const double unbiased = ss / double(B * S - 1);
    REQUIRE(double(p.running_mean(c)) == Approx(0.1 * mean).epsilon(eps).margin(eps));
    REQUIRE(double(p.running_var(c)) == Approx(0.9 + 0.1 * unbiased).epsilon(eps).margin(eps));
    // γ and β took the sgd step from the gradient.
    REQUIRE(double(p.weight(c)) == Approx(1.0 - 0.1 * double(get<1>(g).weight(c))).epsilon(eps).margin(eps));
    REQUIRE(double(p.bias(c)) == Approx(-0.1 * double(get<1>(g).bias(c))).epsilon(eps).margin(eps));
  }
  for (std::size_t c = C; c < padded<T>(C); ++c) REQUIRE(p.running_var_[c] == T(0));

  // A second step folds in the new batch's statistics with momentum 0.1.
  const auto rm1 = p.running_mean(1), rv1 = p.running_var(1);
  train_step(net, mse{}, sgd{0.1}, x, t);
  REQUIRE(p.num_batches_tracked == 2);
  double mean = 0;
  for (std::size_t b = 0; b < B; ++b)
    for (std::size_t s = 0; s < S; ++s) mean += double(x(b, S + s));
  mean /= double(B * S);
  REQUIRE(double(p.running_mean(1)) == Approx(0.9 * double(rm1) + 0.1 * mean).epsilon(eps).margin(eps));
  REQUIRE(double(p.running_var(1)) != Approx(double(rv1)).epsilon(1e-3));

  // A batch of one normalises with the running statistics and does not update them.
  const auto after_two = get<1>(net);
  vector<T, C * S> x1;
  fill(x1, 0.9);
  vector<T, 2> t1;
  fill(t1, 0.1);
  train_step(net, mse{}, sgd{0.1}, x1, t1);
  REQUIRE(p.num_batches_tracked == 2);
  for (std::size_t c = 0; c < C; ++c) {
    REQUIRE(p.running_mean(c) == after_two.running_mean(c));
    REQUIRE(p.running_var(c) == after_two.running_var(c));
  }
}

TEMPLATE_TEST_CASE("batch_norm trains with adam (its state never touches the running statistics)",
                   "[layers][batch_norm][train]", float, double) {
  using namespace tg;
  using T = TestType;
  using net_t = network<input<5, T>, dense<13>, batch_norm<relu>, dense<3>>;
  net_t net{init::he_uniform{9}};
  matrix<T, 16, 5> x;
  fill(x);
  matrix<T, 16, 3> t;
  fill(t, 0.7);
  auto opt = make_optimizer(net, adam{.lr = 1e-2});
  const double first = double(loss_value(net, mse{}, x, t));
  for (int step = 0; step < 200; ++step) train_step(net, mse{}, opt, x, t);
  REQUIRE(double(loss_value(net, mse{}, x, t)) < 0.2 * first);
  REQUIRE(get<1>(net).num_batches_tracked == 200);
  REQUIRE(net.is_finite());
  for (std::size_t c = 0; c < 13; ++c) {
    REQUIRE(get<1>(net).running_var(c) > T(0));
    // Adam's moments exist for γ and β only; the state's running statistics stay zero.
    REQUIRE(get<1>(opt.template state<1>()).weight(c) > T(0));
    REQUIRE(get<1>(opt.template state<1>()).running_mean(c) == T(0));
    REQUIRE(get<1>(opt.template state<1>()).running_var(c) == T(0));
    REQUIRE(get<1>(opt.template state<0>()).num_batches_tracked == 0);
  }
}

TEMPLATE_TEST_CASE("fold_batch_norm merges batch norm into the dense layer before it", "[layers][batch_norm][fold]",
                   float, double) {
  using namespace tg;
  using T = TestType;
  using net_t = network<input<7, T>, dense<9>, batch_norm<tg::tanh>, dense<5, relu>, batch_norm<>, linear<5, 17>,
                        batch_norm<>, unflatten<17>, batch_norm<elu>, dense<3>>;
  using folded_t = network<input<7, T>, dense<9, tg::tanh>, dense<5, relu>, batch_norm<>, linear<5, 17>, unflatten<17>,
                           batch_norm<elu>, dense<3>>;
  STATIC_REQUIRE(std::is_same_v<batch_norm_folded_network<net_t>, folded_t>);
  // A dense layer on the last axis of a shaped input does not produce batch norm's channels.
  using shaped_t = network<input<12, T>, unflatten<3, 4>, dense<4>, batch_norm<>, flatten>;
  STATIC_REQUIRE(std::is_same_v<batch_norm_folded_network<shaped_t>, shaped_t>);
  // Nothing to fold: the same type.
  STATIC_REQUIRE(std::is_same_v<batch_norm_folded_network<network<input<4, T>, batch_norm<>, dense<2>>>,
                                network<input<4, T>, batch_norm<>, dense<2>>>);

  net_t net{init::he_uniform{5}};
  matrix<T, 8, 7> x;
  fill(x);
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] += T(0.3);
  matrix<T, 8, 3> t;
  fill(t, 1.0);
  for (int step = 0; step < 20; ++step) train_step(net, mse{}, sgd{0.05}, x, t);  // non-trivial γ, β, statistics
  REQUIRE(get<3>(net).num_batches_tracked == 20);

  const folded_t folded = fold_batch_norm(net);
  REQUIRE(get<2>(folded).num_batches_tracked == 20);  // the batch norm that stays keeps its statistics
  REQUIRE(bool(get<2>(folded) == get<3>(net)));
  const double eps = std::is_same_v<T, float> ? 1e-5 : 1e-12;
  const auto y = net(x), yf = folded(x);
  for (std::size_t i = 0; i < y.size(); ++i)
    REQUIRE(double(yf.data()[i]) == Approx(double(y.data()[i])).epsilon(eps).margin(eps));
  vector<T, 7> x1;
  fill(x1, 2.0);
  const auto y1 = net(x1), yf1 = folded(x1);
  for (std::size_t i = 0; i < y1.size(); ++i) REQUIRE(double(yf1[i]) == Approx(double(y1[i])).epsilon(eps).margin(eps));

  // The shaped network is copied unchanged.
  shaped_t shaped{init::he_uniform{6}};
  set_batch_norm(get<2>(shaped), 0.1);
  REQUIRE(bool(fold_batch_norm(shaped).parameters() == shaped.parameters()));
}

#if TYPEGRAD_TEST_HAS_CONV
TEMPLATE_TEST_CASE("fold_batch_norm merges batch norm into the convolution before it",
                   "[layers][batch_norm][fold][conv]", float, double) {
  using namespace tg;
  using T = TestType;
  using net_t = network<input<50, T>, unflatten<2, 5, 5>, conv2d<3, 3, 3>, batch_norm<tg::tanh>, unflatten<3, 9>,
                        conv1d<4, 3>, batch_norm<>, flatten, dense<2>>;
  using folded_t = network<input<50, T>, unflatten<2, 5, 5>, conv2d<3, 3, 3, tg::tanh>, unflatten<3, 9>, conv1d<4, 3>,
                           flatten, dense<2>>;
  STATIC_REQUIRE(std::is_same_v<batch_norm_folded_network<net_t>, folded_t>);
  net_t net{init::he_uniform{8}};
  matrix<T, 6, 50> x;
  fill(x);
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] += T(0.2 * double(i % 4));
  matrix<T, 6, 2> t;
  fill(t, 1.0);
  for (int step = 0; step < 10; ++step) train_step(net, mse{}, sgd{0.05}, x, t);
  REQUIRE(get<2>(net).num_batches_tracked == 10);
  const folded_t folded = fold_batch_norm(net);
  const double eps = std::is_same_v<T, float> ? 1e-5 : 1e-12;
  const auto y = net(x), yf = folded(x);
  for (std::size_t i = 0; i < y.size(); ++i)
    REQUIRE(double(yf.data()[i]) == Approx(double(y.data()[i])).epsilon(eps).margin(eps));

  // conv → batch norm → activation, as in PyTorch models, against finite differences.
  using small_t = network<input<14, T>, unflatten<2, 7>, conv1d<3, 3>, batch_norm<gelu>, flatten, dense<2>>;
  small_t small{init::he_uniform{4}};
  set_batch_norm(get<2>(small), 0.7);
  matrix<T, 5, 14> xs;
  fill(xs, 0.4);
  matrix<T, 5, 2> ts;
  fill(ts, 1.2);
  require_gradient_matches(small, mse{}, xs, ts);
  vector<T, 14> x1;
  fill(x1, 0.8);
  vector<T, 2> t1;
  fill(t1, 0.3);
  require_gradient_matches(small, mse{}, x1, t1);
}
#endif

// train_step's per-step SGD policy (hyperparameters in T, gradient accumulated onto the first
// layer's weights) and its loss value computed after the backward pass.
#include <catch2/catch.hpp>
#include <typegrad/typegrad.hpp>

#include <cstddef>
#include <type_traits>
#include <vector>

#include "test_support.hpp"

namespace tg = typegrad;
using test_support::fill;
using test_support::fill_probabilities;

namespace {

// w ← w − lr·(g + weight_decay·w) for every parameter, from typegrad::gradient: torch.optim.SGD's
// formula written out independently of the fused kernels.
template <class Net, class Loss, class X, class Target>
std::vector<double> manual_sgd_step(Net net, const Loss& loss, const X& x, const Target& t, double lr, double wd) {
  using T = typename Net::value_type;
  const auto g = tg::gradient(net, loss, x, t);
  std::vector<T> grads;
  g.for_each([&](std::size_t, auto, std::size_t, std::size_t, T v) { grads.push_back(v); });
  std::vector<double> out;
  std::size_t k = 0;
  net.parameters().for_each([&](std::size_t, auto, std::size_t, std::size_t, T w) {
    out.push_back(double(w) - lr * (double(grads[k++]) + wd * double(w)));
  });
  return out;
}

template <class Net>
std::vector<double> parameters_of(const Net& net) {
  std::vector<double> out;
  net.parameters().for_each([&](std::size_t, auto, std::size_t, std::size_t, auto w) { out.push_back(double(w)); });
  return out;
}

template <class T, std::size_t B, class Net, class Loss, class Target>
void check_step(const Loss& loss, const Target& t, double wd) {
  Net net{tg::init::glorot_uniform{7}};
  std::conditional_t<B == 1, tg::vector<T, Net::in_size>, tg::matrix<T, B, Net::in_size>> x;
  fill(x);
  const double lr = 0.05;
  const auto expected = manual_sgd_step(net, loss, x, t, lr, wd);
  const T expected_loss = tg::loss_value(net, loss, x, t);
  tg::sgd opt{.lr = lr, .weight_decay = wd};
  // The value is computed after the backward pass, from the outputs of the forward pass.
  REQUIRE(tg::train_step(net, loss, opt, x, t) == expected_loss);
  const auto got = parameters_of(net);
  REQUIRE(got.size() == expected.size());
  const double eps = std::is_same_v<T, float> ? 2e-6 : 1e-14;  // FMA vs separate roundings
  for (std::size_t i = 0; i < got.size(); ++i) REQUIRE(got[i] == Approx(expected[i]).epsilon(eps).margin(eps));
}

}  // namespace

TEMPLATE_TEST_CASE("train_step with sgd (and weight decay) equals gradient + the SGD formula on small heads",
                   "[network][train][sgd]", float, double) {
  using T = TestType;
  // Input-major first layers (few inputs) take the accumulate-onto-weights path; a binary head
  // takes the fused sigmoid + BCE gradient with the value computed last.
  using xor_net = tg::network<tg::input<2, T>, tg::dense<8, tg::tanh>, tg::dense<1, tg::sigmoid>>;
  using wide_in = tg::network<tg::input<37, T>, tg::dense<3, tg::relu>, tg::dense<2>>;
  // A hidden layer stored input-major (5 → 35) takes the fused one-sample dx + accumulate path.
  using hidden_input_major = tg::network<tg::input<4, T>, tg::dense<5, tg::tanh>, tg::dense<35, tg::relu>, tg::dense<2>>;
  STATIC_REQUIRE(hidden_input_major::template layer_t<1>::input_major);
  for (const double wd : {0.0, 0.01}) {
    tg::vector<T, 1> t1;
    fill_probabilities(t1);
    check_step<T, 1, xor_net>(tg::binary_cross_entropy{}, t1, wd);
    tg::matrix<T, 3, 1> t3;
    fill_probabilities(t3);
    check_step<T, 3, xor_net>(tg::binary_cross_entropy{}, t3, wd);
    tg::vector<T, 2> t2;
    fill(t2, 2.0);
    check_step<T, 1, wide_in>(tg::mse{}, t2, wd);
    tg::matrix<T, 5, 2> t52;
    fill(t52, 2.0);
    check_step<T, 5, wide_in>(tg::mse{}, t52, wd);
    check_step<T, 1, hidden_input_major>(tg::mse{}, t2, wd);
    check_step<T, 5, hidden_input_major>(tg::mse{}, t52, wd);
  }
}

TEMPLATE_TEST_CASE("load_partial fills N lanes and zeroes the rest", "[simd]", float, double) {
  using T = TestType;
  constexpr std::size_t L = tg::lanes<T>;
  T src[L];
  for (std::size_t i = 0; i < L; ++i) src[i] = T(i) + T(0.5);
  auto check = [&]<std::size_t N>() {
    alignas(tg::alignment) T out[L];
    tg::simd::load_partial<T, N>(src).store_aligned(out);
    for (std::size_t i = 0; i < L; ++i) REQUIRE(out[i] == (i < N ? src[i] : T(0)));
  };
  [&]<std::size_t... N>(std::index_sequence<N...>) { (check.template operator()<N + 1>(), ...); }(std::make_index_sequence<L>{});
}

TEMPLATE_TEST_CASE("transpose_sum: lane j is the sum of register j, for the first Rows registers of UsedLanes lanes",
                   "[simd]", float, double) {
  using T = TestType;
  constexpr std::size_t L = tg::lanes<T>;
  auto check = [&]<std::size_t Rows, std::size_t Used>() {
    // Small integers: every sum is exact in any order. Registers past Rows hold values that must
    // not be read (the kernel may not touch them), lanes past Used are zero as the kernels promise.
    tg::simd::batch<T> acc[L];
    alignas(tg::alignment) T lanes_of[L];
    T expected[L] = {};
    for (std::size_t j = 0; j < L; ++j) {
      for (std::size_t i = 0; i < L; ++i) {
        lanes_of[i] = i < Used ? T((j * 7 + i * 3) % 11) - T(5) : T(0);
        if (j < Rows) expected[j] += lanes_of[i];
      }
      acc[j] = tg::simd::batch<T>::load_aligned(lanes_of);
      if (j >= Rows) acc[j] = tg::simd::batch<T>(T(1000));
    }
    alignas(tg::alignment) T out[L];
    tg::simd::transpose_sum<T, Rows, Used>(acc).store_aligned(out);
    INFO("rows " << Rows << ", used lanes " << Used);
    for (std::size_t j = 0; j < L; ++j) REQUIRE(out[j] == expected[j]);
  };
  [&]<std::size_t... R>(std::index_sequence<R...>) {
    ((check.template operator()<R + 1, L>(), check.template operator()<R + 1, (L + 1) / 2>(),
      check.template operator()<R + 1, 1>()),
     ...);
  }(std::make_index_sequence<L>{});
}

TEMPLATE_TEST_CASE("activations with f(0) != 0 keep the parameter padding zero on every batch path", "[network][train][padding]",
                   float, double) {
  using T = TestType;
  using test_support::padding_is_zero;
  // sigmoid(0) = 1/2 and softplus(0) = ln 2: a padding lane of an activation that escaped its
  // mask would give the next layer's padding weights a gradient, and then leak into outputs.
  using input_major_first = tg::network<tg::input<5, T>, tg::dense<7, tg::sigmoid>, tg::dense<3, tg::softplus>,
                                        tg::dense<2, tg::sigmoid>>;
  // (40 inputs to 3 outputs is stored output-major with AVX2 and AVX-512; SSE2's narrow registers
  // make input-major cheaper even there.)
  using output_major_first = tg::network<tg::input<40, T>, tg::dense<3, tg::softplus>, tg::dense<1, tg::sigmoid>>;
  auto run = [&]<class Net, std::size_t B>() {
    Net net{tg::init::glorot_uniform{3}};
    std::conditional_t<B == 1, tg::vector<T, Net::in_size>, tg::matrix<T, B, Net::in_size>> x;
    std::conditional_t<B == 1, tg::vector<T, Net::out_size>, tg::matrix<T, B, Net::out_size>> t;
    fill(x, double(B));
    fill_probabilities(t, double(B));
    tg::sgd opt{.lr = 0.2, .weight_decay = 0.01};
    for (int s = 0; s < 20; ++s) tg::train_step(net, tg::binary_cross_entropy{}, opt, x, t);
    REQUIRE(net.is_finite());
    REQUIRE(padding_is_zero(net.parameters()));
    REQUIRE(padding_is_zero(tg::gradient(net, tg::binary_cross_entropy{}, x, t)));
  };
  // Batch 1 and 3 run row by row; 20 and 40 feature-major (at least one register of samples).
  run.template operator()<input_major_first, 1>();
  run.template operator()<input_major_first, 3>();
  run.template operator()<input_major_first, 20>();
  run.template operator()<input_major_first, 40>();
  run.template operator()<output_major_first, 1>();
  run.template operator()<output_major_first, 3>();
  run.template operator()<output_major_first, 20>();
}

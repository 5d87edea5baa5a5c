// Google Benchmark smoke test of typegrad's hot paths (issue 2): train_step on the small networks
// and one inference. The full comparison against other engines is bench/run.sh.
#include <typegrad/typegrad.hpp>

#include <benchmark/benchmark.h>

#include <cstdint>
#include <iterator>

namespace tg = typegrad;

namespace {

using seed_net = tg::network<tg::input<2>, tg::dense<3, tg::identity>>;
using xor_net = tg::network<tg::input<2>, tg::dense<8, tg::tanh>, tg::dense<1, tg::sigmoid>>;
using cancer_net = tg::network<tg::input<30>, tg::dense<16, tg::relu>, tg::dense<16, tg::relu>, tg::dense<1, tg::sigmoid>>;

// Deterministic inputs in [-1, 1) and 0/1 labels, from typegrad's portable generator.
template <class Tensor>
Tensor filled(std::uint64_t seed) {
  Tensor v;
  tg::random_engine rng{seed};
  float* p = v.data();
  for (std::size_t i = 0; i < std::size(v.data_); ++i) p[i] = float(rng.uniform(-1.0, 1.0));
  return v;
}
template <class Tensor>
Tensor labels(std::uint64_t seed) {
  Tensor v;
  tg::random_engine rng{seed};
  float* p = v.data();
  for (std::size_t i = 0; i < std::size(v.data_); ++i) p[i] = float(rng.below(2));
  return v;
}

// Runs train_step; the parameters go back to their start every 1024 steps (a memcpy of a few KB,
// well under 1% of the time) so that a long run never slides into denormal numbers.
template <class Net, class Loss, class X, class T>
void run_train(benchmark::State& state, const X& x0, const T& t) {
  const Net start{tg::init::he_uniform{7}};
  Net net = start;
  X x = x0;
  tg::sgd opt{0.01};
  long k = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(x);
    benchmark::DoNotOptimize(tg::train_step(net, Loss{}, opt, x, t));
    if ((++k & 1023) == 0) net = start;
  }
  state.SetItemsProcessed(state.iterations());
}

void train_seed_b2(benchmark::State& state) {
  run_train<seed_net, tg::mse>(state, filled<tg::matrix<float, 2, 2>>(1), tg::matrix<float, 2, 3>{});
}
void train_xor_b1(benchmark::State& state) {
  run_train<xor_net, tg::binary_cross_entropy>(state, tg::vector<float, 2>{0, 1}, tg::vector<float, 1>{1});
}
void train_cancer_b1(benchmark::State& state) {
  run_train<cancer_net, tg::binary_cross_entropy>(state, filled<tg::vector<float, 30>>(2), tg::vector<float, 1>{1});
}
void train_cancer_b32(benchmark::State& state) {
  run_train<cancer_net, tg::binary_cross_entropy>(state, filled<tg::matrix<float, 32, 30>>(3),
                                                  labels<tg::matrix<float, 32, 1>>(4));
}
void infer_cancer_b1(benchmark::State& state) {
  const cancer_net net{tg::init::he_uniform{7}};
  auto x = filled<tg::vector<float, 30>>(5);
  for (auto _ : state) {
    benchmark::DoNotOptimize(x);
    auto y = net(x);
    benchmark::DoNotOptimize(y);
  }
  state.SetItemsProcessed(state.iterations());
}

}  // namespace

BENCHMARK(train_seed_b2)->Name("train_step/2-3/b2");
BENCHMARK(train_xor_b1)->Name("train_step/2-8-1/b1");
BENCHMARK(train_cancer_b1)->Name("train_step/30-16-16-1/b1");
BENCHMARK(train_cancer_b32)->Name("train_step/30-16-16-1/b32");
BENCHMARK(infer_cancer_b1)->Name("inference/30-16-16-1/b1");

BENCHMARK_MAIN();

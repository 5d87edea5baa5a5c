// libtorch (C++) stepping bench/stream_bench.cpp's rows one sample at a time (float, one thread,
// no_grad), in ns per call: the issue-10 comparison "stream >= 1000x libtorch stepping the same cell".
// The recurrent rows keep their state between calls (GRUCell / LSTMCell); the conv row keeps the
// last 5 samples and runs Conv1d(1, 12, 5) on them; the dense rows run the whole sample.
// Build: target bench_stream_libtorch (bench/README.md). Run: bench_stream_libtorch [calls, default 20000]
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <tuple>
#include <type_traits>

namespace {

/// Best of 5 rounds of `calls` steps, ns per call; `step` takes the call number.
double ns_per_call(long calls, const std::function<float(long)>& step) {
  double best = 1e30;
  volatile float sink = 0;
  for (int round = 0; round < 5; ++round) {
    float acc = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (long i = 0; i < calls; ++i) acc += step(i);
    const auto t1 = std::chrono::steady_clock::now();
    sink = sink + acc;
    best = std::min(best, std::chrono::duration<double, std::nano>(t1 - t0).count() / double(calls));
  }
  return best;
}

float input(long i) { return float(i & 1023) * 1e-3f; }

template <class Cell>
double recurrent_row(long calls, long hidden) {
  Cell cell(1, hidden);
  torch::nn::Linear head(hidden, 1);
  torch::Tensor h = torch::zeros({1, hidden}), c = torch::zeros({1, hidden});
  return ns_per_call(calls, [&](long i) {
    const auto x = torch::full({1, 1}, input(i));
    if constexpr (std::is_same_v<Cell, torch::nn::LSTMCell>) {
      std::tie(h, c) = cell(x, std::make_tuple(h, c));
    } else {
      h = cell(x, h);
    }
    return head(h).item<float>();
  });
}

double conv_row(long calls) {
  torch::nn::Conv1d conv(torch::nn::Conv1dOptions(1, 12, 5));
  torch::nn::Linear head(12, 1);
  auto window = torch::zeros({1, 1, 5});
  return ns_per_call(calls, [&](long i) {
    window = torch::cat({window.narrow(2, 1, 4), torch::full({1, 1, 1}, input(i))}, 2);
    return head(conv(window).view({1, 12})).item<float>();
  });
}

double dense_row(long calls, long n) {
  torch::nn::Sequential net(torch::nn::Linear(n, n), torch::nn::Tanh(), torch::nn::Linear(n, n));
  auto x = torch::linspace(0, 0.01 * double(n - 1), n).view({1, n});
  return ns_per_call(calls, [&](long i) {
    x[0][0] = input(i);
    return net->forward(x)[0][n - 1].item<float>();
  });
}

}  // namespace

int main(int argc, char** argv) {
  const long calls = argc > 1 ? std::atol(argv[1]) : 20000;
  torch::set_num_threads(1);
  torch::manual_seed(0);
  torch::NoGradGuard no_grad;
  std::printf("libtorch %s, float, 1 thread, no_grad, %ld calls, best of 5\n", TORCH_VERSION, calls);
  std::printf("%-48s %10.0f ns\n", "GRU(1->8)+dense(1)", recurrent_row<torch::nn::GRUCell>(calls, 8));
  std::printf("%-48s %10.0f ns\n", "LSTM(1->8)+dense(1)", recurrent_row<torch::nn::LSTMCell>(calls, 8));
  std::printf("%-48s %10.0f ns\n", "GRU(1->32)+dense(1)", recurrent_row<torch::nn::GRUCell>(calls, 32));
  std::printf("%-48s %10.0f ns\n", "LSTM(1->32)+dense(1)", recurrent_row<torch::nn::LSTMCell>(calls, 32));
  std::printf("%-48s %10.0f ns\n", "causal conv1d 1->12 k5 + dense(12->1)", conv_row(calls));
  std::printf("%-48s %10.0f ns\n", "dense 8->tanh->8", dense_row(calls, 8));
  std::printf("%-48s %10.0f ns\n", "dense 64->tanh->64", dense_row(calls, 64));
}

// libtorch (C++) doing bench/online_bench.cpp's per-sample online step: one GRU step with its
// hidden state kept (no_grad), then forward over the latest 16-sample window from the detached
// state of 16 samples back, MSE, backward, Adam (lr 4e-4). GRU(1, 8, batch_first) + Linear(8, 1),
// float, one thread. Build: target bench_online_libtorch (bench/README.md).
// Run: bench_online_libtorch [samples per round, default 2000]
#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <vector>

namespace {

constexpr long window = 16, period = 4096;
constexpr double pi = 3.14159265358979323846;

struct signal {  // the same input and target as online_bench.cpp
  std::array<float, period> x, t;
  signal() {
    for (long i = 0; i < period; ++i) {
      const double p = 2 * pi * 50.0 * double(i) / 360.0, s = double(i) / double(period);
      x[i] = float(std::sin(p));
      t[i] = float((0.2 + 0.1 * s) * std::sin(p + 2 * s) + 0.05 * std::sin(3 * p));
    }
  }
};

/// Best of 3 rounds, ns per sample of wall time; `cpu` gets the best round's process CPU time per
/// sample (on a loaded machine the wall time of a long round counts other processes' slices too).
double ns_per_sample(long samples, float& last_loss, double& cpu) {
  static const signal sig;
  double best = 1e30;
  cpu = 1e30;
  for (int round = 0; round < 3; ++round) {
    torch::manual_seed(1);
    torch::nn::GRU gru(torch::nn::GRUOptions(1, 8).batch_first(true));
    torch::nn::Linear head(8, 1);
    std::vector<torch::Tensor> params = gru->parameters();
    for (auto& p : head->parameters()) params.push_back(p);
    torch::optim::Adam opt(params, torch::optim::AdamOptions(4e-4));
    torch::Tensor h_stream = torch::zeros({1, 1, 8});
    std::vector<torch::Tensor> ring(window, torch::zeros({1, 1, 8}));
    std::array<float, window> xw, tw;
    float acc = 0, loss_value = 0;
    const auto t0 = std::chrono::steady_clock::now();
    const std::clock_t c0 = std::clock();
    for (long i = 0; i < samples; ++i) {
      const long k = i % period;
      {  // streaming inference: one step, state kept
        torch::NoGradGuard no_grad;
        float x_t = sig.x[k];
        auto [out, h] = gru->forward(torch::from_blob(&x_t, {1, 1, 1}), h_stream);
        h_stream = h;
        acc += head->forward(out).item<float>();
      }
      for (long j = 0; j < window; ++j) {
        const long at = (k + period - (window - 1) + j) % period;
        xw[j] = sig.x[at], tw[j] = sig.t[at];
      }
      auto& h0 = ring[i % window];
      auto [out, h_last] = gru->forward(torch::from_blob(xw.data(), {1, window, 1}), h0);
      auto loss = torch::mse_loss(head->forward(out), torch::from_blob(tw.data(), {1, window, 1}));
      opt.zero_grad();
      loss.backward();
      opt.step();
      h0 = h_last.detach();
      loss_value = loss.item<float>();
    }
    const auto t1 = std::chrono::steady_clock::now();
    const std::clock_t c1 = std::clock();
    cpu = std::min(cpu, double(c1 - c0) / CLOCKS_PER_SEC * 1e9 / double(samples));
    last_loss = loss_value + 0 * acc;
    best = std::min(best, std::chrono::duration<double, std::nano>(t1 - t0).count() / double(samples));
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const long samples = argc > 1 ? std::atol(argv[1]) : 2000;
  if (samples < 1) {
    std::fprintf(stderr, "bench_online_libtorch: samples per round must be a positive integer, got '%s'\n", argv[1]);
    return 2;
  }
  torch::set_num_threads(1);
  float loss = 0;
  double cpu = 0;
  const double ns = ns_per_sample(samples, loss, cpu);
  std::printf(
      "libtorch %s online step, GRU(1,8)+Linear(8,1), window 16, Adam, float, 1 thread, %ld samples per "
      "round, best of 3; loss after the last round %.3g\n",
      TORCH_VERSION, samples, double(loss));
  std::printf("ns_per_sample %.1f\ncpu_ns_per_sample %.1f\n", ns, cpu);
}

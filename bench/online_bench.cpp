// Online learning, one sample at a time (issue 10, section 4): ns per sample of example 07's step
// (which feeds the GRU two reference values; here one, the row) — one streaming inference
// of GRU(1→8) + dense(1) (tg::stream, state kept) and one train_step
// (truncated BPTT, MSE, Adam lr 4e-4, batch 1) on the latest 16-sample window, started from the
// state 16 samples back (16 recurrent_states in a ring). float. bench/online_libtorch.cpp and
// bench/online_pytorch.py do the same step; online_pytorch.py also runs the two binaries and prints
// the ratios.
// Build: target bench_online (bench/README.md). Run: bench_online [samples per round, default 1000]
#include <typegrad/typegrad.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numbers>

namespace tg = typegrad;

namespace {

constexpr std::size_t window = 16, period = 4096;
using net_t = tg::network<tg::input<window>, tg::unflatten<window, 1>, tg::gru<8>, tg::dense<1>>;

volatile float sink;

/// The same deterministic input and target in every engine: a 50 Hz tone sampled at 360 Hz, and
/// as target that tone with drifting amplitude and phase plus a 3rd harmonic.
struct signal {
  std::array<float, period> x, t;
  signal() {
    for (std::size_t i = 0; i < period; ++i) {
      const double p = 2 * std::numbers::pi * 50.0 * double(i) / 360.0, s = double(i) / double(period);
      x[i] = float(std::sin(p));
      t[i] = float((0.2 + 0.1 * s) * std::sin(p + 2 * s) + 0.05 * std::sin(3 * p));
    }
  }
};

enum class part { both, infer, train, both_sgd };

/// Best of 101 rounds of `samples` steps, ns per sample (short rounds: on a loaded machine the best
/// one is the least disturbed); `what` times the whole step or one half.
double ns_per_sample(long samples, part what, float& last_loss) {
  static const signal sig;
  double best = 1e30;
  for (int round = 0; round < 101; ++round) {
    net_t net{tg::init::pytorch_default{1}};
    auto opt = tg::make_optimizer(net, tg::adam{.lr = 4e-4});
    const tg::sgd plain{.lr = 0.01};
    tg::stream s{net};
    std::array<tg::recurrent_state<net_t>, window> states{};
    tg::vector<float, window> xw, tw;
    float acc = 0, loss = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (long i = 0; i < samples; ++i) {
      const std::size_t k = std::size_t(i) % period;
      if (what != part::train) acc += s(tg::vector<float, 1>{sig.x[k]})[0];
      if (what != part::infer) {
        // The latest window, oldest first (what a ring buffer of the last 16 samples holds).
        for (std::size_t j = 0; j < window; ++j) {
          const std::size_t at = (k + period - (window - 1) + j) % period;
          xw[j] = sig.x[at], tw[j] = sig.t[at];
        }
        if (what == part::both_sgd)
          loss = tg::train_step(net, tg::mse{}, plain, states[std::size_t(i) % window], xw, tw);
        else
          loss = tg::train_step(net, tg::mse{}, opt, states[std::size_t(i) % window], xw, tw);
      }
    }
    const auto t1 = std::chrono::steady_clock::now();
    sink = acc + loss;
    last_loss = loss;
    best = std::min(best, std::chrono::duration<double, std::nano>(t1 - t0).count() / double(samples));
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const long samples = argc > 1 ? std::atol(argv[1]) : 1000;
  if (samples < 1) {
    std::fprintf(stderr, "bench_online: samples per round must be a positive integer, got '%s'\n", argv[1]);
    return 2;
  }
  float loss = 0, unused = 0;
  const double both = ns_per_sample(samples, part::both, loss);
  const double infer = ns_per_sample(samples, part::infer, unused);
  const double train = ns_per_sample(samples, part::train, unused);
  const double with_sgd = ns_per_sample(samples, part::both_sgd, unused);
  std::printf(
      "typegrad online step, GRU(1->8)+dense(1), window 16, Adam, float, %zu lanes, %ld samples per round, "
      "best of 101\n",
      tg::lanes<float>, samples);
  std::printf("  stream step alone %.1f ns, train_step alone %.1f ns; loss after the last round %.3g\n", infer, train,
              double(loss));
  std::printf("  48 kHz budget 20833 ns: %.1f %%; the same step with sgd (lr 0.01) instead of Adam: %.1f ns\n",
              100 * both / 20833.3, with_sgd);
  std::printf("ns_per_sample %.1f\n", both);
}

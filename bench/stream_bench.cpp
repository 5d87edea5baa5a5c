// Streaming inference, one sample in and out per call, state kept (issue 10, section 3): ns per
// call of tg::stream on the rows RTNeural's compile-time ModelT was measured on (float).
// Build: see bench/README.md (target bench_stream).
// Run: bench_stream [calls per round, default 2000000] [rounds, default 7]; on a loaded machine
// many short rounds (e.g. 20000 300) find the undisturbed ones.
#include <typegrad/typegrad.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace tg = typegrad;

namespace {

constexpr std::size_t steps = 64;  // the window the network is declared over; a stream never sees it

using gru8_t = tg::network<tg::input<steps>, tg::unflatten<steps, 1>, tg::gru<8>, tg::dense<1>>;
using lstm8_t = tg::network<tg::input<steps>, tg::unflatten<steps, 1>, tg::lstm<8>, tg::dense<1>>;
using gru32_t = tg::network<tg::input<steps>, tg::unflatten<steps, 1>, tg::gru<32>, tg::dense<1>>;
using lstm32_t = tg::network<tg::input<steps>, tg::unflatten<steps, 1>, tg::lstm<32>, tg::dense<1>>;
using conv_t =
    tg::network<tg::input<steps>, tg::unflatten<1, steps>, tg::conv1d<12, 5, tg::causal>, tg::transpose, tg::dense<1>>;
using dense8_t = tg::network<tg::input<8>, tg::dense<8, tg::tanh>, tg::dense<8>>;
using dense64_t = tg::network<tg::input<64>, tg::dense<64, tg::tanh>, tg::dense<64>>;
using dense8_one_t = tg::network<tg::input<8>, tg::dense<8, tg::tanh>>;
using dense64_one_t = tg::network<tg::input<64>, tg::dense<64, tg::tanh>>;

volatile float sink;

/// Best of `rounds` rounds of `calls` steps, in ns per call. Each input depends on the call number and
/// every output is read, so nothing is hoisted out of the loop.
template <class Net>
double ns_per_call(long calls, int rounds) {
  const Net net{tg::init::pytorch_default{1}};
  tg::stream s{net};
  using stream_t = decltype(s);
  tg::vector<float, stream_t::step_in_size> x;
  for (std::size_t k = 0; k < x.size(); ++k) x[k] = 0.01f * float(k);
  double best = 1e30;
  for (int round = 0; round < rounds; ++round) {
    s.reset();
    // One running sum per output (not one sum of all: that would be a chain of dependent adds
    // as long as the output, timed with the step).
    tg::vector<float, stream_t::step_out_size> acc;
    const auto t0 = std::chrono::steady_clock::now();
    for (long i = 0; i < calls; ++i) {
      x[0] = float(i & 1023) * 1e-3f;
      const auto y = s(x);
      for (std::size_t k = 0; k < y.size(); ++k) acc[k] += y[k];
    }
    const auto t1 = std::chrono::steady_clock::now();
    sink = acc[0] + acc[acc.size() - 1];
    best = std::min(best, std::chrono::duration<double, std::nano>(t1 - t0).count() / double(calls));
  }
  return best;
}

struct row {
  const char* name;
  double (*run)(long, int);
  double rtneural;  // ns per call, from the issue (2-core Zen 5, AVX-512, best backend); 0: none
};

}  // namespace

int main(int argc, char** argv) {
  const long calls = argc > 1 ? std::atol(argv[1]) : 2000000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 7;
  const row rows[] = {
      {"GRU(1->8)+dense(1)", ns_per_call<gru8_t>, 68},
      {"LSTM(1->8)+dense(1)", ns_per_call<lstm8_t>, 61},
      {"GRU(1->32)+dense(1)", ns_per_call<gru32_t>, 99},
      {"LSTM(1->32)+dense(1)", ns_per_call<lstm32_t>, 102},
      {"causal conv1d 1->12 k5 + dense(12->1)", ns_per_call<conv_t>, 14},
      {"dense 8->tanh->8 (dense<8,tanh>, dense<8>)", ns_per_call<dense8_t>, 27},
      {"dense 64->tanh->64 (dense<64,tanh>, dense<64>)", ns_per_call<dense64_t>, 205},
      {"  one layer: dense<8,tanh> on 8 inputs", ns_per_call<dense8_one_t>, 0},
      {"  one layer: dense<64,tanh> on 64 inputs", ns_per_call<dense64_one_t>, 0},
  };
  std::printf("float, %zu lanes per register (%zu-bit), %ld calls per round, best of %d\n", tg::lanes<float>,
              tg::lanes<float> * 32, calls, rounds);
  std::printf("%-48s %10s %10s %8s\n", "row", "typegrad", "RTNeural", "ratio");
  for (const auto& r : rows) {
    const double ns = r.run(calls, rounds);
    if (r.rtneural > 0)
      std::printf("%-48s %8.1f ns %7.0f ns %7.2fx\n", r.name, ns, r.rtneural, r.rtneural / ns);
    else
      std::printf("%-48s %8.1f ns %10s %8s\n", r.name, ns, "-", "-");
  }
}

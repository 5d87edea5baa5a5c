// The compile-cost probe of issue 12 for a recurrent network: a GRU(1→8) + dense(1) over 16-step
// windows trained with truncated BPTT (a recurrent_state) and run one step at a time (tg::stream),
// through the umbrella header. bench/driver.py compiles it with the flagship's flags beside dlib's
// one-net TU.
#include <typegrad/typegrad.hpp>

#include <cstddef>
#include <cstdio>
#include <random>

namespace tg = typegrad;
using net_t = tg::network<tg::input<16>, tg::unflatten<16, 1>, tg::gru<8>, tg::dense<1>>;

int main() {
  std::mt19937 rng(1);
  std::normal_distribution<float> noise;
  tg::matrix<float, 1, 16> x, t;
  net_t net{tg::init::pytorch_default{1}};
  tg::recurrent_state<net_t> state;
  tg::sgd opt{0.05};
  float loss = 0;
  for (int window = 0; window < 200; ++window) {
    for (std::size_t j = 0; j < 16; ++j) t(0, j) = x(0, j) = noise(rng);
    loss = tg::train_step(net, tg::mse{}, opt, state, x, t);
  }
  tg::stream s{net};
  float y = 0;
  for (int step = 0; step < 100; ++step) y = s(tg::vector<float, 1>{noise(rng)})[0];
  std::printf("loss %g, last output %g\n", double(loss), double(y));
  return 0;
}

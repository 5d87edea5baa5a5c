// The compile-cost probe of issue 12: one network as a new user writes it (the flagship's cancer
// net, a training loop and inference) through the umbrella header. bench/driver.py compiles it
// with the flagship's flags next to dlib_one_net.cpp, the same network and loop in dlib.
#include <typegrad/typegrad.hpp>

#include <cstddef>
#include <cstdio>
#include <random>

namespace tg = typegrad;
using net_t = tg::network<tg::input<30>, tg::dense<16, tg::relu>, tg::dense<16, tg::relu>, tg::dense<1, tg::sigmoid>>;
constexpr std::size_t batch = 16;

int main() {
  std::mt19937 rng(1);
  std::normal_distribution<float> noise;
  tg::matrix<float, batch, 30> x;
  tg::matrix<float, batch, 1> t;
  for (std::size_t i = 0; i < batch; ++i) {
    float s = 0;
    for (std::size_t j = 0; j < 30; ++j) s += x(i, j) = noise(rng);
    t(i, 0) = s > 0 ? 1.0f : 0.0f;
  }
  net_t net{tg::init::he_uniform{1}};
  tg::sgd opt{0.05};
  float loss = 0;
  for (int epoch = 0; epoch < 200; ++epoch) loss = tg::train_step(net, tg::binary_cross_entropy{}, opt, x, t);
  const auto y = net(x);
  std::printf("loss %g, first output %g\n", double(loss), double(y(0, 0)));
  return 0;
}

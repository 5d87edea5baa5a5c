// The compile-cost probe of issue 12 for a convolutional network: the digits CNN of example 05
// (conv2d → max_pool2d → conv2d → flatten → dense) with a training loop and inference, through the
// umbrella header. bench/driver.py compiles it with the flagship's flags beside dlib's one-net TU.
#include <typegrad/typegrad.hpp>

#include <array>
#include <cstddef>
#include <cstdio>
#include <random>

namespace tg = typegrad;
using net_t = tg::network<tg::input<64>, tg::unflatten<1, 8, 8>, tg::conv2d<16, 3, 3, tg::relu, tg::padding<1>>,
                          tg::max_pool2d<2>, tg::conv2d<32, 3, 3, tg::relu, tg::padding<1>>, tg::flatten, tg::dense<10>>;
constexpr std::size_t batch = 16;

int main() {
  std::mt19937 rng(1);
  std::normal_distribution<float> noise;
  tg::matrix<float, batch, 64> x;
  std::array<std::size_t, batch> t;  // class indices
  for (std::size_t i = 0; i < batch; ++i) {
    for (std::size_t j = 0; j < 64; ++j) x(i, j) = noise(rng);
    t[i] = i % 10;
  }
  net_t net{tg::init::he_uniform{1}};
  tg::sgd opt{0.05};
  float loss = 0;
  for (int epoch = 0; epoch < 200; ++epoch) loss = tg::train_step(net, tg::softmax_cross_entropy{}, opt, x, t);
  const auto y = net(x);
  std::printf("loss %g, first output %g\n", double(loss), double(y(0, 0)));
  return 0;
}

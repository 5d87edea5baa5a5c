// 02: a 2-8-1 network (tanh, sigmoid) learns XOR with binary cross-entropy and plain SGD.
#include <typegrad/typegrad.hpp>

#include <cstdio>

namespace tg = typegrad;

int main() {
  using net_t = tg::network<tg::input<2>, tg::dense<8, tg::tanh>, tg::dense<1, tg::sigmoid>>;
  net_t net{tg::init::glorot_uniform{3}};
  const tg::matrix<float, 4, 2> x{{0, 0}, {0, 1}, {1, 0}, {1, 1}};
  const tg::matrix<float, 4, 1> t{{0}, {1}, {1}, {0}};
  tg::sgd opt{0.5};

  float loss = 0;
  for (int epoch = 0; epoch <= 2000; ++epoch) {
    loss = tg::train_step(net, tg::binary_cross_entropy{}, opt, x, t);  // the whole batch of 4
    if (epoch % 400 == 0) std::printf("epoch %4d  loss %.5f\n", epoch, loss);
  }
  const auto y = net(x);
  bool all_right = true;
  for (std::size_t r = 0; r < 4; ++r) {
    std::printf("xor(%g, %g) = %.4f  (target %g)\n", x(r, 0), x(r, 1), y(r, 0), t(r, 0));
    all_right = all_right && ((y(r, 0) > 0.5f) == (t(r, 0) > 0.5f));
  }
  return all_right ? 0 : 1;
}

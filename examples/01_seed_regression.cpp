// 01: the seed text's TensorFlow program, done in types.
//
// The original: inputs [[1, 2], [3, 4]], a 2 -> 3 linear layer, loss mean(y²), gradient descent
// with learning rate 0.01 for 1000 iterations, printing W every 100. It also added a [3, 1]
// random tensor to the [batch, 3] output: a shape error TensorFlow reports only at run time.
// Here that line would not compile (see tests/compile_fail/seed_bias_shape.cpp).
#include <typegrad/typegrad.hpp>

#include <cstdio>

namespace tg = typegrad;

// mean(y²): a loss written as an expression; its derivative 2y is derived at compile time.
using mean_square = tg::elementwise_loss<decltype(tg::y * tg::y)>;

int main() {
  tg::network<tg::input<2>, tg::dense<3>> net{tg::init::glorot_uniform{2024}};
  const tg::matrix<float, 2, 2> x{{1, 2}, {3, 4}};
  const tg::matrix<float, 2, 3> unused_target{};  // mean(y²) ignores t
  tg::sgd opt{0.01};

  auto print_w = [&](int step, float loss) {
    const auto& layer = tg::get<0>(net);
    std::printf("step %4d  loss %.6f  W = [", step, loss);
    for (std::size_t o = 0; o < 3; ++o)
      std::printf("[% .5f % .5f]%s", layer.weight(o, 0), layer.weight(o, 1), o < 2 ? " " : "");
    std::printf("]  b = [% .5f % .5f % .5f]\n", layer.bias(0), layer.bias(1), layer.bias(2));
  };
  const float initial = tg::loss_value(net, mean_square{}, x, unused_target);
  float loss = 0;
  for (int step = 0; step < 1000; ++step) {
    loss = tg::train_step(net, mean_square{}, opt, x, unused_target);
    if (step % 100 == 0) print_w(step, loss);
  }
  loss = tg::loss_value(net, mean_square{}, x, unused_target);
  print_w(1000, loss);
  // mean(y²) is minimised by y = 0, which an affine map can reach: the loss must have collapsed.
  return loss < initial / 50 ? 0 : 1;
}

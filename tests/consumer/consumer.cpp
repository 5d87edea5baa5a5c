// A consumer program: trains a tiny network one step and checks that the loss went down.
#include <typegrad/typegrad.hpp>

#include <cstdio>

int main() {
  namespace tg = typegrad;
  tg::network<tg::input<3>, tg::dense<4, tg::tanh>, tg::dense<1>> net{tg::init::glorot_uniform{7}};
  tg::vector<float, 3> x{0.5f, -1.0f, 2.0f};
  tg::vector<float, 1> t{0.25f};
  tg::sgd opt{0.05};
  const float before = tg::train_step(net, tg::mse{}, opt, x, t);
  const float after = tg::loss_value(net, tg::mse{}, x, t);
  std::printf("loss %g -> %g\n", before, after);
  return after < before ? 0 : 1;
}

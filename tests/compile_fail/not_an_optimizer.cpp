// expect: update_policy
// train_step's third argument must be an optimizer (sgd{lr}, make_optimizer(net, adam{...}), ...).
#include <typegrad/typegrad.hpp>
namespace tg = typegrad;
float f() {
  tg::network<tg::input<3>, tg::dense<1>> net;
  tg::vector<float, 3> x;
  tg::vector<float, 1> t;
#ifdef TYPEGRAD_CONTROL
  tg::sgd opt{0.1};
#else
  double opt = 0.1;  // a learning rate is not an optimizer
#endif
  return tg::train_step(net, tg::mse{}, opt, x, t);
}

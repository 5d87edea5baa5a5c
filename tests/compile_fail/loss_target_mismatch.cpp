// expect: loss_does_not_fit_output<typegrad::binary_cross_entropy, typegrad::vector<float, 2>, float, 1, 1, 1>.*the loss does not fit
// The last layer (layer 1) produces 1 output; a target of 2 values does not fit it.
#include <typegrad/typegrad.hpp>
namespace tg = typegrad;
float f() {
  tg::network<tg::input<3>, tg::dense<4, tg::relu>, tg::dense<1, tg::sigmoid>> net;
  tg::vector<float, 3> x;
#ifdef TYPEGRAD_CONTROL
  tg::vector<float, 1> t;
#else
  tg::vector<float, 2> t;
#endif
  tg::sgd opt{0.1};
  return tg::train_step(net, tg::binary_cross_entropy{}, opt, x, t);
}

// expect: must produce at least 2 logits
#include <typegrad/typegrad.hpp>
namespace tg = typegrad;
float f() {
#ifdef TYPEGRAD_CONTROL
  tg::network<tg::input<3>, tg::dense<2>> net;
#else
  tg::network<tg::input<3>, tg::dense<1>> net;
#endif
  tg::vector<float, 3> x;
  tg::sgd opt{0.1};
  return tg::train_step(net, tg::softmax_cross_entropy{}, opt, x, 0);
}

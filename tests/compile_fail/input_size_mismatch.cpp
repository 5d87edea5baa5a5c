// expect: the input has the wrong number of features
#include <typegrad/typegrad.hpp>
namespace tg = typegrad;
float f() {
  tg::network<tg::input<30>, tg::dense<1, tg::sigmoid>> net;
#ifdef TYPEGRAD_CONTROL
  tg::vector<float, 30> x;
#else
  tg::vector<float, 29> x;
#endif
  tg::vector<float, 1> t;
  tg::sgd opt{0.1};
  return tg::train_step(net, tg::binary_cross_entropy{}, opt, x, t);
}

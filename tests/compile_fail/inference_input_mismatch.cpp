// expect: the input has the wrong number of features
#include <typegrad/typegrad.hpp>
namespace tg = typegrad;
float f() {
  tg::network<tg::input<4>, tg::dense<2>> net;
#ifdef TYPEGRAD_CONTROL
  tg::matrix<float, 3, 4> x;
#else
  tg::matrix<float, 3, 5> x;
#endif
  return net(x)(0, 0);
}

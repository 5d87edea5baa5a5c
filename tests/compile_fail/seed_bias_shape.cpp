// expect: cannot combine tensors of different shapes element-wise
// The seed text's TensorFlow program adds a [3, 1] tensor to a [batch, 3] output; TensorFlow
// reports that only at run time. In typegrad the same mistake does not compile.
#include <typegrad/typegrad.hpp>
namespace tg = typegrad;
float f() {
  tg::network<tg::input<2>, tg::dense<3>> net;
  const tg::matrix<float, 2, 2> x{{1, 2}, {3, 4}};
#ifdef TYPEGRAD_CONTROL
  const tg::matrix<float, 2, 3> noise{};
#else
  const tg::matrix<float, 3, 1> noise{};
#endif
  const auto y = net(x) + noise;
  return y(0, 0);
}

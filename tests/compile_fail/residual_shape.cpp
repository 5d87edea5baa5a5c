// expect: residual_shape_mismatch<1, typegrad::shape<8>, typegrad::shape<5> ?>.*adds its body's output to its input|adds its body's output to its input.*residual_shape_mismatch<1, typegrad::shape<8>, typegrad::shape<5> ?>
// x + f(x) needs f to keep the shape: the body maps 8 values to 5.
#include <typegrad/typegrad.hpp>
namespace tg = typegrad;
#ifdef TYPEGRAD_CONTROL
using net_t = tg::network<tg::input<4>, tg::dense<8, tg::relu>, tg::residual<tg::dense<5, tg::relu>, tg::dense<8>>, tg::dense<1>>;
#else
using net_t = tg::network<tg::input<4>, tg::dense<8, tg::relu>, tg::residual<tg::dense<5, tg::relu>>, tg::dense<1>>;
#endif
net_t net;

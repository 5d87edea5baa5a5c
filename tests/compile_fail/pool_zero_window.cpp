// expect: (pool_zero_window_or_stride<1, typegrad::max_pool2d<0, 1>, 0, 1, float, typegrad::shape<2, 4, 4> ?>.*both must be at least 1|both must be at least 1.*pool_zero_window_or_stride<1, typegrad::max_pool2d<0, 1>, 0, 1, float, typegrad::shape<2, 4, 4> ?>)
// An empty window has no maximum.
#include <typegrad/typegrad.hpp>
namespace tg = typegrad;
#ifdef TYPEGRAD_CONTROL
using net_t = tg::network<tg::input<32>, tg::unflatten<2, 4, 4>, tg::max_pool2d<1, 1>, tg::flatten, tg::dense<2>>;
#else
using net_t = tg::network<tg::input<32>, tg::unflatten<2, 4, 4>, tg::max_pool2d<0, 1>, tg::flatten, tg::dense<2>>;
#endif
net_t net;

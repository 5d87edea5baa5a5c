// expect: (pool_zero_window_or_stride<1, typegrad::max_pool1d<2, 0>, 2, 0, float, typegrad::shape<3, 4> ?>.*both must be at least 1|both must be at least 1.*pool_zero_window_or_stride<1, typegrad::max_pool1d<2, 0>, 2, 0, float, typegrad::shape<3, 4> ?>)
// A stride of 0 would never move the window.
#include <typegrad/typegrad.hpp>
namespace tg = typegrad;
#ifdef TYPEGRAD_CONTROL
using net_t = tg::network<tg::input<12>, tg::unflatten<3, 4>, tg::max_pool1d<2, 1>, tg::flatten, tg::dense<2>>;
#else
using net_t = tg::network<tg::input<12>, tg::unflatten<3, 4>, tg::max_pool1d<2, 0>, tg::flatten, tg::dense<2>>;
#endif
net_t net;

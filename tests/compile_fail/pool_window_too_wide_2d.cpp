// expect: (pool_window_larger_than_input<1, typegrad::avg_pool2d<4, 1>, typegrad::shape<2, 6, 3>, 4, float>.*does not fit its input|does not fit its input.*pool_window_larger_than_input<1, typegrad::avg_pool2d<4, 1>, typegrad::shape<2, 6, 3>, 4, float>)
// A 4x4 window on 6x3 images: avg_pool2d<K, S> needs K <= H and K <= W.
#include <typegrad/typegrad.hpp>
namespace tg = typegrad;
#ifdef TYPEGRAD_CONTROL
using net_t = tg::network<tg::input<36>, tg::unflatten<2, 6, 3>, tg::avg_pool2d<3, 1>, tg::flatten, tg::dense<2>>;
#else
using net_t = tg::network<tg::input<36>, tg::unflatten<2, 6, 3>, tg::avg_pool2d<4, 1>, tg::flatten, tg::dense<2>>;
#endif
net_t net;

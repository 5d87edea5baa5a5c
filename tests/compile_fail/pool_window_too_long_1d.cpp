// expect: (pool_window_larger_than_input<2, typegrad::max_pool1d<5, 1>, typegrad::shape<3, 4>, 5, float>.*does not fit its input|does not fit its input.*pool_window_larger_than_input<2, typegrad::max_pool1d<5, 1>, typegrad::shape<3, 4>, 5, float>)
// A window of 5 along a length of 4: max_pool1d<K, S> needs K <= L.
#include <typegrad/typegrad.hpp>
namespace tg = typegrad;
#ifdef TYPEGRAD_CONTROL
using net_t = tg::network<tg::input<12>, tg::dense<12>, tg::unflatten<3, 4>, tg::max_pool1d<4, 1>, tg::flatten, tg::dense<2>>;
#else
using net_t = tg::network<tg::input<12>, tg::dense<12>, tg::unflatten<3, 4>, tg::max_pool1d<5, 1>, tg::flatten, tg::dense<2>>;
#endif
net_t net;

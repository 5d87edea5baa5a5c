// expect: (global_avg_pool_flat_input<1, typegrad::shape<12>, float>.*has one axis only|has one axis only.*global_avg_pool_flat_input<1, typegrad::shape<12>, float>)
// global_avg_pool averages every axis but the channels: a flat input has no such axis.
#include <typegrad/typegrad.hpp>
namespace tg = typegrad;
#ifdef TYPEGRAD_CONTROL
using net_t = tg::network<tg::input<12>, tg::dense<12>, tg::unflatten<3, 4>, tg::global_avg_pool, tg::dense<2>>;
#else
using net_t = tg::network<tg::input<12>, tg::dense<12>, tg::global_avg_pool, tg::dense<2>>;
#endif
net_t net;

// expect: (pool_input_rank_mismatch<1, typegrad::avg_pool1d<2, 1>, typegrad::shape<12>, 2, float>.*needs rank|needs rank.*pool_input_rank_mismatch<1, typegrad::avg_pool1d<2, 1>, typegrad::shape<12>, 2, float>)
// A flat input has no channel axis: unflatten<C, L> it before pooling.
#include <typegrad/typegrad.hpp>
namespace tg = typegrad;
#ifdef TYPEGRAD_CONTROL
using net_t = tg::network<tg::input<12>, tg::dense<12>, tg::unflatten<1, 12>, tg::avg_pool1d<2, 1>, tg::flatten, tg::dense<2>>;
#else
using net_t = tg::network<tg::input<12>, tg::dense<12>, tg::avg_pool1d<2, 1>, tg::flatten, tg::dense<2>>;
#endif
net_t net;

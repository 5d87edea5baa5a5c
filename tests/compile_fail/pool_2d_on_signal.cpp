// expect: (pool_input_rank_mismatch<1, typegrad::max_pool2d<2, 1>, typegrad::shape<2, 16>, 3, float>.*needs rank|needs rank.*pool_input_rank_mismatch<1, typegrad::max_pool2d<2, 1>, typegrad::shape<2, 16>, 3, float>)
// max_pool2d pools a (C, H, W) image; a (C, L) signal needs max_pool1d.
#include <typegrad/typegrad.hpp>
namespace tg = typegrad;
#ifdef TYPEGRAD_CONTROL
using net_t = tg::network<tg::input<32>, tg::unflatten<2, 4, 4>, tg::max_pool2d<2, 1>, tg::flatten, tg::dense<2>>;
#else
using net_t = tg::network<tg::input<32>, tg::unflatten<2, 16>, tg::max_pool2d<2, 1>, tg::flatten, tg::dense<2>>;
#endif
net_t net;

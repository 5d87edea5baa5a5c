// expect: (conv_channels_not_divisible_by_groups<1, typegrad::conv2d<4, 3, 3, typegrad::relu, typegrad::groups<2> ?>, typegrad::shape<3, 6, 6>, 3, 4, 2>.*must both be divisible by groups|must both be divisible by groups.*conv_channels_not_divisible_by_groups<1, typegrad::conv2d<4, 3, 3, typegrad::relu, typegrad::groups<2> ?>, typegrad::shape<3, 6, 6>, 3, 4, 2>)
// 3 input channels cannot be split into 2 groups.
#include <typegrad/typegrad.hpp>
namespace tg = typegrad;
#ifdef TYPEGRAD_CONTROL
using net_t = tg::network<tg::input<4 * 36>, tg::unflatten<4, 6, 6>, tg::conv2d<4, 3, 3, tg::relu, tg::groups<2>>>;
#else
using net_t = tg::network<tg::input<3 * 36>, tg::unflatten<3, 6, 6>, tg::conv2d<4, 3, 3, tg::relu, tg::groups<2>>>;
#endif
net_t net;

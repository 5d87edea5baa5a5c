// expect: (conv_channels_not_divisible_by_groups<1, typegrad::conv1d<5, 3, typegrad::groups<2> ?>, typegrad::shape<4, 10>, 4, 5, 2>.*must both be divisible by groups|must both be divisible by groups.*conv_channels_not_divisible_by_groups<1, typegrad::conv1d<5, 3, typegrad::groups<2> ?>, typegrad::shape<4, 10>, 4, 5, 2>)
// 5 output channels cannot be split into 2 groups (the 4 input channels can).
#include <typegrad/typegrad.hpp>
namespace tg = typegrad;
#ifdef TYPEGRAD_CONTROL
using net_t = tg::network<tg::input<40>, tg::unflatten<4, 10>, tg::conv1d<6, 3, tg::groups<2>>>;
#else
using net_t = tg::network<tg::input<40>, tg::unflatten<4, 10>, tg::conv1d<5, 3, tg::groups<2>>>;
#endif
net_t net;

// expect: (conv_causal_on_conv2d<1, typegrad::conv2d<2, 3, 3, typegrad::causal> ?>.*causal padding is for conv1d only|causal padding is for conv1d only.*conv_causal_on_conv2d<1, typegrad::conv2d<2, 3, 3, typegrad::causal> ?>)
#include <typegrad/typegrad.hpp>
namespace tg = typegrad;
#ifdef TYPEGRAD_CONTROL
using net_t = tg::network<tg::input<50>, tg::unflatten<2, 5, 5>, tg::conv2d<2, 3, 3, tg::padding_same>>;
#else
using net_t = tg::network<tg::input<50>, tg::unflatten<2, 5, 5>, tg::conv2d<2, 3, 3, tg::causal>>;
#endif
net_t net;

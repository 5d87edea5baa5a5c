// expect: (conv_padding_same_with_stride<1, typegrad::conv1d<4, 3, typegrad::tanh, typegrad::padding_same, typegrad::stride<2(, 2)?> ?>, 2>.*padding_same needs stride 1|padding_same needs stride 1.*conv_padding_same_with_stride<1, typegrad::conv1d<4, 3, typegrad::tanh, typegrad::padding_same, typegrad::stride<2(, 2)?> ?>, 2>)
// PyTorch refuses padding='same' with a stride; so does typegrad, at compile time.
#include <typegrad/typegrad.hpp>
namespace tg = typegrad;
#ifdef TYPEGRAD_CONTROL
using net_t = tg::network<tg::input<20>, tg::unflatten<2, 10>, tg::conv1d<4, 3, tg::tanh, tg::padding<1>, tg::stride<2>>>;
#else
using net_t = tg::network<tg::input<20>, tg::unflatten<2, 10>, tg::conv1d<4, 3, tg::tanh, tg::padding_same, tg::stride<2>>>;
#endif
net_t net;

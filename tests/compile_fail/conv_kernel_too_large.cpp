// expect: (conv_kernel_larger_than_input<1, typegrad::conv1d<4, 5, typegrad::identity, typegrad::dilation<2(, 2)?> ?>, typegrad::shape<2, 8>, typegrad::shape<9>, typegrad::shape<8> ?>.*the kernel, dilated, spans|the kernel, dilated, spans.*conv_kernel_larger_than_input<1, typegrad::conv1d<4, 5, typegrad::identity, typegrad::dilation<2(, 2)?> ?>, typegrad::shape<2, 8>, typegrad::shape<9>, typegrad::shape<8> ?>)
// A 5-tap kernel with dilation 2 spans 9 positions; the signal has 8 and no padding.
#include <typegrad/typegrad.hpp>
namespace tg = typegrad;
#ifdef TYPEGRAD_CONTROL
using net_t = tg::network<tg::input<16>, tg::unflatten<2, 8>, tg::conv1d<4, 5, tg::identity, tg::dilation<2>, tg::padding<1>>>;
#else
using net_t = tg::network<tg::input<16>, tg::unflatten<2, 8>, tg::conv1d<4, 5, tg::identity, tg::dilation<2>>>;
#endif
net_t net;

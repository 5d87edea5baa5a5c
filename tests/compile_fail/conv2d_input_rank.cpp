// expect: (conv_input_rank_mismatch<1, typegrad::conv2d<4, 3, 3>, typegrad::shape<2, 18> ?>.*.C, H, W. for conv2d|.C, H, W. for conv2d.*conv_input_rank_mismatch<1, typegrad::conv2d<4, 3, 3>, typegrad::shape<2, 18> ?>)
#include <typegrad/typegrad.hpp>
namespace tg = typegrad;
#ifdef TYPEGRAD_CONTROL
using net_t = tg::network<tg::input<36>, tg::unflatten<2, 3, 6>, tg::conv2d<4, 3, 3>>;
#else
using net_t = tg::network<tg::input<36>, tg::unflatten<2, 18>, tg::conv2d<4, 3, 3>>;
#endif
net_t net;

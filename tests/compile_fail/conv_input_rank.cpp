// expect: (conv_input_rank_mismatch<0, typegrad::conv1d<4, 3>, typegrad::shape<12> ?>.*needs an input of shape .C, L. for conv1d|needs an input of shape .C, L. for conv1d.*conv_input_rank_mismatch<0, typegrad::conv1d<4, 3>, typegrad::shape<12> ?>)
// A flat input must be given its channels first: unflatten<1, 12> (one channel of 12 values).
#include <typegrad/typegrad.hpp>
namespace tg = typegrad;
#ifdef TYPEGRAD_CONTROL
using net_t = tg::network<tg::input<12>, tg::unflatten<1, 12>, tg::conv1d<4, 3>>;
#else
using net_t = tg::network<tg::input<12>, tg::conv1d<4, 3>>;
#endif
net_t net;

// expect: (sequence_input_not_2d<2, typegrad::last_step, typegrad::shape<4> ?>.*needs a 2-D input|needs a 2-D input.*sequence_input_not_2d<2, typegrad::last_step, typegrad::shape<4> ?>)
// last_step keeps the last step of a sequence; after last_step the output is flat already.
#include <typegrad/typegrad.hpp>
namespace tg = typegrad;
#ifdef TYPEGRAD_CONTROL
using net_t = tg::network<tg::input<12>, tg::unflatten<3, 4>, tg::last_step>;
#else
using net_t = tg::network<tg::input<12>, tg::unflatten<3, 4>, tg::last_step, tg::last_step>;
#endif
net_t net;

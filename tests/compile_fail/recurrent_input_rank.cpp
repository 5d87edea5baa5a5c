// expect: (recurrent_input_not_a_sequence<0, typegrad::gru<8> ?, typegrad::shape<16> ?>.*needs an input of shape .Steps, Features.|needs an input of shape .Steps, Features..*recurrent_input_not_a_sequence<0, typegrad::gru<8> ?, typegrad::shape<16> ?>)
// A flat input must be seen as a sequence first: unflatten<16, 1> (16 steps of one feature).
#include <typegrad/typegrad.hpp>
namespace tg = typegrad;
#ifdef TYPEGRAD_CONTROL
using net_t = tg::network<tg::input<16>, tg::unflatten<16, 1>, tg::gru<8>>;
#else
using net_t = tg::network<tg::input<16>, tg::gru<8>>;
#endif
net_t net;

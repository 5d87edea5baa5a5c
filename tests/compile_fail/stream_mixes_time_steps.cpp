// expect: (layer_mixes_time_steps<3, typegrad::detail::dense_layer<.*would mix time steps|would mix time steps.*layer_mixes_time_steps<3, typegrad::detail::dense_layer<)
// A dense layer after flattening a sequence reads every step at once: it cannot run per step.
#include <typegrad/typegrad.hpp>
namespace tg = typegrad;
#ifdef TYPEGRAD_CONTROL
using net_t = tg::network<tg::input<12>, tg::unflatten<6, 2>, tg::gru<4>, tg::last_step, tg::dense<1>>;
#else
using net_t = tg::network<tg::input<12>, tg::unflatten<6, 2>, tg::gru<4>, tg::flatten, tg::dense<1>>;
#endif
net_t net;
tg::stream<net_t> s{net};

// expect: (layer_cannot_stream<2, typegrad::detail::pool_layer<.*cannot run one step at a time|cannot run one step at a time.*layer_cannot_stream<2, typegrad::detail::pool_layer<)
// A pooling layer needs its whole window: it has no step-by-step form, and stream<Net> says which layer.
#include <typegrad/typegrad.hpp>
namespace tg = typegrad;
#ifdef TYPEGRAD_CONTROL
using net_t = tg::network<tg::input<24>, tg::unflatten<1, 24>, tg::conv1d<4, 3, tg::relu, tg::causal>, tg::transpose,
                          tg::dense<1>>;
#else
using net_t = tg::network<tg::input<24>, tg::unflatten<1, 24>, tg::conv1d<4, 3, tg::relu, tg::causal>,
                          tg::max_pool1d<2>, tg::transpose, tg::dense<1>>;
#endif
net_t net;
tg::stream<net_t> s{net};

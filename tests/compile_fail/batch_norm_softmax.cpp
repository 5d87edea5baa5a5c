// expect: batch_norm<Act>: layer .*element-wise activation
// batch norm's activation is applied per value; softmax is a per-sample map.
#include <typegrad/typegrad.hpp>
namespace tg = typegrad;
#ifdef TYPEGRAD_CONTROL
using net_t = tg::network<tg::input<4>, tg::dense<3>, tg::batch_norm<tg::tanh>>;
#else
using net_t = tg::network<tg::input<4>, tg::dense<3>, tg::batch_norm<tg::softmax>>;
#endif
net_t net;

// expect: layer_size_mismatch<1, typegrad::linear<30, 1, typegrad::sigmoid>, 30, typegrad::dense<16, typegrad::relu>, 16>.*layer size mismatch between consecutive layers
// linear<In, Out> states its input size; 30 does not match the 16 outputs of the layer before it.
#include <typegrad/typegrad.hpp>
namespace tg = typegrad;
#ifdef TYPEGRAD_CONTROL
using net_t = tg::network<tg::input<30>, tg::dense<16, tg::relu>, tg::linear<16, 1, tg::sigmoid>>;
#else
using net_t = tg::network<tg::input<30>, tg::dense<16, tg::relu>, tg::linear<30, 1, tg::sigmoid>>;
#endif
net_t net;

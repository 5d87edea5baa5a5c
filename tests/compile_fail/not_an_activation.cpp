// expect: Act must be an activation
#include <typegrad/typegrad.hpp>
namespace tg = typegrad;
#ifdef TYPEGRAD_CONTROL
tg::network<tg::input<3>, tg::dense<2, tg::relu>> net;
#else
tg::network<tg::input<3>, tg::dense<2, tg::mse>> net;
#endif

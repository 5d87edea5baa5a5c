// expect: unflatten_size_mismatch<1, typegrad::shape<64>, typegrad::shape<1, 8, 7> >.*the sizes differ
// unflatten<1, 8, 7> has 56 values; the dense layer before it produces 64.
#include <typegrad/typegrad.hpp>
namespace tg = typegrad;
#ifdef TYPEGRAD_CONTROL
using net_t = tg::network<tg::input<30>, tg::dense<64, tg::relu>, tg::unflatten<1, 8, 8>, tg::flatten, tg::dense<2>>;
#else
using net_t = tg::network<tg::input<30>, tg::dense<64, tg::relu>, tg::unflatten<1, 8, 7>, tg::flatten, tg::dense<2>>;
#endif
net_t net;

// expect: parallel_branch<float, 0, 1, typegrad::shape<6>, 4, typegrad::branch<typegrad::unflatten<2, 3>, typegrad::conv1d<2, 5(, typegrad::identity)?> ?> ?>.*the kernel, dilated, spans
// A mistake inside a branch: the conv1d kernel (5) is longer than branch 1's signal (3); the
// compiler's "required from" lines name the parallel (layer 0) and the branch (1).
#include <typegrad/typegrad.hpp>
namespace tg = typegrad;
#ifdef TYPEGRAD_CONTROL
using net_t = tg::network<tg::inputs<tg::input<4>, tg::input<6>>,
                          tg::parallel<tg::branch<tg::dense<3>>, tg::branch<tg::unflatten<2, 3>, tg::conv1d<2, 3>>>, tg::dense<1>>;
#else
using net_t = tg::network<tg::inputs<tg::input<4>, tg::input<6>>,
                          tg::parallel<tg::branch<tg::dense<3>>, tg::branch<tg::unflatten<2, 3>, tg::conv1d<2, 5>>>, tg::dense<1>>;
#endif
net_t net;

// expect: parallel_input_count_mismatch<0, 2, 3>.*branch j takes input j|branch j takes input j.*parallel_input_count_mismatch<0, 2, 3>
// Two network inputs, three branches: a parallel right after inputs<...> takes one input per branch.
#include <typegrad/typegrad.hpp>
namespace tg = typegrad;
#ifdef TYPEGRAD_CONTROL
using net_t = tg::network<tg::inputs<tg::input<4>, tg::input<6>>,
                          tg::parallel<tg::branch<tg::dense<3>>, tg::branch<tg::dense<2>>>, tg::dense<1>>;
#else
using net_t = tg::network<tg::inputs<tg::input<4>, tg::input<6>>,
                          tg::parallel<tg::branch<tg::dense<3>>, tg::branch<tg::dense<2>>, tg::branch<tg::dense<2>>>, tg::dense<1>>;
#endif
net_t net;

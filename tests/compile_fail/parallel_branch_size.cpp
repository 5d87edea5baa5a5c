// expect: parallel_branch_size_mismatch<0, 1, 5, 6>.*branch Branch: its first layer expects|branch Branch: its first layer expects.*parallel_branch_size_mismatch<0, 1, 5, 6>
// Branch 1 takes the second input (6 values), but its linear<5, 2> states 5.
#include <typegrad/typegrad.hpp>
namespace tg = typegrad;
#ifdef TYPEGRAD_CONTROL
using net_t = tg::network<tg::inputs<tg::input<4>, tg::input<6>>,
                          tg::parallel<tg::branch<tg::linear<4, 3>>, tg::branch<tg::linear<6, 2>>>, tg::dense<1>>;
#else
using net_t = tg::network<tg::inputs<tg::input<4>, tg::input<6>>,
                          tg::parallel<tg::branch<tg::linear<4, 3>>, tg::branch<tg::linear<5, 2>>>, tg::dense<1>>;
#endif
net_t net;

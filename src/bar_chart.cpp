// The compiled part of explain/bar_chart.hpp: the chart drawing and its PNG, built once into the
// typegrad library.
#include <typegrad/explain/bar_chart.hpp>

#include <typegrad/explain/detail/bar_chart_impl.ipp>

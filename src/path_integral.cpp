// The compiled part of explain/integrated_gradients.hpp: the path integral and its refinement
// (explain/detail/path_integral.hpp), built once into the typegrad library.
#include <typegrad/explain/detail/path_integral.hpp>

#include <typegrad/explain/detail/path_integral_impl.ipp>

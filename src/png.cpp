// The compiled part of io/png.hpp: the PNG encoder, built once into the typegrad library.
#include <typegrad/io/png.hpp>

#include <typegrad/io/detail/png_impl.ipp>

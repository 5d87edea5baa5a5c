// The compiled part of io/safetensors.hpp: the header parser and writer (the only code that
// includes nlohmann-json) and the file I/O, built once into the typegrad library.
#include <typegrad/io/safetensors.hpp>

#include <typegrad/io/detail/safetensors_impl.ipp>

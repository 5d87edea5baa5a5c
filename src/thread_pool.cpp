// The compiled part of train/thread_pool.hpp: the worker threads, built once into the typegrad
// library.
#include <typegrad/train/thread_pool.hpp>

#include <typegrad/train/detail/thread_pool_impl.ipp>

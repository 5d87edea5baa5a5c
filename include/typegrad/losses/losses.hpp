// Umbrella for typegrad's losses and the loss concept.
#pragma once
#include <typegrad/losses/elementwise.hpp>
#include <typegrad/losses/softmax_cross_entropy.hpp>

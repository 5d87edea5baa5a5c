// Combinators: layers whose insides are layer lists (inputs, parallel + concat, residual).
#pragma once

#include <typegrad/layers/parallel.hpp>
#include <typegrad/layers/residual.hpp>

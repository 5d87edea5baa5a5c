// Umbrella for typegrad's expression templates.
#pragma once
#include <typegrad/expr/core.hpp>
#include <typegrad/expr/eval.hpp>
#include <typegrad/expr/ops.hpp>

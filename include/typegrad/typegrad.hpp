// typegrad: neural networks and their losses as C++ types. Include this one header.
#pragma once

#include <typegrad/activations/activation.hpp>
#include <typegrad/activations/builtin.hpp>
#include <typegrad/check/gradient_check.hpp>
#include <typegrad/core/config.hpp>
#include <typegrad/core/init.hpp>
#include <typegrad/core/random.hpp>
#include <typegrad/core/tensor.hpp>
#include <typegrad/core/tensor_ops.hpp>
#include <typegrad/data/dataset.hpp>
#include <typegrad/data/split.hpp>
#include <typegrad/data/standardizer.hpp>
#include <typegrad/expr/expr.hpp>
#include <typegrad/io/csv.hpp>
#include <typegrad/io/error.hpp>
#include <typegrad/io/npy.hpp>
#include <typegrad/io/weights.hpp>
#include <typegrad/layers/dense.hpp>
#include <typegrad/losses/losses.hpp>
#include <typegrad/network/network.hpp>
#include <typegrad/network/train.hpp>
#include <typegrad/optim/optim.hpp>
#include <typegrad/train/fit.hpp>
#include <typegrad/train/metrics.hpp>

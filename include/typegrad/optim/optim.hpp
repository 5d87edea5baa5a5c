// Umbrella for typegrad's optimizers: sgd, adam, adamw, lr schedules, clipping, optimizer objects.
#pragma once
#include <typegrad/optim/adam.hpp>
#include <typegrad/optim/apply_gradient.hpp>
#include <typegrad/optim/clip.hpp>
#include <typegrad/optim/optimizer.hpp>
#include <typegrad/optim/schedule.hpp>
#include <typegrad/optim/sgd.hpp>

// Learning-rate schedules: constant, step, exponential, cosine annealing, linear warm-up, chains.
#pragma once

#include <cmath>
#include <concepts>
#include <cstddef>
#include <numbers>

namespace typegrad {

// Every schedule is a function lr(t, base_lr) of the number t of optimizer steps already taken
// (t = 0 for the first train_step) and the optimizer's base lr. This is PyTorch's closed form with
// `scheduler.step()` called once after every `optimizer.step()`, i.e. t is PyTorch's last_epoch:
// the unit is the train_step, not the epoch. For a per-epoch schedule, give its sizes in steps
// (e.g. step_lr{.step_size = 30 * batches_per_epoch}).

/// A learning-rate schedule: `s.lr(t, base_lr)` is the lr of step t (0-based).
template <class S>
concept lr_schedule = requires(const S& s, std::size_t t, double base) {
  { s.lr(t, base) } -> std::convertible_to<double>;
};

/// The base lr at every step (no scheduler).
struct constant_lr {
  constexpr double lr(std::size_t, double base) const noexcept { return base; }
};

/// torch.optim.lr_scheduler.StepLR: base · gamma^⌊t / step_size⌋.
struct step_lr {
  std::size_t step_size = 1;
  double gamma = 0.1;
  double lr(std::size_t t, double base) const noexcept {
    return base * std::pow(gamma, static_cast<double>(t / (step_size == 0 ? 1 : step_size)));
  }
};

/// torch.optim.lr_scheduler.ExponentialLR: base · gamma^t.
struct exponential_lr {
  double gamma = 0.99;
  double lr(std::size_t t, double base) const noexcept { return base * std::pow(gamma, static_cast<double>(t)); }
};

/// torch.optim.lr_scheduler.CosineAnnealingLR: eta_min + (base − eta_min)·(1 + cos(π t / t_max))/2.
/// Past t_max it rises again (period 2·t_max), as PyTorch's does.
struct cosine_annealing_lr {
  std::size_t t_max = 1;
  double eta_min = 0;
  double lr(std::size_t t, double base) const noexcept {
    const double phase = std::numbers::pi * static_cast<double>(t) / static_cast<double>(t_max == 0 ? 1 : t_max);
    return eta_min + (base - eta_min) * (1 + std::cos(phase)) / 2;
  }
};

/// Linear warm-up, torch.optim.lr_scheduler.LinearLR: the lr is multiplied by a factor going
/// linearly from start_factor (t = 0) to end_factor (t ≥ total_iters). PyTorch's defaults.
/// Chain it with another schedule to warm that one up (see chain()).
struct linear_warmup {
  double start_factor = 1.0 / 3.0;
  double end_factor = 1.0;
  std::size_t total_iters = 5;
  double lr(std::size_t t, double base) const noexcept {
    if (t >= total_iters) return base * end_factor;
    return base * (start_factor + (end_factor - start_factor) * static_cast<double>(t) / static_cast<double>(total_iters));
  }
};

/// Two schedules applied in turn: `second.lr(t, first.lr(t, base))`. For schedules that scale the
/// lr (step, exponential, warm-up, cosine with eta_min = 0) the factors multiply, which is what
/// torch.optim.lr_scheduler.ChainedScheduler([first, second]) does.
template <lr_schedule First, lr_schedule Second>
struct chained_lr {
  First first;
  Second second;
  double lr(std::size_t t, double base) const noexcept { return second.lr(t, first.lr(t, base)); }
};

/// Composes schedules, e.g. `chain(linear_warmup{.start_factor = 0.1, .total_iters = 100},
/// cosine_annealing_lr{.t_max = 10000})`. constant_lr drops out.
template <lr_schedule First, lr_schedule Second>
constexpr auto chain(const First& first, const Second& second) noexcept {
  if constexpr (std::same_as<First, constant_lr>) return second;
  else if constexpr (std::same_as<Second, constant_lr>) return first;
  else return chained_lr<First, Second>{first, second};
}
template <lr_schedule First, lr_schedule Second, lr_schedule... Rest>
  requires(sizeof...(Rest) > 0)
constexpr auto chain(const First& first, const Second& second, const Rest&... rest) noexcept {
  return chain(chain(first, second), rest...);
}

}  // namespace typegrad

// optimizer<Net, Algorithm, Schedule, Clip>: a stateful optimizer (momentum, Adam moments, lr
// schedule, clipping) that train_step fuses into the backward sweep; make_optimizer builds one.
#pragma once

#include <array>
#include <cassert>
#include <concepts>
#include <cstddef>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include <boost/hana/for_each.hpp>
#include <boost/hana/range.hpp>

#include <typegrad/core/config.hpp>
#include <typegrad/network/network.hpp>
#include <typegrad/optim/clip.hpp>
#include <typegrad/optim/schedule.hpp>
#include <typegrad/simd/kernels.hpp>

namespace typegrad {

/// An optimizer's hyperparameters and update rule (typegrad::sgd, adam, adamw): `lr`,
/// `state_slots` parameter-shaped buffers, per-step `constants<T>(step, lr)`, a register-wide
/// `step(constants, state_pointers, w, g)` returning the new w, and `invalid()` (nullptr if OK).
template <class A>
concept optimizer_algorithm = requires(const A& a, std::size_t t, double lr) {
  { a.lr } -> std::convertible_to<double>;
  { A::state_slots } -> std::convertible_to<std::size_t>;
  a.template constants<float>(t, lr);
  { a.invalid() } -> std::convertible_to<const char*>;
};

/// An optimizer's clipping option: clip_grad_norm or no_clipping.
template <class C>
concept clipping_option = requires(const C& c, double norm) {
  { C::enabled } -> std::convertible_to<bool>;
  { c.scale(norm) } -> std::convertible_to<double>;
};

namespace detail {

// Calls f(param_c, offset) for every register of one layer's parameter blocks.
template <class Block, class F>
void for_each_block_register(F&& f) noexcept {
  using T = typename Block::value_type;
  boost::hana::for_each(boost::hana::make_range(boost::hana::size_c<0>, boost::hana::size_c<Block::parameter_blocks>),
                        [&](auto P) {
                          constexpr std::size_t n = padded_block_size<Block, decltype(P)::value>();
                          for (std::size_t off = 0; off < n; off += lanes<T>) f(simd::param_c<decltype(P)::value>{}, off);
                        });
}

/// What the dense kernel calls for one layer: the step's constants (copied, so they stay in
/// registers) and that layer's blocks of each state buffer, indexed by the kernel's offset.
template <class Algorithm, class T, class Block, std::size_t Slots>
struct stateful_updater {
  typename Algorithm::template step_constants<T> constants;
  std::array<Block*, Slots> state;
  static constexpr bool writes_parameters = true;

  template <std::size_t P, class V>
  V update(simd::param_c<P> p, std::size_t offset, const V& w, const V& g) noexcept {
    assert(offset + V::size <= (padded_block_size<Block, P>()) && "typegrad::optimizer used with another network");
    std::array<T*, Slots> at;
    for (std::size_t k = 0; k < Slots; ++k) at[k] = state[k]->data(p) + offset;
    return Algorithm::step(constants, at, w, g);
  }
};

}  // namespace detail

/// A stateful optimizer for networks of type Net. Hand it to train_step by reference:
///
///     net_t net{typegrad::init::he_uniform{42}};
///     auto opt = typegrad::make_optimizer(net, typegrad::adam{.lr = 1e-3});
///     // or: typegrad::optimizer<net_t, typegrad::adam> opt{typegrad::adam{.lr = 1e-3}};
///     for (...) typegrad::train_step(net, typegrad::mse{}, opt, x, t);
///
/// Options (any order, after the algorithm): lr schedules (chained in the order given, see
/// optim/schedule.hpp) and one typegrad::clip_grad_norm{max_norm}:
///
///     auto opt = typegrad::make_optimizer(net, typegrad::sgd{.lr = 0.1, .momentum = 0.9, .nesterov = true},
///                                         typegrad::linear_warmup{.start_factor = 0.1, .total_iters = 100},
///                                         typegrad::cosine_annealing_lr{.t_max = 10000},
///                                         typegrad::clip_grad_norm{1.0});
///
/// State: Algorithm::state_slots objects of Net::parameters_type (momentum buffer; Adam's m and v),
/// held by value (no heap), zero-initialised; their padding stays zero because a zero gradient on
/// a zero weight gives a zero update. train_step calls begin_step() once (advancing step_count()
/// and evaluating the schedule at the step count before it, as PyTorch calls scheduler.step()
/// after every optimizer.step()), then layer<I>() for each layer's fused updater. With
/// clip_grad_norm the global norm needs the whole gradient first, so needs_full_gradient is set and
/// train_step calls apply(parameters, gradient) instead; without it the update stays fused.
template <network_type Net, optimizer_algorithm Algorithm, lr_schedule Schedule = constant_lr,
          clipping_option Clip = no_clipping>
class optimizer {
 public:
  using net_type = Net;
  using value_type = typename Net::value_type;
  using parameters_type = typename Net::parameters_type;
  using algorithm_type = Algorithm;
  using schedule_type = Schedule;
  using clip_type = Clip;
  static constexpr std::size_t state_slots = Algorithm::state_slots;
  static constexpr bool writes_parameters = true;
  static constexpr bool needs_full_gradient = Clip::enabled;

  /// Throws std::invalid_argument for hyperparameters PyTorch rejects (lr < 0, β ∉ [0, 1), ...).
  explicit optimizer(const Algorithm& algorithm = {}, const Schedule& schedule = {}, const Clip& clip = {})
      : algorithm_(algorithm), schedule_(schedule), clip_(clip) {
    if (const char* why = algorithm_.invalid()) throw std::invalid_argument(why);
  }

  /// Starts one update: the step count advances and the step's lr and constants are fixed.
  void begin_step() noexcept {
    last_lr_ = schedule_.lr(step_, algorithm_.lr);
    ++step_;
    constants_ = algorithm_.template constants<value_type>(step_, last_lr_);
  }

  /// Layer I's updater for the fused backward sweep (valid for the current step).
  template <std::size_t I>
  auto layer() noexcept {
    using block_t = std::remove_cvref_t<decltype(get<I>(std::declval<parameters_type&>()))>;
    detail::stateful_updater<Algorithm, value_type, block_t, state_slots> u{constants_, {}};
    for (std::size_t k = 0; k < state_slots; ++k) u.state[k] = &get<I>(state_[k]);
    return u;
  }

  /// Applies the current step to `params` from a whole gradient, clipping it first when Clip
  /// says so (train_step calls this after begin_step() when needs_full_gradient).
  void apply(parameters_type& params, const parameters_type& grad) noexcept {
    const value_type scale = static_cast<value_type>(Clip::enabled ? clip_.scale(grad_norm_ = global_norm(grad)) : 1.0);
    using V = simd::batch<value_type>;
    boost::hana::for_each(boost::hana::make_range(boost::hana::size_c<0>, boost::hana::size_c<Net::depth>), [&](auto I) {
      constexpr std::size_t i = decltype(I)::value;
      auto u = layer<i>();
      auto& block = get<i>(params);
      const auto& g_block = get<i>(grad);
      using block_t = std::remove_cvref_t<decltype(block)>;
      if constexpr (block_t::parameter_blocks > 0)  // reshapes and pooling have no data() to sweep
        detail::for_each_block_register<block_t>([&](auto p, std::size_t off) {
          V g = V::load_aligned(g_block.data(p) + off);
          if constexpr (Clip::enabled) g *= V(scale);
          u.update(p, off, V::load_aligned(block.data(p) + off), g).store_aligned(block.data(p) + off);
        });
    });
  }

  /// One whole step from a gradient computed elsewhere (e.g. typegrad::gradient, accumulated).
  void step(parameters_type& params, const parameters_type& grad) noexcept {
    begin_step();
    apply(params, grad);
  }

  /// Number of steps taken (PyTorch's state["step"]).
  std::size_t step_count() const noexcept { return step_; }
  /// The lr the next step will use (PyTorch's scheduler.get_last_lr() after scheduler.step()).
  double learning_rate() const noexcept { return schedule_.lr(step_, algorithm_.lr); }
  /// The lr the last step used (0 before the first step).
  double last_learning_rate() const noexcept { return last_lr_; }
  /// With clip_grad_norm, the gradient's global norm before clipping at the last step (else 0).
  double gradient_norm() const noexcept { return grad_norm_; }

  /// Hyperparameters; the base lr can be changed between steps (schedules scale it).
  Algorithm& algorithm() noexcept { return algorithm_; }
  const Algorithm& algorithm() const noexcept { return algorithm_; }
  const Schedule& schedule() const noexcept { return schedule_; }
  const Clip& clipping() const noexcept { return clip_; }

  /// State buffer K, shaped like the parameters (sgd: 0 = momentum buffer; adam/adamw: 0 = m, 1 = v).
  template <std::size_t K>
  const parameters_type& state() const noexcept {
    static_assert(K < state_slots, "typegrad::optimizer::state<K>: this algorithm has fewer state buffers");
    return state_[K];
  }

  /// Back to step 0 with zero state (hyperparameters kept).
  void reset() noexcept {
    state_ = {};
    step_ = 0;
    last_lr_ = 0;
    grad_norm_ = 0;
  }

 private:
  Algorithm algorithm_;
  Schedule schedule_;
  Clip clip_;
  std::size_t step_ = 0;
  double last_lr_ = 0;
  double grad_norm_ = 0;
  typename Algorithm::template step_constants<value_type> constants_{};
  std::array<parameters_type, state_slots> state_{};
};

namespace detail {

template <class Net, class Algorithm, class Schedule, class Clip>
auto build_optimizer(const Algorithm& a, const Schedule& s, const Clip& c) {
  return optimizer<Net, Algorithm, Schedule, Clip>(a, s, c);
}
template <class Net, class Algorithm, class Schedule, class Clip, class First, class... Rest>
auto build_optimizer(const Algorithm& a, const Schedule& s, const Clip& c, const First& first, const Rest&... rest) {
  if constexpr (lr_schedule<First>) {
    return build_optimizer<Net>(a, chain(s, first), c, rest...);
  } else if constexpr (clipping_option<First>) {
    static_assert(!Clip::enabled, "typegrad::make_optimizer(net, algorithm, options...): give at most one clip_grad_norm");
    return build_optimizer<Net>(a, s, first, rest...);
  } else {
    static_assert(sizeof(First) == 0,  // always false, once First is known
                  "typegrad::make_optimizer(net, algorithm, options...): an option is neither an lr schedule "
                  "(step_lr, exponential_lr, cosine_annealing_lr, linear_warmup, ...) nor clip_grad_norm");
    return build_optimizer<Net>(a, s, c, rest...);
  }
}

}  // namespace detail

/// An optimizer for `net`'s type (the network itself is not stored): `make_optimizer(net,
/// typegrad::adam{}, options...)` with options lr schedules and/or one clip_grad_norm.
template <network_type Net, optimizer_algorithm Algorithm, class... Options>
auto make_optimizer(const Net&, const Algorithm& algorithm, const Options&... options) {
  return detail::build_optimizer<std::remove_cvref_t<Net>>(algorithm, constant_lr{}, no_clipping{}, options...);
}

}  // namespace typegrad

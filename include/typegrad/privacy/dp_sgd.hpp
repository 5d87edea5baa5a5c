// DP-SGD (Abadi et al. 2016): per-example clipping, Gaussian noise, any optimizer; fit's private epochs.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <numeric>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <boost/hana/for_each.hpp>
#include <boost/hana/range.hpp>

#include <typegrad/core/random.hpp>
#include <typegrad/core/tensor.hpp>
#include <typegrad/data/dataset.hpp>
#include <typegrad/data/split.hpp>
#include <typegrad/network/network.hpp>
#include <typegrad/network/train.hpp>
#include <typegrad/optim/apply_gradient.hpp>
#include <typegrad/optim/clip.hpp>
#include <typegrad/optim/optimizer.hpp>
#include <typegrad/privacy/accountant.hpp>
#include <typegrad/train/fit.hpp>
#include <typegrad/simd/kernels.hpp>

namespace typegrad::privacy {

/// How fit draws the lots (DP-SGD's mini-batches).
enum class lot_sampling {
  poisson,    ///< every example joins each lot independently with probability q: what the accountant assumes
  fixed_size  ///< lots of exactly L from a shuffled epoch, accounted at q = L/N as in Abadi et al. (see README)
};

/// DP-SGD settings: `privacy::fit_options::privacy`. Off while noise_multiplier is 0.
struct dp_sgd_options {
  double noise_multiplier = 0;  ///< σ: the noise has std σ·C per coordinate (> 0 turns DP-SGD on)
  double max_grad_norm = 1.0;   ///< C: each example's whole gradient is clipped to this L2 norm
  double delta = 1e-5;          ///< δ at which fit reports ε
  std::size_t lot_size = 0;     ///< L, the (expected) lot size; 0: fit's batch size B
  lot_sampling sampling = lot_sampling::poisson;
  conversion accounting = conversion::improved;
  /// Seeds the noise and the lot sampling. Reproducible for experiments; a deployment must seed
  /// it from a secure source (e.g. std::random_device on Linux, /dev/urandom), never a constant.
  std::uint64_t noise_seed = 0;
  bool enabled() const noexcept { return noise_multiplier > 0; }
};

/// How many lots an epoch has and the sampling rate q the accountant uses. Poisson: as Opacus's
/// DPDataLoader, ⌈N/L⌉ lots with q = 1/⌈N/L⌉ (expected lot size q·N ≤ L, one expected pass per
/// epoch). Fixed size: ⌊N/L⌋ lots of exactly L (the rest of the shuffled epoch is dropped), q = L/N.
struct lot_plan {
  double sample_rate = 0;          ///< q
  std::size_t lots_per_epoch = 0;  ///< steps per epoch
  double expected_lot_size = 0;    ///< the divisor of the noisy sum: q·N (Poisson) or L
};

/// The lot plan for N examples and lot size L. @throws std::invalid_argument if L is 0 or > N.
inline lot_plan plan_lots(std::size_t examples, std::size_t lot_size, lot_sampling sampling) {
  if (lot_size == 0 || lot_size > examples)
    throw std::invalid_argument("typegrad::privacy::plan_lots: the lot size " + std::to_string(lot_size) +
                                " must be between 1 and the number of training examples, " + std::to_string(examples));
  if (sampling == lot_sampling::poisson) {
    const std::size_t lots = (examples + lot_size - 1) / lot_size;
    const double q = 1.0 / double(lots);
    return {q, lots, q * double(examples)};
  }
  return {double(lot_size) / double(examples), examples / lot_size, double(lot_size)};
}

/// One DP-SGD step at a time for networks of type Net: add each example of a lot (its gradient is
/// computed alone, at batch 1, and scaled to L2 norm ≤ C over all layers), then step(): Gaussian
/// noise N(0, σ²C²) on every coordinate of the sum, division by the (expected) lot size, and the
/// optimizer. Only two parameter-shaped buffers exist (the sum and one example's gradient, on the
/// heap, allocated once); add_example and step allocate nothing and are noexcept.
///
///     typegrad::privacy::dp_sgd<net_t> dp{{.noise_multiplier = 1.1, .max_grad_norm = 1.0, .noise_seed = seed}};
///     for (auto i : lot) dp.add_example(net, typegrad::binary_cross_entropy{}, x[i], t[i]);
///     dp.step(net, opt, expected_lot_size);
///
/// σ = 0 gives clipped, noiseless steps (no privacy: useful for tests). Batch norm is rejected: its
/// batch statistics mix examples, so a per-example gradient does not exist (as in Opacus).
template <network_type Net>
class dp_sgd {
 public:
  using value_type = typename Net::value_type;
  using parameters_type = typename Net::parameters_type;

  /// @throws std::invalid_argument for σ < 0, C ≤ 0 (or not finite), or a network with batch norm.
  explicit dp_sgd(const dp_sgd_options& options)
      : options_(options), sum_(std::make_unique<parameters_type>()), example_(std::make_unique<parameters_type>()),
        rng_(options.noise_seed) {
    if (!(options.noise_multiplier >= 0) || std::isinf(options.noise_multiplier))
      throw std::invalid_argument("typegrad::privacy::dp_sgd: the noise multiplier " +
                                  std::to_string(options.noise_multiplier) + " is not a finite value >= 0");
    if (!(options.max_grad_norm > 0) || std::isinf(options.max_grad_norm))
      throw std::invalid_argument("typegrad::privacy::dp_sgd: max_grad_norm " + std::to_string(options.max_grad_norm) +
                                  " is not a finite value > 0");
    if (Net::inference_differs)
      throw std::invalid_argument("typegrad::privacy::dp_sgd: the network has batch_norm, whose batch statistics mix "
                                  "examples, so per-example gradients (and DP-SGD's clipping) do not exist");
  }

  /// Adds one example (x: one sample, t: its target as the loss takes it), its gradient scaled by
  /// min(1, C/(‖g‖ + 1e-6)) (Opacus's form; last_clip_factor()), to the lot's sum; returns its
  /// loss. An example with a non-finite loss or gradient is not added and last_norm() is NaN.
  template <loss_function Loss, tensor X, class Target>
    requires(rows_of<X> == 1 && typegrad::detail::check_call<Net, Loss, X, Target>())
  value_type add_example(const Net& net, const Loss& loss, const X& x, const Target& t) noexcept {
    using V = simd::batch<value_type>;
    const value_type l = gradient_into(net, loss, x, t, *example_);
    last_norm_ = global_norm(*example_);
    if (!std::isfinite(last_norm_) || !std::isfinite(l)) {  // bad input: left out, and last_norm() says so
      last_norm_ = std::numeric_limits<double>::quiet_NaN();
      return l;
    }
    last_factor_ = std::min(1.0, options_.max_grad_norm / (last_norm_ + 1e-6));
    const V s(static_cast<value_type>(last_factor_));
    typegrad::detail::for_each_register<parameters_type>([&](auto I, auto p, std::size_t off) {
      constexpr std::size_t i = decltype(I)::value;
      value_type* sum = get<i>(*sum_).data(p) + off;
      (V::load_aligned(sum) + s * V::load_aligned(get<i>(*example_).data(p) + off)).store_aligned(sum);
    });
    ++examples_;
    return l;
  }

  /// Ends the lot: adds N(0, σ²C²) to every parameter's coordinate of the sum, divides by
  /// `lot_divisor` (q·N for Poisson lots, as Opacus; L for fixed-size lots), hands the result to
  /// `opt` (an optimizer object, or a stateless policy such as sgd{lr}) and clears the sum. An
  /// empty lot still steps (noise only): the accountant counts every step.
  template <class Opt>
  void step(Net& net, Opt& opt, double lot_divisor) noexcept {
    using V = simd::batch<value_type>;
    const double std_dev = options_.noise_multiplier * options_.max_grad_norm;
    if (std_dev > 0)  // real coordinates only: the padding of every block stays zero
      sum_->for_each([&](std::size_t, auto, std::size_t, std::size_t, value_type& v) {
        v += static_cast<value_type>(std_dev * rng_.normal());
      });
    const V inv(static_cast<value_type>(1.0 / lot_divisor));
    typegrad::detail::for_each_register<parameters_type>([&](auto I, auto p, std::size_t off) {
      value_type* sum = get<decltype(I)::value>(*sum_).data(p) + off;
      (V::load_aligned(sum) * inv).store_aligned(sum);
    });
    typegrad::detail::apply_gradient(net, opt, *sum_);
    clear();
    ++steps_;
  }

  /// The clipped (noiseless) sum of the examples added since the last step.
  const parameters_type& clipped_sum() const noexcept { return *sum_; }
  /// Drops the examples added since the last step.
  void clear() noexcept {
    typegrad::detail::for_each_register<parameters_type>([&](auto I, auto p, std::size_t off) {
      simd::batch<value_type>(value_type(0)).store_aligned(get<decltype(I)::value>(*sum_).data(p) + off);
    });
    examples_ = 0;
  }
  /// The gradient norm of the last example added, before clipping, and the factor it was scaled by.
  double last_norm() const noexcept { return last_norm_; }
  double last_clip_factor() const noexcept { return last_factor_; }
  /// Examples added since the last step; steps taken.
  std::size_t lot_examples() const noexcept { return examples_; }
  std::size_t steps() const noexcept { return steps_; }
  const dp_sgd_options& options() const noexcept { return options_; }
  /// The generator of the noise, also used by fit to draw the lots (their secrecy is part of the
  /// privacy amplification by sampling).
  random_engine& generator() noexcept { return rng_; }

 private:
  dp_sgd_options options_;
  std::unique_ptr<parameters_type> sum_, example_;  // large for convolutional nets: not on the stack
  random_engine rng_;
  double last_norm_ = 0, last_factor_ = 1;
  std::size_t examples_ = 0, steps_ = 0;
};

namespace detail {

// The loss's target for one dataset row: the row, or its class index (softmax_cross_entropy).
template <class Loss, class T, std::size_t Out, std::size_t Targets>
struct example_target {
  static constexpr bool dense = Targets == Out && Loss::template accepts<matrix<T, 1, Out>, T, 1, Out>;
  std::conditional_t<dense, matrix<T, 1, Out>, std::array<int, 1>> value{};
  void set(std::span<const T, Targets> t) noexcept {
    if constexpr (dense) std::copy_n(t.data(), Targets, value.data());
    else value[0] = static_cast<int>(std::lround(t[0]));
  }
};

/// fit's private training: epochs of lots drawn as options.sampling says, and the ε spent so far
/// (the per-step RDP at each order is computed once; RDP composes by adding).
template <class Net, class Loss, class T, std::size_t F, std::size_t Targets>
class private_fit {
 public:
  private_fit(std::size_t examples, std::size_t batch, const dp_sgd_options& options)
      : engine_(options),
        plan_(plan_lots(examples, options.lot_size ? options.lot_size : batch, options.sampling)),
        order_(examples) {
    check_delta("typegrad::fit (options.privacy)", options.delta);
    std::iota(order_.begin(), order_.end(), std::size_t{0});
    rdp_per_step_.reserve(default_orders.size());
    for (const double a : default_orders) rdp_per_step_.push_back(compute_rdp(plan_.sample_rate, options.noise_multiplier, 1, a));
  }

  struct epoch_result {
    double loss_sum = 0;       ///< of the examples used, each before its lot's update
    std::size_t examples = 0;  ///< examples used (Poisson: about N)
  };
  /// One epoch; calls on_lot(lot_index, mean loss of the lot) after each step (NaN for an empty
  /// lot). @throws std::domain_error for an example with a non-finite loss or gradient, before its
  /// lot's step (the network keeps the weights of the previous lot).
  template <class Opt, class OnLot>
  epoch_result epoch(Net& net, Opt& opt, const dataset<T, F, Targets>& train, OnLot&& on_lot) {
    const auto& o = engine_.options();
    if (o.sampling == lot_sampling::fixed_size) shuffle(std::span<std::size_t>(order_), engine_.generator());
    double total = 0;
    std::size_t used = 0;
    for (std::size_t k = 0; k < plan_.lots_per_epoch; ++k) {
      double lot_loss = 0;
      std::size_t n = 0;
      auto add = [&](std::size_t i) {
        std::copy_n(train.features(i).data(), F, x_.data());
        target_.set(train.targets(i));
        lot_loss += double(engine_.add_example(net, Loss{}, x_, target_.value));
        if (std::isnan(engine_.last_norm())) {
          engine_.clear();
          throw std::domain_error("typegrad::fit (options.privacy): training example " + std::to_string(i) +
                                  " has a non-finite loss or gradient; the weights are those before its lot");
        }
        ++n;
      };
      if (o.sampling == lot_sampling::poisson) {
        for (std::size_t i = 0; i < train.size(); ++i)
          if (engine_.generator().uniform() < plan_.sample_rate) add(i);
      } else {
        const std::size_t size = std::size_t(plan_.expected_lot_size);
        for (std::size_t r = k * size; r < (k + 1) * size; ++r) add(order_[r]);
      }
      engine_.step(net, opt, plan_.expected_lot_size);
      total += lot_loss;
      used += n;
      on_lot(k, n ? lot_loss / double(n) : std::numeric_limits<double>::quiet_NaN());
    }
    return {total, used};
  }

  /// ε spent by the steps taken so far, at options.delta.
  double epsilon() const noexcept {
    const auto& o = engine_.options();
    double best = std::numeric_limits<double>::infinity();
    for (std::size_t k = 0; k < rdp_per_step_.size(); ++k)
      best = std::min(best, epsilon_from_rdp(rdp_per_step_[k] * double(engine_.steps()), default_orders[k], o.delta, o.accounting));
    return best;
  }
  const lot_plan& plan() const noexcept { return plan_; }
  std::size_t steps() const noexcept { return engine_.steps(); }

 private:
  dp_sgd<Net> engine_;
  lot_plan plan_;
  std::vector<std::size_t> order_;
  std::vector<double> rdp_per_step_;
  matrix<T, 1, F> x_;
  example_target<Loss, T, Net::out_size, Targets> target_;
};

/// fit's private trainer, or null when options.privacy is off.
template <class Loss, class Net, class T, std::size_t F, std::size_t Targets>
std::unique_ptr<private_fit<Net, Loss, T, F, Targets>> make_private_fit(const Net&, const dataset<T, F, Targets>& train,
                                                                       std::size_t batch, const dp_sgd_options& options) {
  if (!options.enabled()) return nullptr;
  return std::make_unique<private_fit<Net, Loss, T, F, Targets>>(train.size(), batch, options);
}

}  // namespace detail

/// typegrad::fit's options with DP-SGD: `tg::privacy::fit_options o; o.epochs = 20; o.privacy = {...};`
/// then `tg::fit<B>(net, loss, opt, train, o)`; history records ε per epoch. A type of its own so
/// that fits without privacy do not compile the per-example path (about +3 s per fit otherwise).
struct fit_options : typegrad::fit_options {
  dp_sgd_options privacy{};

  /// fit's private trainer, or null when privacy is off.
  template <class Loss, class Net, class T, std::size_t F, std::size_t Targets>
  auto private_trainer(const Net& net, const dataset<T, F, Targets>& train, std::size_t batch) const {
    return detail::make_private_fit<Loss>(net, train, batch, privacy);
  }
};

}  // namespace typegrad::privacy

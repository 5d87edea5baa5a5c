// Non-finite values in fit: the policy option, the error it throws, and the checks behind both.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include <boost/hana/for_each.hpp>
#include <boost/hana/range.hpp>

#include <typegrad/data/dataset.hpp>
#include <typegrad/io/detail/message.hpp>
#include <typegrad/network/network.hpp>

namespace typegrad {

/// What fit does when a mini-batch has a non-finite input, loss or gradient (fit_options::on_non_finite).
/// In every checked mode the weights and optimizer state end as they were before that batch.
enum class non_finite {
  stop,        ///< throw non_finite_error naming the epoch, batch and sample (the default)
  skip_batch,  ///< leave the batch out and go on; history::skipped_batches counts them (after a gradient
               ///< overflow found late, the batches after the bad one run again: on_batch sees them twice)
  unchecked,   ///< no checks (a diverged run goes on with NaN weights); the checks cost 1-2 % of a fit
};

/// Thrown by fit when a mini-batch gives a non-finite input feature, loss or gradient and
/// `on_non_finite` is `non_finite::stop`. The network and optimizer hold what they held before
/// that batch (the last good weights).
struct non_finite_error : std::runtime_error {
  /// `sample` when no single sample of the batch is non-finite on its own (e.g. a sum that overflows).
  static constexpr std::size_t no_sample = std::numeric_limits<std::size_t>::max();

  std::size_t epoch;   ///< 1-based, as epoch_record::epoch
  std::size_t batch;   ///< 0-based within the epoch, as on_batch's batch index
  std::size_t sample;  ///< 0-based row of the training dataset given to fit, or no_sample
  std::string reason;  ///< what is not finite, e.g. "input feature 3 is nan"

  non_finite_error(std::size_t epoch_, std::size_t batch_, std::size_t sample_, std::string reason_)
      : std::runtime_error(describe(epoch_, batch_, sample_, reason_)),
        epoch(epoch_),
        batch(batch_),
        sample(sample_),
        reason(std::move(reason_)) {}

 private:
  [[gnu::noinline, gnu::cold]] static std::string describe(std::size_t e, std::size_t b, std::size_t s, const std::string& why) {
    return detail::message({"typegrad::fit: epoch ", e, ", batch ", b,
                            s == no_sample ? std::string(" (no single sample)") : detail::message({", sample ", s}), ": ", why,
                            "; the weights and optimizer state are restored to those before this batch "
                            "(fit_options::on_non_finite = non_finite::skip_batch leaves such batches out)"});
  }
};

namespace detail {

/// True when none of p[0..n) is NaN or infinite. The largest exponent field, an integer max that
/// vectorises (std::isfinite in a loop with an early exit does not). Out of line: one copy per T
/// serves every block of every network.
template <class T>
[[gnu::noinline]] bool all_finite(const T* p, std::size_t n) noexcept {
  static_assert(std::numeric_limits<T>::is_iec559 && (sizeof(T) == 4 || sizeof(T) == 8));
  using U = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  constexpr U exponent = sizeof(T) == 4 ? U(0x7f800000u) : U(0x7ff0000000000000ull);
  U highest = 0;
  for (std::size_t i = 0; i < n; ++i) highest = std::max(highest, U(std::bit_cast<U>(p[i]) & exponent));
  return highest != exponent;
}

/// Every trainable value of a parameter-shaped object (parameters, gradient, optimizer state),
/// padding included (it is zero).
template <class... Blocks>
bool all_finite(const network_parameters<Blocks...>& params) noexcept {
  namespace hana = boost::hana;
  bool finite = true;
  hana::for_each(hana::make_range(hana::size_c<0>, hana::size_c<sizeof...(Blocks)>), [&](auto I) {
    const auto& block = get<decltype(I)::value>(params);
    using block_t = std::remove_cvref_t<decltype(block)>;
    if constexpr (block_t::parameter_blocks > 0)  // reshapes and pooling have no data()
      hana::for_each(hana::make_range(hana::size_c<0>, hana::size_c<block_t::parameter_blocks>), [&](auto P) {
        constexpr simd::param_c<decltype(P)::value> p{};
        finite = all_finite(block.data(p), block_t::padded_size(p)) && finite;
      });
  });
  return finite;
}

/// The state buffers of an optimizer object (momentum, Adam's moments); true for stateless policies.
template <class Opt>
bool optimizer_finite(const Opt& opt) noexcept {
  if constexpr (requires { Opt::state_slots; opt.template state<0>(); }) {
    return [&]<std::size_t... K>(std::index_sequence<K...>) {
      return (all_finite(opt.template state<K>()) && ...);
    }(std::make_index_sequence<Opt::state_slots>{});
  } else {
    return true;
  }
}

/// fit's guard against non-finite steps. With its check on, a step (fit_step) checks its input
/// rows, loss and loss gradient and returns a non-finite loss, without touching the weights, when
/// one is not finite: that costs a few % of a small network's step. A gradient that overflows in
/// the update itself (finite loss, non-finite weights or optimizer state afterwards) is looked
/// for once per epoch and whenever a step fails, not after every step (for the 30-16-16-1 net
/// that check cost as much again). Either way the state before the first bad batch is rebuilt
/// from a copy taken at the start of the epoch by replaying the epoch's earlier batches (the same
/// deterministic steps): one copy per epoch instead of one per batch, which for a large network
/// would cost as much as the step.
template <class Net, class Opt>
class non_finite_guard {
 public:
  non_finite_guard(non_finite policy, const Net& net, const Opt& opt) : policy_(policy), saved_net_(net), saved_opt_(opt) {}
  bool enabled() const noexcept { return policy_ != non_finite::unchecked; }

  void begin_epoch(const Net& net, const Opt& opt) {
    if (!enabled()) return;
    saved_net_ = net;
    saved_opt_ = opt;
  }

  /// Whether the weights and optimizer state are all finite (always true when unchecked).
  bool finite(const Net& net, const Opt& opt) const noexcept {
    return !enabled() || (all_finite(net.parameters()) && optimizer_finite(opt));
  }

  /// A step failed at batch k of this epoch (k == the batch count: the end-of-epoch check).
  /// Finds the first bad batch j <= k, puts net and opt back to what they held before it, and
  /// throws non_finite_error naming it (non_finite::stop) or returns j (non_finite::skip_batch).
  /// `losses[i]` is NaN for batch i already left out; `step(net, opt, i)` re-runs batch i,
  /// `step_rows(net, opt, rows)` runs one step on dataset rows, `rows_of(i)` are batch i's rows.
  template <class T, std::size_t F, std::size_t Targets, class Step, class StepRows, class RowsOf>
  [[gnu::noinline, gnu::cold]] std::size_t recover(Net& net, Opt& opt, std::size_t epoch, std::size_t k,
                                                   std::span<const double> losses, const dataset<T, F, Targets>& train,
                                                   Step&& step, StepRows&& step_rows, RowsOf&& rows_of) {
    std::size_t j = k;  // a failed pre-check with finite weights: nothing was touched, k is the bad batch
    if (!finite(net, opt)) {  // an earlier update overflowed: replay the epoch with every check
      net = saved_net_;
      opt = saved_opt_;
      for (j = 0; j < k; ++j) {
        if (std::isnan(losses[j])) continue;  // left out before
        const Net net_before = net;
        const Opt opt_before = opt;
        const double loss = step(net, opt, j);
        if (!std::isfinite(loss) || !finite(net, opt)) {
          net = net_before;
          opt = opt_before;
          break;
        }
      }
    }
    if (j == losses.size())  // not found again: the steps were not reproducible
      throw non_finite_error(epoch, j, non_finite_error::no_sample,
                             "the weights became non-finite in this epoch, and replaying it from its start did not");
    if (policy_ == non_finite::skip_batch) return j;
    throw diagnose(net, opt, epoch, j, rows_of(j), train, step_rows);
  }

 private:
  // The first sample of the batch that is non-finite on its own: its input or target, or one
  // step on it alone (on copies).
  template <class T, std::size_t F, std::size_t Targets, class StepRows>
  static non_finite_error diagnose(const Net& net, const Opt& opt, std::size_t epoch, std::size_t k,
                                   std::span<const std::size_t> rows, const dataset<T, F, Targets>& train,
                                   StepRows& step_rows) {
    auto value = [](T v) { return std::string(std::isnan(v) ? "nan" : v > 0 ? "inf" : "-inf"); };
    for (const std::size_t i : rows) {
      for (std::size_t j = 0; j < F; ++j)
        if (!std::isfinite(train.features(i)[j]))
          return {epoch, k, i, message({"input feature ", j, " is ", value(train.features(i)[j])})};
      for (std::size_t j = 0; j < Targets; ++j)
        if (!std::isfinite(train.targets(i)[j])) return {epoch, k, i, message({"target ", j, " is ", value(train.targets(i)[j])})};
    }
    for (const std::size_t i : rows) {
      Net one_net = net;
      Opt one_opt = opt;
      const double loss = step_rows(one_net, one_opt, std::span<const std::size_t>(&i, 1));
      if (std::isinf(loss)) return {epoch, k, i, message({"the loss is ", value(T(loss))})};
      if (!std::isfinite(loss)) return {epoch, k, i, "the loss or its gradient at the output is nan"};
      if (!all_finite(one_net.parameters())) return {epoch, k, i, "the gradient is not finite (the update made weights non-finite)"};
      if (!optimizer_finite(one_opt)) return {epoch, k, i, "the gradient is not finite (it overflowed the optimizer's state)"};
    }
    return {epoch, k, non_finite_error::no_sample,
            "the batch's loss or gradient is not finite, though every sample's is (an overflow in the batch's sums)"};
  }

  non_finite policy_;
  Net saved_net_;
  Opt saved_opt_;
};

}  // namespace detail

}  // namespace typegrad

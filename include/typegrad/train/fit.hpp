// fit: the training loop over a run-time number of samples in compile-time-sized mini-batches.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <unistd.h>

#include <typegrad/core/config.hpp>
#include <typegrad/data/dataset.hpp>
#include <typegrad/data/split.hpp>
#include <typegrad/io/detail/message.hpp>
#include <typegrad/losses/losses.hpp>
#include <typegrad/network/network.hpp>
#include <typegrad/network/train.hpp>
#include <typegrad/optim/optimizer.hpp>
#include <typegrad/train/detail/batch.hpp>
#include <typegrad/train/detail/data_parallel.hpp>
#include <typegrad/train/metrics.hpp>
#include <typegrad/train/non_finite.hpp>

namespace typegrad {

/// What early stopping watches on the validation set.
enum class monitor { validation_loss, validation_accuracy };
/// When fit prints its progress line: only on a terminal (automatic), always, or never.
enum class progress { automatic, always, never };

/// Options of typegrad::fit; every field has a sensible default.
struct fit_options {
  std::size_t epochs = 100;
  std::uint64_t seed = 0;             ///< shuffling (and the validation split, if any)
  double validation_fraction = 0.0;   ///< held out of `train` (stratified for one 0/1 or class target) when no validation set is given
  std::size_t patience = 0;           ///< stop after this many epochs without improvement (0: never stop early)
  monitor watch = monitor::validation_loss;
  double min_delta = 0.0;             ///< an improvement must exceed this
  bool restore_best_weights = true;   ///< with early stopping or validation: end with the best epoch's weights
  progress show = progress::automatic;
  /// A batch with a non-finite input, loss or gradient: stop with non_finite_error (default) or
  /// skip it; either way the weights and optimizer state stay as before that batch.
  non_finite on_non_finite = non_finite::stop;
  /// Threads each mini-batch step is split over (0: every hardware thread). 1 runs the fused
  /// single-thread step. More split the batch into chunks of at least 32 rows (see README,
  /// "Threads"), so at most B / 32 threads are used; history::threads says how many were.
  std::size_t threads = 1;
};

/// One epoch of a fit: what a plot or a log needs. Missing values are NaN.
struct epoch_record {
  std::size_t epoch = 0;  ///< 1-based
  double train_loss = 0;  ///< mean of the mini-batch losses, weighted by their sizes (before each update)
  double validation_loss = std::numeric_limits<double>::quiet_NaN();
  double validation_accuracy = std::numeric_limits<double>::quiet_NaN();
  double seconds = 0;
  double samples_per_second = 0;
  std::size_t skipped_batches = 0;  ///< left out for a non-finite input, loss or gradient (non_finite::skip_batch)
  double epsilon = std::numeric_limits<double>::quiet_NaN();  ///< with privacy::fit_options: ε spent so far, at privacy.delta
};

/// The history of a fit: one record per epoch run, and what early stopping decided.
struct history {
  std::vector<epoch_record> epochs;
  std::size_t best_epoch = 0;  ///< 1-based; 0 when nothing was monitored
  bool stopped_early = false;
  std::size_t skipped_batches = 0;  ///< over all epochs (non_finite::skip_batch)
  std::size_t threads = 1;          ///< threads the mini-batch steps ran on (fit_options::threads, clamped)

  /// Writes the history as CSV (epoch,train_loss,validation_loss,validation_accuracy,seconds,samples_per_second).
  void write_csv(const std::string& path) const {
    std::FILE* out = std::fopen(path.c_str(), "w");
    if (!out) throw std::runtime_error("typegrad::history::write_csv: cannot open " + path);
    bool ok = std::fputs("epoch,train_loss,validation_loss,validation_accuracy,seconds,samples_per_second\n", out) >= 0;
    for (const auto& e : epochs)  // 9 significant digits
      ok = ok && std::fprintf(out, "%zu,%.9g,%.9g,%.9g,%.9g,%.9g\n", e.epoch, e.train_loss, e.validation_loss,
                              e.validation_accuracy, e.seconds, e.samples_per_second) > 0;
    if (std::fclose(out) != 0 || !ok) throw std::runtime_error("typegrad::history::write_csv: cannot write " + path);
  }
};

/// A callback that does nothing (the default for fit's on_epoch and on_batch).
struct no_callback {
  template <class... A>
  void operator()(const A&...) const noexcept {}
};

namespace detail {

// One step of fit on the first n rows of x: n == B is a whole mini-batch, the same computation
// as train_step; n < B is the short last batch (the rows after n zero), one step of the mean
// gradient of its n rows: the loss gradient of the padding rows is zeroed and the others scaled
// by B / n, which turns the loss's mean over B rows into the mean over the n real ones. One
// out-of-line copy of the fused backward pass serves both (it is the largest code of a fit;
// noclone: no copy specialised for n == B either). With `check`, a non-finite input row, loss
// or loss gradient returns a non-finite value before anything is updated (non_finite_guard).
/// A network's workspace for B rows, on the heap: made once per fit, evaluate or predict call, as
/// long windows and large batches outgrow the stack (a GRU over 1000 steps: megabytes); never
/// zero-filled (every pass writes before it reads).
template <class Net, std::size_t B>
auto workspace_on_heap() {
  return std::make_unique_for_overwrite<typename Net::template workspace<B>>();
}

template <class Net, class Loss, class Opt, std::size_t B, std::size_t Targets, class Target>
TYPEGRAD_OUT_OF_LINE double fit_step(Net& net, Opt& opt, const matrix<typename Net::value_type, B, Net::in_size>& x,
                                  const matrix<typename Net::value_type, B, Targets>& t, const Target& target,
                                  std::size_t n, typename Net::template workspace<B>& ws, bool check = false) noexcept {
  using T = typename Net::value_type;
  static_assert(update_policy<Opt> && check_call<Net, Loss, matrix<T, B, Net::in_size>, Target>());
  constexpr std::size_t stride = padded<T>(Net::out_size);
  constexpr bool value_last = loss_has_separate_gradient<Loss>;
  if (check && !all_finite(x.data(), n * Net::in_size)) return std::numeric_limits<double>::quiet_NaN();
  forward_rows<B>(net, ws, x.data());
  T step_loss = T(0);
  double partial_loss = 0;
  if constexpr (value_last) loss_gradient<Net, Loss, B>(ws, target);
  else step_loss = loss_and_gradient<Net, Loss, B>(ws, target);
  if (n != B) {
    T* dy = Net::template output_gradient<B>(ws);
    const T scale = T(B) / T(n);
    for (std::size_t k = 0; k < n * stride; ++k) dy[k] *= scale;
    std::fill(dy + n * stride, dy + B * stride, T(0));
    partial_loss = rows_loss<Net, Loss, B, Targets>(Net::template output<B>(ws), t, n);
  }
  // The value before the backward pass (which leaves the outputs alone), so that a non-finite
  // loss or loss gradient can stop the step before it touches the weights.
  if constexpr (value_last)
    if (n == B) step_loss = Loss::template evaluate<T, B, Net::out_size>(Net::template output<B>(ws), target, static_cast<T*>(nullptr));
  const double value = n == B ? double(step_loss) : partial_loss;
  if (check) {
    const T* dy = Net::template output_gradient<B>(ws);
    bool finite = std::isfinite(value);
    for (std::size_t r = 0; r < n; ++r)
      for (std::size_t j = 0; j < Net::out_size; ++j) finite = finite && std::isfinite(dy[r * stride + j]);
    if (!finite) return std::isfinite(value) ? std::numeric_limits<double>::quiet_NaN() : value;
  }
  backward_with_optimizer<B, loss_fuses_last_activation<Loss, Net>>(net, ws, opt);
  return value;
}

/// The mean loss and the accuracy (see evaluate_accuracy) of the network over a dataset, from
/// one forward pass per B rows; the last, partial batch is padded.
struct validation_scores {
  double loss = 0;
  double accuracy = std::numeric_limits<double>::quiet_NaN();
};

template <std::size_t B, class Net, class Loss, class T, std::size_t F, std::size_t Targets>
validation_scores evaluate_batches(const Net& net, const dataset<T, F, Targets>& data, bool want_loss) {
  constexpr std::size_t out = Net::out_size, stride = padded<T>(out);
  constexpr bool binary = out == 1 && (std::is_same_v<Loss, binary_cross_entropy> || std::is_same_v<Loss, bce_with_logits>);
  constexpr bool multiclass = out > 1 && Targets == 1 && std::is_same_v<Loss, softmax_cross_entropy>;
  const T threshold = std::is_same_v<Loss, bce_with_logits> ? T(0) : T(0.5);
  validation_scores s;
  if (data.size() == 0) return {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::quiet_NaN()};
  std::vector<std::size_t> rows(data.size());
  for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = i;
  matrix<T, B, F> x;
  matrix<T, B, Targets> t;
  batch_target<Loss, T, B, out, Targets> target;
  const auto ws = workspace_on_heap<Net, B>();
  double loss_sum = 0;
  std::size_t right = 0;
  for (std::size_t start = 0; start < rows.size(); start += B) {
    const std::size_t n = data.batch(std::span<const std::size_t>(rows).subspan(start, std::min(B, rows.size() - start)), x, t);
    forward_rows<B, pass::inference>(net, *ws, x.data());
    const T* y = Net::template output<B>(*ws);
    if (want_loss) {
      if (n == B) {
        target.set(t);
        loss_sum += double(Loss::template evaluate<T, B, out>(y, target.value, static_cast<T*>(nullptr))) * B;
      } else {
        loss_sum += rows_loss<Net, Loss, B, Targets>(y, t, n) * double(n);
      }
    }
    if constexpr (binary || multiclass) {
      for (std::size_t r = 0; r < n; ++r) {
        const T* yr = y + r * stride;
        std::size_t guess;
        if constexpr (binary) guess = yr[0] > threshold ? 1 : 0;
        else guess = static_cast<std::size_t>(std::max_element(yr, yr + out) - yr);
        right += guess == static_cast<std::size_t>(std::lround(t(r, 0)));
      }
    }
  }
  s.loss = loss_sum / double(data.size());
  if constexpr (binary || multiclass) s.accuracy = double(right) / double(data.size());
  return s;
}

inline bool stderr_is_terminal() noexcept { return ::isatty(2) == 1; }

// The threads fit steps on: fit_options::threads resolved (0: all hardware threads) and clamped
// to the batch's chunks. An explicit request it cannot honour is an error; 0 then means 1.
template <std::size_t B, class Net>
std::size_t fit_threads(std::size_t requested, bool is_private) {
  const std::size_t wanted = resolve_threads(requested);
  if (wanted <= 1) return 1;
  const char* why = is_private ? "DP-SGD (privacy::fit_options with noise_multiplier > 0) clips per-example gradients on one thread"
                    : Net::inference_differs ? "a layer with batch statistics (batch norm) needs the whole mini-batch on one thread"
                                             : nullptr;
  if (why && requested == 0) return 1;
  if (why) throw std::invalid_argument(message({"typegrad::fit: threads = ", requested, ": ", why, "; use threads = 1"}));
  return std::min(wanted, max_fit_threads<B>);
}

}  // namespace detail

/// Network outputs for every sample of `data` (n × out_size, row-major), B rows at a time.
template <std::size_t B = 32, network_type Net, class T, std::size_t F, std::size_t Targets>
std::vector<T> predict(const Net& net, const dataset<T, F, Targets>& data) {
  static_assert(F == Net::in_size, "typegrad::predict: the dataset's feature count differs from the network's input");
  constexpr std::size_t out = Net::out_size;
  std::vector<T> y(data.size() * out);
  std::vector<std::size_t> rows(data.size());
  for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = i;
  constexpr std::size_t stride = padded<T>(out);
  matrix<T, B, F> x;
  matrix<T, B, Targets> t;
  const auto ws = detail::workspace_on_heap<Net, B>();
  for (std::size_t start = 0; start < rows.size(); start += B) {
    const std::size_t n = data.batch(std::span<const std::size_t>(rows).subspan(start, std::min(B, rows.size() - start)), x, t);
    detail::forward_rows<B, pass::inference>(net, *ws, x.data());
    const T* yb = Net::template output<B>(*ws);  // padded rows
    for (std::size_t r = 0; r < n; ++r) std::copy_n(yb + r * stride, out, y.data() + (start + r) * out);
  }
  return y;
}

/// Mean loss of the network over a whole dataset, B rows per forward pass.
template <std::size_t B = 32, network_type Net, class Loss, class T, std::size_t F, std::size_t Targets>
double evaluate_loss(const Net& net, const Loss&, const dataset<T, F, Targets>& data) {
  return detail::evaluate_batches<B, Net, Loss>(net, data, true).loss;
}

/// Fraction of samples classified right: a 0.5 threshold (0 for logits with bce_with_logits) on
/// one output, the arg-max over several; NaN for a loss that is not a classification loss.
template <std::size_t B = 32, network_type Net, class Loss, class T, std::size_t F, std::size_t Targets>
double evaluate_accuracy(const Net& net, const Loss&, const dataset<T, F, Targets>& data) {
  constexpr bool classification = (Net::out_size == 1 && (std::is_same_v<Loss, binary_cross_entropy> ||
                                                          std::is_same_v<Loss, bce_with_logits>)) ||
                                  (Net::out_size > 1 && Targets == 1 && std::is_same_v<Loss, softmax_cross_entropy>);
  if constexpr (!classification) return std::numeric_limits<double>::quiet_NaN();
  else return detail::evaluate_batches<B, Net, Loss>(net, data, false).accuracy;
}

/// Trains `net` on `train` in mini-batches of B samples (compile-time), for options.epochs epochs,
/// shuffling with options.seed. A last, shorter mini-batch is trained on as one step of its mean
/// gradient. With a validation set (given, or options.validation_fraction of `train`), each epoch
/// records the validation loss and accuracy, early stopping watches options.watch, and the best
/// epoch's weights are restored at the end. on_epoch(const epoch_record&) may return false to stop;
/// on_batch(epoch, batch_index, loss) is called after every step. A batch with a non-finite input,
/// loss or gradient throws non_finite_error naming the epoch, batch and sample, with the weights
/// and optimizer state from before that batch (options.on_non_finite: or skip it).
/// With options.threads != 1 each step is split over a pool of threads made once per fit (see
/// detail/data_parallel.hpp): the same mean gradient, summed in a fixed order, so the result is
/// bit-identical run to run for a given thread count (and within rounding of one thread's).
/// With typegrad::privacy::fit_options (privacy/dp_sgd.hpp) the epochs are DP-SGD's lots instead;
/// a type of its own, so that only private fits compile the per-example gradient path.
template <std::size_t B, network_type Net, class Loss, class Opt, class T, std::size_t F, std::size_t Targets,
          class Options = fit_options, class OnEpoch = no_callback, class OnBatch = no_callback>
  requires std::derived_from<Options, fit_options>
history fit(Net& net, const Loss& loss, Opt& opt, const dataset<T, F, Targets>& train,
            const dataset<T, F, Targets>* validation, const Options& options = {}, OnEpoch on_epoch = {},
            OnBatch on_batch = {}) {
  static_assert(std::is_same_v<T, typename Net::value_type>, "typegrad::fit: the dataset's scalar type differs from the network's");
  static_assert(F == Net::in_size, "typegrad::fit: the dataset's feature count differs from the network's input size");
  if (train.size() == 0) throw std::invalid_argument("typegrad::fit: the training set is empty");
  if (options.patience > 0 && !validation)
    throw std::invalid_argument("typegrad::fit: early stopping (patience > 0) needs a validation set or validation_fraction");

  (void)loss;  // losses are stateless types: fit_step takes Loss as a template argument
  using clock = std::chrono::steady_clock;
  const bool show = options.show == progress::always || (options.show == progress::automatic && detail::stderr_is_terminal());
  const bool maximise = options.watch == monitor::validation_accuracy;
  history h;
  auto best_net = net;
  double best = maximise ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  std::size_t since_best = 0;
  random_engine rng{options.seed};
  std::vector<std::size_t> order(train.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  matrix<T, B, F> x;
  matrix<T, B, Targets> t;
  detail::batch_target<Loss, T, B, Net::out_size, Targets> target;
  const auto ws = detail::workspace_on_heap<Net, B>();
  const auto started = clock::now();
  detail::non_finite_guard<Net, Opt> guard(options.on_non_finite, net, opt);
  constexpr bool is_private = requires { options.privacy; };
  auto dp = [&] {  // null unless options.privacy is on
    if constexpr (is_private) return options.template private_trainer<Loss>(net, train, B);
    else return nullptr;
  }();
  // Steps split over threads: a pool and per-thread buffers made once, here (see data_parallel.hpp).
  h.threads = detail::fit_threads<B, Net>(options.threads, dp != nullptr);
  constexpr bool can_split = detail::max_fit_threads<B> > 1 && !Net::inference_differs;
  auto parallel = [&] {
    if constexpr (can_split)
      return h.threads > 1 ? std::make_unique<detail::data_parallel_step<Net, Loss, B, F, Targets>>(h.threads) : nullptr;
    else return nullptr;
  }();
  // One step on the given rows of `train` (at most B; fewer make a short batch).
  auto step_rows = [&](Net& n_net, Opt& n_opt, std::span<const std::size_t> rows) {
    const std::size_t n = train.batch(rows, x, t);
    target.set(t);
    return detail::fit_step<Net, Loss>(n_net, n_opt, x, t, target.value, n, *ws, guard.enabled());
  };
  auto batch_rows = [&](std::size_t k) {
    return std::span<const std::size_t>(order).subspan(k * B, std::min(B, order.size() - k * B));
  };
  auto step_batch = [&](Net& n_net, Opt& n_opt, std::size_t k) {
    if constexpr (can_split)
      if (parallel) return parallel->step(n_net, n_opt, train, batch_rows(k), guard.enabled());
    return step_rows(n_net, n_opt, batch_rows(k));
  };
  std::vector<double> batch_loss(order.size() / B + 2);  // this epoch's; NaN: left out (when checked)

  for (std::size_t epoch = 1; epoch <= options.epochs; ++epoch) {
    const auto epoch_start = clock::now();
    shuffle(std::span<std::size_t>(order), rng);
    guard.begin_epoch(net, opt);
    double loss_sum = 0;
    std::size_t trained = 0, skipped = 0;
    std::fill(batch_loss.begin(), batch_loss.end(), 0.0);
    // The short last batch is padded to B rows; batch statistics (batch norm) would count the
    // padding, so such networks skip it, as PyTorch's DataLoader with drop_last=True.
    const bool train_short_batch = order.size() % B != 0 && !Net::inference_differs;
    const std::size_t batches = dp != nullptr ? 0 : order.size() / B + (train_short_batch ? 1 : 0);
    if constexpr (is_private)
      if (dp) {  // DP-SGD: lots of clipped per-example gradients plus noise replace the mini-batches
        const auto r = dp->epoch(net, opt, train, [&](std::size_t lot, double l) { on_batch(epoch, lot, l); });
        loss_sum = r.loss_sum;
        trained = r.examples;
      }
    for (std::size_t k = 0; k <= batches; ++k) {
      // After the last batch, once per epoch: did an update's gradient overflow into the weights?
      const double l = k < batches ? step_batch(net, opt, k)
                                   : batches == 0 || guard.finite(net, opt) ? 0.0 : std::numeric_limits<double>::quiet_NaN();
      if (guard.enabled() && !std::isfinite(l)) [[unlikely]] {
        k = guard.recover(net, opt, epoch, k, std::span<const double>(batch_loss.data(), batches), train, step_batch,
                          step_rows, batch_rows);  // returns (non_finite::skip_batch) the first bad batch, else throws
        batch_loss[k] = std::numeric_limits<double>::quiet_NaN();
        continue;  // on from the batch after it (on_batch may see the batches after it again)
      }
      if (k == batches) break;
      batch_loss[k] = l;
      on_batch(epoch, k, l);
    }
    for (std::size_t k = 0; k < batches; ++k) {
      if (guard.enabled() && std::isnan(batch_loss[k])) {
        ++skipped;
        continue;
      }
      loss_sum += batch_loss[k] * double(batch_rows(k).size());
      trained += batch_rows(k).size();
    }
    epoch_record rec;
    rec.epoch = epoch;
    rec.train_loss = trained ? loss_sum / double(trained) : std::numeric_limits<double>::quiet_NaN();
    rec.skipped_batches = skipped;
    h.skipped_batches += skipped;
    if constexpr (is_private)
      if (dp) rec.epsilon = dp->epsilon();
    if (validation) {  // loss and accuracy from one forward pass per batch
      const auto scores = detail::evaluate_batches<B, Net, Loss>(net, *validation, true);
      rec.validation_loss = scores.loss;
      rec.validation_accuracy = scores.accuracy;
    }
    rec.seconds = std::chrono::duration<double>(clock::now() - epoch_start).count();
    rec.samples_per_second = double(order.size()) / std::max(rec.seconds, 1e-12);
    h.epochs.push_back(rec);

    bool stop = false;
    if (validation) {
      const double value = maximise ? rec.validation_accuracy : rec.validation_loss;
      const bool better = maximise ? value > best + options.min_delta : value < best - options.min_delta;
      if (better) {
        best = value;
        h.best_epoch = epoch;
        since_best = 0;
        if (options.restore_best_weights) best_net = net;
      } else if (options.patience > 0 && ++since_best >= options.patience) {
        stop = h.stopped_early = true;
      }
    }
    if constexpr (std::is_convertible_v<std::invoke_result_t<OnEpoch&, const epoch_record&>, bool>) {
      if (!on_epoch(static_cast<const epoch_record&>(rec))) stop = true;
    } else {
      on_epoch(static_cast<const epoch_record&>(rec));
    }
    if (show) {
      const double elapsed = std::chrono::duration<double>(clock::now() - started).count();
      const double eta = elapsed / double(epoch) * double(options.epochs - epoch);
      std::fprintf(stderr, "\repoch %zu/%zu  loss %.5f", epoch, options.epochs, rec.train_loss);
      if (validation) std::fprintf(stderr, "  val_loss %.5f", rec.validation_loss);
      if (validation && !std::isnan(rec.validation_accuracy)) std::fprintf(stderr, "  val_acc %.4f", rec.validation_accuracy);
      std::fprintf(stderr, "  %.0f samples/s  ETA %.1fs   ", rec.samples_per_second, eta);
      if (stop || epoch == options.epochs) std::fprintf(stderr, "\n");
    }
    if (stop) break;
  }
  if (validation && options.restore_best_weights && h.best_epoch > 0) net = best_net;
  return h;
}

/// fit without a separate validation set: options.validation_fraction of `train` (stratified by
/// its label when there is one target) is held out for validation, or none when it is 0.
template <std::size_t B, network_type Net, class Loss, class Opt, class T, std::size_t F, std::size_t Targets,
          class Options = fit_options, class OnEpoch = no_callback, class OnBatch = no_callback>
  requires std::derived_from<Options, fit_options>
history fit(Net& net, const Loss& loss, Opt& opt, const dataset<T, F, Targets>& train, const Options& options = {},
            OnEpoch on_epoch = {}, OnBatch on_batch = {}) {
  if (options.validation_fraction <= 0) return fit<B>(net, loss, opt, train, static_cast<const dataset<T, F, Targets>*>(nullptr), options, on_epoch, on_batch);
  split_indices parts;
  if constexpr (Targets == 1) {
    parts = stratified_split(train, options.validation_fraction, options.seed);
  } else {
    auto order = shuffled_indices(train.size(), options.seed);
    const auto n_val = static_cast<std::size_t>(std::lround(options.validation_fraction * double(train.size())));
    parts.test.assign(order.begin(), order.begin() + std::ptrdiff_t(n_val));
    parts.train.assign(order.begin() + std::ptrdiff_t(n_val), order.end());
  }
  const auto fit_part = train.subset(parts.train);
  const auto val_part = train.subset(parts.test);
  try {
    return fit<B>(net, loss, opt, fit_part, &val_part, options, on_epoch, on_batch);
  } catch (const non_finite_error& e) {  // name the sample by its row in `train`, not in fit_part
    if (e.sample == non_finite_error::no_sample) throw;
    throw non_finite_error(e.epoch, e.batch, parts.train[e.sample], e.reason);
  }
}

}  // namespace typegrad

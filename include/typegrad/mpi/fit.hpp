// typegrad::mpi::fit: data-parallel training over MPI ranks (gradient allreduce, local SGD, federated averaging).
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <limits>
#include <memory>
#include <numeric>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include <typegrad/core/random.hpp>
#include <typegrad/core/tensor.hpp>
#include <typegrad/data/dataset.hpp>
#include <typegrad/data/split.hpp>
#include <typegrad/mpi/communicator.hpp>
#include <typegrad/network/network.hpp>
#include <typegrad/network/train.hpp>
#include <typegrad/optim/apply_gradient.hpp>
#include <typegrad/optim/clip.hpp>
#include <typegrad/privacy/accountant.hpp>
#include <typegrad/privacy/dp_sgd.hpp>
#include <typegrad/train/fit.hpp>
#include <typegrad/train/non_finite.hpp>

namespace typegrad::mpi {

/// Every step: each rank's gradient of its sub-batch, summed over the ranks in one MPI_Allreduce
/// of one contiguous buffer, then one optimizer step on every rank (all ranks keep the same
/// weights). The same training as one process with batches of B × ranks.
struct allreduce {};
/// Each rank steps on its own sub-batches; every `every` steps (and at each epoch's end) the
/// parameters are averaged over the ranks. For networks whose step is much shorter than an allreduce.
struct local_sgd {
  std::size_t every = 8;
};
/// Federated averaging (McMahan et al. 2017): each rank trains `local_epochs` epochs on its own
/// shard with typegrad::fit (or the DP-SGD fit, with private_fit_options), then the parameters are
/// averaged, weighted by shard size. One epoch of the history is one such round.
struct federated_averaging {
  std::size_t local_epochs = 1;
};
/// How the ranks combine their work.
using sync_mode = std::variant<allreduce, local_sgd, federated_averaging>;

/// Where the training rows come from. Federated averaging is always `sharded`.
enum class placement {
  replicated,  ///< every rank passes the same dataset; each epoch's shuffled order is dealt to the ranks
  sharded      ///< each rank passes its own part (rows never leave their rank)
};

/// typegrad::fit's options plus the distributed mode: `tg::mpi::fit_options o; o.mode = tg::mpi::local_sgd{16};`.
/// seed: the same on every rank (the epoch order of replicated data must agree). validation_fraction
/// is not supported (pass a validation set; each rank may pass its own, scores are size-weighted means).
template <class Base>
struct basic_fit_options : Base {
  sync_mode mode = allreduce{};
  placement data = placement::replicated;
};
using fit_options = basic_fit_options<typegrad::fit_options>;
/// Federated averaging whose local training is DP-SGD (options.privacy); ε in the history is the
/// ε each site spent on its own rows over all rounds so far (averaging is post-processing).
using private_fit_options = basic_fit_options<privacy::fit_options>;

namespace detail {

// Number of values in the flat copy of a parameter object: every padded register of every block.
template <class Params>
std::size_t flat_size() noexcept {
  std::size_t n = 0;
  typegrad::detail::for_each_register<Params>([&](auto I, auto, std::size_t) {
    n += lanes<typename std::remove_cvref_t<decltype(get<decltype(I)::value>(std::declval<Params&>()))>::value_type>;
  });
  return n;
}

// Copies every register of `p` (times `scale`) into out[0, flat_size): padding included, so that
// it stays zero through sums and averages.
template <class Params, class T>
void pack(const Params& p, T* out, T scale) noexcept {
  typegrad::detail::for_each_register<Params>([&](auto I, auto q, std::size_t off) {
    const T* src = get<decltype(I)::value>(p).data(q) + off;
    for (std::size_t k = 0; k < lanes<T>; ++k) out[k] = src[k] * scale;
    out += lanes<T>;
  });
}

template <class Params, class T>
void unpack(const T* in, Params& p) noexcept {
  typegrad::detail::for_each_register<Params>([&](auto I, auto q, std::size_t off) {
    std::copy_n(in, lanes<T>, get<decltype(I)::value>(p).data(q) + off);
    in += lanes<T>;
  });
}

// Collective error handling: every rank learns whether any rank failed, so that no rank waits in
// an allreduce for one that threw. The failing rank rethrows its own exception; the others say who failed.
inline void agree(const communicator& comm, std::exception_ptr error, const char* who) {
  std::vector<unsigned long long> failed(std::size_t(comm.size()), 0);
  failed[std::size_t(comm.rank())] = error ? 1 : 0;
  comm.sum(failed.data(), failed.size());
  if (error) std::rethrow_exception(error);
  for (std::size_t r = 0; r < failed.size(); ++r)
    if (failed[r])
      throw std::runtime_error(std::string(who) + ": rank " + std::to_string(r) + " failed (its own error says why)");
}

template <class F>
void agree_on(const communicator& comm, const char* who, F&& f) {
  std::exception_ptr error;
  try {
    f();
  } catch (...) {
    error = std::current_exception();
  }
  agree(comm, error, who);
}

// Which rows of its epoch order each rank trains at step k of an epoch. Replicated: the global
// order is cut into batches of B × ranks and each is dealt to the ranks in rank order. Sharded:
// each rank takes its next B rows; the epoch has as many steps as the largest shard needs, and a
// rank whose shard is used up sits the remaining steps out (it adds nothing to the sum).
struct shard_plan {
  std::vector<std::size_t> rows;  // per rank: rows it holds (replicated: all of them)
  bool replicated = true;
  std::size_t batch = 1;

  std::size_t ranks() const noexcept { return rows.size(); }
  std::size_t steps() const noexcept {
    if (replicated) return (rows[0] + batch * ranks() - 1) / (batch * ranks());
    std::size_t most = 0;
    for (const auto n : rows) most = std::max(most, n);
    return (most + batch - 1) / batch;
  }
  // [first, last) into rank q's epoch order at step k.
  std::pair<std::size_t, std::size_t> range(std::size_t q, std::size_t k) const noexcept {
    const std::size_t n = rows[q];
    const std::size_t first = replicated ? k * batch * ranks() + q * batch : k * batch;
    return {std::min(n, first), std::min(n, first + batch)};
  }
  std::size_t count(std::size_t q, std::size_t k) const noexcept {
    const auto [a, b] = range(q, k);
    return b - a;
  }
  std::size_t total(std::size_t k) const noexcept {
    std::size_t t = 0;
    for (std::size_t q = 0; q < ranks(); ++q) t += count(q, k);
    return t;
  }
  // Rows rank q trains in one epoch.
  std::size_t epoch_rows(std::size_t q) const noexcept {
    std::size_t t = 0;
    for (std::size_t k = 0; k < steps(); ++k) t += count(q, k);
    return t;
  }
};

// The mean loss of rows [0, n) of the batch x and its gradient into `grad` (every block
// overwritten): fit's short-batch rule, the loss gradient of the rows after n zeroed and the
// others scaled by B / n. The parameters are untouched.
template <std::size_t B, class Net, class Loss, std::size_t Targets, class Target>
double batch_gradient(Net& net, const matrix<typename Net::value_type, B, Net::in_size>& x,
                      const matrix<typename Net::value_type, B, Targets>& t, const Target& target, std::size_t n,
                      typename Net::parameters_type& grad) noexcept {
  using T = typename Net::value_type;
  constexpr std::size_t stride = padded<T>(Net::out_size);
  typename Net::template workspace<B> ws;
  net.template forward<B>(ws, x.data());
  double value = double(typegrad::detail::loss_and_gradient<Net, Loss, B>(ws, target));
  if (n != B) {
    T* dy = Net::template output_gradient<B>(ws);
    const T scale = T(B) / T(n);
    for (std::size_t k = 0; k < n * stride; ++k) dy[k] *= scale;
    std::fill(dy + n * stride, dy + B * stride, T(0));
    value = typegrad::detail::rows_loss<Net, Loss, B, Targets>(Net::template output<B>(ws), t, n);
  }
  typegrad::detail::gradient_sink<typename Net::parameters_type> sink{&grad};
  net.template backward<B, decltype(sink), typegrad::detail::loss_fuses_last_activation<Loss, Net>>(ws, sink);
  return value;
}

template <class T>
bool all_finite_values(const T* v, std::size_t n) noexcept {
  bool ok = true;
  for (std::size_t k = 0; k < n; ++k) ok = ok && std::isfinite(v[k]);
  return ok;
}

// The size-weighted mean over the ranks of each rank's validation loss and accuracy (NaN when no
// rank has a validation set; accuracy NaN for a loss that is not a classification loss).
template <std::size_t B, class Net, class Loss, class T, std::size_t F, std::size_t Targets>
std::pair<double, double> validation_scores(const communicator& comm, const Net& net, const Loss& loss,
                                            const dataset<T, F, Targets>* validation) {
  double s[3] = {0, 0, 0};  // loss·n, accuracy·n, n
  if (validation && validation->size() > 0) {
    const double n = double(validation->size());
    s[0] = evaluate_loss<B>(net, loss, *validation) * n;
    s[1] = evaluate_accuracy<B>(net, loss, *validation) * n;
    s[2] = n;
  }
  comm.sum(s, 3);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  return s[2] > 0 ? std::pair{s[0] / s[2], s[1] / s[2]} : std::pair{nan, nan};
}

}  // namespace detail

/// Trains `net` on the ranks of `comm` in mini-batches of B rows per rank (compile-time), as
/// options.mode says; every rank calls it with the same network type, options and (replicated)
/// data, and ends with the same weights (rank 0's initial weights are broadcast first). Returns the
/// history on every rank: train loss over all ranks' rows, validation scores (size-weighted over
/// the ranks' validation sets), early stopping and best-weight restoring as typegrad::fit.
///
///     tg::mpi::communicator world;
///     tg::mpi::fit_options o;  o.epochs = 30;  o.mode = tg::mpi::allreduce{};
///     auto h = tg::mpi::fit<16>(world, net, tg::binary_cross_entropy{}, opt, train, &validation, o);
///
/// A gradient (allreduce) or averaged parameters that are not finite throw non_finite_error on
/// every rank, with the weights from before that step. An error on one rank (bad options, a local
/// fit that throws) is thrown on every rank, so that none waits forever in a collective call.
/// Networks with batch_norm are not supported (per-rank batch statistics; no SyncBatchNorm).
template <std::size_t B, network_type Net, loss_function Loss, class Opt, class T, std::size_t F, std::size_t Targets,
          class Base>
history fit(const communicator& comm, Net& net, const Loss& loss, Opt& opt, const dataset<T, F, Targets>& train,
            const dataset<T, F, Targets>* validation, const basic_fit_options<Base>& options) {
  static_assert(std::is_same_v<T, typename Net::value_type>,
                "typegrad::mpi::fit: the dataset's scalar type differs from the network's");
  static_assert(F == Net::in_size,
                "typegrad::mpi::fit: the dataset's feature count differs from the network's input size");
  static_assert(!Net::inference_differs,
                "typegrad::mpi::fit: networks with batch_norm are not supported (each rank would normalise with the "
                "statistics of its own sub-batch, and the running statistics would differ between ranks)");
  using clock = std::chrono::steady_clock;
  using params_t = typename Net::parameters_type;
  constexpr const char* who = "typegrad::mpi::fit";
  const std::size_t ranks = std::size_t(comm.size()), me = std::size_t(comm.rank());
  const bool federated = std::holds_alternative<federated_averaging>(options.mode);
  const bool local = std::holds_alternative<local_sgd>(options.mode);
  constexpr bool is_private = requires { options.privacy; };

  detail::agree_on(comm, who, [&] {
    const auto bad = [](const std::string& why) { throw std::invalid_argument(std::string(who) + ": " + why); };
    if (train.size() == 0) bad("the training set of rank " + std::to_string(me) + " is empty");
    if (options.validation_fraction > 0)
      bad("validation_fraction is not supported; pass a validation set (each rank may pass its own)");
    if (options.patience > 0 && !validation) bad("early stopping (patience > 0) needs a validation set");
    if (local && std::get<local_sgd>(options.mode).every == 0) bad("local_sgd{every} needs every >= 1");
    if (federated && std::get<federated_averaging>(options.mode).local_epochs == 0)
      bad("federated_averaging{local_epochs} needs local_epochs >= 1");
    if constexpr (is_private)
      if (options.privacy.enabled() && !federated)
        bad("options.privacy (DP-SGD) composes with federated_averaging only");
  });

  // Shard sizes of every rank, and what every rank was asked to do: a rank with other options
  // would wait in a different collective call (deadlock), so that is an error on every rank.
  detail::shard_plan plan;
  plan.batch = B;
  plan.replicated = !federated && options.data == placement::replicated;
  {
    constexpr std::size_t fields = 8;
    const char* names[fields] = {"rows",
                                 "mode",
                                 "local_sgd{every} / federated_averaging{local_epochs}",
                                 "batch size B",
                                 "epochs",
                                 "network (parameter bytes)",
                                 "placement",
                                 "seed (replicated data)"};
    const unsigned long long mine[fields] = {
        train.size(),
        options.mode.index(),
        local       ? std::get<local_sgd>(options.mode).every
        : federated ? std::get<federated_averaging>(options.mode).local_epochs
                    : 0,
        B,
        options.epochs,
        detail::flat_size<params_t>() * sizeof(T),
        plan.replicated ? 1u : 0u,
        plan.replicated ? options.seed : 0};  // replicated: every rank must deal the same epoch order
    std::vector<unsigned long long> all(ranks * fields, 0);
    std::copy_n(mine, fields, all.data() + me * fields);
    comm.sum(all.data(), all.size());
    for (std::size_t q = 0; q < ranks; ++q) plan.rows.push_back(all[q * fields]);
    detail::agree_on(comm, who, [&] {
      for (std::size_t q = 1; q < ranks; ++q)
        for (std::size_t f = 1; f < fields; ++f)
          if (all[q * fields + f] != all[f])
            throw std::invalid_argument(std::string(who) + ": rank " + std::to_string(q) + " was called with another " +
                                        names[f] + " than rank 0 (" + std::to_string(all[q * fields + f]) + " vs " +
                                        std::to_string(all[f]) + "); every rank must make the same call");
      if (plan.replicated)
        for (std::size_t q = 0; q < ranks; ++q)
          if (plan.rows[q] != plan.rows[0])
            throw std::invalid_argument(std::string(who) + ": placement::replicated, but rank " + std::to_string(q) +
                                        " has " + std::to_string(plan.rows[q]) + " rows and rank 0 has " +
                                        std::to_string(plan.rows[0]));
    });
  }
  std::size_t all_rows = 0;
  for (const auto n : plan.rows) all_rows += n;

  // One contiguous buffer: the flat parameters (or gradient) and one slot for the loss.
  const std::size_t flat = detail::flat_size<params_t>();
  std::vector<T> buffer(flat + 1);
  auto grad = std::make_unique<params_t>();
  // Sum of weight · θ over the ranks into the buffer, and of `count` (local SGD's left-out batches)
  // into its last slot; true when the sum is finite.
  const auto average_parameters = [&](double weight, std::size_t count) {
    detail::pack(net.parameters(), buffer.data(), T(weight));
    buffer[flat] = T(count);
    comm.sum(buffer.data(), flat + 1);
    return detail::all_finite_values(buffer.data(), flat);
  };
  detail::pack(net.parameters(), buffer.data(), T(1));
  comm.broadcast(buffer.data(), flat, 0);
  detail::unpack(buffer.data(), net.parameters());

  history h;
  const bool show = me == 0 && (options.show == progress::always ||
                                (options.show == progress::automatic && typegrad::detail::stderr_is_terminal()));
  const bool maximise = options.watch == monitor::validation_accuracy;
  double best = maximise ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  std::size_t since_best = 0;
  std::unique_ptr<Net> best_net;
  random_engine rng{options.seed};
  std::vector<std::size_t> order(train.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  matrix<T, B, F> x;
  matrix<T, B, Targets> t;
  typegrad::detail::batch_target<Loss, T, B, Net::out_size, Targets> target;
  std::size_t private_steps = 0;  // federated DP: this rank's DP-SGD steps over all rounds

  for (std::size_t epoch = 1; epoch <= options.epochs; ++epoch) {
    const auto epoch_start = clock::now();
    double loss_sum = 0;       // this rank's: the loss of each row it trained, before its step
    std::size_t trained = 0;   // this rank's rows in steps not skipped
    std::size_t left_out = 0;  // local SGD: this rank's batches with a non-finite input since the last averaging
    epoch_record rec;
    rec.epoch = epoch;
    if (federated) {
      Base local_options = options;
      local_options.epochs = std::get<federated_averaging>(options.mode).local_epochs;
      local_options.seed = options.seed + epoch;  // a new order every round
      local_options.show = progress::never;
      local_options.validation_fraction = 0;
      local_options.patience = 0;
      if constexpr (is_private)  // fresh noise every round and on every rank, from the one seed
        local_options.privacy.noise_seed =
            options.privacy.noise_seed ^ (0x9e3779b97f4a7c15ull * (epoch * ranks + me + 1));
      history local_history;
      detail::agree_on(comm, who, [&] {
        local_history =
            typegrad::fit<B>(net, loss, opt, train, static_cast<const dataset<T, F, Targets>*>(nullptr), local_options);
      });
      loss_sum = local_history.epochs.back().train_loss * double(train.size());
      if constexpr (is_private)
        if (options.privacy.enabled()) {
          const auto& p = options.privacy;
          const auto lots = privacy::plan_lots(train.size(), p.lot_size ? p.lot_size : B, p.sampling);
          private_steps += lots.lots_per_epoch * local_options.epochs;
          rec.epsilon = privacy::compute_epsilon(lots.sample_rate, p.noise_multiplier, double(private_steps), p.delta,
                                                 p.accounting)
                            .epsilon;
        }
      if (!average_parameters(double(train.size()) / double(all_rows), 0))  // not unpacked: the local weights stay
        throw non_finite_error(epoch, 0, non_finite_error::no_sample,
                               "the parameters averaged over the ranks are not finite; the weights are this rank's "
                               "local ones");
      detail::unpack(buffer.data(), net.parameters());
    } else {
      shuffle(std::span<std::size_t>(order), rng);
      const std::size_t steps = plan.steps();
      const std::size_t every = local ? std::get<local_sgd>(options.mode).every : 1;
      // Local SGD averages with each rank's share of the epoch's rows.
      std::size_t epoch_rows = 0;
      for (std::size_t q = 0; q < ranks; ++q) epoch_rows += plan.epoch_rows(q);
      const double share = double(plan.epoch_rows(me)) / double(epoch_rows);
      for (std::size_t k = 0; k < steps; ++k) {
        const auto [first, last] = plan.range(me, k);
        const std::size_t n = last - first;
        if (n > 0) {
          train.batch(std::span<const std::size_t>(order).subspan(first, n), x, t);
          target.set(t);
        }
        // A non-finite input row never reaches the kernels (as in typegrad::fit).
        const bool finite_input = n == 0 || typegrad::detail::all_finite(x.data(), n * F);
        if (!local) {  // allreduce: each rank's part of the mean gradient of the step's rows
          const double weight = double(n) / double(plan.total(k));
          double l = 0;
          if (!finite_input) {  // a NaN in the sum: every rank stops (or skips) at this step
            std::fill(buffer.begin(), buffer.end(), T(0));
            buffer[flat] = std::numeric_limits<T>::quiet_NaN();
          } else if (n > 0) {
            l = detail::batch_gradient<B, Net, Loss>(net, x, t, target.value, n, *grad);
            detail::pack(*grad, buffer.data(), T(weight));
            buffer[flat] = T(l * weight);
          } else {
            std::fill(buffer.begin(), buffer.end(), T(0));
          }
          comm.sum(buffer.data(), flat + 1);
          // Every rank sees the same sum, so all stop (or skip) together.
          if (!detail::all_finite_values(buffer.data(), flat + 1)) {
            if (options.on_non_finite == non_finite::skip_batch) {
              ++rec.skipped_batches;
              continue;
            }
            throw non_finite_error(epoch, k, non_finite_error::no_sample,
                                   "an input row, the loss or the gradient summed over the ranks is not finite; the "
                                   "weights are those before this step");
          }
          detail::unpack(buffer.data(), *grad);
          typegrad::detail::apply_gradient(net, opt, *grad);
          loss_sum += l * double(n);
          trained += n;
        } else if (!finite_input) {
          ++left_out;  // counted over the ranks at the next averaging
        } else {
          trained += n;
          if (n == B) {
            loss_sum += double(train_step(net, loss, opt, x, target.value)) * double(n);
          } else if (n > 0) {
            loss_sum += detail::batch_gradient<B, Net, Loss>(net, x, t, target.value, n, *grad) * double(n);
            typegrad::detail::apply_gradient(net, opt, *grad);
          }
        }
        if (local && ((k + 1) % every == 0 || k + 1 == steps)) {
          if (!average_parameters(share, left_out))
            throw non_finite_error(epoch, k, non_finite_error::no_sample,
                                   "the parameters averaged over the ranks are not finite; the weights are this "
                                   "rank's local ones");
          detail::unpack(buffer.data(), net.parameters());
          const auto bad = static_cast<std::size_t>(buffer[flat]);
          left_out = 0;
          rec.skipped_batches += bad;
          if (bad > 0 && options.on_non_finite == non_finite::stop)
            throw non_finite_error(epoch, k, non_finite_error::no_sample,
                                   "a batch with a non-finite input row was left out on some rank; the weights are "
                                   "the average after it");
        }
      }
    }
    double totals[2] = {loss_sum, double(federated ? train.size() : trained)};
    comm.sum(totals, 2);
    rec.train_loss = totals[0] / totals[1];
    const auto [vloss, vacc] = detail::validation_scores<B>(comm, net, loss, validation);
    rec.validation_loss = vloss;
    rec.validation_accuracy = vacc;
    rec.seconds = std::chrono::duration<double>(clock::now() - epoch_start).count();
    rec.samples_per_second = double(totals[1]) / std::max(rec.seconds, 1e-12);
    h.epochs.push_back(rec);
    h.skipped_batches += rec.skipped_batches;
    if (show)
      std::fprintf(stderr, "epoch %zu/%zu  loss %.5f  val_loss %.5f  %.0f samples/s\n", epoch, options.epochs,
                   rec.train_loss, rec.validation_loss, rec.samples_per_second);
    if (validation) {  // every rank sees the same scores, so all take the same decision
      const double value = maximise ? rec.validation_accuracy : rec.validation_loss;
      if (maximise ? value > best + options.min_delta : value < best - options.min_delta) {
        best = value;
        h.best_epoch = epoch;
        since_best = 0;
        if (options.restore_best_weights) best_net = std::make_unique<Net>(net);
      } else if (options.patience > 0 && ++since_best >= options.patience) {
        h.stopped_early = true;
        break;
      }
    }
  }
  if (best_net) net = *best_net;
  return h;
}

/// mpi::fit without a validation set.
template <std::size_t B, network_type Net, loss_function Loss, class Opt, class T, std::size_t F, std::size_t Targets,
          class Base = typegrad::fit_options>
history fit(const communicator& comm, Net& net, const Loss& loss, Opt& opt, const dataset<T, F, Targets>& train,
            const basic_fit_options<Base>& options = {}) {
  return fit<B>(comm, net, loss, opt, train, static_cast<const dataset<T, F, Targets>*>(nullptr), options);
}

}  // namespace typegrad::mpi

// cross_validate: k-fold cross-validation with fit, the folds trained in parallel.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <exception>
#include <optional>
#include <span>
#include <stdexcept>
#include <vector>

#include <typegrad/data/dataset.hpp>
#include <typegrad/data/split.hpp>
#include <typegrad/network/network.hpp>
#include <typegrad/train/fit.hpp>
#include <typegrad/train/thread_pool.hpp>

namespace typegrad {

/// One fold of cross_validate: the network trained on the other folds, its history, and its
/// scores on the held-out fold (accuracy: NaN unless the loss is a classification loss).
template <class Net>
struct fold_result {
  Net net;
  history hist;
  double test_loss = 0;
  double test_accuracy = 0;
};

/// k-fold cross-validation: for every split of `folds` (e.g. stratified_kfold(data, 5, seed)),
/// copies of `net` and `opt` are trained with fit<B> on data.subset(split.train) and `options`,
/// then scored on data.subset(split.test). options.threads (0: all hardware threads) is the
/// number of folds trained at once, each on one thread with its own network and optimizer copy:
/// every fold's result is the same as with threads = 1. No progress line is shown. If folds throw
/// (e.g. non_finite_error), every fold still runs and the lowest-numbered fold's error is rethrown.
///
///     const auto folds = tg::stratified_kfold(data, 5, 2024);
///     const auto cv = tg::cross_validate<32>(net, tg::bce_with_logits{}, opt, data, folds, {.epochs = 50, .threads = 0});
///     for (const auto& f : cv) std::printf("%.3f\n", f.test_accuracy);
template <std::size_t B, network_type Net, class Loss, class Opt, class T, std::size_t F, std::size_t Targets,
          class Options = fit_options>
  requires std::derived_from<Options, fit_options>
std::vector<fold_result<Net>> cross_validate(const Net& net, const Loss& loss, const Opt& opt,
                                             const dataset<T, F, Targets>& data, std::span<const split_indices> folds,
                                             const Options& options = {}) {
  if (folds.empty()) throw std::invalid_argument("typegrad::cross_validate: no folds given");
  Options fold_options = options;
  fold_options.threads = 1;
  fold_options.show = progress::never;  // parallel folds would interleave their progress lines
  std::vector<std::optional<fold_result<Net>>> done(folds.size());
  std::vector<std::exception_ptr> errors(folds.size());
  auto run_fold = [&](std::size_t f) noexcept {
    try {
      fold_result<Net> r{net, {}, 0, 0};
      Opt fold_opt = opt;
      const auto train = data.subset(folds[f].train), test = data.subset(folds[f].test);
      r.hist = fit<B>(r.net, loss, fold_opt, train, fold_options);
      r.test_loss = evaluate_loss<B>(r.net, loss, test);
      r.test_accuracy = evaluate_accuracy<B>(r.net, loss, test);
      done[f].emplace(std::move(r));
    } catch (...) {
      errors[f] = std::current_exception();
    }
  };
  thread_pool pool(std::min(resolve_threads(options.threads), folds.size()));
  auto job = [&](std::size_t i) noexcept {  // a fixed, round-robin assignment of folds to threads
    for (std::size_t f = i; f < folds.size(); f += pool.size()) run_fold(f);
  };
  pool.run(job);
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
  std::vector<fold_result<Net>> results;
  results.reserve(folds.size());
  for (auto& r : done) results.push_back(std::move(*r));
  return results;
}

/// cross_validate over the folds in a vector (as stratified_kfold returns them).
template <std::size_t B, network_type Net, class Loss, class Opt, class T, std::size_t F, std::size_t Targets,
          class Options = fit_options>
  requires std::derived_from<Options, fit_options>
std::vector<fold_result<Net>> cross_validate(const Net& net, const Loss& loss, const Opt& opt,
                                             const dataset<T, F, Targets>& data, const std::vector<split_indices>& folds,
                                             const Options& options = {}) {
  return cross_validate<B>(net, loss, opt, data, std::span<const split_indices>(folds), options);
}

}  // namespace typegrad

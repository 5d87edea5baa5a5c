// typegrad::mpi::sweep and cross_validate: independent trainings (grid points, folds) spread over MPI ranks.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <typegrad/data/dataset.hpp>
#include <typegrad/data/split.hpp>
#include <typegrad/mpi/communicator.hpp>
#include <typegrad/mpi/fit.hpp>

namespace typegrad::mpi {

/// Runs task(i) for i in [0, n) on the ranks round-robin (rank r runs every i with i % ranks == r)
/// and returns the n results, in task order, on every rank (one allreduce). For hyperparameter
/// sweeps: one grid point per task, each trained with plain typegrad::fit on one core.
///
///     const double lrs[] = {1e-3, 3e-3, 1e-2, 3e-2};
///     auto scores = tg::mpi::sweep(world, 4, [&](std::size_t i) { return train_and_score(lrs[i]); });
///
/// An exception in a task is thrown on every rank (the rank where it happened rethrows it), after
/// every rank has finished its own tasks.
template <class Task>
requires std::is_invocable_r_v<double, Task&, std::size_t> std::vector<double> sweep(const communicator& comm,
                                                                                     std::size_t n, Task&& task) {
  std::vector<double> results(n, 0.0);
  detail::agree_on(comm, "typegrad::mpi::sweep", [&] {
    for (std::size_t i = std::size_t(comm.rank()); i < n; i += std::size_t(comm.size())) results[i] = double(task(i));
  });
  comm.sum(results.data(), n);  // each entry is non-zero on one rank only: the sum is exact
  return results;
}

/// The k folds of `data`: stratified by the label with one target (typegrad::stratified_kfold),
/// else a seeded shuffle dealt round-robin. The same on every rank for the same seed.
template <class T, std::size_t F, std::size_t Targets>
std::vector<split_indices> kfold(const dataset<T, F, Targets>& data, std::size_t k, std::uint64_t seed) {
  if constexpr (Targets == 1) {
    return stratified_kfold(data.target_data(), k, seed);
  } else {
    if (k < 2 || k > data.size())
      throw std::invalid_argument("typegrad::mpi::kfold: k = " + std::to_string(k) + " for " +
                                  std::to_string(data.size()) + " samples; need 2 <= k <= n");
    const auto order = shuffled_indices(data.size(), seed);
    std::vector<std::size_t> fold_of(data.size());
    for (std::size_t r = 0; r < order.size(); ++r) fold_of[order[r]] = r % k;
    std::vector<split_indices> folds(k);
    for (std::size_t i = 0; i < data.size(); ++i)
      for (std::size_t f = 0; f < k; ++f) (fold_of[i] == f ? folds[f].test : folds[f].train).push_back(i);
    return folds;
  }
}

/// k-fold cross-validation with the folds spread over the ranks (fold f on rank f % ranks), the
/// MPI counterpart of typegrad::cross_validate (train/cross_validate.hpp, threads on one machine):
/// score(train_part, test_part) trains a fresh network on one fold's training rows and returns its
/// score on the held-out rows. Returns the scores, in fold order, on every rank; every rank passes
/// the same `data` and `folds`.
///
///     const auto folds = tg::mpi::kfold(data, 5, 42);   // stratified for one 0/1 or class target
///     auto auc = tg::mpi::cross_validate(world, data, folds, [](const auto& train, const auto& test) {
///       net_t net{tg::init::he_uniform{7}};
///       auto opt = tg::make_optimizer(net, tg::adam{.lr = 1e-3});
///       tg::fit<16>(net, tg::binary_cross_entropy{}, opt, train, {.epochs = 30});
///       return tg::roc_auc(test.target_data(), tg::predict(net, test));
///     });
template <class T, std::size_t F, std::size_t Targets, class Score>
requires std::is_invocable_r_v < double, Score&, const dataset<T, F, Targets>
&, const dataset<T, F, Targets>& >
       std::vector<double> cross_validate(const communicator& comm, const dataset<T, F, Targets>& data,
                                          const std::vector<split_indices>& folds, Score&& score) {
  return sweep(comm, folds.size(),
               [&](std::size_t f) { return double(score(data.subset(folds[f].train), data.subset(folds[f].test))); });
}

/// The same with kfold(data, k, seed).
template <class T, std::size_t F, std::size_t Targets, class Score>
requires std::is_invocable_r_v < double, Score&, const dataset<T, F, Targets>
&, const dataset<T, F, Targets>& > std::vector<double> cross_validate(const communicator& comm,
                                                                      const dataset<T, F, Targets>& data, std::size_t k,
                                                                      std::uint64_t seed, Score&& score) {
  std::vector<split_indices> folds;
  detail::agree_on(comm, "typegrad::mpi::cross_validate", [&] { folds = kfold(data, k, seed); });
  return cross_validate(comm, data, folds, score);
}

}  // namespace typegrad::mpi

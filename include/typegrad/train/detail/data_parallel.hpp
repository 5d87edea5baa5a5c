// data_parallel_step: one mini-batch step of fit split over a thread pool, reduced in a fixed order.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <memory>
#include <span>
#include <type_traits>
#include <vector>

#include <boost/hana/for_each.hpp>
#include <boost/hana/range.hpp>

#include <typegrad/core/tensor.hpp>
#include <typegrad/data/dataset.hpp>
#include <typegrad/network/network.hpp>
#include <typegrad/network/train.hpp>
#include <typegrad/optim/apply_gradient.hpp>
#include <typegrad/optim/optimizer.hpp>
#include <typegrad/simd/kernels.hpp>
#include <typegrad/train/detail/batch.hpp>
#include <typegrad/train/non_finite.hpp>
#include <typegrad/train/thread_pool.hpp>

namespace typegrad::detail {

/// Into how many chunks a data-parallel step splits a mini-batch of B rows: the largest power of
/// two up to 64 that divides B into chunks of at least 32 rows (1 when B < 64: such a batch stays
/// on one thread). The chunk size is a compile-time constant, so one instantiation of the
/// passes serves every thread count; thread i takes a fixed, contiguous range of chunks.
template <std::size_t B>
inline constexpr std::size_t parallel_chunks = [] {
  std::size_t k = 64;
  while (k > 1 && (B % k != 0 || B / k < 32)) k /= 2;
  return k;
}();

/// The most threads a mini-batch of B rows is split over (one chunk each, at least).
template <std::size_t B>
inline constexpr std::size_t max_fit_threads = parallel_chunks<B>;

// Calls f(block, param_c, offset) for every register of every parameter block of a
// parameter-shaped object (parameters, gradient), layer by layer.
template <class Params, class F>
void for_each_register(Params& params, F&& f) noexcept {
  namespace hana = boost::hana;
  hana::for_each(hana::make_range(hana::size_c<0>, hana::size_c<std::remove_cvref_t<Params>::depth>), [&](auto I) {
    auto& block = get<decltype(I)::value>(params);
    using block_t = std::remove_cvref_t<decltype(block)>;
    if constexpr (block_t::parameter_blocks > 0)  // reshapes and pooling have no data()
      for_each_block_register<block_t>([&](auto p, std::size_t off) { f(block, p, off); });
  });
}

template <class Params>
void set_zero(Params& g) noexcept {
  using V = simd::batch<typename std::remove_cvref_t<decltype(get<0>(g))>::value_type>;
  for_each_register(g, [](auto& block, auto p, std::size_t off) { V(0).store_aligned(block.data(p) + off); });
}

// sum += other, register by register (the fixed-order reduction of the threads' gradients).
template <class Params>
void add_into(Params& sum, const Params& other) noexcept {
  using V = simd::batch<typename std::remove_cvref_t<decltype(get<0>(sum))>::value_type>;
  namespace hana = boost::hana;
  hana::for_each(hana::make_range(hana::size_c<0>, hana::size_c<Params::depth>), [&](auto I) {
    auto& block = get<decltype(I)::value>(sum);
    const auto& add = get<decltype(I)::value>(other);
    using block_t = std::remove_cvref_t<decltype(block)>;
    if constexpr (block_t::parameter_blocks > 0)
      for_each_block_register<block_t>([&](auto p, std::size_t off) {
        (V::load_aligned(block.data(p) + off) + V::load_aligned(add.data(p) + off)).store_aligned(block.data(p) + off);
      });
  });
}

/// fit's mini-batch step on a pool of threads. The B rows are cut into parallel_chunks<B> chunks
/// of C rows; thread i runs the forward and backward passes of its contiguous range of chunks
/// in its own workspace and adds their gradients into its own gradient buffer. Then the calling
/// thread sums the buffers in thread order, and the optimizer takes one step. Every buffer is
/// allocated here, once; step() allocates nothing. For a given thread count the sums happen in
/// the same order every time, so the result is bit-identical run to run; against one thread
/// (the fused pass over all B rows) only the summation order differs.
template <class Net, class Loss, std::size_t B, std::size_t F, std::size_t Targets>
class data_parallel_step {
 public:
  using T = typename Net::value_type;
  static constexpr std::size_t chunks = parallel_chunks<B>;
  static constexpr std::size_t chunk_rows = B / chunks;

  /// @param threads 2 to chunks (fit clamps it).
  explicit data_parallel_step(std::size_t threads) : pool_(threads) {
    workers_.reserve(threads);
    for (std::size_t i = 0; i < threads; ++i) workers_.push_back(std::make_unique<worker>());
  }

  std::size_t threads() const noexcept { return pool_.size(); }

  /// One step of the mean gradient over `rows` of `train` (at most B: fewer make fit's short
  /// batch); returns the mean loss before the update. With `check`, a non-finite input row, loss
  /// or loss gradient returns a non-finite value with the weights and optimizer untouched.
  template <class Opt>
  double step(Net& net, Opt& opt, const dataset<T, F, Targets>& train, std::span<const std::size_t> rows,
              bool check) noexcept {
    static_assert(update_policy<Opt>);
    const std::size_t n = rows.size();
    const std::size_t threads = pool_.size();
    auto job = [&](std::size_t i) noexcept { run_chunks(net, *workers_[i], train, rows, n, check, i, threads); };
    pool_.run(job);
    double loss_sum = 0;
    for (const auto& w : workers_) {
      if (!std::isfinite(w->value)) return w->value;  // the first failing thread's, as fit_step returns it
      loss_sum += w->value;
    }
    for (std::size_t i = 1; i < threads; ++i) add_into(workers_[0]->grad, workers_[i]->grad);
    apply_gradient(net, opt, workers_[0]->grad);
    return loss_sum / double(n);
  }

 private:
  struct alignas(64) worker {
    typename Net::template workspace<chunk_rows> ws;
    typename Net::parameters_type grad;
    matrix<T, chunk_rows, F> x;
    matrix<T, chunk_rows, Targets> t;
    batch_target<Loss, T, chunk_rows, Net::out_size, Targets> target;
    double value = 0;  // the sum of its rows' losses, or a non-finite value: the step fails
  };

  void run_chunks(const Net& net, worker& w, const dataset<T, F, Targets>& train, std::span<const std::size_t> rows,
                  std::size_t n, bool check, std::size_t i, std::size_t threads) noexcept {
    set_zero(w.grad);
    w.value = 0;
    for (std::size_t c = i * chunks / threads; c < (i + 1) * chunks / threads; ++c) {
      const std::size_t begin = c * chunk_rows;
      if (begin >= n) break;  // the short batch's padding: nothing to compute
      const auto part = rows.subspan(begin, std::min(chunk_rows, n - begin));
      const double v = run_chunk(net, w, train, part, n, check);
      if (!std::isfinite(v)) {
        w.value = v;
        return;
      }
      w.value += v * double(part.size());
    }
  }

  // Forward and backward of one chunk; its gradient is added to w.grad. The loss gradient is
  // scaled by C / n: each chunk's loss is a mean over its C rows, the step's over all n rows
  // (n = B: a power of two, exact). Returns the chunk's mean loss, or a non-finite value.
  static double run_chunk(const Net& net, worker& w, const dataset<T, F, Targets>& train,
                          std::span<const std::size_t> part, std::size_t n, bool check) noexcept {
    constexpr std::size_t C = chunk_rows, stride = padded<T>(Net::out_size);
    static_assert(check_call<Net, Loss, matrix<T, C, Net::in_size>, decltype(w.target.value)>());
    const std::size_t m = train.batch(part, w.x, w.t);
    if (check && !all_finite(w.x.data(), m * F)) return std::numeric_limits<double>::quiet_NaN();
    w.target.set(w.t);
    forward_rows<C>(net, w.ws, w.x.data());
    T chunk_loss = T(0);
    if constexpr (loss_has_separate_gradient<Loss>) loss_gradient<Net, Loss, C>(w.ws, w.target.value);
    else chunk_loss = loss_and_gradient<Net, Loss, C>(w.ws, w.target.value);
    T* dy = Net::template output_gradient<C>(w.ws);
    const T scale = T(C) / T(n);
    for (std::size_t k = 0; k < m * stride; ++k) dy[k] *= scale;
    std::fill(dy + m * stride, dy + C * stride, T(0));
    double value;
    if (m < C) value = rows_loss<Net, Loss, C, Targets>(Net::template output<C>(w.ws), w.t, m);
    else if constexpr (loss_has_separate_gradient<Loss>)
      value = Loss::template evaluate<T, C, Net::out_size>(Net::template output<C>(w.ws), w.target.value, static_cast<T*>(nullptr));
    else value = chunk_loss;
    if (check) {
      bool finite = std::isfinite(value);
      for (std::size_t r = 0; r < m; ++r)
        for (std::size_t j = 0; j < Net::out_size; ++j) finite = finite && std::isfinite(dy[r * stride + j]);
      if (!finite) return std::isfinite(value) ? std::numeric_limits<double>::quiet_NaN() : value;
    }
    gradient_sink<typename Net::parameters_type, true> sink{&w.grad};  // adds
    // The sink never writes parameters (writes_parameters = false): the threads share `net` read-only.
    const_cast<Net&>(net).template backward<C, decltype(sink), loss_fuses_last_activation<Loss, Net>>(w.ws, sink);
    return value;
  }

  thread_pool pool_;
  std::vector<std::unique_ptr<worker>> workers_;
};

}  // namespace typegrad::detail

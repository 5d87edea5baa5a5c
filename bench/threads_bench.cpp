// fit with threads (issue 12, section 2): samples/s of fit on 1 and 2 threads, the scaling
// efficiency, and what a split step adds to the work itself: one pool dispatch (a no-op job) and
// the reduction of the second thread's gradient plus the update from the whole gradient.
// Build: target bench_threads (bench/CMakeLists.txt). Run: bench_threads [epochs per round, default 3]
#include <typegrad/typegrad.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <span>
#include <thread>
#include <vector>

#include <time.h>

namespace tg = typegrad;

namespace {

// The architectures of bench/cases.py's rows (float).
using cancer_net = tg::network<tg::input<30>, tg::dense<16, tg::relu>, tg::dense<16, tg::relu>, tg::dense<1, tg::sigmoid>>;
using mnist_net = tg::network<tg::input<784>, tg::dense<128, tg::relu>, tg::dense<10, tg::identity>>;
using wide_net = tg::network<tg::input<256>, tg::dense<256, tg::relu>, tg::dense<256, tg::relu>, tg::dense<256, tg::identity>>;

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) { return std::chrono::duration<double>(clock_type::now() - t0).count(); }

// Deterministic rows: smooth inputs in [-1, 1]; a class index for softmax, a 0/1 label for one
// sigmoid output, and a dense target otherwise.
template <std::size_t F, std::size_t Targets>
tg::dataset<float, F, Targets> make_data(std::size_t n, std::size_t classes) {
  tg::dataset<float, F, Targets> d;
  d.reserve(n);
  float x[F], t[Targets];
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < F; ++j) x[j] = float(std::sin(0.013 * double(i * F + j) + 0.7 * double(j)));
    for (std::size_t j = 0; j < Targets; ++j)
      t[j] = classes > 0 ? float((i * 7 + j) % classes) : float(std::cos(double(x[j]) + double(x[(j + 1) % F])));
    d.push_back(std::span<const float, F>(x, F), std::span<const float, Targets>(t, Targets));
  }
  return d;
}

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

struct measured {
  double samples_per_second = 0;  // the best epoch's, wall clock
  double cpu_us_per_sample = 1e30;  // CPU time of every thread of the process over the whole fit
};

// One fit of `epochs` epochs on `threads` threads.
template <std::size_t B, class Net, class Loss, class Data>
measured fit_once(const Data& data, std::size_t threads, std::size_t epochs) {
  Net net{tg::init::he_uniform{1}};
  tg::sgd opt{0.001};
  tg::fit_options o;
  o.epochs = epochs;
  o.show = tg::progress::never;
  o.threads = threads;
  o.on_non_finite = tg::non_finite::skip_batch;  // the default check stays on, as in a user's fit
  const double cpu0 = cpu_seconds();
  const auto h = tg::fit<B>(net, Loss{}, opt, data, o);
  measured m;
  m.cpu_us_per_sample = (cpu_seconds() - cpu0) / double(epochs * data.size()) * 1e6;
  for (const auto& e : h.epochs) m.samples_per_second = std::max(m.samples_per_second, e.samples_per_second);
  if (h.threads != threads) std::printf("(asked for %zu threads, fit used %zu)\n", threads, h.threads);
  return m;
}

// µs per dispatch of a no-op job to a pool of 2: the synchronisation a split step pays once.
// The mean over 20000 dispatches (what this machine's load gives) and the best mean of 100 in a
// row (both threads on a core: the cost of the synchronisation itself).
struct dispatch_cost {
  double mean_us, best_us;
};
dispatch_cost dispatch_us() {
  tg::thread_pool pool(2);
  auto job = [](std::size_t) noexcept {};
  for (int k = 0; k < 1000; ++k) pool.run(job);
  double best = 1e30;
  const auto t0 = clock_type::now();
  for (int batch = 0; batch < 200; ++batch) {
    const auto t1 = clock_type::now();
    for (int k = 0; k < 100; ++k) pool.run(job);
    best = std::min(best, seconds_since(t1) / 100 * 1e6);
  }
  return {seconds_since(t0) / 20000 * 1e6, best};
}

// µs for the calling thread's serial part of a split step: add thread 1's gradient to thread 0's,
// then one sgd update from the sum.
template <class Net>
double reduce_update_us() {
  Net net{tg::init::he_uniform{1}};
  auto g0 = std::make_unique<typename Net::parameters_type>();
  auto g1 = std::make_unique<typename Net::parameters_type>();
  tg::sgd opt{1e-9};
  constexpr int reps = 300;
  const auto t0 = clock_type::now();
  for (int k = 0; k < reps; ++k) {
    tg::detail::add_into(*g0, *g1);
    tg::detail::apply_gradient(net, opt, *g0);
  }
  return seconds_since(t0) / reps * 1e6;
}

// µs per step on one batch of B rows (best of 5 rounds of about 0.1 s): fit's fused step
// (threads = 0 here), or the split step on `threads` threads (1: all chunks on the calling thread,
// the work a split step does, without any parallelism).
template <std::size_t B, class Net, class Loss, class T, std::size_t F, std::size_t Targets>
double step_us(const tg::dataset<T, F, Targets>& data, std::size_t threads) {
  Net net{tg::init::he_uniform{1}};
  tg::sgd opt{1e-7};
  std::vector<std::size_t> rows(B);
  for (std::size_t i = 0; i < B; ++i) rows[i] = i;
  tg::matrix<T, B, F> x;
  tg::matrix<T, B, Targets> t;
  tg::detail::batch_target<Loss, T, B, Net::out_size, Targets> target;
  data.batch(std::span<const std::size_t>(rows), x, t);
  target.set(t);
  const auto ws = tg::detail::workspace_on_heap<Net, B>();  // as fit holds it
  std::unique_ptr<tg::detail::data_parallel_step<Net, Loss, B, F, Targets>> split;
  if (threads > 0) split = std::make_unique<tg::detail::data_parallel_step<Net, Loss, B, F, Targets>>(threads);
  double best = 1e30;
  for (int round = 0; round < 5; ++round) {
    long steps = 0;
    const auto t0 = clock_type::now();
    double elapsed = 0;
    for (; elapsed < 0.1; elapsed = seconds_since(t0), ++steps) {
      if (split) split->step(net, opt, data, std::span<const std::size_t>(rows), true);
      else tg::detail::fit_step<Net, Loss>(net, opt, x, t, target.value, B, *ws, true);
    }
    best = std::min(best, elapsed / double(steps) * 1e6);
  }
  return best;
}

template <std::size_t B, class Net, class Loss, class Data>
double step_us_of(const Data& data, std::size_t threads) {
  return step_us<B, Net, Loss>(data, threads);
}

struct step_row {
  const char* name;
  double fused, split_serial, split_two, dispatch, reduce;
};
std::vector<step_row> steps;

template <std::size_t B, class Net, class Loss, class Data>
void row(const char* name, const Data& data, std::size_t epochs) {
  double one = 0, two = 0, cpu_one = 1e30, cpu_two = 1e30;
  for (int round = 0; round < 3; ++round) {  // alternated, so that a change in the machine's load hits both
    const auto a = fit_once<B, Net, Loss>(data, 1, epochs);
    const auto b = fit_once<B, Net, Loss>(data, 2, epochs);
    one = std::max(one, a.samples_per_second);
    two = std::max(two, b.samples_per_second);
    cpu_one = std::min(cpu_one, a.cpu_us_per_sample);
    cpu_two = std::min(cpu_two, b.cpu_us_per_sample);
  }
  const double step_fit_us = double(B) / one * 1e6;
  const auto dispatch = dispatch_us();
  const double reduce = reduce_update_us<Net>();
  std::printf("| %-11s | %6zu | %9.0f | %9.0f | %5.2f | %5.1f %% | %+5.1f %% | %8.1f | %6.1f / %4.1f | %7.1f |\n", name,
              Net::parameters_type::count(), one, two, two / one, 100 * two / (2 * one), 100 * (cpu_two / cpu_one - 1),
              step_fit_us, dispatch.mean_us, dispatch.best_us, reduce);
  steps.push_back({name, step_us_of<B, Net, Loss>(data, 0), step_us_of<B, Net, Loss>(data, 1), step_us_of<B, Net, Loss>(data, 2),
                   dispatch.best_us, reduce});
}

// The machine's load average: the rows are only as good as the cores that were free.
void print_load(const char* when) {
  if (std::FILE* f = std::fopen("/proc/loadavg", "r")) {
    char line[128] = {};
    if (std::fgets(line, sizeof line, f)) std::printf("load average %s: %s", when, line);
    std::fclose(f);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t epochs = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 3;
  std::printf("hardware threads: %u\n", std::thread::hardware_concurrency());
  print_load("before");
  std::printf("| row | params | samples/s, 1 thread | samples/s, 2 threads | speed-up | efficiency | CPU time per sample, 2 vs 1 | step µs, 1 thread | dispatch µs, mean / best | reduce + update µs |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|\n");
  const auto wide = make_data<256, 256>(256 * 40, 0);
  const auto mnist = make_data<784, 1>(256 * 40, 10);
  const auto cancer = make_data<30, 1>(256 * 40, 2);
  row<256, wide_net, tg::mse>("wide_b256", wide, epochs);
  row<256, mnist_net, tg::softmax_cross_entropy>("mnist_b256", mnist, epochs);
  row<64, wide_net, tg::mse>("wide_b64", wide, epochs);
  row<64, mnist_net, tg::softmax_cross_entropy>("mnist_b64", mnist, epochs);
  row<256, cancer_net, tg::binary_cross_entropy>("cancer_b256", cancer, epochs);
  row<64, cancer_net, tg::binary_cross_entropy>("cancer_b64", cancer, epochs);
  std::printf("\nOne step on one batch, µs (best of 5 rounds): fit's fused step on 1 thread; the split step with all its\n"
              "chunks on 1 thread (its work); the split step on 2 threads.\n\n");
  std::printf("| row | fused, 1 thread | split, 1 thread | split, 2 threads | split work / fused | speed-up over fused | "
              "two free cores: speed-up (efficiency) |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  // With two free cores a split step takes half its parallel work, then the serial reduce +
  // update, plus one dispatch: fused / ((split − reduce) / 2 + reduce + dispatch).
  for (const auto& r : steps) {
    const double two_cores = r.fused / ((r.split_serial - r.reduce) / 2 + r.reduce + r.dispatch);
    std::printf("| %-11s | %8.1f | %8.1f | %8.1f | %5.2f | %5.2f | %5.2f (%3.0f %%) |\n", r.name, r.fused, r.split_serial,
                r.split_two, r.split_serial / r.fused, r.fused / r.split_two, two_cores, 50 * two_cores);
  }
  print_load("after");
}

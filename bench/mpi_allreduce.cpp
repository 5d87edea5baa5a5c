// Allreduce cost against step time for typegrad::mpi::fit, on the flagship's cancer network and a wide one.
// Run: mpirun -np 2 --oversubscribe build/.../mpi_allreduce   (and -np 1 for the one-process baseline)
// Prints, per network: the parameter count, one local step (train_step at B rows), one
// MPI_Allreduce of the flat gradient, and seconds per epoch of mpi::fit in each mode.
#include <typegrad/mpi/fit.hpp>
#include <typegrad/typegrad.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

namespace tg = typegrad;

namespace {

constexpr std::size_t batch = 32;  // per rank
constexpr std::size_t rows = 4096;

using cancer_net =
    tg::network<tg::input<30>, tg::dense<16, tg::relu>, tg::dense<16, tg::relu>, tg::dense<1, tg::sigmoid>>;
using wide_net =
    tg::network<tg::input<30>, tg::dense<512, tg::relu>, tg::dense<512, tg::relu>, tg::dense<1, tg::sigmoid>>;

tg::dataset<float, 30, 1> make_data() {
  tg::dataset<float, 30, 1> d;
  for (std::size_t i = 0; i < rows; ++i) {
    float x[30];
    float s = 0;
    for (std::size_t j = 0; j < 30; ++j) s += x[j] = float(std::sin(0.77 * double(i * 30 + j)));
    const float label = s > 0 ? 1.0f : 0.0f;
    d.push_back(std::span<const float, 30>(x), std::span<const float, 1>(&label, 1));
  }
  return d;
}

template <class F>
double median_seconds(int reps, F&& f) {
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const auto a = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

template <class Net>
void measure(const char* name, const tg::mpi::communicator& world, const tg::dataset<float, 30, 1>& data) {
  const bool root = world.rank() == 0;
  auto net = std::make_unique<Net>(tg::init::he_uniform{1});
  auto opt = tg::make_optimizer(*net, tg::adam{.lr = 1e-3});
  tg::matrix<float, batch, 30> x;
  tg::matrix<float, batch, 1> t;
  for (std::size_t k = 0; k < x.size(); ++k) x.data()[k] = float(std::sin(double(k)));
  for (std::size_t k = 0; k < t.size(); ++k) t.data()[k] = float(k % 2);
  const double step = median_seconds(200, [&] { tg::train_step(*net, tg::binary_cross_entropy{}, opt, x, t); });
  std::vector<float> buffer(tg::mpi::detail::flat_size<typename Net::parameters_type>() + 1, 1.0f);
  world.barrier();
  const double reduce = median_seconds(200, [&] { world.sum(buffer.data(), buffer.size()); });
  if (root)
    std::printf("%-7s %8zu params  step(B=%zu) %9.2f us  allreduce(%zu floats) %9.2f us  ratio %.2f\n", name,
                Net::parameters_type::count(), batch, step * 1e6, buffer.size(), reduce * 1e6, reduce / step);
  const auto epoch_seconds = [&](tg::mpi::sync_mode mode) {
    Net n{tg::init::he_uniform{1}};
    auto o2 = tg::make_optimizer(n, tg::adam{.lr = 1e-3});
    tg::mpi::fit_options opts;
    opts.epochs = 3;
    opts.mode = mode;
    const auto h = tg::mpi::fit<batch>(world, n, tg::binary_cross_entropy{}, o2, data, opts);
    double best = 1e9;
    for (const auto& e : h.epochs) best = std::min(best, e.seconds);
    return best;
  };
  const double all = epoch_seconds(tg::mpi::allreduce{});
  const double local8 = epoch_seconds(tg::mpi::local_sgd{8});
  const double local32 = epoch_seconds(tg::mpi::local_sgd{32});
  if (root)
    std::printf("%-7s epoch of %zu rows on %d rank(s): allreduce %.4f s  local_sgd{8} %.4f s  local_sgd{32} %.4f s\n",
                name, rows, world.size(), all, local8, local32);
}

}  // namespace

int main(int argc, char** argv) {
  tg::mpi::environment env(argc, argv);
  tg::mpi::communicator world;
  const auto data = make_data();
  measure<cancer_net>("cancer", world, data);
  measure<wide_net>("wide", world, data);
}

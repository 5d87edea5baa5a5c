// typegrad::mpi under `mpirun -np 2`: allreduce fit against one process with the total batch,
// local SGD, federated averaging (with DP-SGD), sweeps and k-fold, and errors raised on every rank.
// Its own executable and main (MPI_Init before Catch2); not a *.test.cpp of the main test binary.
// Every rank runs the same test cases in the same order (no --order rand); the REQUIREs of a test
// case come after its last collective call, so a failure on one rank cannot leave the other waiting.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <typegrad/mpi/cross_validate.hpp>
#include <typegrad/mpi/fit.hpp>
#include <typegrad/typegrad.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace tg = typegrad;

namespace {

// 5 features (not a multiple of any SIMD width), one 0/1 label from a smooth rule plus a flip now and then.
template <class T>
tg::dataset<T, 5, 1> make_data(std::size_t n, double salt = 0) {
  tg::dataset<T, 5, 1> d;
  for (std::size_t i = 0; i < n; ++i) {
    T x[5];
    double s = 0;
    for (std::size_t j = 0; j < 5; ++j) {
      x[j] = T(1.5 * std::sin(1.3 * double(i * 5 + j) + 0.7 + salt) * std::cos(0.37 * double(i + j) + salt));
      s += (j % 2 ? -1.0 : 1.0) * double(x[j]);
    }
    const T label = T((s > 0) != (i % 11 == 3) ? 1 : 0);
    d.push_back(std::span<const T, 5>(x), std::span<const T, 1>(&label, 1));
  }
  return d;
}

template <class T>
using small_net = tg::network<tg::input<5, T>, tg::dense<7, tg::tanh>, tg::dense<1, tg::sigmoid>>;

// Largest absolute difference between two networks' parameters.
template <class Net>
double max_difference(const Net& a, const Net& b) {
  std::vector<double> va, vb;
  a.parameters().for_each([&](auto, auto, std::size_t, std::size_t, auto v) { va.push_back(double(v)); });
  b.parameters().for_each([&](auto, auto, std::size_t, std::size_t, auto v) { vb.push_back(double(v)); });
  double worst = 0;
  for (std::size_t k = 0; k < va.size(); ++k) worst = std::max(worst, std::abs(va[k] - vb[k]));
  return worst;
}

template <class Net>
bool bitwise_equal(const Net& a, const Net& b) {
  bool same = true;
  std::vector<typename Net::value_type> vb;
  b.parameters().for_each([&](auto, auto, std::size_t, std::size_t, auto v) { vb.push_back(v); });
  std::size_t k = 0;
  a.parameters().for_each(
      [&](auto, auto, std::size_t, std::size_t, auto v) { same = same && std::memcmp(&v, &vb[k++], sizeof v) == 0; });
  return same;
}

// True on every rank when all ranks hold bit-identical parameters (rank 0's are broadcast and compared).
template <class Net>
bool same_on_all_ranks(const tg::mpi::communicator& comm, const Net& net) {
  Net copy = net;
  std::vector<typename Net::value_type> flat;
  copy.parameters().for_each([&](auto, auto, std::size_t, std::size_t, auto v) { flat.push_back(v); });
  comm.broadcast(flat.data(), flat.size(), 0);
  std::size_t k = 0;
  copy.parameters().for_each([&](auto, auto, std::size_t, std::size_t, auto& v) { v = flat[k++]; });
  unsigned long long differs = bitwise_equal(copy, net) ? 0 : 1;
  comm.sum(&differs, 1);
  return differs == 0;
}

}  // namespace

TEMPLATE_TEST_CASE("mpi::fit allreduce: the same training as one process with the total batch", "[mpi]", float,
                   double) {
  using T = TestType;
  tg::mpi::communicator world;
  if (world.size() != 2) {
    WARN("needs exactly 2 ranks (mpirun -np 2); skipped");
    return;
  }
  constexpr std::size_t per_rank = 4;  // one process: batches of 8
  const auto data = make_data<T>(37);  // 4 steps of 8 rows, then 5 rows: rank 0 takes 4, rank 1 one
  small_net<T> net{tg::init::glorot_uniform{3}}, single = net;
  auto opt = tg::make_optimizer(net, tg::adam{.lr = 0.02});
  auto single_opt = tg::make_optimizer(single, tg::adam{.lr = 0.02});
  tg::mpi::fit_options o;
  o.epochs = 4;
  o.seed = 9;
  o.show = tg::progress::never;
  const auto h = tg::mpi::fit<per_rank>(world, net, tg::binary_cross_entropy{}, opt, data, o);
  const bool consistent = same_on_all_ranks(world, net);

  // A second run from the same start: bit for bit the same (fixed rank count).
  small_net<T> again{tg::init::glorot_uniform{3}};
  auto again_opt = tg::make_optimizer(again, tg::adam{.lr = 0.02});
  tg::mpi::fit<per_rank>(world, again, tg::binary_cross_entropy{}, again_opt, data, o);

  tg::fit_options so;
  so.epochs = 4;
  so.seed = 9;
  so.show = tg::progress::never;
  const auto sh = tg::fit<2 * per_rank>(single, tg::binary_cross_entropy{}, single_opt, data, so);

  const double tolerance = std::is_same_v<T, double> ? 1e-12 : 2e-5;  // summation order only
  CHECK(consistent);
  CHECK(bitwise_equal(net, again));
  CHECK(max_difference(net, single) <= tolerance);
  CHECK(max_difference(net, small_net<T>{tg::init::glorot_uniform{3}}) > 1e-3);  // it did train
  REQUIRE(h.epochs.size() == sh.epochs.size());
  for (std::size_t e = 0; e < h.epochs.size(); ++e)
    CHECK(std::abs(h.epochs[e].train_loss - sh.epochs[e].train_loss) <= 1e3 * tolerance);
}

TEST_CASE("mpi::fit local_sgd: averaging every step equals allreduce for plain SGD; every K steps keeps ranks equal",
          "[mpi]") {
  using T = double;
  tg::mpi::communicator world;
  const auto data = make_data<T>(40);
  // Averaging equals allreduce only when every step has whole batches of 4 (1, 2, 5 or 10 ranks):
  // then every rank's share of each step is its share of the epoch.
  const bool whole_batches = 40 % (4 * std::size_t(world.size())) == 0;
  small_net<T> a{tg::init::glorot_uniform{5}}, b = a, c = a;
  tg::mpi::fit_options o;
  o.epochs = 3;
  o.seed = 1;
  tg::sgd sa{.lr = 0.3}, sb{.lr = 0.3};
  tg::mpi::fit<4>(world, a, tg::binary_cross_entropy{}, sa, data, o);
  o.mode = tg::mpi::local_sgd{1};
  tg::mpi::fit<4>(world, b, tg::binary_cross_entropy{}, sb, data, o);
  o.mode = tg::mpi::local_sgd{3};  // 5 steps per epoch on 2 ranks: averaged after steps 3 and 5
  o.epochs = 30;
  auto opt = tg::make_optimizer(c, tg::adam{.lr = 0.01});
  const auto h = tg::mpi::fit<4>(world, c, tg::binary_cross_entropy{}, opt, data, o);
  const bool consistent = same_on_all_ranks(world, c);

  if (whole_batches) CHECK(max_difference(a, b) <= 1e-12);
  CHECK(consistent);
  CHECK(h.epochs.back().train_loss < 0.8 * h.epochs.front().train_loss);
}

TEST_CASE("mpi::fit federated_averaging: identical shards give single-process training; shards are weighted by size",
          "[mpi]") {
  using T = double;
  tg::mpi::communicator world;
  const auto data = make_data<T>(29);
  constexpr std::size_t rounds = 3;
  tg::mpi::fit_options o;
  o.epochs = rounds;
  o.seed = 4;
  o.mode = tg::mpi::federated_averaging{};

  // Every rank holds the same shard: the average of identical models is that model.
  small_net<T> fed{tg::init::glorot_uniform{8}}, single = fed;
  auto fed_opt = tg::make_optimizer(fed, tg::adam{.lr = 0.01});
  auto single_opt = tg::make_optimizer(single, tg::adam{.lr = 0.01});
  tg::mpi::fit<4>(world, fed, tg::binary_cross_entropy{}, fed_opt, data, o);
  for (std::size_t r = 1; r <= rounds; ++r) {  // mpi::fit's rounds: one epoch each, seed + round
    tg::fit_options so;
    so.epochs = 1;
    so.seed = o.seed + r;
    so.show = tg::progress::never;
    tg::fit<4>(single, tg::binary_cross_entropy{}, single_opt, data, so);
  }

  // Shards of different sizes (rank r: its own slice), one round; the reference trains every
  // shard here and averages with weights n_r / N.
  const std::size_t ranks = std::size_t(world.size()), me = std::size_t(world.rank());
  auto slice = [&](std::size_t r) {  // rank r's rows: rank 0 has about twice as many as the others
    std::vector<std::size_t> rows;
    for (std::size_t i = 0; i < data.size(); ++i)
      if (i % (ranks + 1) % ranks == r) rows.push_back(i);
    return data.subset(rows);
  };
  small_net<T> weighted{tg::init::glorot_uniform{2}};
  const small_net<T> start = weighted;
  tg::sgd local{.lr = 0.2};
  o.epochs = 1;
  tg::mpi::fit<4>(world, weighted, tg::binary_cross_entropy{}, local, slice(me), o);
  const bool consistent = same_on_all_ranks(world, weighted);
  std::vector<double> average;
  std::size_t all_rows = 0;
  for (std::size_t r = 0; r < ranks; ++r) all_rows += slice(r).size();
  for (std::size_t r = 0; r < ranks; ++r) {
    small_net<T> m = start;
    tg::sgd s{.lr = 0.2};
    tg::fit_options so;
    so.epochs = 1;
    so.seed = o.seed + 1;
    so.show = tg::progress::never;
    const auto shard = slice(r);
    tg::fit<4>(m, tg::binary_cross_entropy{}, s, shard, so);
    std::size_t k = 0;
    m.parameters().for_each([&](auto, auto, std::size_t, std::size_t, double v) {
      if (average.size() <= k) average.push_back(0);
      average[k++] += v * double(shard.size()) / double(all_rows);
    });
  }
  double worst = 0;
  std::size_t k = 0;
  weighted.parameters().for_each(
      [&](auto, auto, std::size_t, std::size_t, double v) { worst = std::max(worst, std::abs(v - average[k++])); });

  // Weights 1/ranks: exact for a power of two, so the average of identical models is that model.
  if ((ranks & (ranks - 1)) == 0) CHECK(bitwise_equal(fed, single));
  CHECK(max_difference(fed, single) <= 1e-12);
  CHECK(consistent);
  CHECK(worst <= 1e-12);
  CHECK(max_difference(weighted, start) > 1e-3);
}

TEST_CASE("mpi::fit federated_averaging composes with DP-SGD: ε as one site's private fit over all rounds", "[mpi]") {
  using T = double;
  tg::mpi::communicator world;
  const auto data = make_data<T>(60, double(world.rank()));  // each site its own rows
  tg::mpi::private_fit_options o;
  o.epochs = 3;
  o.mode = tg::mpi::federated_averaging{.local_epochs = 2};
  o.privacy = {.noise_multiplier = 1.1, .max_grad_norm = 1.0, .delta = 1e-5, .lot_size = 10, .noise_seed = 77};
  small_net<T> net{tg::init::glorot_uniform{6}};
  tg::sgd s{.lr = 0.1};
  const auto h = tg::mpi::fit<4>(world, net, tg::binary_cross_entropy{}, s, data, o);
  const bool consistent = same_on_all_ranks(world, net);

  // One process, one private fit of rounds × local epochs epochs on the same shard: the same
  // number of DP-SGD steps at the same sampling rate, so the same ε.
  small_net<T> single{tg::init::glorot_uniform{6}};
  tg::sgd ss{.lr = 0.1};
  tg::privacy::fit_options so;
  so.epochs = 6;
  so.show = tg::progress::never;
  so.privacy = o.privacy;
  const auto sh = tg::fit<4>(single, tg::binary_cross_entropy{}, ss, data, so);

  CHECK(consistent);
  CHECK(net.is_finite());
  REQUIRE(h.epochs.size() == 3);
  CHECK(h.epochs[0].epsilon > 0);
  CHECK(h.epochs[0].epsilon < h.epochs[1].epsilon);
  CHECK(h.epochs[2].epsilon == Approx(sh.epochs.back().epsilon).epsilon(1e-12));
}

TEST_CASE("mpi::sweep and cross_validate: tasks spread round-robin, all results on every rank", "[mpi]") {
  tg::mpi::communicator world;
  const auto ran_here =
      tg::mpi::sweep(world, 7, [&](std::size_t i) { return double(world.rank()) + 0.25 * double(i); });
  const auto data = make_data<double>(31);
  auto score = [](const tg::dataset<double, 5, 1>& train, const tg::dataset<double, 5, 1>& test) {
    small_net<double> net{tg::init::glorot_uniform{1}};
    tg::sgd s{.lr = 0.2};
    tg::fit_options o;
    o.epochs = 5;
    o.show = tg::progress::never;
    tg::fit<8>(net, tg::binary_cross_entropy{}, s, train, o);
    return tg::evaluate_loss(net, tg::binary_cross_entropy{}, test);
  };
  const auto scores = tg::mpi::cross_validate(world, data, 3, 42, score);
  const auto folds = tg::mpi::kfold(data, 3, 42);

  REQUIRE(ran_here.size() == 7);
  for (std::size_t i = 0; i < 7; ++i) CHECK(ran_here[i] == double(i % std::size_t(world.size())) + 0.25 * double(i));
  REQUIRE(scores.size() == 3);
  for (std::size_t f = 0; f < 3; ++f)
    CHECK(scores[f] == score(data.subset(folds[f].train), data.subset(folds[f].test)));
}

TEST_CASE("mpi: a bad call throws on every rank, naming what is wrong", "[mpi]") {
  tg::mpi::communicator world;
  small_net<double> net;
  tg::sgd s{.lr = 0.1};
  std::string private_allreduce, uneven, other_mode, task_error, non_finite;
  auto poisoned = make_data<double>(24);
  poisoned.features(13)[2] = std::numeric_limits<double>::quiet_NaN();
  try {  // the NaN row lands on one rank; the summed gradient stops every rank at the same step
    tg::mpi::fit<4>(world, net, tg::binary_cross_entropy{}, s, poisoned);
  } catch (const tg::non_finite_error& e) {
    non_finite = e.what();
  }
  tg::mpi::fit_options skip;
  skip.epochs = 2;
  skip.on_non_finite = tg::non_finite::skip_batch;
  small_net<double> skipping;
  const auto skipped = tg::mpi::fit<4>(world, skipping, tg::binary_cross_entropy{}, s, poisoned, skip);
  skip.mode = tg::mpi::local_sgd{2};  // the bad batch is left out on its rank and counted at the averaging
  small_net<double> skipping_local;
  const auto skipped_local = tg::mpi::fit<4>(world, skipping_local, tg::binary_cross_entropy{}, s, poisoned, skip);
  try {
    tg::mpi::private_fit_options o;
    o.privacy.noise_multiplier = 1.0;
    tg::mpi::fit<4>(world, net, tg::binary_cross_entropy{}, s, make_data<double>(20), o);
  } catch (const std::invalid_argument& e) {
    private_allreduce = e.what();
  }
  try {  // replicated data must be the same size on every rank
    tg::mpi::fit<4>(world, net, tg::binary_cross_entropy{}, s, make_data<double>(20 + std::size_t(world.rank())));
  } catch (const std::exception& e) {
    uneven = e.what();
  }
  try {  // rank 1 asks for local SGD, rank 0 for allreduce: an error, not a deadlock
    tg::mpi::fit_options o;
    if (world.rank() == 1) o.mode = tg::mpi::local_sgd{4};
    tg::mpi::fit<4>(world, net, tg::binary_cross_entropy{}, s, make_data<double>(20), o);
  } catch (const std::invalid_argument& e) {
    other_mode = e.what();
  }
  try {
    tg::mpi::sweep(world, 3, [](std::size_t i) -> double {
      if (i == 1) throw std::runtime_error("task 1 failed");
      return 0;
    });
  } catch (const std::runtime_error& e) {
    task_error = e.what();
  }

  CHECK_THAT(non_finite, Catch::Contains("summed over the ranks is not finite"));
  CHECK(skipped.skipped_batches == 2);  // one step per epoch
  CHECK(skipping.is_finite());
  CHECK(skipped_local.skipped_batches == 2);
  CHECK(skipping_local.is_finite());
  CHECK(std::isfinite(skipped.epochs.back().train_loss));
  CHECK_THAT(private_allreduce, Catch::Contains("composes with federated_averaging only"));
  if (world.size() > 1) {
    CHECK_THAT(uneven, Catch::Contains("placement::replicated, but rank 1 has 21 rows"));
    CHECK_THAT(other_mode, Catch::Contains("rank 1 was called with another mode than rank 0 (1 vs 0)"));
  }
  CHECK_THAT(task_error, Catch::Contains(world.rank() == 1 % world.size() ? "task 1 failed" : "rank 1 failed"));
}

int main(int argc, char** argv) {
  typegrad::mpi::environment env(argc, argv);
  const int failed = Catch::Session().run(argc, argv);
  int any = failed;
  MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  return any;
}

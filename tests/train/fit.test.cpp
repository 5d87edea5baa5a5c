// typegrad::fit: partial last batch, early stopping, determinism, history.
#include <catch2/catch.hpp>
#include <typegrad/typegrad.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

namespace tg = typegrad;

namespace {
using net_t = tg::network<tg::input<3, double>, tg::dense<4, tg::tanh>, tg::dense<1, tg::sigmoid>>;

tg::dataset<double, 3> make_data(std::size_t n) {
  tg::dataset<double, 3> d;
  for (std::size_t i = 0; i < n; ++i) {
    const double x[3] = {std::sin(0.9 * double(i)), std::cos(1.7 * double(i)), 0.1 * double(i % 5)};
    const double t[1] = {x[0] + 0.5 * x[1] > 0 ? 1.0 : 0.0};
    d.push_back(std::span<const double, 3>(x, 3), std::span<const double, 1>(t, 1));
  }
  return d;
}
}  // namespace

TEST_CASE("fit: one epoch equals full batches then one mean-gradient step on the rest", "[fit]") {
  const auto data = make_data(7);  // batches of 3: 3 + 3 + a partial batch of 1
  net_t fitted{tg::init::glorot_uniform{1}};
  auto manual = fitted;
  tg::sgd opt{0.1};
  const auto h = tg::fit<3>(fitted, tg::binary_cross_entropy{}, opt, data, {.epochs = 1, .seed = 9, .show = tg::progress::never});
  REQUIRE(h.epochs.size() == 1);

  // The same order fit uses: its shuffle with the same seed.
  std::vector<std::size_t> order(data.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  tg::random_engine rng{9};
  tg::shuffle(std::span<std::size_t>(order), rng);
  double loss_sum = 0;
  for (std::size_t start = 0; start + 3 <= 7; start += 3) {
    tg::matrix<double, 3, 3> x;
    tg::matrix<double, 3, 1> t;
    data.batch(std::span<const std::size_t>(order).subspan(start, 3), x, t);
    loss_sum += 3 * tg::train_step(manual, tg::binary_cross_entropy{}, opt, x, t);
  }
  tg::vector<double, 3> x;
  tg::vector<double, 1> t;
  data.sample(order[6], x, t);
  loss_sum += tg::train_step(manual, tg::binary_cross_entropy{}, opt, x, t);  // a batch of one = its own mean
  REQUIRE(h.epochs[0].train_loss == Approx(loss_sum / 7).epsilon(1e-12));
  std::vector<double> a, b;
  fitted.parameters().for_each([&](std::size_t, auto, std::size_t, std::size_t, double v) { a.push_back(v); });
  manual.parameters().for_each([&](std::size_t, auto, std::size_t, std::size_t, double v) { b.push_back(v); });
  for (std::size_t i = 0; i < a.size(); ++i) REQUIRE(a[i] == Approx(b[i]).epsilon(1e-12).margin(1e-15));
}

TEST_CASE("fit: a partial batch of several samples takes their mean gradient", "[fit]") {
  const auto data = make_data(2);  // B = 4 > n: the whole epoch is one partial batch of 2
  net_t fitted{tg::init::glorot_uniform{2}};
  auto manual = fitted;
  tg::sgd opt{0.5};
  tg::fit<4>(fitted, tg::binary_cross_entropy{}, opt, data, {.epochs = 1, .seed = 3, .show = tg::progress::never});
  tg::matrix<double, 2, 3> x;
  tg::matrix<double, 2, 1> t;
  const std::size_t rows[2] = {0, 1};
  data.batch(std::span<const std::size_t>(rows), x, t);
  tg::train_step(manual, tg::binary_cross_entropy{}, opt, x, t);  // the batch-of-2 mean gradient
  std::vector<double> a, b;
  fitted.parameters().for_each([&](std::size_t, auto, std::size_t, std::size_t, double v) { a.push_back(v); });
  manual.parameters().for_each([&](std::size_t, auto, std::size_t, std::size_t, double v) { b.push_back(v); });
  for (std::size_t i = 0; i < a.size(); ++i) REQUIRE(a[i] == Approx(b[i]).epsilon(1e-12).margin(1e-15));
}

TEST_CASE("fit: early stopping restores the best epoch's weights", "[fit]") {
  const auto data = make_data(120);
  const auto val = make_data(40);
  net_t net{tg::init::glorot_uniform{4}};
  tg::sgd opt{2.0};  // large steps: validation loss stops improving early
  net_t best_seen{tg::init::zeros{}};
  double best_loss = 1e300;
  const auto h = tg::fit<8>(net, tg::binary_cross_entropy{}, opt, data, &val,
                            {.epochs = 200, .seed = 1, .patience = 5, .show = tg::progress::never},
                            [&](const tg::epoch_record& e) {
                              if (e.validation_loss < best_loss) best_loss = e.validation_loss;
                              return true;
                            });
  REQUIRE(h.best_epoch >= 1);
  REQUIRE(h.epochs.size() <= 200);
  if (h.stopped_early) REQUIRE(h.epochs.size() == h.best_epoch + 5);
  REQUIRE(h.epochs[h.best_epoch - 1].validation_loss == Approx(best_loss));
  // The restored network has the best validation loss, recomputed independently.
  REQUIRE(tg::evaluate_loss(net, tg::binary_cross_entropy{}, val) == Approx(best_loss).epsilon(1e-12));
  REQUIRE(h.epochs.back().validation_accuracy >= 0.0);
}

TEST_CASE("fit: same seed, same result; history writes CSV; callbacks can stop", "[fit]") {
  const auto data = make_data(50);
  auto run = [&](std::uint64_t seed) {
    net_t net{tg::init::glorot_uniform{5}};
    auto opt = tg::make_optimizer(net, tg::adam{.lr = 0.01});
    tg::fit<8>(net, tg::binary_cross_entropy{}, opt, data, {.epochs = 5, .seed = seed, .show = tg::progress::never});
    return net;
  };
  REQUIRE(bool(run(1) == run(1)));
  REQUIRE_FALSE(bool(run(1) == run(2)));

  net_t net{tg::init::glorot_uniform{6}};
  tg::sgd opt{0.1};
  std::size_t batches = 0;
  const auto h = tg::fit<8>(
      net, tg::binary_cross_entropy{}, opt, data, {.epochs = 10, .validation_fraction = 0.2, .show = tg::progress::never},
      [](const tg::epoch_record& e) { return e.epoch < 3; }, [&](std::size_t, std::size_t, double) { ++batches; });
  REQUIRE(h.epochs.size() == 3);
  REQUIRE(batches == 3 * 5);  // 40 training samples after the 20 % split: 5 batches of 8
  const auto path = std::filesystem::temp_directory_path() / "typegrad_fit_history.csv";
  h.write_csv(path.string());
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  REQUIRE(line == "epoch,train_loss,validation_loss,validation_accuracy,seconds,samples_per_second");
  std::size_t rows = 0;
  while (std::getline(in, line)) ++rows;
  REQUIRE(rows == 3);
  std::filesystem::remove(path);
}

TEST_CASE("fit: a batch-norm network skips the short last batch (its padding would enter the batch statistics)", "[fit][batch_norm]") {
  using bn_net = tg::network<tg::input<3, double>, tg::dense<4>, tg::batch_norm<tg::tanh>, tg::dense<1, tg::sigmoid>>;
  const auto data = make_data(7);  // batches of 3: two full batches, one sample left over
  bn_net fitted{tg::init::glorot_uniform{1}};
  auto manual = fitted;
  tg::sgd opt{0.1};
  const auto h = tg::fit<3>(fitted, tg::binary_cross_entropy{}, opt, data, {.epochs = 1, .seed = 9, .show = tg::progress::never});
  REQUIRE(tg::get<1>(fitted).num_batches_tracked == 2);

  std::vector<std::size_t> order(data.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  tg::random_engine rng{9};
  tg::shuffle(std::span<std::size_t>(order), rng);
  double loss_sum = 0;
  for (std::size_t start = 0; start + 3 <= 7; start += 3) {
    tg::matrix<double, 3, 3> x;
    tg::matrix<double, 3, 1> t;
    data.batch(std::span<const std::size_t>(order).subspan(start, 3), x, t);
    loss_sum += 3 * tg::train_step(manual, tg::binary_cross_entropy{}, opt, x, t);
  }
  REQUIRE(bool(fitted == manual));
  REQUIRE(tg::get<1>(fitted).running_mean(0) == tg::get<1>(manual).running_mean(0));
  REQUIRE(h.epochs[0].train_loss == Approx(loss_sum / 6).epsilon(1e-12));
}

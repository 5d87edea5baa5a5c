// 09: the breast cancer diagnosis network of example 03, trained with differential privacy.
//
// DP-SGD (Abadi et al. 2016): each patient's gradient is clipped to norm C, Gaussian noise is added
// to each lot's sum, and the RDP accountant reports the (ε, δ) spent. The 30 → 16 → 16 → 1 network
// is trained at ε ∈ {0.5, 1, 2, 4, 8} (δ = 1e-5; σ from typegrad::privacy::noise_multiplier) and
// without privacy, on the same stratified 80/20 split; each setting is run with several noise
// seeds and the test accuracy and ROC AUC are reported as mean ± sd.
//
// The seeds here are constants so that the output is reproducible; a deployment must seed the
// noise from a secure source (e.g. std::random_device), since whoever knows the seed can
// subtract the noise.
#include <typegrad/typegrad.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <vector>

namespace tg = typegrad;
namespace tp = typegrad::privacy;
using net_t = tg::network<tg::input<30>, tg::dense<16, tg::relu>, tg::dense<16, tg::relu>, tg::dense<1, tg::sigmoid>>;
using data_t = tg::dataset<float, 30>;
constexpr std::size_t batch = 16;  // mini-batches without privacy; DP-SGD uses lots of `lot` examples
constexpr std::size_t lot = 64, epochs = 20, runs = 10;
constexpr double delta = 1e-5, max_grad_norm = 1.0;

namespace {

struct scores {
  double accuracy, auc, epsilon, seconds;
};

std::vector<float> labels(const data_t& d) {
  std::vector<float> y(d.size());
  for (std::size_t i = 0; i < d.size(); ++i) y[i] = d.target(i);
  return y;
}

// One run: sigma = 0 trains without privacy (mini-batches of `batch`, same optimizer and epochs).
scores run(const data_t& train, const data_t& test, double sigma, std::uint64_t seed) {
  net_t net{tg::init::he_uniform{seed}};
  auto opt = tg::make_optimizer(net, tg::adam{.lr = 0.01});
  tp::fit_options options{{.epochs = epochs, .seed = seed, .show = tg::progress::never}};
  if (sigma > 0)
    options.privacy = {.noise_multiplier = sigma, .max_grad_norm = max_grad_norm, .delta = delta, .lot_size = lot,
                       .sampling = tp::lot_sampling::poisson, .noise_seed = 1000 + seed};
  const auto start = std::chrono::steady_clock::now();
  const auto h = tg::fit<batch>(net, tg::binary_cross_entropy{}, opt, train, options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto p = tg::predict<batch>(net, test);
  const auto y = labels(test);
  return {tg::binary_accuracy(y, p), tg::roc_auc(y, p), h.epochs.back().epsilon, seconds};
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / double(v.size());
}
double sd(const std::vector<double>& v) {
  const double m = mean(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / double(v.size() - 1));
}

}  // namespace

int main(int argc, char** argv) {
  const std::filesystem::path path = argc > 1 ? argv[1] : TYPEGRAD_EXAMPLES_DIR "/data/breast_cancer.csv";
  const auto data = tg::read_csv<float, 30>(path);
  const auto split = tg::stratified_split(data, 0.2, 7);
  auto train = data.subset(split.train), test = data.subset(split.test);
  tg::standardizer<float, 30> scaler;  // fitted on the training rows only
  scaler.fit(train);
  scaler.transform(train);
  scaler.transform(test);

  const auto plan = tp::plan_lots(train.size(), lot, tp::lot_sampling::poisson);
  const double steps = double(epochs * plan.lots_per_epoch);
  std::printf("WDBC: %zu training, %zu test patients; DP-SGD: Poisson lots (q = %.4f, expected %.1f patients), "
              "%zu epochs = %.0f steps, C = %.1f, delta = %.0e, Adam lr 0.01; %zu noise seeds each\n\n",
              train.size(), test.size(), plan.sample_rate, plan.expected_lot_size, epochs, steps, max_grad_norm, delta,
              runs);
  std::printf("%-12s %8s %10s %22s %22s %10s\n", "target eps", "sigma", "spent eps", "test accuracy", "ROC AUC", "ms / run");

  bool ok = true;
  double private_auc_at_8 = 0, public_auc = 0;
  for (const double target : {0.5, 1.0, 2.0, 4.0, 8.0, 0.0}) {
    const double sigma = target > 0 ? tp::noise_multiplier(plan.sample_rate, steps, target, delta) : 0.0;
    std::vector<double> acc, auc, secs;
    double spent = 0;
    for (std::size_t r = 0; r < runs; ++r) {
      const auto s = run(train, test, sigma, 11 + r);
      acc.push_back(s.accuracy), auc.push_back(s.auc), secs.push_back(s.seconds), spent = s.epsilon;
    }
    if (target > 0) std::printf("%-12.1f %8.3f %10.4f", target, sigma, spent);
    else std::printf("%-12s %8s %10s", "no privacy", "-", "-");
    std::printf(" %13.2f%% ± %5.2f %13.4f ± %6.4f %10.2f\n", 100 * mean(acc), 100 * sd(acc), mean(auc), sd(auc),
                1e3 * mean(secs));
    if (target > 0) ok = ok && spent <= target;  // the accountant keeps the promise
    if (target == 8.0) private_auc_at_8 = mean(auc);
    if (target == 0.0) public_auc = mean(auc);
  }
  std::printf("\n(mean ± sd over %zu runs; the spent epsilon is the accountant's, improved conversion of Balle et "
              "al. 2020)\n", runs);
  return ok && private_auc_at_8 > 0.9 && public_auc > 0.95 ? 0 : 1;
}

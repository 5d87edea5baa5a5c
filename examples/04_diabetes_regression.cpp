// 04: predicting diabetes progression one year ahead (regression, MSE), against least squares.
//
// 442 patients × 10 baseline measurements (age, sex, BMI, blood pressure, six serum values).
// A 10 → 16 → 1 network (tanh), standardised inputs and target, Adam, early stopping; RMSE and R²
// on a held-out 20 %, beside an ordinary least-squares fit computed here by the normal equations.
// First a look at the data: describe() on the training rows, and the scaler's range check
// (the guard a deployed model runs on each new patient) on the held-out ones.
#include <typegrad/typegrad.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <vector>

namespace tg = typegrad;
using data_t = tg::dataset<double, 10>;

namespace {

// Joins the whitespace-separated features and the one-column target files into one dataset.
data_t load(const std::filesystem::path& dir) {
  const auto x = tg::read_csv_table<double>(dir / "diabetes_data_raw.txt", {.header = tg::csv_header::none, .separator = ' '});
  const auto y = tg::read_csv_table<double>(dir / "diabetes_target.txt", {.header = tg::csv_header::none, .separator = ' '});
  if (x.rows != y.rows || x.cols != 10 || y.cols != 1) throw tg::data_error("diabetes files: unexpected shapes");
  data_t d;
  d.feature_names() = {"age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"};  // sklearn's names
  for (std::size_t i = 0; i < x.rows; ++i)
    d.push_back(std::span<const double, 10>(x.values.data() + i * 10, 10), std::span<const double, 1>(y.values.data() + i, 1));
  return d;
}

// β minimising |[1 X] β − y|², from (AᵀA) β = Aᵀy by Gaussian elimination with partial pivoting.
std::vector<double> least_squares(const data_t& d) {
  constexpr std::size_t p = 11;
  std::vector<double> m(p * (p + 1), 0.0);
  for (std::size_t i = 0; i < d.size(); ++i) {
    double a[p];
    a[0] = 1;
    for (std::size_t j = 0; j < 10; ++j) a[j + 1] = d.features(i)[j];
    for (std::size_t r = 0; r < p; ++r) {
      for (std::size_t c = 0; c < p; ++c) m[r * (p + 1) + c] += a[r] * a[c];
      m[r * (p + 1) + p] += a[r] * d.target(i);
    }
  }
  for (std::size_t k = 0; k < p; ++k) {
    std::size_t piv = k;
    for (std::size_t r = k + 1; r < p; ++r)
      if (std::abs(m[r * (p + 1) + k]) > std::abs(m[piv * (p + 1) + k])) piv = r;
    for (std::size_t c = 0; c <= p; ++c) std::swap(m[k * (p + 1) + c], m[piv * (p + 1) + c]);
    for (std::size_t r = 0; r < p; ++r) {
      if (r == k) continue;
      const double f = m[r * (p + 1) + k] / m[k * (p + 1) + k];
      for (std::size_t c = k; c <= p; ++c) m[r * (p + 1) + c] -= f * m[k * (p + 1) + c];
    }
  }
  std::vector<double> beta(p);
  for (std::size_t k = 0; k < p; ++k) beta[k] = m[k * (p + 1) + p] / m[k * (p + 1) + k];
  return beta;
}

}  // namespace

int main(int argc, char** argv) {
  const std::filesystem::path dir = argc > 1 ? argv[1] : TYPEGRAD_EXAMPLES_DIR "/data";
  const auto data = load(dir);
  auto order = tg::shuffled_indices(data.size(), 11);
  const std::size_t n_test = data.size() / 5;
  const auto test = data.subset(std::span(order).subspan(0, n_test));
  const auto train = data.subset(std::span(order).subspan(n_test));
  std::printf("diabetes: %zu training and %zu test patients\n", train.size(), test.size());

  // Baseline: ordinary least squares on the raw features.
  const auto beta = least_squares(train);
  std::vector<double> y_true(test.size()), y_ols(test.size()), y_net(test.size());
  for (std::size_t i = 0; i < test.size(); ++i) {
    y_true[i] = test.target(i);
    y_ols[i] = beta[0];
    for (std::size_t j = 0; j < 10; ++j) y_ols[i] += beta[j + 1] * test.features(i)[j];
  }

  // The network sees standardised features and a standardised target (fitted on training data).
  tg::standardizer<double, 10> scale_x;
  scale_x.fit(train);
  tg::describe(train).print();  // count, missing, range, mean, std, outliers (|z| > 4)
  std::size_t outside = 0;      // raw test rows with a feature beyond the training range ± its span
  for (std::size_t i = 0; i < test.size(); ++i) outside += !scale_x.check(test.features(i)).empty();
  std::printf("range check: %zu of %zu test patients have a feature far outside the training range\n", outside, test.size());
  double t_mean = 0, t_sd = 0;
  for (std::size_t i = 0; i < train.size(); ++i) t_mean += train.target(i);
  t_mean /= double(train.size());
  for (std::size_t i = 0; i < train.size(); ++i) t_sd += (train.target(i) - t_mean) * (train.target(i) - t_mean);
  t_sd = std::sqrt(t_sd / double(train.size()));
  auto standardise = [&](data_t d) {
    scale_x.transform(d);
    for (std::size_t i = 0; i < d.size(); ++i) d.targets(i)[0] = (d.target(i) - t_mean) / t_sd;
    return d;
  };
  const auto train_s = standardise(train), test_s = standardise(test);

  tg::network<tg::input<10, double>, tg::dense<16, tg::tanh>, tg::dense<1>> net{tg::init::glorot_uniform{5}};
  auto opt = tg::make_optimizer(net, tg::adam{.lr = 3e-3, .weight_decay = 1e-3});
  const auto hist = tg::fit<16>(net, tg::mse{}, opt, train_s,
                                {.epochs = 400, .seed = 5, .validation_fraction = 0.2, .patience = 30, .show = tg::progress::never});
  const auto pred = tg::predict<16>(net, test_s);  // the batch size fit used: its kernels are shared
  for (std::size_t i = 0; i < test.size(); ++i) y_net[i] = pred[i] * t_sd + t_mean;

  std::printf("network (best epoch %zu of %zu): RMSE %.2f  R² %.3f\n", hist.best_epoch, hist.epochs.size(),
              tg::root_mean_squared_error(y_true, y_net), tg::r2_score(y_true, y_net));
  std::printf("least squares baseline:           RMSE %.2f  R² %.3f\n", tg::root_mean_squared_error(y_true, y_ols),
              tg::r2_score(y_true, y_ols));
  return tg::r2_score(y_true, y_net) > 0.3 ? 0 : 1;
}

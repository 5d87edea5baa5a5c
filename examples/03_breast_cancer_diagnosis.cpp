// 03 (flagship): diagnosing breast cancer from fine-needle aspirate measurements.
//
// Breast Cancer Wisconsin (Diagnostic), 569 patients × 30 features, label 1 = benign.
// A 30 → 16 → 16 → 1 network (ReLU, ReLU, sigmoid), standardised inputs, binary cross-entropy,
// Adam, early stopping on a validation split. Reports stratified 5-fold cross-validated accuracy
// and ROC AUC, then trains once on 80 % and reports the held-out confusion matrix, the training
// wall time and the per-sample inference latency, saves the model and reloads it.
#include <typegrad/typegrad.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace tg = typegrad;
using net_t = tg::network<tg::input<30>, tg::dense<16, tg::relu>, tg::dense<16, tg::relu>, tg::dense<1, tg::sigmoid>>;
using data_t = tg::dataset<float, 30>;
// One batch size for training and prediction: each batch size instantiates its own kernels.
constexpr std::size_t batch = 16;

namespace {

struct outcome {
  net_t net;
  tg::standardizer<float, 30> scaler;
  tg::history hist;
  double seconds;
};

// Fits the scaler on `train` only, then the network with early stopping on 15 % of `train`.
outcome train_model(const data_t& train_raw, std::uint64_t seed) {
  outcome r{net_t{tg::init::he_uniform{seed}}, {}, {}, 0};
  r.scaler.fit(train_raw);
  data_t train = train_raw;
  r.scaler.transform(train);
  auto opt = tg::make_optimizer(r.net, tg::adam{.lr = 3e-3});
  tg::fit_options options{.epochs = 300, .seed = seed, .validation_fraction = 0.15, .patience = 25,
                          .watch = tg::monitor::validation_loss, .show = tg::progress::never};
  const auto start = std::chrono::steady_clock::now();
  r.hist = tg::fit<batch>(r.net, tg::binary_cross_entropy{}, opt, train, options);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

std::vector<float> probabilities(const outcome& m, const data_t& raw) {
  data_t scaled = raw;
  m.scaler.transform(scaled);
  return tg::predict<batch>(m.net, scaled);
}

std::vector<float> labels(const data_t& d) {
  std::vector<float> y(d.size());
  for (std::size_t i = 0; i < d.size(); ++i) y[i] = d.target(i);
  return y;
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
  std::printf("Breast Cancer Wisconsin (Diagnostic): %zu samples, 30 features, classes %s / %s\n", data.size(),
              data.class_names().at(0).c_str(), data.class_names().at(1).c_str());

  // 1. Stratified 5-fold cross-validation.
  std::vector<double> accuracies, aucs;
  const auto folds = tg::stratified_kfold(data, 5, 2024);
  for (std::size_t f = 0; f < folds.size(); ++f) {
    const auto train = data.subset(folds[f].train), test = data.subset(folds[f].test);
    const auto model = train_model(train, 100 + f);
    const auto p = probabilities(model, test);
    const auto y = labels(test);
    accuracies.push_back(tg::binary_accuracy(y, p));
    aucs.push_back(tg::roc_auc(y, p));
    std::printf("fold %zu: accuracy %.4f  ROC AUC %.4f  (best epoch %zu of %zu)\n", f + 1, accuracies.back(),
                aucs.back(), model.hist.best_epoch, model.hist.epochs.size());
  }
  std::printf("5-fold CV: accuracy %.2f%% ± %.2f%%, ROC AUC %.4f ± %.4f (mean ± sd)\n", 100 * mean(accuracies),
              100 * sd(accuracies), mean(aucs), sd(aucs));

  // 2. One model on a stratified 80/20 split.
  const auto split = tg::stratified_split(data, 0.2, 7);
  const auto train = data.subset(split.train), test = data.subset(split.test);
  const auto model = train_model(train, 7);
  const auto p = probabilities(model, test);
  const auto y = labels(test);
  const auto cm = tg::binary_confusion(y, p);
  std::printf("\nheld-out test set (%zu patients): accuracy %.2f%%, ROC AUC %.4f\n", test.size(),
              100 * tg::binary_accuracy(y, p), tg::roc_auc(y, p));
  std::printf("confusion matrix (rows = truth, columns = prediction):\n");
  std::printf("                 pred malignant  pred benign\n");
  std::printf("  malignant      %14zu  %11zu\n", cm.tn, cm.fp);
  std::printf("  benign         %14zu  %11zu\n", cm.fn, cm.tp);
  std::printf("training: %zu epochs in %.3f s (%.0f samples/s)\n", model.hist.epochs.size(), model.seconds,
              double(model.hist.epochs.size() * train.size() * 85 / 100) / model.seconds);

  // 3. Per-sample inference latency (one patient at a time, as in a device).
  data_t scaled_test = test;
  model.scaler.transform(scaled_test);
  tg::vector<float, 30> x;
  tg::vector<float, 1> t;
  scaled_test.sample(0, x, t);
  constexpr int reps = 200000;
  volatile float sink = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) {
    x[i % 30] += 1e-7f;  // keep the compiler from hoisting the call out of the loop
    sink = sink + model.net(x)[0];
  }
  const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() / reps;
  std::printf("inference latency: %.1f ns per patient\n", ns);

  // 4. Save the model with its standardisation, reload both from the file alone, and predict
  //    on the raw test data again: the predictions must be identical.
  const auto file = std::filesystem::temp_directory_path() / "typegrad_breast_cancer.safetensors";
  auto meta = model.scaler.to_metadata();
  meta["dataset"] = "breast_cancer_wisconsin_diagnostic";
  tg::save_weights(model.net, file, meta);
  outcome reloaded{net_t{tg::init::zeros{}}, {}, {}, 0};
  reloaded.scaler.from_metadata(tg::load_weights(reloaded.net, file));
  const auto p2 = probabilities(reloaded, test);
  const bool identical = p2 == p;
  std::printf("saved to %s (with the standardisation) and reloaded: predictions %s\n", file.string().c_str(),
              identical ? "identical" : "DIFFERENT");
  std::filesystem::remove(file);
  return identical && mean(accuracies) > 0.9 ? 0 : 1;
}

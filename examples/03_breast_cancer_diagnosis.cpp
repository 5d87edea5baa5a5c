// 03 (flagship): diagnosing breast cancer from fine-needle aspirate measurements.
//
// Breast Cancer Wisconsin (Diagnostic), 569 patients × 30 features, label 1 = benign.
// A 30 → 16 → 16 → 1 network (ReLU, ReLU, sigmoid), standardised inputs, binary cross-entropy,
// Adam, early stopping on a validation split. Reports stratified 5-fold cross-validated accuracy
// and ROC AUC, then trains once on 80 % and reports the held-out confusion matrix, the training
// wall time and the per-sample inference latency, saves the model and reloads it. Finally it
// explains the model: integrated gradients of P(benign) per feature for three test patients, and
// the mean |attribution| per feature over the test set as a CSV file and a bar chart (PNG).
//
// Usage: 03_breast_cancer_diagnosis [data.csv [output directory (default: the current one)]]
#include <typegrad/typegrad.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

namespace tg = typegrad;
using net_t = tg::network<tg::input<30>, tg::dense<16, tg::relu>, tg::dense<16, tg::relu>, tg::dense<1, tg::sigmoid>>;
using data_t = tg::dataset<float, 30>;
// One batch size for training and prediction: each batch size instantiates its own kernels.
constexpr std::size_t batch = 16;

// The 30 features in the file's column order (scikit-learn's load_breast_cancer().feature_names;
// UCI wdbc.names: ten measurements of the cell nuclei, as mean, standard error and worst value).
const std::array<std::string, 30> feature_names = {
    "mean radius",       "mean texture",    "mean perimeter",       "mean area",      "mean smoothness",
    "mean compactness",  "mean concavity",  "mean concave points",  "mean symmetry",  "mean fractal dimension",
    "radius error",      "texture error",   "perimeter error",      "area error",     "smoothness error",
    "compactness error", "concavity error", "concave points error", "symmetry error", "fractal dimension error",
    "worst radius",      "worst texture",   "worst perimeter",      "worst area",     "worst smoothness",
    "worst compactness", "worst concavity", "worst concave points", "worst symmetry", "worst fractal dimension"};

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

  // 5. Which measurements drive the prediction: integrated gradients of P(benign) from the
  //    average training patient (all zeros after standardisation) to each test patient, in
  //    standardised units; a positive attribution pushes towards benign. The ReLU network's
  //    gradient jumps along the path, so the 64 midpoint steps are refined where they miss.
  const std::filesystem::path out_dir = argc > 2 ? argv[2] : ".";
  constexpr std::size_t ig_steps = 64;
  const tg::vector<float, 30> baseline{};
  std::vector<std::array<double, 30>> attributions(scaled_test.size());
  double worst_residual = 0;
  std::size_t gradients = 0;
  const auto ig0 = std::chrono::steady_clock::now();
  for (std::size_t s = 0; s < scaled_test.size(); ++s) {
    scaled_test.sample(s, x, t);
    const auto ig = tg::integrated_gradients(model.net, x, baseline, 0, ig_steps, tg::refine_path{.tolerance = 1e-3});
    for (std::size_t i = 0; i < 30; ++i) attributions[s][i] = ig.attributions[i];
    const double change = double(model.net(x)[0]) - double(model.net(baseline)[0]);
    worst_residual = std::max(worst_residual, std::abs(double(ig.delta)) / std::max(std::abs(change), 1e-2));
    gradients += ig.gradient_evaluations;
  }
  const double ig_us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - ig0).count() /
                       double(scaled_test.size());
  std::printf(
      "\nintegrated gradients of P(benign) from the average patient (%zu steps, refined: %.0f gradients "
      "per patient, %.1f us): completeness residual <= %.2g of the change in P(benign)\n",
      ig_steps, double(gradients) / double(scaled_test.size()), ig_us, worst_residual);
  for (std::size_t s = 0; s < 3; ++s) {
    std::array<std::size_t, 30> order;
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return std::abs(attributions[s][a]) > std::abs(attributions[s][b]);
    });
    std::printf("test patient %zu (truth %s, P(benign) %.3f; average patient %.3f), top features:\n", s,
                y[s] > 0.5f ? "benign" : "malignant", p[s], double(model.net(baseline)[0]));
    for (std::size_t r = 0; r < 5; ++r)
      std::printf("  %-24s %+.4f\n", feature_names[order[r]].c_str(), attributions[s][order[r]]);
  }
  // Mean |attribution| per feature over the test set, most important first.
  std::array<double, 30> importance{};
  for (const auto& a : attributions)
    for (std::size_t i = 0; i < 30; ++i) importance[i] += std::abs(a[i]) / double(attributions.size());
  std::array<std::size_t, 30> order;
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return importance[a] > importance[b]; });
  const auto csv_path = out_dir / "breast_cancer_attributions.csv",
             png_path = out_dir / "breast_cancer_attributions.png";
  {
    std::ofstream csv(csv_path);
    csv << "feature,mean_abs_attribution\n";
    for (std::size_t i : order) csv << feature_names[i] << ',' << importance[i] << '\n';
    if (!csv) {
      std::fprintf(stderr, "cannot write %s\n", csv_path.string().c_str());
      return 1;
    }
  }
  std::vector<std::string> chart_labels;
  std::vector<double> chart_values;
  for (std::size_t i : order) {
    chart_labels.push_back(feature_names[i]);
    chart_values.push_back(importance[i]);
  }
  tg::write_bar_chart_png(png_path, chart_labels, chart_values,
                          "WDBC: mean |integrated gradient| of P(benign) per feature, test set");
  std::printf("mean |attribution| per feature over the %zu test patients: %s, %s (top: %s, %s, %s)\n",
              scaled_test.size(), csv_path.string().c_str(), png_path.string().c_str(), feature_names[order[0]].c_str(),
              feature_names[order[1]].c_str(), feature_names[order[2]].c_str());
  return identical && mean(accuracies) > 0.9 ? 0 : 1;
}

// 08: multimodal fusion on the ECG signal-quality task of example 06: a conv1d branch on the raw
// window and a dense branch on summary features, joined by concat, beside each branch alone.
//
// Data, artefacts, split by time and input scaling are example 06's (MIT-BIH record 208, windows of
// 360 samples = 1 s, half corrupted by baseline wander, mains, muscle noise, electrode motion or
// clipping on a seeded std::mt19937 schedule; first 70 % of the recording trains, last 30 % tests).
//
// Summary features of each window (15, computed from the scaled window, standardised on the
// training windows only):
//   10 band powers   log(1 + power) of the window's DFT (1 Hz bins, mean removed) summed over
//                    1–2, 3–5, 6–15, 16–40, 41–48, 49–51, 52–58, 59–61, 62–100, 101–180 Hz
//   RR intervals     R peaks (first difference above 60 % of its maximum, 200 ms refractory):
//                    number of peaks, mean RR interval (s), |difference| of the first two RR (s)
//   shape            range, and the fraction of samples within 1 % of the range of the window's
//                    maximum or minimum (flat tops: clipping)
//
// Three networks, each trained the same way (BCE, Adam + cosine annealing, 30 epochs, batch 32):
//   raw       input<360> → conv 7 (8, ReLU, stride 2) → max pool 2 → conv 5 (16, ReLU) → max pool 2
//             → conv 5 (16, ReLU) → global average pool → dense 16 (ReLU) → dense 1 (sigmoid)  (= 06)
//   features  input<15> → dense 16 (ReLU) → dense 16 (ReLU) → dense 1 (sigmoid)
//   fused     inputs<input<360>, input<15>> → parallel<branch<the raw net's convolutions and pooling>,
//             branch<dense 16 (ReLU)>, concat> (16 + 16) → dense 16 (ReLU) → dense 1 (sigmoid)
// Reports test accuracy, ROC AUC, the detection rate of each artefact and µs per window (batch 1,
// median; for the two-input networks the features are computed beforehand and not timed).
// `--full` repeats the experiment with five artefact schedules and reports mean ± sd.
#include <typegrad/typegrad.hpp>

#include "ecg_artefacts.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <complex>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <numbers>
#include <random>
#include <string_view>
#include <vector>

namespace tg = typegrad;
using ecg::fs, ecg::window, ecg::train_hop, ecg::test_hop;
constexpr std::size_t n_features = 15;
constexpr std::size_t batch = 32, epochs = 30;

using raw_net =
    tg::network<tg::input<window>, tg::unflatten<1, window>, tg::conv1d<8, 7, tg::relu, tg::stride<2>>,
                tg::max_pool1d<2>, tg::conv1d<16, 5, tg::relu>, tg::max_pool1d<2>, tg::conv1d<16, 5, tg::relu>,
                tg::global_avg_pool, tg::dense<16, tg::relu>, tg::dense<1, tg::sigmoid>>;
using feature_net =
    tg::network<tg::input<n_features>, tg::dense<16, tg::relu>, tg::dense<16, tg::relu>, tg::dense<1, tg::sigmoid>>;
using fused_net = tg::network<
    tg::inputs<tg::input<window>, tg::input<n_features>>,
    tg::parallel<tg::branch<tg::unflatten<1, window>, tg::conv1d<8, 7, tg::relu, tg::stride<2>>, tg::max_pool1d<2>,
                            tg::conv1d<16, 5, tg::relu>, tg::max_pool1d<2>, tg::conv1d<16, 5, tg::relu>,
                            tg::global_avg_pool>,      // 16
                 tg::branch<tg::dense<16, tg::relu>>,  // 16
                 tg::concat>,
    tg::dense<16, tg::relu>, tg::dense<1, tg::sigmoid>>;

namespace {

using namespace ecg;

// The 15 summary features of one scaled window (see the top of the file).
std::array<float, n_features> summary(const std::array<float, window>& x) {
  std::array<float, n_features> f{};
  double mean = 0;
  for (float v : x) mean += v;
  mean /= double(window);
  // Band powers from a plain DFT (360 points: 1 Hz per bin); a window is short enough.
  std::array<double, window / 2 + 1> power{};
  for (std::size_t k = 1; k <= window / 2; ++k) {
    std::complex<double> s = 0;
    for (std::size_t i = 0; i < window; ++i)
      s += (double(x[i]) - mean) * std::polar(1.0, -2 * std::numbers::pi * double(k * i % window) / double(window));
    power[k] = std::norm(s) / double(window);
  }
  constexpr std::array<std::array<std::size_t, 2>, 10> bands = {
      {{1, 2}, {3, 5}, {6, 15}, {16, 40}, {41, 48}, {49, 51}, {52, 58}, {59, 61}, {62, 100}, {101, 180}}};
  for (std::size_t b = 0; b < bands.size(); ++b) {
    double p = 0;
    for (std::size_t k = bands[b][0]; k <= bands[b][1]; ++k) p += power[k];
    f[b] = float(std::log1p(p));
  }
  // R peaks on the first difference.
  std::array<double, window - 1> d{};
  double dmax = 0;
  for (std::size_t i = 0; i + 1 < window; ++i) dmax = std::max(dmax, d[i] = double(x[i + 1]) - double(x[i]));
  std::vector<std::size_t> peaks;
  for (std::size_t i = 0; i + 1 < window; ++i)
    if (d[i] > 0.6 * dmax && (peaks.empty() || i - peaks.back() > fs / 5)) peaks.push_back(i);
  f[10] = float(peaks.size());
  if (peaks.size() >= 2) f[11] = float(double(peaks.back() - peaks.front()) / double(peaks.size() - 1) / fs);
  if (peaks.size() >= 3) f[12] = float(std::abs(double(peaks[2] - peaks[1]) - double(peaks[1] - peaks[0])) / fs);
  const auto [lo, hi] = std::minmax_element(x.begin(), x.end());
  const double range = double(*hi) - double(*lo);
  std::size_t flat = 0;
  for (float v : x) flat += double(*hi) - v <= 0.01 * range || v - double(*lo) <= 0.01 * range;
  f[13] = float(range);
  f[14] = float(double(flat) / double(window));
  return f;
}

struct windows {
  tg::dataset<float, window> raw;
  tg::dataset<float, n_features> features;
  std::vector<artefact> kind;
};

// Example 06's windows (each minus its median, divided by `scale`), with their summary features.
windows make_windows(const std::vector<double>& ecg, std::size_t begin, std::size_t end, std::size_t hop, double scale,
                     schedule_rng& rng) {
  windows r;
  for_each_window(ecg, begin, end, hop, scale, rng, [&](const std::array<float, window>& x, artefact kind) {
    const std::array<float, 1> label = {kind == clean ? 0.0f : 1.0f};
    r.raw.push_back(x, label);
    r.features.push_back(summary(x), label);
    r.kind.push_back(kind);
  });
  return r;
}

struct scores {
  double accuracy = 0, auc = 0, seconds = 0, us_per_window = 0;
  std::array<double, kinds> detected{};
};

template <class Net, class Data>
scores train_and_test(const Data& train, const Data& test, const std::vector<artefact>& kind, std::uint32_t seed,
                      bool time_inference) {
  Net net{tg::init::he_uniform{seed}};
  const std::size_t steps = epochs * ((train.size() + batch - 1) / batch);
  auto opt = tg::make_optimizer(net, tg::adam{.lr = 6e-3}, tg::cosine_annealing_lr{.t_max = steps});
  scores s;
  const auto t0 = std::chrono::steady_clock::now();
  tg::fit<batch>(net, tg::binary_cross_entropy{}, opt, train,
                 {.epochs = epochs, .seed = seed, .show = tg::progress::never});
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto p = tg::predict<batch>(net, test);
  std::vector<float> y(p.size());
  for (std::size_t i = 0; i < y.size(); ++i) y[i] = test.target(i);
  s.accuracy = tg::binary_accuracy(y, p);
  s.auc = tg::roc_auc(y, p);
  std::array<std::size_t, kinds> count{}, flagged{};
  for (std::size_t i = 0; i < p.size(); ++i) {
    ++count[kind[i]];
    flagged[kind[i]] += p[i] > 0.5f;
  }
  for (int k = 0; k < kinds; ++k) s.detected[k] = double(flagged[k]) / double(std::max<std::size_t>(1, count[k]));
  if (time_inference) {  // one window at a time; median of many calls
    constexpr std::size_t calls = 5001;
    std::vector<double> us(calls);
    tg::vector<float, Net::in_size> x;
    tg::vector<float, 1> t;
    volatile float sink = 0;
    for (std::size_t i = 0; i < calls; ++i) {
      test.sample(i % test.size(), x, t);
      const auto a = std::chrono::steady_clock::now();
      sink = sink + net(x)[0];
      us[i] = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - a).count();
    }
    std::nth_element(us.begin(), us.begin() + calls / 2, us.end());
    s.us_per_window = us[calls / 2];
  }
  return s;
}

struct result {
  scores raw, features, fused;
  std::size_t n_train = 0, n_test = 0;
  std::array<std::size_t, kinds> count{};
};

result run(const std::vector<double>& ecg, std::uint32_t seed, bool time_inference) {
  const auto [boundary, scale] = split_by_time(ecg);

  schedule_rng train_rng{std::mt19937(seed)}, test_rng{std::mt19937(seed + 1000)};
  auto train = make_windows(ecg, 0, boundary, train_hop, scale, train_rng);
  auto test = make_windows(ecg, boundary, ecg.size(), test_hop, scale, test_rng);
  tg::standardizer<float, n_features> scaler;
  scaler.fit(train.features);  // training windows only
  scaler.transform(train.features);
  scaler.transform(test.features);
  // Rows [raw | features]: what the two-input network takes.
  const auto train_joined = tg::join_inputs(train.raw, train.features),
             test_joined = tg::join_inputs(test.raw, test.features);

  result r;
  r.n_train = train.raw.size();
  r.n_test = test.raw.size();
  for (artefact k : test.kind) ++r.count[k];
  r.raw = train_and_test<raw_net>(train.raw, test.raw, test.kind, seed, time_inference);
  r.features = train_and_test<feature_net>(train.features, test.features, test.kind, seed, time_inference);
  r.fused = train_and_test<fused_net>(train_joined, test_joined, test.kind, seed, time_inference);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  bool full = false;
  std::filesystem::path path = TYPEGRAD_EXAMPLES_DIR "/data/ecg_mitbih208.npy";
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--full")
      full = true;
    else
      path = argv[i];
  }
  const auto ecg = read_millivolts(path);
  std::printf("ECG: %zu samples at %zu Hz; windows of %zu samples (example 06's data, artefacts and split)\n",
              ecg.size(), fs, window);

  const auto r = run(ecg, 208, true);
  std::printf("%zu training windows (first 70 %%), %zu test windows (last 30 %%); %zu summary features\n\n", r.n_train,
              r.n_test, n_features);
  std::printf("%-34s %9s %8s %9s %10s\n", "network", "accuracy", "ROC AUC", "train s", "µs/window");
  const auto row = [](const char* name, const scores& s) {
    std::printf("%-34s %8.2f%% %8.4f %9.2f %10.2f\n", name, 100 * s.accuracy, s.auc, s.seconds, s.us_per_window);
  };
  row("raw window (conv1d branch alone)", r.raw);
  row("summary features (dense alone)", r.features);
  row("fused: parallel + concat", r.fused);
  std::printf("\n%-18s %7s %8s %9s %7s\n", "flagged", "count", "raw", "features", "fused");
  for (int k = 0; k < kinds; ++k)
    std::printf("%-18s %7zu %7.1f%% %8.1f%% %6.1f%%%s\n", names[k], r.count[k], 100 * r.raw.detected[k],
                100 * r.features.detected[k], 100 * r.fused.detected[k], k == clean ? "  (false alarms)" : "");

  if (full) {
    std::array<std::vector<double>, 3> acc, auc;
    for (std::uint32_t seed = 1; seed <= 5; ++seed) {
      const auto s = run(ecg, seed, false);
      const std::array<const scores*, 3> all = {&s.raw, &s.features, &s.fused};
      for (std::size_t m = 0; m < 3; ++m) {
        acc[m].push_back(all[m]->accuracy);
        auc[m].push_back(all[m]->auc);
      }
      std::printf("schedule seed %u: AUC raw %.4f, features %.4f, fused %.4f\n", seed, s.raw.auc, s.features.auc,
                  s.fused.auc);
    }
    const auto stats = [](const std::vector<double>& v) {
      double m = 0, q = 0;
      for (double x : v) m += x;
      m /= double(v.size());
      for (double x : v) q += (x - m) * (x - m);
      return std::array<double, 2>{m, std::sqrt(q / double(v.size() - 1))};
    };
    const std::array<const char*, 3> model = {"raw", "features", "fused"};
    for (std::size_t m = 0; m < 3; ++m) {
      const auto [am, as] = stats(acc[m]);
      const auto [um, us] = stats(auc[m]);
      std::printf("five schedules, %-8s: accuracy %.2f%% ± %.2f%%, ROC AUC %.4f ± %.4f\n", model[m], 100 * am, 100 * as,
                  um, us);
    }
  }
  return r.fused.auc > 0.8 ? 0 : 1;
}

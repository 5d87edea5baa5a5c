// 06: ECG signal quality: a 1-D CNN that tells clean one-second windows from corrupted ones.
//
// A real electrocardiogram (MIT-BIH record 208, lead MLII, 5 minutes at 360 Hz) is cut into
// windows of 360 samples (1 s): every 20 samples for training (overlapping views, each with its
// own artefact draw: augmentation), every 45 for testing. Each window is, by a seeded schedule,
// either left clean (half of them) or corrupted by one of five realistic artefacts of random size:
//   baseline wander   0.1–0.5 Hz sinusoid, 0.5–2 mV
//   mains             50 or 60 Hz sinusoid, 0.03–0.3 mV
//   muscle noise      a burst of high-pass noise over 25–75 % of the window, 0.03–0.3 mV RMS
//   electrode motion  a step of ±0.3–1.5 mV with a 10–100 ms ramp, then a slow recovery
//   clipping          the top or bottom saturated at 40–80 % of the window's range
// The split is by time: windows in the first 70 % of the recording train, windows in the last
// 30 % test; no window crosses the boundary, so overlapping neighbours cannot leak across it.
//
// Input scaling: each window minus its own median, divided by one constant (the standard deviation
// of the training part of the recording). The median only removes the baseline level, which in this
// record drifts by ±1 mV on its own and so is no evidence; a per-window division by the window's
// standard deviation is NOT done, since it would erase what several artefacts change: the range
// (clipping), the height of a step, the amplitude of mains and of noise relative to a clean beat.
//
// Network: 1×360 → conv 7 (8, ReLU, stride 2) → max pool 2 → conv 5 (16, ReLU) → max pool 2
//          → conv 5 (16, ReLU) → global average pool → dense 16 (ReLU) → dense 1 (sigmoid);
//          binary cross-entropy, Adam with cosine annealing. Reports accuracy, ROC AUC, the detection
//          rate of each artefact, the false-alarm rate on clean windows and the inference latency per
//          window (batch 1).
// `--full` repeats the whole experiment with five artefact schedules and reports mean ± sd.
// An optional argument is another .npy file of the same format.
#include <typegrad/typegrad.hpp>

#include "ecg_artefacts.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <numbers>
#include <random>
#include <string_view>
#include <vector>

namespace tg = typegrad;
using ecg::fs, ecg::window, ecg::train_hop, ecg::test_hop;
using data_t = tg::dataset<float, window>;
using net_t = tg::network<tg::input<window>, tg::unflatten<1, window>,  //
                          tg::conv1d<8, 7, tg::relu, tg::stride<2>>,    // 8×177
                          tg::max_pool1d<2>,                            // 8×88
                          tg::conv1d<16, 5, tg::relu>,                  // 16×84
                          tg::max_pool1d<2>,                            // 16×42
                          tg::conv1d<16, 5, tg::relu>,                  // 16×38
                          tg::global_avg_pool,                          // 16
                          tg::dense<16, tg::relu>,                      //
                          tg::dense<1, tg::sigmoid>>;
constexpr std::size_t batch = 32, epochs = 30;

namespace {

using namespace ecg;

struct windows {
  data_t data;  // label 1 = corrupted
  std::vector<artefact> kind;
};

// Windows of ecg[begin, end) every `hop` samples, half of them corrupted, scaled as described above.
windows make_windows(const std::vector<double>& ecg, std::size_t begin, std::size_t end, std::size_t hop, double scale,
                     schedule_rng& rng) {
  windows r;
  for_each_window(ecg, begin, end, hop, scale, rng, [&](const std::array<float, window>& x, artefact kind) {
    const std::array<float, 1> label = {kind == clean ? 0.0f : 1.0f};
    r.data.push_back(x, label);
    r.kind.push_back(kind);
  });
  return r;
}

struct result {
  double accuracy, auc, seconds, us_per_window, scale;
  std::array<double, kinds> detected;
  std::size_t n_train, n_test;
  std::array<std::size_t, kinds> count;
};

result run(const std::vector<double>& ecg, std::uint32_t seed, bool time_inference) {
  const auto [boundary, scale] = split_by_time(ecg);  // the scale from the training part only

  schedule_rng train_rng{std::mt19937(seed)}, test_rng{std::mt19937(seed + 1000)};
  const auto train = make_windows(ecg, 0, boundary, train_hop, scale, train_rng);
  const auto test = make_windows(ecg, boundary, ecg.size(), test_hop, scale, test_rng);

  net_t net{tg::init::he_uniform{seed}};
  const std::size_t steps = epochs * ((train.data.size() + batch - 1) / batch);
  auto opt = tg::make_optimizer(net, tg::adam{.lr = 6e-3}, tg::cosine_annealing_lr{.t_max = steps});
  const auto t0 = std::chrono::steady_clock::now();
  tg::fit<batch>(net, tg::binary_cross_entropy{}, opt, train.data,
                 {.epochs = epochs, .seed = seed, .show = tg::progress::never});
  result r{};
  r.scale = scale;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.n_train = train.data.size();
  r.n_test = test.data.size();

  const auto p = tg::predict<batch>(net, test.data);
  std::vector<float> y(p.size());
  for (std::size_t i = 0; i < y.size(); ++i) y[i] = test.data.target(i);
  r.accuracy = tg::binary_accuracy(y, p);
  r.auc = tg::roc_auc(y, p);
  std::array<std::size_t, kinds> flagged{};
  for (std::size_t i = 0; i < p.size(); ++i) {
    ++r.count[test.kind[i]];
    flagged[test.kind[i]] += p[i] > 0.5f;
  }
  for (int k = 0; k < kinds; ++k) r.detected[k] = double(flagged[k]) / double(std::max<std::size_t>(1, r.count[k]));

  if (time_inference) {  // one window at a time, as a monitor would; median of many calls
    constexpr std::size_t calls = 5001;
    std::vector<double> us(calls);
    tg::vector<float, window> x;
    tg::vector<float, 1> t;
    volatile float sink = 0;
    for (std::size_t i = 0; i < calls; ++i) {
      test.data.sample(i % test.data.size(), x, t);
      const auto a = std::chrono::steady_clock::now();
      sink = sink + net(x)[0];
      us[i] = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - a).count();
    }
    std::nth_element(us.begin(), us.begin() + calls / 2, us.end());
    r.us_per_window = us[calls / 2];
  }
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
  std::printf("ECG: %zu samples at %zu Hz = %.0f s; windows of %zu samples, every %zu (training) or %zu (test)\n",
              ecg.size(), fs, double(ecg.size()) / fs, window, train_hop, test_hop);

  const auto r = run(ecg, 208, true);
  std::printf("split by time: %zu training windows (first 70 %%), %zu test windows (last 30 %%)\n", r.n_train,
              r.n_test);
  std::printf("artefact schedule: std::mt19937 seeded 208 (training) and 1208 (test), half the windows clean\n");
  std::printf(
      "input: each window minus its median, divided by %.3f mV (sd of the training part); no per-window rescaling\n",
      r.scale);
  std::printf("training: %zu epochs in %.2f s\n\n", epochs, r.seconds);
  std::printf("test accuracy %.2f%%, ROC AUC %.4f\n", 100 * r.accuracy, r.auc);
  std::printf("%-18s %8s %10s\n", "test windows", "count", "flagged");
  for (int k = 0; k < kinds; ++k)
    std::printf("%-18s %8zu %9.1f%%%s\n", names[k], r.count[k], 100 * r.detected[k],
                k == clean ? "  (false alarms)" : "");
  std::printf("inference: %.2f µs per window (batch 1, median)\n", r.us_per_window);

  if (full) {
    std::vector<double> acc, auc;
    for (std::uint32_t seed = 1; seed <= 5; ++seed) {
      const auto s = run(ecg, seed, false);
      acc.push_back(s.accuracy);
      auc.push_back(s.auc);
      std::printf("schedule seed %u: accuracy %.2f%%, ROC AUC %.4f\n", seed, 100 * s.accuracy, s.auc);
    }
    const auto stats = [](const std::vector<double>& v) {
      double m = 0, q = 0;
      for (double x : v) m += x;
      m /= double(v.size());
      for (double x : v) q += (x - m) * (x - m);
      return std::array<double, 2>{m, std::sqrt(q / double(v.size() - 1))};
    };
    const auto [am, as] = stats(acc);
    const auto [um, us] = stats(auc);
    std::printf("five schedules: accuracy %.2f%% ± %.2f%%, ROC AUC %.4f ± %.4f (mean ± sd)\n", 100 * am, 100 * as, um,
                us);
  }
  return r.auc > 0.8 ? 0 : 1;
}

// What examples 06 and 08 share: the MIT-BIH record in millivolts, the seeded artefact schedule,
// and the scaled 1-s windows (so that both examples see exactly the same windows).
#pragma once

#include <typegrad/io/npy.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <numbers>
#include <random>
#include <vector>

namespace ecg {

constexpr std::size_t fs = 360, window = 360, train_hop = 20, test_hop = 45;

enum artefact : int { clean, baseline_wander, mains, muscle, electrode_motion, clipping, kinds };
constexpr std::array<const char*, kinds> names = {"clean",        "baseline wander",  "mains 50/60 Hz",
                                                  "muscle noise", "electrode motion", "clipping"};

// Draws from the raw 32-bit output of std::mt19937 (whose sequence the standard fixes), not from
// std::uniform_real_distribution (whose algorithm it does not): the same schedule everywhere.
struct schedule_rng {
  std::mt19937 gen;
  double uniform(double a, double b) { return a + (b - a) * (double(gen()) + 0.5) * 0x1p-32; }
  double log_uniform(double a, double b) { return a * std::exp(uniform(0, std::log(b / a))); }
  std::size_t index(std::size_t n) { return std::min(n - 1, std::size_t(uniform(0, double(n)))); }
  double normal() {  // Box–Muller
    const double u = uniform(0, 1), v = uniform(0, 1);
    return std::sqrt(-2 * std::log(u)) * std::cos(2 * std::numbers::pi * v);
  }
};

// Adds artefact `kind` (random size) to the millivolt window w.
inline void corrupt(std::vector<double>& w, artefact kind, schedule_rng& rng) {
  constexpr double pi = std::numbers::pi, dt = 1.0 / fs;
  const std::size_t n = w.size();
  switch (kind) {
    case baseline_wander: {
      const double a = rng.uniform(0.5, 2.0), f = rng.uniform(0.1, 0.5), phase = rng.uniform(0, 2 * pi);
      for (std::size_t i = 0; i < n; ++i) w[i] += a * std::sin(2 * pi * f * double(i) * dt + phase);
      break;
    }
    case mains: {
      const double f = rng.index(2) == 0 ? 50 : 60, a = rng.log_uniform(0.03, 0.3), phase = rng.uniform(0, 2 * pi);
      for (std::size_t i = 0; i < n; ++i) w[i] += a * std::sin(2 * pi * f * double(i) * dt + phase);
      break;
    }
    case muscle: {  // first difference of white noise (high-pass), under a Hann-shaped envelope
      const double rms = rng.log_uniform(0.03, 0.3);
      const auto len = std::size_t(rng.uniform(0.25, 0.75) * double(n));
      const std::size_t start = rng.index(n - len + 1);
      double previous = rng.normal();
      for (std::size_t i = 0; i < len; ++i) {
        const double white = rng.normal(), envelope = std::sin(pi * (double(i) + 0.5) / double(len));
        w[start + i] += rms / std::sqrt(2.0) * (white - previous) * envelope;
        previous = white;
      }
      break;
    }
    case electrode_motion: {
      const double sign = rng.index(2) == 0 ? -1 : 1, height = sign * rng.uniform(0.3, 1.5);
      const auto at = std::size_t(rng.uniform(0.1, 0.9) * double(n));
      const double ramp = rng.uniform(0.01, 0.1), recovery = rng.uniform(0.3, 2.0);  // seconds
      for (std::size_t i = at; i < n; ++i) {
        const double t = double(i - at) * dt;
        w[i] += height * std::min(1.0, t / ramp) * std::exp(-std::max(0.0, t - ramp) / recovery);
      }
      break;
    }
    case clipping: {
      const auto [lo, hi] = std::minmax_element(w.begin(), w.end());
      const double low = *lo, range = *hi - *lo, fraction = rng.uniform(0.4, 0.8);
      const bool top = rng.index(2) == 0;
      for (double& v : w) v = top ? std::min(v, low + fraction * range) : std::max(v, low + (1 - fraction) * range);
      break;
    }
    default:
      break;
  }
}

// The record in millivolts (the file holds 11-bit ADC units, 200 per mV around 1024).
inline std::vector<double> read_millivolts(const std::filesystem::path& path) {
  const auto raw = typegrad::read_npy<double>(path);
  std::vector<double> mv(raw.values.size());
  for (std::size_t i = 0; i < mv.size(); ++i) mv[i] = (raw.values[i] - 1024) / 200;
  return mv;
}

// Where the training part (the first 70 % of the recording) ends, and its standard deviation.
struct training_part {
  std::size_t end;
  double sd;
};
inline training_part split_by_time(const std::vector<double>& mv) {
  const std::size_t boundary = mv.size() * 7 / 10;
  double mean = 0, var = 0;
  for (std::size_t i = 0; i < boundary; ++i) mean += mv[i];
  mean /= double(boundary);
  for (std::size_t i = 0; i < boundary; ++i) var += (mv[i] - mean) * (mv[i] - mean);
  return {boundary, std::sqrt(var / double(boundary))};
}

// Calls on_window(x, kind) for the windows of mv[begin, end) every `hop` samples, half of them
// corrupted: x is the window minus its median, divided by `scale`.
template <class OnWindow>
void for_each_window(const std::vector<double>& mv, std::size_t begin, std::size_t end, std::size_t hop, double scale,
                     schedule_rng& rng, OnWindow&& on_window) {
  std::vector<double> w(window), sorted(window);
  std::array<float, window> x;
  for (std::size_t s = begin; s + window <= end; s += hop) {
    std::copy_n(mv.begin() + static_cast<std::ptrdiff_t>(s), window, w.begin());
    const auto kind = rng.index(2) == 0 ? clean : artefact(1 + rng.index(kinds - 1));
    corrupt(w, kind, rng);
    sorted = w;
    std::nth_element(sorted.begin(), sorted.begin() + window / 2, sorted.end());
    const double median = sorted[window / 2];
    for (std::size_t i = 0; i < window; ++i) x[i] = float((w[i] - median) / scale);
    on_window(x, kind);
  }
}

}  // namespace ecg

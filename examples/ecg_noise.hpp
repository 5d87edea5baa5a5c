// Example 07's noise: an endless, seeded stream of the interference an ECG front end picks up —
// baseline wander, 50 Hz mains (drifting amplitude, frequency and phase, with a 3rd harmonic and
// sudden changes) and muscle-noise bursts — one sample at a time, in millivolts.
#pragma once

#include "ecg_artefacts.hpp"  // schedule_rng: the same draws on every platform

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numbers>
#include <random>

namespace ecg {

/// One sample of each kind of noise (mV); `mains` includes its 3rd harmonic.
struct noise_sample {
  double wander, mains, muscle;
  double total() const noexcept { return wander + mains + muscle; }
};

/// The interference, sample by sample at `fs`. Every parameter comes from `schedule_rng` seeded
/// once, so a seed gives the same noise everywhere and for as long as it runs.
///   wander   breathing (0.15–0.35 Hz, its rate drifting ±0.05 Hz over a minute, 0.3–0.8 mV)
///            plus a slow drift (0.02–0.06 Hz, 0.2–0.6 mV)
///   mains    50 Hz + a grid-frequency deviation of up to ±0.12 Hz that wanders over 10–90 s, so
///            the phase against a nominal 50 Hz reference drifts by up to 43°/s; amplitude
///            0.05–0.4 mV, modulated ±40 % over 20–40 s; a 3rd harmonic of 15–35 % with its own
///            phase; on average every 60 s an event (a cable moved, a device switched on) draws a
///            new amplitude, harmonic and phase at once: the canceller must re-converge
///   muscle   bursts every 8 s on average, 0.3–1.5 s long, 0.02–0.15 mV RMS of high-pass noise
///            (first difference of white noise) under a Hann envelope
class noise_schedule {
 public:
  explicit noise_schedule(std::uint32_t seed) : rng_{std::mt19937(seed)} {
    breath_f_ = rng_.uniform(0.15, 0.35);
    breath_a_ = rng_.uniform(0.3, 0.8);
    breath_mod_ = rng_.uniform(0, two_pi);
    drift_f_ = rng_.uniform(0.02, 0.06);
    drift_a_ = rng_.uniform(0.2, 0.6);
    drift_phase_ = rng_.uniform(0, two_pi);
    for (auto& d : deviation_) d = {rng_.uniform(10, 90), rng_.uniform(0, two_pi), rng_.uniform(0.02, 0.06)};
    am_period_ = rng_.uniform(20, 40);
    am_phase_ = rng_.uniform(0, two_pi);
    mains_event();
    next_event_ = exponential(60);
    next_burst_ = exponential(8);
  }

  noise_sample next() noexcept {
    const double t = double(n_++) * dt;
    noise_sample s{};

    breath_phase_ += two_pi * dt * (breath_f_ + 0.05 * std::sin(two_pi * t / 60 + breath_mod_));
    s.wander = breath_a_ * std::sin(breath_phase_) + drift_a_ * std::sin(two_pi * drift_f_ * t + drift_phase_);

    if (t >= next_event_) {
      mains_event();
      next_event_ = t + exponential(60);
    }
    double deviation = 0;  // Hz
    for (const auto& d : deviation_) deviation += d.size * std::sin(two_pi * t / d.period + d.phase);
    mains_phase_ += two_pi * dt * (50 + deviation);
    mains_phase_ = std::fmod(mains_phase_, two_pi);  // keeps its precision over hours
    const double a = mains_a_ * (1 + 0.4 * std::sin(two_pi * t / am_period_ + am_phase_));
    s.mains = a * (std::sin(mains_phase_) + harmonic_ * std::sin(3 * mains_phase_ + harmonic_phase_));

    if (burst_left_ == 0 && t >= next_burst_) {
      burst_len_ = burst_left_ = std::size_t(rng_.uniform(0.3, 1.5) * fs);
      burst_rms_ = rng_.log_uniform(0.02, 0.15);
      previous_white_ = rng_.normal();
    }
    if (burst_left_ > 0) {
      const double white = rng_.normal(), i = double(burst_len_ - burst_left_);
      const double envelope = std::sin(std::numbers::pi * (i + 0.5) / double(burst_len_));
      s.muscle = burst_rms_ / std::sqrt(2.0) * (white - previous_white_) * envelope;
      previous_white_ = white;
      if (--burst_left_ == 0) next_burst_ = t + exponential(8);
    }
    return s;
  }

 private:
  static constexpr double two_pi = 2 * std::numbers::pi, dt = 1.0 / fs;

  double exponential(double mean) { return -mean * std::log(rng_.uniform(0, 1)); }
  void mains_event() {
    mains_a_ = rng_.log_uniform(0.05, 0.4);
    harmonic_ = rng_.uniform(0.15, 0.35);
    harmonic_phase_ = rng_.uniform(0, two_pi);
    mains_phase_ = rng_.uniform(0, two_pi);
  }

  struct slow_sine {
    double period, phase, size;
  };

  schedule_rng rng_;
  std::size_t n_ = 0;
  double breath_f_, breath_a_, breath_mod_, breath_phase_ = 0, drift_f_, drift_a_, drift_phase_;
  slow_sine deviation_[2];
  double am_period_, am_phase_, mains_a_ = 0, harmonic_ = 0, harmonic_phase_ = 0, mains_phase_ = 0;
  double next_event_, next_burst_;
  std::size_t burst_len_ = 0, burst_left_ = 0;
  double burst_rms_ = 0, previous_white_ = 0;
};

}  // namespace ecg

// The RDP accountant of DP-SGD: ε spent by the sampled Gaussian mechanism, and the σ for a target ε.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numbers>
#include <span>
#include <stdexcept>
#include <string>

namespace typegrad::privacy {

/// How Rényi DP at order α becomes (ε, δ)-DP.
enum class conversion {
  classic,  ///< ε = rdp + log(1/δ)/(α − 1) (Mironov 2017, Prop. 3; Abadi et al.'s moments accountant)
  improved  ///< Balle et al. 2020, Thm. 21: ε = rdp − (log δ + log α)/(α − 1) + log((α − 1)/α) (Opacus's)
};

/// The privacy spent: the smallest ε over the orders tried, and the order α that gave it.
struct spent {
  double epsilon = 0;
  double order = 0;  ///< NaN when every order gives ε = ∞ (σ = 0: no privacy)
};

namespace detail {
inline constexpr std::array<double, 151> make_default_orders() noexcept {
  std::array<double, 151> a{};
  for (int x = 1; x < 100; ++x) a[std::size_t(x - 1)] = 1 + x / 10.0;  // as Python's 1 + x / 10.0
  for (int k = 12; k < 64; ++k) a[std::size_t(99 + k - 12)] = k;
  return a;
}
inline constexpr std::array<double, 151> default_orders_storage = make_default_orders();
}  // namespace detail

/// Opacus's RDP orders (RDPAccountant.DEFAULT_ALPHAS): 1.1, 1.2, …, 10.9, then 12, 13, …, 63.
inline constexpr std::span<const double> default_orders{detail::default_orders_storage};

namespace detail {

inline double log_add(double a, double b) noexcept {  // log(e^a + e^b)
  const double lo = std::min(a, b), hi = std::max(a, b);
  if (lo == -std::numeric_limits<double>::infinity()) return hi;
  return std::log1p(std::exp(lo - hi)) + hi;
}
inline double log_sub(double a, double b) noexcept {  // log(e^a − e^b), a ≥ b (rounding may break it: then −∞)
  if (b == -std::numeric_limits<double>::infinity()) return a;
  if (a <= b) return -std::numeric_limits<double>::infinity();
  const double d = std::expm1(a - b);
  return std::isinf(d) ? a : std::log(d) + b;
}
// log(erfc(x)); past x = 20 erfc nears underflow, so its asymptotic series (error < x⁻¹⁰ there).
inline double log_erfc(double x) noexcept {
  if (x < 20) return std::log(std::erfc(x));
  const double r = 1 / (x * x);
  return -0.5 * std::log(std::numbers::pi) - std::log(x) - x * x +
         r * (-0.5 + r * (0.625 + r * (-37.0 / 24.0 + r * 353.0 / 64.0)));
}

// log A_α of Mironov, Talwar, Zhang 2019 (§3.3) for integer α: the binomial expansion
// A_α = Σ_i C(α, i) (1 − q)^(α−i) q^i exp((i² − i)/(2σ²)), summed in log space.
inline double log_a_integer(double q, double sigma, double alpha) noexcept {
  const auto n = static_cast<std::size_t>(alpha);
  double log_a = -std::numeric_limits<double>::infinity(), log_coef = 0;  // log C(α, 0)
  for (std::size_t i = 0; i <= n; ++i) {
    if (i > 0) log_coef += std::log(double(n - i + 1)) - std::log(double(i));
    const double di = double(i);
    const double s = log_coef + di * std::log(q) + (alpha - di) * std::log1p(-q) + (di * di - di) / (2 * sigma * sigma);
    log_a = log_add(log_a, s);
  }
  return log_a;
}

// log A_α for fractional α: the two series of MTZ 2019 §3.3 (as Opacus's / TF Privacy's
// _compute_log_a_frac), split at z0 and summed until both terms fall below e⁻³⁰.
inline double log_a_fractional(double q, double sigma, double alpha) noexcept {
  constexpr double neg_inf = -std::numeric_limits<double>::infinity();
  double log_a0 = neg_inf, log_a1 = neg_inf;
  const double z0 = sigma * sigma * std::log(1 / q - 1) + 0.5;
  double log_coef = 0;  // log |C(α, i)|, updated by |α − i + 1| / i
  bool positive = true;  // sign of C(α, i)
  for (std::size_t i = 0;; ++i) {
    const double di = double(i);
    if (i > 0) {
      const double factor = alpha - di + 1;
      log_coef += std::log(std::abs(factor)) - std::log(di);
      if (factor < 0) positive = !positive;
    }
    const double j = alpha - di;
    const double log_t0 = log_coef + di * std::log(q) + j * std::log1p(-q);
    const double log_t1 = log_coef + j * std::log(q) + di * std::log1p(-q);
    const double log_e0 = std::log(0.5) + log_erfc((di - z0) / (std::numbers::sqrt2 * sigma));
    const double log_e1 = std::log(0.5) + log_erfc((z0 - j) / (std::numbers::sqrt2 * sigma));
    const double log_s0 = log_t0 + (di * di - di) / (2 * sigma * sigma) + log_e0;
    const double log_s1 = log_t1 + (j * j - j) / (2 * sigma * sigma) + log_e1;
    if (positive) {
      log_a0 = log_add(log_a0, log_s0);
      log_a1 = log_add(log_a1, log_s1);
    } else {
      log_a0 = log_sub(log_a0, log_s0);
      log_a1 = log_sub(log_a1, log_s1);
    }
    if (std::max(log_s0, log_s1) < -30) break;
  }
  return log_add(log_a0, log_a1);
}

inline void check_mechanism(const char* who, double q, double sigma, double steps) {
  if (!(q >= 0 && q <= 1)) throw std::invalid_argument(std::string(who) + ": the sampling rate q = " + std::to_string(q) + " is not in [0, 1]");
  if (!(sigma >= 0) || std::isinf(sigma))
    throw std::invalid_argument(std::string(who) + ": the noise multiplier sigma = " + std::to_string(sigma) + " is not a finite value >= 0");
  if (!(steps >= 0) || std::isinf(steps))
    throw std::invalid_argument(std::string(who) + ": steps = " + std::to_string(steps) + " is not a finite value >= 0");
}
inline void check_delta(const char* who, double delta) {
  if (!(delta > 0 && delta < 1)) throw std::invalid_argument(std::string(who) + ": delta = " + std::to_string(delta) + " is not in (0, 1)");
}
inline void check_orders(const char* who, std::span<const double> orders) {
  if (orders.empty()) throw std::invalid_argument(std::string(who) + ": no RDP orders given");
  for (const double a : orders)
    if (!(a > 1) || std::isinf(a))
      throw std::invalid_argument(std::string(who) + ": the RDP order " + std::to_string(a) + " is not a finite value > 1");
}

}  // namespace detail

/// Rényi DP at order α (> 1) of `steps` compositions of the sampled Gaussian mechanism with
/// sampling rate q and noise multiplier σ (noise std / L2 sensitivity); can be ∞ (σ = 0).
inline double compute_rdp(double q, double sigma, double steps, double order) {
  detail::check_mechanism("typegrad::privacy::compute_rdp", q, sigma, steps);
  detail::check_orders("typegrad::privacy::compute_rdp", std::span<const double>(&order, 1));
  if (q == 0 || steps == 0) return 0;
  if (sigma == 0) return std::numeric_limits<double>::infinity();
  if (q == 1) return steps * (order / (2 * sigma * sigma));
  const double log_a = order == std::floor(order) ? detail::log_a_integer(q, sigma, order)
                                                   : detail::log_a_fractional(q, sigma, order);
  return steps * (log_a / (order - 1));  // per step, then composed: fit multiplies the same way
}

/// ε from Rényi DP `rdp` at order α for a given δ (either conversion; never below 0).
inline double epsilon_from_rdp(double rdp, double order, double delta, conversion c = conversion::improved) noexcept {
  const double eps = c == conversion::classic
                         ? rdp + std::log(1 / delta) / (order - 1)
                         : rdp - (std::log(delta) + std::log(order)) / (order - 1) + std::log((order - 1) / order);
  return std::max(eps, 0.0);
}

/// (ε, δ)-DP of `steps` steps of DP-SGD with sampling rate q and noise multiplier σ: the smallest
/// ε over `orders` and the order that gives it. Improved (Balle et al. 2020) conversion and
/// Opacus's orders unless told otherwise:
///
///     auto s = typegrad::privacy::compute_epsilon(0.04, 1.5, 2250, 1e-5);   // s.epsilon ≈ 7.329, s.order
///
/// @throws std::invalid_argument for q ∉ [0, 1], σ < 0, δ ∉ (0, 1) or an order ≤ 1.
inline spent compute_epsilon(double q, double sigma, double steps, double delta, conversion c = conversion::improved,
                             std::span<const double> orders = default_orders) {
  constexpr const char* who = "typegrad::privacy::compute_epsilon";
  detail::check_mechanism(who, q, sigma, steps);
  detail::check_delta(who, delta);
  detail::check_orders(who, orders);
  spent best{std::numeric_limits<double>::infinity(), std::numeric_limits<double>::quiet_NaN()};
  for (const double a : orders) {
    const double eps = epsilon_from_rdp(compute_rdp(q, sigma, steps, a), a, delta, c);
    if (eps < best.epsilon) best = {eps, a};
  }
  return best;
}
/// The same, orders first: `compute_epsilon(q, sigma, steps, delta, orders, conversion::classic)`.
inline spent compute_epsilon(double q, double sigma, double steps, double delta, std::span<const double> orders,
                             conversion c = conversion::improved) {
  return compute_epsilon(q, sigma, steps, delta, c, orders);
}

/// The noise multiplier σ at which `steps` steps with sampling rate q spend at most
/// `target_epsilon` at δ, as Opacus's get_noise_multiplier: σ doubled from 20 until ε ≤ target,
/// then bisection until target − ε(σ) ≤ `epsilon_tolerance` (0.01, Opacus's). The σ returned always
/// gives ε ≤ target_epsilon.
/// @throws std::invalid_argument for a target ε ≤ 0 or bad q, δ, orders; std::domain_error when
///         even σ = 10⁶ spends more than the target.
inline double noise_multiplier(double q, double steps, double target_epsilon, double delta,
                               conversion c = conversion::improved, std::span<const double> orders = default_orders,
                               double epsilon_tolerance = 0.01) {
  constexpr const char* who = "typegrad::privacy::noise_multiplier";
  detail::check_mechanism(who, q, 1, steps);
  detail::check_delta(who, delta);
  detail::check_orders(who, orders);
  if (!(target_epsilon > 0) || std::isinf(target_epsilon))
    throw std::invalid_argument(std::string(who) + ": the target epsilon " + std::to_string(target_epsilon) + " is not a finite value > 0");
  if (!(epsilon_tolerance > 0))
    throw std::invalid_argument(std::string(who) + ": epsilon_tolerance must be > 0");
  auto eps = [&](double sigma) { return compute_epsilon(q, sigma, steps, delta, c, orders).epsilon; };
  double low = 0, high = 10, eps_high = std::numeric_limits<double>::infinity();
  while (eps_high > target_epsilon) {
    high *= 2;
    eps_high = eps(high);
    if (high > 1e6)
      throw std::domain_error(std::string(who) + ": the target epsilon " + std::to_string(target_epsilon) +
                              " cannot be reached with a noise multiplier up to 1e6 (the budget is too low)");
  }
  while (target_epsilon - eps_high > epsilon_tolerance) {
    const double mid = (low + high) / 2, e = eps(mid);
    if (e < target_epsilon) high = mid, eps_high = e;
    else low = mid;
  }
  return high;
}

}  // namespace typegrad::privacy

// integrated_gradients: path-integrated d output_k / dx from a baseline, with its completeness residual.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <typegrad/core/tensor.hpp>
#include <typegrad/explain/detail/path_integral.hpp>
#include <typegrad/explain/saliency.hpp>
#include <typegrad/network/network.hpp>
#include <typegrad/train/detail/batch.hpp>

namespace typegrad {

/// What integrated_gradients returns for x (a vector<T, N> or a matrix<T, B, N>).
template <class X>
struct integrated_gradients_result {
  using value_type = typename X::value_type;
  /// One residual per sample: T for a vector x, vector<T, B> for a matrix.
  using delta_type =
      std::conditional_t<std::is_same_v<X, vector<value_type, cols_of<X>>>, value_type, vector<value_type, rows_of<X>>>;
  /// Shaped like x: the attribution of each input feature (row b for sample b).
  X attributions;
  /// Completeness residual Σ attributions − (y_k(x) − y_k(baseline)): zero for the exact integral,
  /// so its size measures the quadrature error.
  delta_type delta;
  /// Gradients evaluated, over all samples (steps per sample without refine_path).
  std::size_t gradient_evaluations = 0;
};

namespace detail {

/// Path points evaluated in one pass for one sample.
inline constexpr std::size_t path_chunk = 16;

/// One sample's straight path x' + α(x − x'), evaluated at many α, path_chunk points per pass.
template <class Net>
struct sample_path {
  using T = typename Net::value_type;
  static constexpr std::size_t n = Net::in_size;
  const Net& net;
  const T* x;
  const T* x0;
  std::size_t k;

  // Row c of `at` is the point at alphas[c]; rows past the end repeat the last (their results are dropped).
  void fill(matrix<T, path_chunk, n>& at, std::span<const double> alphas) const noexcept {
    for (std::size_t c = 0; c < path_chunk; ++c) {
      const double a = alphas[std::min(c, alphas.size() - 1)];
      for (std::size_t i = 0; i < n; ++i) at(c, i) = T(double(x0[i]) + a * (double(x[i]) - double(x0[i])));
    }
  }
  /// Appends ∇y_k at each α (n values each) to `out`.
  void gradients(std::span<const double> alphas, std::vector<double>& out) const {
    matrix<T, path_chunk, n> at, g;
    for (std::size_t j = 0; j < alphas.size(); j += path_chunk) {
      const auto part = alphas.subspan(j, std::min(path_chunk, alphas.size() - j));
      fill(at, part);
      output_input_gradient<path_chunk>(net, at.data(), k, g.data());
      out.insert(out.end(), g.data(), g.data() + part.size() * n);
    }
  }
  /// y_k at each α.
  /// (Through fit's and predict's out-of-line forward pass, forward_rows: no copy of its own.)
  std::vector<double> outputs(std::span<const double> alphas) const {
    constexpr std::size_t stride = padded<T>(Net::out_size);
    std::vector<double> y;
    matrix<T, path_chunk, n> at;
    typename Net::template workspace<path_chunk> ws;
    for (std::size_t j = 0; j < alphas.size(); j += path_chunk) {
      const auto part = alphas.subspan(j, std::min(path_chunk, alphas.size() - j));
      fill(at, part);
      forward_rows<path_chunk, pass::inference>(net, ws, at.data());
      const T* out = Net::template output<path_chunk>(ws);  // padded rows
      for (std::size_t c = 0; c < part.size(); ++c) y.push_back(double(out[c * stride + k]));
    }
    return y;
  }
};

template <class Net>
std::size_t integrate_sample(const sample_path<Net>& path, std::size_t steps, const refine_path* refine, double* sum) {
  constexpr std::size_t n = Net::in_size;
  double direction[n];
  for (std::size_t i = 0; i < n; ++i) direction[i] = double(path.x[i]) - double(path.x0[i]);
  const path_functions f{
      n, direction, &path,
      [](const void* p, std::span<const double> alphas, std::vector<double>& out) {
        static_cast<const sample_path<Net>*>(p)->gradients(alphas, out);
      },
      [](const void* p, std::span<const double> alphas) { return static_cast<const sample_path<Net>*>(p)->outputs(alphas); }};
  return integrate_path(f, steps, refine, sum);
}

template <class Net, class X>
integrated_gradients_result<X> integrated_gradients_impl(const Net& net, const X& x, const X& baseline, std::size_t k,
                                                         std::size_t steps, const refine_path* refine) {
  using T = typename Net::value_type;
  constexpr const char* call = "typegrad::integrated_gradients(net, x, baseline, k, steps)";
  check_explain_arguments<Net>(call, x, k);
  for (std::size_t i = 0; i < X::size(); ++i)
    if (!std::isfinite(baseline.data()[i]))
      throw std::invalid_argument(std::string(call) + ": the baseline holds a non-finite value at sample " +
                                  std::to_string(i / Net::in_size) + ", feature " + std::to_string(i % Net::in_size));
  if (steps == 0) throw std::invalid_argument(std::string(call) + ": steps must be at least 1");
  if (refine && !(refine->tolerance >= 0))
    throw std::invalid_argument(std::string(call) + ": refine_path's tolerance must be at least 0");

  constexpr std::size_t n = Net::in_size, rows = rows_of<X>;
  std::vector<double> sum(X::size(), 0.0);  // ∫ ∇y_k dα per sample, in double
  integrated_gradients_result<X> r;
  if (rows == 1 || refine) {
    for (std::size_t s = 0; s < rows; ++s)
      r.gradient_evaluations += integrate_sample(sample_path<Net>{net, x.data() + s * n, baseline.data() + s * n, k},
                                                 steps, refine, sum.data() + s * n);
  } else {
    // A batch with the plain rule: one pass of all samples per path point.
    X at, g;
    for (std::size_t j = 0; j < steps; ++j) {
      const double alpha = (double(j) + 0.5) / double(steps);
      for (std::size_t e = 0; e < X::size(); ++e)
        at.data()[e] = T(double(baseline.data()[e]) + alpha * (double(x.data()[e]) - double(baseline.data()[e])));
      output_input_gradient<rows>(net, at.data(), k, g.data());
      for (std::size_t e = 0; e < X::size(); ++e) sum[e] += double(g.data()[e]) / double(steps);
    }
    r.gradient_evaluations = rows * steps;
  }
  const auto y = net(x), y0 = net(baseline);
  for (std::size_t s = 0; s < rows; ++s) {
    double total = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t e = s * n + i;
      const double a = (double(x.data()[e]) - double(baseline.data()[e])) * sum[e];
      r.attributions.data()[e] = T(a);
      total += a;
    }
    const double change = double(y.data()[s * Net::out_size + k]) - double(y0.data()[s * Net::out_size + k]);
    if constexpr (std::is_same_v<typename integrated_gradients_result<X>::delta_type, T>)
      r.delta = T(total - change);
    else
      r.delta[s] = T(total - change);
  }
  return r;
}

}  // namespace detail

/// Integrated gradients (Sundararajan et al., 2017): attribution_i = (x_i − x'_i) · ∫₀¹ ∂y_k/∂x_i
/// (x' + α(x − x')) dα, for the baseline x' (same shape as x), with y the network's inference
/// output (for a sigmoid or softmax last layer, the probability). The integral is the midpoint
/// rule with `steps` points, α_j = (j + ½)/steps (Captum's method='riemann_middle'): exact where
/// the gradient is constant along the path (a linear model: (x − x')·w), error O(1/steps²) for
/// smooth networks but only O(1/steps) across ReLU switches (see refine_path); `delta` reports
/// what remains. Gradients come from the generated backward pass, 16 path points per pass for one
/// sample, all B samples per pass for a matrix<T, B, N> (one sample per pass with batch norm).
/// Throws std::out_of_range if k ≥ out_size, std::invalid_argument if steps is 0 or x or the
/// baseline is not finite.
/// @code
/// auto ig = tg::integrated_gradients(net, x, tg::vector<float, 30>{}, 0, 64);  // ig.attributions, ig.delta
/// auto fine = tg::integrated_gradients(net, x, x0, 0, 64, tg::refine_path{.tolerance = 1e-3});
/// @endcode
template <network_type Net, tensor X>
  requires(detail::check_input<Net, X>())
integrated_gradients_result<std::remove_cvref_t<X>> integrated_gradients(const Net& net, const X& x,
                                                                         const std::remove_cvref_t<X>& baseline,
                                                                         std::size_t k, std::size_t steps) {
  return detail::integrated_gradients_impl<Net, std::remove_cvref_t<X>>(net, x, baseline, k, steps, nullptr);
}
/// The same, refining the path until the completeness residual is within `refine` (see refine_path).
template <network_type Net, tensor X>
  requires(detail::check_input<Net, X>())
integrated_gradients_result<std::remove_cvref_t<X>> integrated_gradients(const Net& net, const X& x,
                                                                         const std::remove_cvref_t<X>& baseline,
                                                                         std::size_t k, std::size_t steps,
                                                                         const refine_path& refine) {
  return detail::integrated_gradients_impl<Net, std::remove_cvref_t<X>>(net, x, baseline, k, steps, &refine);
}

}  // namespace typegrad

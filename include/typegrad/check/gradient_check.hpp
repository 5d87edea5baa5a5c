// check_gradient: compares the generated backward pass with finite differences, in double.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <initializer_list>
#include <utility>
#include <type_traits>
#include <vector>

#include <typegrad/core/tensor.hpp>
#include <typegrad/network/network.hpp>
#include <typegrad/network/train.hpp>

namespace typegrad {

/// The worst disagreement between the analytic and the numerical gradient, and where it is.
struct gradient_check_result {
  double max_relative_error = 0;  ///< |analytic − numeric| / max(|analytic|, |numeric|, floor)
  std::size_t layer = 0;          ///< layer index, as in get<I>
  std::size_t block = 0;          ///< 0 = weight, 1 = bias
  std::size_t row = 0, col = 0;   ///< weight(row, col) or bias(row)
  double analytic = 0, numeric = 0;
  std::size_t checked = 0;        ///< number of parameters compared
};

namespace detail {
template <class A>
auto to_double(const A& a) noexcept {
  using U = std::remove_cvref_t<A>;
  if constexpr (!tensor<U>) {
    return a;  // class indices stay as they are
  } else if constexpr (!std::is_floating_point_v<typename U::value_type>) {
    return a;
  } else if constexpr (rows_of<U> == 1 && requires { a[0]; }) {
    vector<double, cols_of<U>> r;
    for (std::size_t i = 0; i < cols_of<U>; ++i) r[i] = a[i];
    return r;
  } else {
    matrix<double, rows_of<U>, cols_of<U>> r;
    for (std::size_t i = 0; i < U::size(); ++i) r.data()[i] = a.data()[i];
    return r;
  }
}

// Copies every tensor a parameter block names (for_each_tensor), layer by layer, into the blocks of
// another scalar type: the trained values again, and the state for_each does not visit.
template <class From, class To>
void copy_tensors(const From& from, To& to) {
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (
        [&] {
          const auto& src = get<I>(from);
          auto& dst = get<I>(to);
          if constexpr (requires { src.for_each_tensor([](auto&&...) {}); }) {
            std::vector<double> values;
            src.for_each_tensor([&](auto, std::initializer_list<std::size_t> shape, const auto* data, std::size_t rs, std::size_t cs) {
              std::size_t rows = *shape.begin(), cols = 1;
              for (auto it = shape.begin() + 1; it != shape.end(); ++it) cols *= *it;
              for (std::size_t r = 0; r < rows; ++r)
                for (std::size_t c = 0; c < cols; ++c) values.push_back(double(data[r * rs + c * cs]));
            });
            std::size_t n = 0;
            dst.for_each_tensor([&](auto, std::initializer_list<std::size_t> shape, auto* data, std::size_t rs, std::size_t cs) {
              std::size_t rows = *shape.begin(), cols = 1;
              for (auto it = shape.begin() + 1; it != shape.end(); ++it) cols *= *it;
              for (std::size_t r = 0; r < rows; ++r)
                for (std::size_t c = 0; c < cols; ++c) data[r * rs + c * cs] = values[n++];
            });
          }
        }(),
        ...);
  }(std::make_index_sequence<From::depth>{});
}

}  // namespace detail

/// Checks every parameter's gradient against a fourth-order central difference,
/// (−L(θ+2h) + 8L(θ+h) − 8L(θ−h) + L(θ−2h)) / 12h, computed on a double-precision copy of the
/// network (a float network is checked through its double twin). The difference itself carries
/// a rounding error of about ε·|L|/h ≈ 1e-12, so the relative error's denominator is floored at
/// `floor` (1e-5): components below it are in effect held to an absolute error of floor × bound.
template <network_type Net, loss_function Loss, tensor X, class Target>
gradient_check_result check_gradient(const Net& net, const Loss& loss, const X& x, const Target& t,
                                     double step = 1e-4, double floor = 1e-5) {
  using twin_t = typename Net::template rebind<double>;
  twin_t twin{init::zeros{}};
  {
    std::size_t n = 0;
    // Both walks visit the parameters in the same order.
    std::vector<double> values(Net::parameters_type::count());
    net.parameters().for_each([&](std::size_t, auto, std::size_t, std::size_t, auto v) { values[n++] = double(v); });
    n = 0;
    twin.parameters().for_each([&](std::size_t, auto, std::size_t, std::size_t, double& v) { v = values[n++]; });
    // State that is not trained but shapes the loss (batch norm's running statistics) too.
    detail::copy_tensors(net.parameters(), twin.parameters());
  }
  const auto xd = detail::to_double(x);
  const auto td = detail::to_double(t);
  const auto analytic = gradient(twin, loss, xd, td);
  std::vector<double> analytic_values(Net::parameters_type::count());
  {
    std::size_t n = 0;
    analytic.for_each([&](std::size_t, auto, std::size_t, std::size_t, double v) { analytic_values[n++] = v; });
  }
  gradient_check_result worst;
  std::size_t n = 0;
  twin.parameters().for_each([&](std::size_t layer, auto blk, std::size_t o, std::size_t i, double& v) {
    const double saved = v;
    auto at = [&](double d) {
      v = saved + d;
      return loss_value(twin, loss, xd, td);
    };
    const double numeric = (-at(2 * step) + 8 * at(step) - 8 * at(-step) + at(-2 * step)) / (12 * step);
    v = saved;
    const double a = analytic_values[n++];
    const double err = std::abs(a - numeric) / std::max({std::abs(a), std::abs(numeric), floor});
    if (err > worst.max_relative_error || worst.checked == 0) {
      worst.max_relative_error = err;
      worst.layer = layer;
      worst.block = decltype(blk)::value;
      worst.row = o;
      worst.col = i;
      worst.analytic = a;
      worst.numeric = numeric;
    }
    ++worst.checked;
  });
  return worst;
}

}  // namespace typegrad

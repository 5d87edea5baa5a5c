// Expression templates: derived derivatives against finite differences, SIMD lanes against scalars.
#include <catch2/catch.hpp>
#include <typegrad/typegrad.hpp>

#include <cmath>
#include <type_traits>

namespace tg = typegrad;
namespace te = typegrad::expr;
using namespace typegrad::literals;

namespace {

// Central difference of a one-argument expression at z (fourth order).
template <class E>
double numeric_slope(E e, double z, double h = 1e-4) {
  auto f = [&](double v) { return te::eval(e, v); };
  return (-f(z + 2 * h) + 8 * f(z + h) - 8 * f(z - h) + f(z - 2 * h)) / (12 * h);
}

template <class E>
void check_against_finite_differences(E e) {
  // Points away from the kinks of piecewise functions (0 for relu-like ones).
  for (double z : {-3.1, -1.7, -0.45, -0.05, 0.07, 0.6, 1.3, 2.9}) {
    const double analytic = te::eval(te::derivative(e, tg::x), z);
    const double numeric = numeric_slope(e, z);
    INFO("z = " << z << " analytic " << analytic << " numeric " << numeric);
    REQUIRE(std::abs(analytic - numeric) <= 1e-8 * std::max(1.0, std::abs(numeric)));
  }
}

// Every lane of the SIMD evaluation equals the scalar evaluation.
template <class T, class E>
void check_simd_matches_scalar(E e) {
  using V = xsimd::batch<T>;
  alignas(64) T in[V::size], out[V::size];
  for (std::size_t i = 0; i < V::size; ++i) in[i] = T(-2.5) + T(5) * T(i) / T(V::size);
  te::eval(e, V::load_aligned(in)).store_aligned(out);
  for (std::size_t i = 0; i < V::size; ++i) {
    const T s = te::eval(e, in[i]);
    INFO("lane " << i << " x = " << in[i]);
    REQUIRE(out[i] == Approx(s).epsilon(std::is_same_v<T, float> ? 2e-6 : 1e-13).margin(1e-30));
  }
}

}  // namespace

TEST_CASE("constants and simplification are compile-time", "[expr]") {
  STATIC_REQUIRE(std::is_same_v<decltype(0.5_c), te::constant<1, 2>>);
  STATIC_REQUIRE(std::is_same_v<decltype(0.044715_c), te::constant<8943, 200000>>);
  STATIC_REQUIRE(std::is_same_v<decltype(2_c * 0.25_c), te::constant<1, 2>>);
  // d/dx (3x + 1) = 3: the product rule's zero and one terms fold away entirely.
  STATIC_REQUIRE(std::is_same_v<te::derivative_t<decltype(3_c * tg::x + 1_c)>, te::constant<3>>);
  // d/dx x = 1, so the identity activation's backward is skipped.
  STATIC_REQUIRE(tg::identity::is_identity);
  STATIC_REQUIRE(!tg::relu::is_identity);
  // Expressions are empty, trivially copyable types.
  STATIC_REQUIRE(std::is_empty_v<decltype(tg::x * te::sigmoid(tg::x))>);
  STATIC_REQUIRE(std::is_trivially_copyable_v<decltype(tg::x * te::sigmoid(tg::x))>);
}

TEST_CASE("derived derivatives of every op match finite differences", "[expr]") {
  const auto x = tg::x;
  check_against_finite_differences(x * x * x);
  check_against_finite_differences(1_c / (2_c + x * x));
  check_against_finite_differences(te::exp(0.5_c * x));
  check_against_finite_differences(te::log(1_c + x * x));
  check_against_finite_differences(te::log1p(x * x));
  check_against_finite_differences(te::tanh(x));
  check_against_finite_differences(te::sigmoid(x));
  check_against_finite_differences(te::softplus(x));
  check_against_finite_differences(te::abs(x) * x);
  check_against_finite_differences(te::sqrt(1_c + x * x));
  check_against_finite_differences(te::max(x, 0.2_c * x));
  check_against_finite_differences(te::min(x, 0.2_c * x));
  check_against_finite_differences(-x + x / (3_c + te::exp(x)));
  check_against_finite_differences(te::where(x > 0_c, x * x, -x));
}

TEMPLATE_TEST_CASE("built-in activations: derivatives match finite differences", "[expr][activation]",
                   tg::identity, tg::sigmoid, tg::tanh, tg::relu, tg::leaky_relu, tg::elu, tg::softplus, tg::gelu,
                   tg::swish, (tg::leaky_relu_with<1, 5>)) {
  check_against_finite_differences(typename TestType::expression{});
}

TEMPLATE_TEST_CASE("built-in activations: SIMD lanes equal scalar evaluation", "[expr][activation]", float, double) {
  check_simd_matches_scalar<TestType>(tg::sigmoid::expression{});
  check_simd_matches_scalar<TestType>(tg::sigmoid::derivative{});
  check_simd_matches_scalar<TestType>(tg::tanh::expression{});
  check_simd_matches_scalar<TestType>(tg::relu::expression{});
  check_simd_matches_scalar<TestType>(tg::elu::expression{});
  check_simd_matches_scalar<TestType>(tg::softplus::expression{});
  check_simd_matches_scalar<TestType>(tg::gelu::expression{});
  check_simd_matches_scalar<TestType>(tg::gelu::derivative{});
  check_simd_matches_scalar<TestType>(tg::swish::derivative{});
}

TEST_CASE("built-in activations have the textbook values", "[expr][activation]") {
  // Independent closed forms, computed here with <cmath>.
  for (double z : {-2.0, -0.3, 0.4, 1.9}) {
    REQUIRE(tg::sigmoid::value(z) == Approx(1 / (1 + std::exp(-z))));
    REQUIRE(tg::tanh::value(z) == Approx(std::tanh(z)));
    REQUIRE(tg::relu::value(z) == Approx(z > 0 ? z : 0.0).margin(1e-300));
    REQUIRE(tg::leaky_relu::value(z) == Approx(z > 0 ? z : 0.01 * z));
    REQUIRE(tg::elu::value(z) == Approx(z > 0 ? z : std::exp(z) - 1));
    REQUIRE(tg::softplus::value(z) == Approx(std::log(1 + std::exp(z))));
    REQUIRE(tg::swish::value(z) == Approx(z / (1 + std::exp(-z))));
    const double gelu = 0.5 * z * (1 + std::tanh(std::sqrt(2 / M_PI) * (z + 0.044715 * z * z * z)));
    REQUIRE(tg::gelu::value(z) == Approx(gelu).epsilon(1e-14));
  }
  // Stable forms: no overflow at the extremes.
  REQUIRE(tg::softplus::value(800.0) == Approx(800.0));
  REQUIRE(tg::softplus::value(-800.0) == Approx(0.0).margin(1e-300));
  REQUIRE(tg::sigmoid::value(-800.0) == Approx(0.0).margin(1e-300));
}

TEST_CASE("losses derived from expressions match finite differences in the prediction", "[expr][loss]") {
  using bce = tg::binary_cross_entropy::expression;
  using logits = tg::bce_with_logits::expression;
  using squared = tg::mse::expression;
  for (double y : {0.1, 0.45, 0.83})
    for (double t : {0.0, 0.3, 1.0}) {
      auto num = [&](auto e) {
        const double h = 1e-5;
        auto f = [&](double v) { return te::eval(e, v, t); };
        return (-f(y + 2 * h) + 8 * f(y + h) - 8 * f(y - h) + f(y - 2 * h)) / (12 * h);
      };
      REQUIRE(te::eval(te::derivative_t<bce>{}, y, t) == Approx(num(bce{})).epsilon(1e-8));
      REQUIRE(te::eval(te::derivative_t<logits>{}, y, t) == Approx(num(logits{})).epsilon(1e-8));
      REQUIRE(te::eval(te::derivative_t<squared>{}, y, t) == Approx(num(squared{})).epsilon(1e-8).margin(1e-12));
      // BCE with logits' derived gradient is sigmoid(z) − t (an independent closed form).
      REQUIRE(te::eval(te::derivative_t<logits>{}, y, t) == Approx(1 / (1 + std::exp(-y)) - t).margin(1e-15));
    }
  // Saturated predictions stay finite, as PyTorch's clamped logarithms do: −log clamp = 100.
  REQUIRE(te::eval(bce{}, 0.0, 1.0) == Approx(100.0));
  REQUIRE(te::eval(logits{}, 800.0, 0.0) == Approx(800.0));
}

TEMPLATE_TEST_CASE("slopes taken from the output equal the derived derivatives", "[expr][activation]", tg::sigmoid,
                   tg::tanh, tg::relu, tg::leaky_relu, (tg::leaky_relu_with<1, 5>), tg::elu, tg::softplus) {
  STATIC_REQUIRE(TestType::slope_from_output);
  for (double z : {-6.0, -3.1, -1.7, -0.45, -0.05, 0.07, 0.6, 1.3, 2.9, 7.5}) {
    const double y = TestType::value(z);
    INFO("z = " << z);
    REQUIRE(TestType::slope_at_output(y) == Approx(TestType::slope(z)).epsilon(1e-12).margin(1e-14));
  }
}

TEST_CASE("single-precision tanh (rational approximation) is accurate", "[expr][activation]") {
  // Stated accuracy: within 5e-7 relative and absolute (a few ulp, with or without FMA) of tanh in double, over a
  // dense grid of [-10, 10] and near zero; odd; saturated to within a few ulp of ±1.
  double worst_rel = 0, worst_abs = 0;
  for (int k = -200000; k <= 200000; ++k) {
    const float x = float(k) * 5e-5f;
    const double exact = std::tanh(double(x));
    const double got = tg::tanh::value(x);
    worst_abs = std::max(worst_abs, std::abs(got - exact));
    if (std::abs(exact) > 1e-30) worst_rel = std::max(worst_rel, std::abs(got - exact) / std::abs(exact));
    REQUIRE(tg::tanh::value(-x) == -tg::tanh::value(x));
  }
  INFO("worst relative " << worst_rel << ", worst absolute " << worst_abs);
  REQUIRE(worst_abs <= 5e-7);
  REQUIRE(worst_rel <= 5e-7);
  REQUIRE(std::abs(tg::tanh::value(9.0f) - 1.0f) <= 5e-7f);  // saturated to within a few ulp
  REQUIRE(std::abs(tg::tanh::value(-50.0f) + 1.0f) <= 5e-7f);
  REQUIRE(tg::tanh::value(1e-20f) == 1e-20f);
}

TEST_CASE("single-precision sigmoid of the recurrent gates (rational approximation) is accurate", "[expr][activation]") {
  // Stated accuracy: within 2e-7 of σ in double in absolute terms over a dense grid of [-20, 20] (its error scales
  // a gate's values of order 1), inside [0, 1], and SIMD lanes agree with the scalar formula (to an ulp: the
  // compiler may contract the scalar a·b + c).
  using tg::expr::detail::sigmoid_float;
  double worst_abs = 0;
  for (int k = -400000; k <= 400000; ++k) {
    const float x = float(k) * 5e-5f;
    const double exact = 1.0 / (1.0 + std::exp(-double(x)));
    const float got = sigmoid_float(x);
    worst_abs = std::max(worst_abs, std::abs(double(got) - exact));
    REQUIRE(got >= 0.0f);
    REQUIRE(got <= 1.0f);
  }
  INFO("worst absolute " << worst_abs);
  REQUIRE(worst_abs <= 2e-7);
  REQUIRE(sigmoid_float(0.0f) == 0.5f);
  REQUIRE(sigmoid_float(-1e30f) <= 2e-7f);  // saturated, and finite for any input
  REQUIRE(sigmoid_float(1e30f) >= 1.0f - 2e-7f);
  alignas(64) float lanes_in[xsimd::batch<float>::size], lanes_out[xsimd::batch<float>::size];
  for (std::size_t j = 0; j < xsimd::batch<float>::size; ++j) lanes_in[j] = -7.3f + 1.37f * float(j);
  sigmoid_float(xsimd::batch<float>::load_aligned(lanes_in)).store_aligned(lanes_out);
  for (std::size_t j = 0; j < xsimd::batch<float>::size; ++j)
    REQUIRE(std::abs(lanes_out[j] - sigmoid_float(lanes_in[j])) <= 1.2e-7f);
}

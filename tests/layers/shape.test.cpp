// Shapes, the layer concept, reshapes, dense on a shaped input and layout conversions in the network.
#include <catch2/catch.hpp>
#include <typegrad/typegrad.hpp>

#include <cmath>
#include <type_traits>

#include "../network/test_support.hpp"

namespace tg = typegrad;
using test_support::fill;

namespace {

constexpr double tolerance = 1e-6;  // worst relative error of a finite-difference check (double)

template <class Net, class Loss, class X, class Target>
void require_gradient_matches(const Net& net, Loss loss, const X& x, const Target& t) {
  const auto r = tg::check_gradient(net, loss, x, t);
  INFO("worst relative error " << r.max_relative_error << " at layer " << r.layer << " block " << r.block << " ("
                               << r.row << ", " << r.col << "): analytic " << r.analytic << " numeric " << r.numeric);
  REQUIRE(r.checked == Net::parameters_type::count());
  REQUIRE(r.max_relative_error <= tolerance);
}

}  // namespace

TEST_CASE("shape: extents, size, last axis") {
  using s = tg::shape<3, 5, 7>;
  STATIC_REQUIRE(s::rank == 3);
  STATIC_REQUIRE(s::size == 105);
  STATIC_REQUIRE(s::last == 7);
  STATIC_REQUIRE(s::outer == 15);
  STATIC_REQUIRE(std::is_same_v<tg::shape_with_last<s, 2>, tg::shape<3, 5, 2>>);
  STATIC_REQUIRE(std::is_same_v<tg::shape_with_last<tg::shape<9>, 4>, tg::shape<4>>);
  STATIC_REQUIRE(tg::layout_size<float, 3, tg::shape<2, 5>, tg::layout::rows> == 3 * tg::padded<float>(10));
  STATIC_REQUIRE(tg::layout_size<float, 3, tg::shape<2, 5>, tg::layout::vectors> == 3 * 2 * tg::padded<float>(5));
  STATIC_REQUIRE(tg::layout_size<float, 3, tg::shape<2, 5>, tg::layout::features> == 10 * tg::padded<float>(3));
}

TEST_CASE("network: every layer is a typegrad::layer, indexed by get<I> whether it has parameters or not") {
  using net_t = tg::network<tg::input<12>, tg::dense<12, tg::tanh>, tg::unflatten<3, 4>, tg::dense<5, tg::sigmoid>,
                            tg::flatten, tg::dense<2>>;
  STATIC_REQUIRE(tg::layer<net_t::layer_t<0>>);
  STATIC_REQUIRE(tg::layer<net_t::layer_t<1>>);
  STATIC_REQUIRE(std::is_same_v<net_t::layer_t<1>::out_shape, tg::shape<3, 4>>);
  STATIC_REQUIRE(std::is_same_v<net_t::layer_t<2>::out_shape, tg::shape<3, 5>>);  // dense on the last axis
  STATIC_REQUIRE(std::is_same_v<net_t::layer_t<3>::out_shape, tg::shape<15>>);
  STATIC_REQUIRE(net_t::out_size == 2);
  STATIC_REQUIRE(std::is_same_v<std::remove_cvref_t<decltype(tg::get<1>(std::declval<net_t&>()))>, tg::no_parameters<float>>);
  STATIC_REQUIRE(net_t::parameters_type::count() == 12 * 12 + 12 + 4 * 5 + 5 + 15 * 2 + 2);
  // The dense layer after unflatten has W [5, 4], applied to each of the 3 vectors.
  net_t net{tg::init::glorot_uniform{3}};
  tg::get<2>(net).weight(4, 3) = 0.25f;
  REQUIRE(tg::get<2>(net).weight(4, 3) == 0.25f);
}

// dense<Out> on a shape (P, In) equals nn.Linear applied to each of the P vectors: compare the
// network with a plain loop over the layers' parameters.
TEMPLATE_TEST_CASE("dense on a shaped input acts on the last axis, as nn.Linear", "", float, double) {
  using T = TestType;
  using net_t = tg::network<tg::input<21, T>, tg::unflatten<3, 7>, tg::dense<5, tg::tanh>, tg::flatten, tg::dense<2>>;
  net_t net{tg::init::glorot_uniform{5}};
  tg::matrix<T, 3, 21> x;
  fill(x, 0.4);
  const auto y = net(x);
  for (std::size_t b = 0; b < 3; ++b) {
    double h[3][5];
    for (std::size_t p = 0; p < 3; ++p)
      for (std::size_t o = 0; o < 5; ++o) {
        double z = tg::get<1>(net).bias(o);
        for (std::size_t i = 0; i < 7; ++i) z += double(tg::get<1>(net).weight(o, i)) * double(x(b, p * 7 + i));
        h[p][o] = std::tanh(z);
      }
    for (std::size_t o = 0; o < 2; ++o) {
      double z = tg::get<3>(net).bias(o);
      for (std::size_t k = 0; k < 15; ++k) z += double(tg::get<3>(net).weight(o, k)) * h[k / 5][k % 5];
      const double eps = std::is_same_v<T, float> ? 1e-5 : 1e-12;
      REQUIRE(double(y(b, o)) == Approx(z).epsilon(eps).margin(eps));
    }
  }
}

// Finite differences through reshapes and a dense layer on the last axis, at batch sizes that run
// the neighbouring dense layers row-major (1, 5) and feature-major (at least one register of
// samples: 17), so that the network converts between layouts in both directions.
TEST_CASE("finite differences through unflatten, dense on the last axis and flatten") {
  using net_t = tg::network<tg::input<12, double>, tg::dense<12, tg::tanh>, tg::unflatten<3, 4>,
                            tg::dense<5, tg::sigmoid>, tg::flatten, tg::dense<3, tg::softplus>, tg::dense<2>>;
  net_t net{tg::init::glorot_uniform{42}};
  auto check = [&]<std::size_t B>() {
    tg::matrix<double, B, 12> x;
    tg::matrix<double, B, 2> t;
    fill(x, 0.1 * B);
    fill(t, 0.2 * B);
    require_gradient_matches(net, tg::mse{}, x, t);
  };
  check.template operator()<1>();
  check.template operator()<5>();
  check.template operator()<17>();
}

TEST_CASE("a reshape first: no gradient reaches the input, training still works") {
  using net_t = tg::network<tg::input<10>, tg::unflatten<2, 5>, tg::dense<3, tg::tanh>, tg::flatten, tg::dense<1>>;
  net_t net{tg::init::glorot_uniform{8}};
  tg::matrix<float, 4, 10> x;
  tg::matrix<float, 4, 1> t;
  fill(x);
  fill(t, 0.5);
  require_gradient_matches(net, tg::mse{}, x, t);
  tg::sgd opt{0.05};
  const float first = tg::train_step(net, tg::mse{}, opt, x, t);
  float last = first;
  for (int k = 0; k < 200; ++k) last = tg::train_step(net, tg::mse{}, opt, x, t);
  REQUIRE(last < 0.5f * first);
}

TEMPLATE_TEST_CASE("layout conversions round-trip and zero the padding", "", float, double) {
  using T = TestType;
  using s = tg::shape<3, 5>;
  constexpr std::size_t B = 19;
  tg::detail::buffer<T, tg::layout_size<T, B, s, tg::layout::rows>> rows, back;
  tg::detail::buffer<T, tg::layout_size<T, B, s, tg::layout::vectors>> vectors;
  tg::detail::buffer<T, tg::layout_size<T, B, s, tg::layout::features>> features;
  for (std::size_t b = 0; b < B; ++b)
    for (std::size_t k = 0; k < tg::padded<T>(15); ++k)
      rows.data[b * tg::padded<T>(15) + k] = k < 15 ? T(b * 100 + k) : T(0);
  tg::simd::convert_layout<T, B, s, tg::layout::rows, tg::layout::vectors>(rows.data, vectors.data);
  for (std::size_t b = 0; b < B; ++b)
    for (std::size_t p = 0; p < 3; ++p)
      for (std::size_t k = 0; k < tg::padded<T>(5); ++k)
        REQUIRE(vectors.data[(b * 3 + p) * tg::padded<T>(5) + k] == (k < 5 ? T(b * 100 + p * 5 + k) : T(0)));
  tg::simd::convert_layout<T, B, s, tg::layout::vectors, tg::layout::features>(vectors.data, features.data);
  for (std::size_t e = 0; e < 15; ++e)
    for (std::size_t b = 0; b < tg::padded<T>(B); ++b)
      REQUIRE(features.data[e * tg::padded<T>(B) + b] == (b < B ? T(b * 100 + e) : T(0)));
  tg::simd::convert_layout<T, B, s, tg::layout::features, tg::layout::rows>(features.data, back.data);
  for (std::size_t k = 0; k < tg::layout_size<T, B, s, tg::layout::rows>; ++k) REQUIRE(back.data[k] == rows.data[k]);
}

// A hidden dense layer with more outputs than inputs (and at least two registers of them) stores
// W input-major (dense.hpp, prefer_hidden_input_major): its fused one-sample backward
// (simd::dense_backward_input_major_dx), the row kernels over padded rows (B = 5) and the
// feature-major ones (B = 17) against finite differences, parameters and dL/dx.
TEST_CASE("hidden input-major dense layers match finite differences") {
  using net_t = tg::network<tg::input<6, double>, tg::dense<7, tg::tanh>, tg::dense<37, tg::sigmoid>,
                            tg::dense<41, tg::tanh>, tg::dense<3>>;
  STATIC_REQUIRE(net_t::layer_t<1>::input_major);
  STATIC_REQUIRE(!net_t::layer_t<1>::reads_unpadded_input);
  STATIC_REQUIRE(net_t::layer_t<2>::input_major);
  STATIC_REQUIRE(!net_t::layer_t<3>::input_major);
  auto check = [&]<std::size_t B>() {
    net_t net{tg::init::glorot_uniform{B}};
    tg::matrix<double, B, 6> x;
    tg::matrix<double, B, 3> t;
    fill(x, 0.3 * B);
    fill(t, 0.1 * B);
    INFO("batch " << B);
    const auto r = tg::check_gradient(net, tg::mse{}, x, t);
    INFO("worst relative error " << r.max_relative_error << " at layer " << r.layer);
    REQUIRE(r.max_relative_error <= tolerance);
    REQUIRE(test_support::input_gradient_error(net, tg::mse{}, x, t) <= tolerance);
  };
  check.template operator()<1>();
  check.template operator()<5>();
  check.template operator()<17>();
}

// dL/dx from the backward pass against finite differences: a first dense layer stored
// input-major or output-major, row-major (B = 1, 5) and feature-major (B = 17) batches, and
// a shaped network.
TEST_CASE("input_gradient matches finite differences") {
  auto check = [&]<class Net, std::size_t B>() {
    Net net{tg::init::glorot_uniform{B}};
    tg::matrix<double, B, Net::in_size> x;
    tg::matrix<double, B, Net::out_size> t;
    fill(x, 0.3 * B);
    fill(t, 0.1 * B);
    INFO("batch " << B);
    REQUIRE(test_support::input_gradient_error(net, tg::mse{}, x, t) <= tolerance);
  };
  using wide_first = tg::network<tg::input<300, double>, tg::dense<1, tg::tanh>, tg::dense<3>>;  // output-major W at every width
  using narrow_first = tg::network<tg::input<13, double>, tg::dense<3, tg::sigmoid>, tg::dense<2>>;  // input-major W
  using shaped = tg::network<tg::input<12, double>, tg::unflatten<3, 4>, tg::dense<5, tg::tanh>, tg::flatten, tg::dense<2>>;
  STATIC_REQUIRE(!wide_first::layer_t<0>::input_major);
  STATIC_REQUIRE(narrow_first::layer_t<0>::input_major);
  check.template operator()<wide_first, 1>();
  check.template operator()<wide_first, 17>();
  check.template operator()<narrow_first, 1>();
  check.template operator()<narrow_first, 5>();
  check.template operator()<narrow_first, 17>();
  check.template operator()<shaped, 1>();
  check.template operator()<shaped, 17>();
  // One sample as a vector gives a vector.
  narrow_first net{tg::init::glorot_uniform{2}};
  tg::vector<double, 13> x1;
  fill(x1);
  const tg::vector<double, 2> t1{0.5, -0.5};
  STATIC_REQUIRE(std::is_same_v<decltype(tg::input_gradient(net, tg::mse{}, x1, t1)), tg::vector<double, 13>>);
  REQUIRE(test_support::input_gradient_error(net, tg::mse{}, x1, t1) <= tolerance);
}

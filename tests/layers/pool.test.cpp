// Pooling layers: forward and backward against nested-loop references, finite differences, training.
#include <catch2/catch.hpp>
#include <typegrad/typegrad.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <type_traits>
#include <vector>

#include "../network/test_support.hpp"

namespace tg = typegrad;
using test_support::fill;

namespace {

constexpr double tolerance = 1e-6;  // worst relative error of a gradient check (issue: ≤ 1e-6, double)

// ---- Plain references over a (C, H, W) view (a 1-D pooling is H = KH = SH = 1) ----

struct geometry {
  std::size_t C, H, W, KH, KW, SH, SW;
  std::size_t Ho() const { return (H - KH) / SH + 1; }
  std::size_t Wo() const { return (W - KW) / SW + 1; }
  std::size_t in() const { return C * H * W; }
  std::size_t out() const { return C * Ho() * Wo(); }
  std::size_t input_index(std::size_t c, std::size_t ho, std::size_t wo, std::size_t kh, std::size_t kw) const {
    return (c * H + ho * SH + kh) * W + wo * SW + kw;
  }
};

enum class kind { max, average };

// y of one sample, and for max pooling the input index that wins each window (the first maximum).
void reference_forward(kind k, const geometry& g, const std::vector<double>& x, std::vector<double>& y,
                       std::vector<std::size_t>& winner) {
  y.assign(g.out(), 0);
  winner.assign(g.out(), 0);
  for (std::size_t c = 0; c < g.C; ++c)
    for (std::size_t ho = 0; ho < g.Ho(); ++ho)
      for (std::size_t wo = 0; wo < g.Wo(); ++wo) {
        const std::size_t o = (c * g.Ho() + ho) * g.Wo() + wo;
        double best = -std::numeric_limits<double>::infinity(), sum = 0;
        std::size_t at = 0;
        for (std::size_t kh = 0; kh < g.KH; ++kh)
          for (std::size_t kw = 0; kw < g.KW; ++kw) {
            const std::size_t i = g.input_index(c, ho, wo, kh, kw);
            sum += x[i];
            if (x[i] > best) best = x[i], at = i;
          }
        y[o] = k == kind::max ? best : sum / double(g.KH * g.KW);
        winner[o] = at;
      }
}

std::vector<double> reference_backward(kind k, const geometry& g, const std::vector<std::size_t>& winner,
                                       const std::vector<double>& dy) {
  std::vector<double> dx(g.in(), 0.0);
  for (std::size_t c = 0; c < g.C; ++c)
    for (std::size_t ho = 0; ho < g.Ho(); ++ho)
      for (std::size_t wo = 0; wo < g.Wo(); ++wo) {
        const std::size_t o = (c * g.Ho() + ho) * g.Wo() + wo;
        if (k == kind::max) {
          dx[winner[o]] += dy[o];
        } else {
          for (std::size_t kh = 0; kh < g.KH; ++kh)
            for (std::size_t kw = 0; kw < g.KW; ++kw) dx[g.input_index(c, ho, wo, kh, kw)] += dy[o] / double(g.KH * g.KW);
        }
      }
  return dx;
}

// The bound layer of Spec for T on InShape, run by hand on B samples whose buffers start
// full of NaN: the layer must write all of y and dx, padding zero.
template <class Spec, class T, class InShape, std::size_t B>
struct layer_run {
  using layer = typename Spec::template bind<T, InShape, 0>;
  static constexpr std::size_t in_p = tg::padded<T>(layer::in_size), out_p = tg::padded<T>(layer::out_size);
  static_assert(tg::layer<layer>);
  static_assert(layer::template data_layout<B> == tg::layout::rows);

  std::unique_ptr<tg::detail::buffer<T, B * in_p>> x = std::make_unique<tg::detail::buffer<T, B * in_p>>();
  std::unique_ptr<tg::detail::buffer<T, B * in_p>> dx = std::make_unique<tg::detail::buffer<T, B * in_p>>();
  std::unique_ptr<tg::detail::buffer<T, B * out_p>> y = std::make_unique<tg::detail::buffer<T, B * out_p>>();
  std::unique_ptr<tg::detail::buffer<T, B * out_p>> dy = std::make_unique<tg::detail::buffer<T, B * out_p>>();
  std::unique_ptr<typename layer::template cache<B>> cache = std::make_unique<typename layer::template cache<B>>();
  typename layer::parameters p;
  test_support::plain_sgd sgd{0.1};

  explicit layer_run(const std::vector<double>& values) {  // B samples of in_size values
    const T nan = std::numeric_limits<T>::quiet_NaN();
    std::fill_n(x->data, B * in_p, T(0));
    std::fill_n(dx->data, B * in_p, nan);
    std::fill_n(y->data, B * out_p, nan);
    for (std::size_t b = 0; b < B; ++b)
      for (std::size_t i = 0; i < layer::in_size; ++i) x->data[b * in_p + i] = T(values[b * layer::in_size + i]);
  }
  template <tg::pass Pass>
  void forward() {
    layer::template forward<B, Pass>(p, x->data, *cache, y->data, nullptr);
  }
  void backward(const std::vector<double>& gradient) {  // B samples of out_size values
    std::fill_n(dy->data, B * out_p, T(0));
    for (std::size_t b = 0; b < B; ++b)
      for (std::size_t o = 0; o < layer::out_size; ++o) dy->data[b * out_p + o] = T(gradient[b * layer::out_size + o]);
    layer::template backward<B, true, false>(p, x->data, *cache, y->data, dy->data, dx->data, nullptr, sgd);
  }
  // Whether the backward pass that wants no dx leaves dx alone.
  void backward_without_dx() {
    layer::template backward<B, false, false>(p, x->data, *cache, y->data, dy->data, dx->data, nullptr, sgd);
  }
};

std::vector<double> sample_values(std::size_t n, double salt) {
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = 1.5 * std::sin(1.3 * double(i) + 0.7 + salt) * std::cos(0.37 * double(i) + salt);
  return v;
}

// Values on a coarse grid, so that most windows hold ties: max pooling must pick the first.
std::vector<double> tied_values(std::size_t n, double salt) {
  std::vector<double> v = sample_values(n, salt);
  for (double& a : v) a = std::round(a * 1.5);
  return v;
}

// Forward (both passes) and backward of Spec on B samples of InShape against the references.
template <class Spec, class T, class InShape, std::size_t B>
void check_against_reference(kind k, const geometry& g, bool ties) {
  using run_t = layer_run<Spec, T, InShape, B>;
  using layer = typename run_t::layer;
  REQUIRE(layer::in_size == g.in());
  REQUIRE(layer::out_size == g.out());
  const std::vector<double> values = ties ? tied_values(B * g.in(), 0.3) : sample_values(B * g.in(), 0.3);
  const std::vector<double> gradient = sample_values(B * g.out(), 1.9);
  run_t run(values);
  const double eps = std::is_same_v<T, float> ? 1e-6 : 1e-14;

  for (int which = 0; which < 2; ++which) {
    if (which == 0) run.template forward<tg::pass::inference>();
    else run.template forward<tg::pass::training>();
    for (std::size_t b = 0; b < B; ++b) {
      std::vector<double> xb(g.in()), y;
      std::vector<std::size_t> winner;
      for (std::size_t i = 0; i < g.in(); ++i) xb[i] = double(T(values[b * g.in() + i]));
      reference_forward(k, g, xb, y, winner);
      for (std::size_t o = 0; o < g.out(); ++o) {
        INFO("pass " << which << " sample " << b << " output " << o);
        REQUIRE(double(run.y->data[b * run_t::out_p + o]) == Approx(y[o]).epsilon(eps).margin(eps));
      }
      for (std::size_t o = g.out(); o < run_t::out_p; ++o) REQUIRE(run.y->data[b * run_t::out_p + o] == T(0));
    }
  }

  run.backward_without_dx();
  for (std::size_t i = 0; i < B * run_t::in_p; ++i) REQUIRE(std::isnan(run.dx->data[i]));
  run.backward(gradient);
  for (std::size_t b = 0; b < B; ++b) {
    std::vector<double> xb(g.in()), y, dyb(g.out());
    std::vector<std::size_t> winner;
    for (std::size_t i = 0; i < g.in(); ++i) xb[i] = double(T(values[b * g.in() + i]));
    for (std::size_t o = 0; o < g.out(); ++o) dyb[o] = double(T(gradient[b * g.out() + o]));
    reference_forward(k, g, xb, y, winner);
    const std::vector<double> dx = reference_backward(k, g, winner, dyb);
    for (std::size_t i = 0; i < g.in(); ++i) {
      INFO("sample " << b << " input " << i);
      REQUIRE(double(run.dx->data[b * run_t::in_p + i]) == Approx(dx[i]).epsilon(eps).margin(eps));
    }
    for (std::size_t i = g.in(); i < run_t::in_p; ++i) REQUIRE(run.dx->data[b * run_t::in_p + i] == T(0));
  }
}

template <class T, std::size_t C, std::size_t L, std::size_t K, std::size_t S>
void check_pool1d(bool ties = false) {
  const geometry g{C, 1, L, 1, K, 1, S};
  check_against_reference<tg::max_pool1d<K, S>, T, tg::shape<C, L>, 3>(kind::max, g, ties);
  check_against_reference<tg::avg_pool1d<K, S>, T, tg::shape<C, L>, 3>(kind::average, g, ties);
  check_against_reference<tg::max_pool1d<K, S>, T, tg::shape<C, L>, 1>(kind::max, g, ties);
}

template <class T, std::size_t C, std::size_t H, std::size_t W, std::size_t K, std::size_t S>
void check_pool2d(bool ties = false) {
  const geometry g{C, H, W, K, K, S, S};
  check_against_reference<tg::max_pool2d<K, S>, T, tg::shape<C, H, W>, 3>(kind::max, g, ties);
  check_against_reference<tg::avg_pool2d<K, S>, T, tg::shape<C, H, W>, 3>(kind::average, g, ties);
  check_against_reference<tg::max_pool2d<K, S>, T, tg::shape<C, H, W>, 1>(kind::max, g, ties);
}

}  // namespace

// ---- Types ----

static_assert(std::is_same_v<tg::max_pool1d<3, 2>::bind<float, tg::shape<4, 11>, 1>::out_shape, tg::shape<4, 5>>);
static_assert(std::is_same_v<tg::avg_pool1d<2>::bind<float, tg::shape<4, 11>, 1>::out_shape, tg::shape<4, 5>>);
static_assert(std::is_same_v<tg::max_pool1d<2, 3>::bind<double, tg::shape<1, 11>, 1>::out_shape, tg::shape<1, 4>>);
static_assert(std::is_same_v<tg::max_pool2d<2>::bind<float, tg::shape<3, 8, 9>, 1>::out_shape, tg::shape<3, 4, 4>>);
static_assert(std::is_same_v<tg::avg_pool2d<3, 1>::bind<float, tg::shape<3, 5, 7>, 1>::out_shape, tg::shape<3, 3, 5>>);
static_assert(std::is_same_v<tg::global_avg_pool::bind<float, tg::shape<6, 5>, 1>::out_shape, tg::shape<6>>);
static_assert(std::is_same_v<tg::global_avg_pool::bind<float, tg::shape<6, 5, 3>, 1>::out_shape, tg::shape<6>>);
static_assert(tg::layer<tg::max_pool2d<2>::bind<double, tg::shape<3, 8, 9>, 1>>);
static_assert(tg::layer<tg::global_avg_pool::bind<double, tg::shape<3, 8, 9>, 1>>);
static_assert(tg::max_pool2d<2>::bind<float, tg::shape<3, 8, 9>, 1>::modules == 1);
static_assert(tg::max_pool2d<2>::bind<float, tg::shape<3, 8, 9>, 1>::parameters::count() == 0);
static_assert(std::is_same_v<tg::max_pool2d<16>::bind<float, tg::shape<1, 16, 16>, 1>::index_type, std::uint8_t>);
static_assert(std::is_same_v<tg::max_pool2d<17>::bind<float, tg::shape<1, 17, 17>, 1>::index_type, std::uint16_t>);
// Parameterless: one empty block, and nothing for the optimizer.
static_assert(tg::network<tg::input<24>, tg::unflatten<2, 12>, tg::max_pool1d<3>, tg::flatten, tg::dense<2>>::parameters_type::count() ==
              8 * 2 + 2);

// ---- Forward and backward against the references ----

TEMPLATE_TEST_CASE("max_pool1d and avg_pool1d match a nested-loop reference", "[layers][pool]", float, double) {
  SECTION("stride 1 (overlapping, the vectorised path)") { check_pool1d<TestType, 3, 23, 3, 1>(); }
  SECTION("stride 1, long rows") { check_pool1d<TestType, 2, 41, 4, 1>(); }
  SECTION("stride < window (overlapping)") { check_pool1d<TestType, 3, 23, 3, 2>(); }
  SECTION("stride > window (gaps, tail dropped)") { check_pool1d<TestType, 3, 23, 2, 3>(); }
  SECTION("default stride, L not a multiple of K") { check_pool1d<TestType, 5, 17, 4, 4>(); }
  SECTION("window 1") { check_pool1d<TestType, 3, 7, 1, 1>(); }
  SECTION("window = L") { check_pool1d<TestType, 3, 9, 9, 9>(); }
  SECTION("ties go to the first maximum") {
    check_pool1d<TestType, 3, 23, 3, 1>(true);
    check_pool1d<TestType, 3, 23, 3, 2>(true);
    check_pool1d<TestType, 2, 41, 5, 1>(true);
  }
}

TEMPLATE_TEST_CASE("max_pool2d and avg_pool2d match a nested-loop reference", "[layers][pool]", float, double) {
  SECTION("stride 1 (overlapping, the vectorised path)") { check_pool2d<TestType, 2, 7, 21, 3, 1>(); }
  SECTION("stride < window (overlapping)") { check_pool2d<TestType, 3, 9, 11, 3, 2>(); }
  SECTION("stride > window (gaps)") { check_pool2d<TestType, 3, 9, 11, 2, 3>(); }
  SECTION("default stride, odd sizes") { check_pool2d<TestType, 3, 7, 9, 2, 2>(); }
  SECTION("window = H, W > H") { check_pool2d<TestType, 1, 5, 19, 5, 1>(); }
  SECTION("ties go to the first maximum in row-major window order") {
    check_pool2d<TestType, 2, 7, 21, 3, 1>(true);
    check_pool2d<TestType, 3, 9, 11, 3, 2>(true);
  }
}

TEMPLATE_TEST_CASE("max pooling propagates NaN as PyTorch does", "[layers][pool]", float, double) {
  using T = TestType;
  // One channel of 21: a NaN at 5 must be the maximum of every window that holds it, in both paths.
  std::vector<double> values = sample_values(21, 0.0);
  values[5] = std::numeric_limits<double>::quiet_NaN();
  layer_run<tg::max_pool1d<3, 1>, T, tg::shape<1, 21>, 1> vec(values);
  layer_run<tg::max_pool1d<3, 2>, T, tg::shape<1, 21>, 1> scalar(values);
  vec.template forward<tg::pass::training>();
  scalar.template forward<tg::pass::training>();
  for (std::size_t o = 0; o < 19; ++o) REQUIRE(std::isnan(vec.y->data[o]) == (o >= 3 && o <= 5));
  for (std::size_t o = 0; o < 10; ++o) REQUIRE(std::isnan(scalar.y->data[o]) == (o == 2));
}


namespace {

template <class T, std::size_t C, std::size_t N>
void check_global_avg_pool() {
  using run_t = layer_run<tg::global_avg_pool, T, std::conditional_t<N % 7 == 0, tg::shape<C, 7, N / 7>, tg::shape<C, N>>, 3>;
  constexpr std::size_t B = 3;
  const std::vector<double> values = sample_values(B * C * N, 0.1), gradient = sample_values(B * C, 2.3);
  run_t run(values);
  run.template forward<tg::pass::training>();
  run.backward(gradient);
  const double eps = std::is_same_v<T, float> ? 1e-5 : 1e-13;
  for (std::size_t b = 0; b < B; ++b) {
    for (std::size_t c = 0; c < C; ++c) {
      double sum = 0;
      for (std::size_t i = 0; i < N; ++i) sum += double(T(values[(b * C + c) * N + i]));
      REQUIRE(double(run.y->data[b * run_t::out_p + c]) == Approx(sum / double(N)).epsilon(eps).margin(eps));
      for (std::size_t i = 0; i < N; ++i)
        REQUIRE(double(run.dx->data[b * run_t::in_p + c * N + i]) ==
                Approx(double(T(gradient[b * C + c])) / double(N)).epsilon(eps).margin(eps));
    }
    for (std::size_t c = C; c < run_t::out_p; ++c) REQUIRE(run.y->data[b * run_t::out_p + c] == T(0));
    for (std::size_t i = C * N; i < run_t::in_p; ++i) REQUIRE(run.dx->data[b * run_t::in_p + i] == T(0));
  }
}

}  // namespace

TEMPLATE_TEST_CASE("global_avg_pool averages every axis but the channels", "[layers][pool]", float, double) {
  SECTION("(C, L) -> (C)") {
    check_global_avg_pool<TestType, 3, 23>();
    check_global_avg_pool<TestType, 17, 5>();
    check_global_avg_pool<TestType, 2, 1>();
  }
  SECTION("(C, H, W) -> (C)") {
    check_global_avg_pool<TestType, 3, 7 * 5>();
    check_global_avg_pool<TestType, 5, 7 * 3>();
  }
}

// ---- Finite differences: a dense layer before the pooling layer checks the pool's dx ----

namespace {

// The smallest gap, over every window of every sample, between the largest value reaching a max
// pooling and the next one. The check moves a parameter by up to 2h = 2e-4, which moves these
// values by less than 2e-4·|x| < 3e-4: above a gap of 1e-3 no finite difference straddles the
// kink where the argmax changes, so the check is exact; below it, it would fail for that reason.
template <class Net, class X>
double smallest_window_gap(const Net& net, const X& x, const geometry& g) {
  const auto& d = tg::get<0>(net);
  constexpr std::size_t N = Net::in_size;
  double gap = std::numeric_limits<double>::infinity();
  for (std::size_t b = 0; b < tg::rows_of<X>; ++b) {
    std::vector<double> a(N);
    for (std::size_t o = 0; o < N; ++o) {
      double z = double(d.bias(o));
      for (std::size_t i = 0; i < N; ++i) z += double(d.weight(o, i)) * double(x(b, i));
      a[o] = std::tanh(z);
    }
    for (std::size_t c = 0; c < g.C; ++c)
      for (std::size_t ho = 0; ho < g.Ho(); ++ho)
        for (std::size_t wo = 0; wo < g.Wo(); ++wo) {
          std::vector<double> w;
          for (std::size_t kh = 0; kh < g.KH; ++kh)
            for (std::size_t kw = 0; kw < g.KW; ++kw) w.push_back(a[g.input_index(c, ho, wo, kh, kw)]);
          std::sort(w.begin(), w.end());
          if (w.size() > 1) gap = std::min(gap, w[w.size() - 1] - w[w.size() - 2]);
        }
  }
  return gap;
}

// input<N> -> dense<N, tanh> -> Unflatten -> Pool -> flatten -> dense<3>, batch B, mse.
template <class T, std::size_t B, std::size_t N, class Unflatten, class Pool>
void check_pool_gradient(std::uint64_t seed, const geometry* max_windows = nullptr) {
  using net_t = tg::network<tg::input<N, T>, tg::dense<N, tg::tanh>, Unflatten, Pool, tg::flatten, tg::dense<3>>;
  const net_t net{tg::init::glorot_uniform{seed}};
  tg::matrix<T, B, N> x;
  fill(x, 0.1 * double(seed));
  tg::matrix<T, B, 3> t;
  fill(t, 1.0);
  if (max_windows) {
    const double gap = smallest_window_gap(net, x, *max_windows);
    INFO("smallest gap between a window's maximum and its runner-up: " << gap);
    REQUIRE(gap > 1e-3);
  }
  const auto r = tg::check_gradient(net, tg::mse{}, x, t);
  INFO("batch " << B << ": worst relative error " << r.max_relative_error << " at layer " << r.layer
                << (r.block ? " bias(" : " weight(") << r.row << ", " << r.col << "): analytic " << r.analytic
                << " numeric " << r.numeric);
  REQUIRE(r.checked == net_t::parameters_type::count());
  REQUIRE(r.max_relative_error <= tolerance);
}

template <class T, std::size_t N, class Unflatten, class Pool>
void check_pool_gradient_batches(std::uint64_t seed, const geometry* max_windows = nullptr) {
  check_pool_gradient<T, 1, N, Unflatten, Pool>(seed, max_windows);
  check_pool_gradient<T, 5, N, Unflatten, Pool>(seed, max_windows);
}

}  // namespace

TEMPLATE_TEST_CASE("pool1d gradients (dx through a dense layer before it) match finite differences",
                   "[layers][pool][gradient]", float, double) {
  using T = TestType;
  using u = tg::unflatten<3, 11>;
  SECTION("max_pool1d<3, 2> (overlapping)") {
    const geometry g{3, 1, 11, 1, 3, 1, 2};
    check_pool_gradient_batches<T, 33, u, tg::max_pool1d<3, 2>>(11, &g);
  }
  SECTION("max_pool1d<3, 1> (vectorised)") {
    const geometry g{3, 1, 11, 1, 3, 1, 1};
    check_pool_gradient_batches<T, 33, u, tg::max_pool1d<3, 1>>(12, &g);
  }
  SECTION("max_pool1d<2, 3> (gaps)") {
    const geometry g{3, 1, 11, 1, 2, 1, 3};
    check_pool_gradient_batches<T, 33, u, tg::max_pool1d<2, 3>>(13, &g);
  }
  SECTION("avg_pool1d<3, 2> (overlapping)") { check_pool_gradient_batches<T, 33, u, tg::avg_pool1d<3, 2>>(14); }
  SECTION("avg_pool1d<4, 1> (vectorised)") { check_pool_gradient_batches<T, 33, u, tg::avg_pool1d<4, 1>>(15); }
  SECTION("avg_pool1d<2, 3> (gaps)") { check_pool_gradient_batches<T, 33, u, tg::avg_pool1d<2, 3>>(16); }
}

TEMPLATE_TEST_CASE("pool2d gradients (dx through a dense layer before it) match finite differences",
                   "[layers][pool][gradient]", float, double) {
  using T = TestType;
  using u = tg::unflatten<2, 5, 7>;
  SECTION("max_pool2d<3, 2> (overlapping)") {
    const geometry g{2, 5, 7, 3, 3, 2, 2};
    check_pool_gradient_batches<T, 70, u, tg::max_pool2d<3, 2>>(21, &g);
  }
  SECTION("max_pool2d<2, 1> (vectorised)") {
    const geometry g{2, 5, 7, 2, 2, 1, 1};
    check_pool_gradient_batches<T, 70, u, tg::max_pool2d<2, 1>>(22, &g);
  }
  SECTION("max_pool2d<2, 3> (gaps)") {
    const geometry g{2, 5, 7, 2, 2, 3, 3};
    check_pool_gradient_batches<T, 70, u, tg::max_pool2d<2, 3>>(23, &g);
  }
  SECTION("avg_pool2d<3, 2> (overlapping)") { check_pool_gradient_batches<T, 70, u, tg::avg_pool2d<3, 2>>(24); }
  SECTION("avg_pool2d<2, 1> (vectorised)") { check_pool_gradient_batches<T, 70, u, tg::avg_pool2d<2, 1>>(25); }
  SECTION("avg_pool2d<2> (default stride)") { check_pool_gradient_batches<T, 70, u, tg::avg_pool2d<2>>(26); }
}

TEMPLATE_TEST_CASE("global_avg_pool gradients match finite differences", "[layers][pool][gradient]", float, double) {
  using T = TestType;
  SECTION("(C, L)") { check_pool_gradient_batches<T, 33, tg::unflatten<3, 11>, tg::global_avg_pool>(31); }
  SECTION("(C, H, W)") { check_pool_gradient_batches<T, 70, tg::unflatten<2, 5, 7>, tg::global_avg_pool>(32); }
}

// ---- Training ----

namespace {
template <class Net>
void require_training_reduces_loss(Net& net) {
  using T = typename Net::value_type;
  tg::matrix<T, 8, Net::in_size> x;
  fill(x, 0.4);
  tg::matrix<T, 8, Net::out_size> t;
  fill(t, 2.2);
  auto opt = tg::make_optimizer(net, tg::adam{0.01});
  const double before = double(tg::loss_value(net, tg::mse{}, x, t));
  double first = 0;
  for (int step = 0; step < 150; ++step) {
    const double loss = double(tg::train_step(net, tg::mse{}, opt, x, t));
    if (step == 0) first = loss;
  }
  const double after = double(tg::loss_value(net, tg::mse{}, x, t));
  INFO("loss before " << before << ", after " << after);
  REQUIRE(first == Approx(before).epsilon(1e-5));
  REQUIRE(net.is_finite());
  REQUIRE(after < 0.3 * before);
}
}  // namespace

TEMPLATE_TEST_CASE("train_step through pooling layers reduces the loss", "[layers][pool][training]", float, double) {
  using T = TestType;
  SECTION("max_pool2d then avg_pool2d") {
    tg::network<tg::input<36, T>, tg::dense<50, tg::tanh>, tg::unflatten<2, 5, 5>, tg::max_pool2d<2, 1>, tg::avg_pool2d<2>,
                tg::flatten, tg::dense<3>>
        net{tg::init::glorot_uniform{3}};
    require_training_reduces_loss(net);
  }
  SECTION("max_pool1d, avg_pool1d then global_avg_pool") {
    tg::network<tg::input<24, T>, tg::dense<33, tg::tanh>, tg::unflatten<3, 11>, tg::max_pool1d<3, 2>, tg::avg_pool1d<2, 1>,
                tg::global_avg_pool, tg::dense<2>>
        net{tg::init::glorot_uniform{4}};
    require_training_reduces_loss(net);
  }
}

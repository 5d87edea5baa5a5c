// conv1d and conv2d: the layer against a plain nested-loop reference (forward, dx, dW, db), finite
// differences through whole networks, training, and PyTorch's parameter indexing.
#include <catch2/catch.hpp>
#include <typegrad/typegrad.hpp>

#include <cmath>
#include <cstddef>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "../network/test_support.hpp"

namespace tg = typegrad;
using test_support::fill;

namespace {

// ---- A plain reference, in double ----

enum class act { identity, tanh, swish };

double act_value(act a, double z) {
  switch (a) {
    case act::tanh:
      return std::tanh(z);
    case act::swish:
      return z / (1 + std::exp(-z));
    default:
      return z;
  }
}
double act_slope(act a, double z) {
  switch (a) {
    case act::tanh:
      return 1 - std::tanh(z) * std::tanh(z);
    case act::swish: {
      const double s = 1 / (1 + std::exp(-z));
      return s + z * s * (1 - s);
    }
    default:
      return 1;
  }
}

/// A convolution's extents written out by hand in each test case (a conv1d has H = KH = 1).
struct geometry {
  std::size_t C, H, W, O, KH, KW, SH, SW, PT, PB, PL, PR, DH, DW, G;
  std::size_t ho() const { return (H + PT + PB - DH * (KH - 1) - 1) / SH + 1; }
  std::size_t wo() const { return (W + PL + PR - DW * (KW - 1) - 1) / SW + 1; }
  std::size_t in_size() const { return C * H * W; }
  std::size_t out_size() const { return O * ho() * wo(); }
  std::size_t cg() const { return C / G; }
};
/// conv1d over (C, L): O filters of K taps, stride S, padding PL before and PR after, dilation D, G groups.
geometry g1(std::size_t C, std::size_t L, std::size_t O, std::size_t K, std::size_t S, std::size_t PL, std::size_t PR,
            std::size_t D, std::size_t G) {
  return {C, 1, L, O, 1, K, 1, S, 0, 0, PL, PR, 1, D, G};
}

/// Calls f(o, c, ky, kx, input index, output index) for every product of the convolution of one sample.
template <class F>
void for_each_product(const geometry& g, F&& f) {
  for (std::size_t o = 0; o < g.O; ++o)
    for (std::size_t yo = 0; yo < g.ho(); ++yo)
      for (std::size_t xo = 0; xo < g.wo(); ++xo)
        for (std::size_t c = 0; c < g.cg(); ++c)
          for (std::size_t ky = 0; ky < g.KH; ++ky)
            for (std::size_t kx = 0; kx < g.KW; ++kx) {
              const long y = long(yo * g.SH + ky * g.DH) - long(g.PT);
              const long x = long(xo * g.SW + kx * g.DW) - long(g.PL);
              if (y < 0 || x < 0 || y >= long(g.H) || x >= long(g.W)) continue;  // a zero of the padding
              const std::size_t ci = o / (g.O / g.G) * g.cg() + c;
              f(o, c, ky, kx, (ci * g.H + std::size_t(y)) * g.W + std::size_t(x), (o * g.ho() + yo) * g.wo() + xo);
            }
}

template <class T, std::size_t N>
auto make_buffer(T value) {
  auto p = std::make_unique<tg::detail::buffer<T, N>>();
  for (std::size_t i = 0; i < N; ++i) p->data[i] = value;
  return p;
}

/// Records every gradient register a layer hands to its optimizer (and leaves the parameters alone).
struct recorder {
  static constexpr bool writes_parameters = false;
  std::vector<double> g[2];
  std::vector<int> seen[2];
  template <std::size_t P, class V>
  V update(tg::simd::param_c<P>, std::size_t offset, const V& w, const V& grad) {
    alignas(64) typename V::value_type lanes[V::size];
    grad.store_aligned(lanes);
    for (std::size_t j = 0; j < V::size; ++j) {
      g[P].at(offset + j) = double(lanes[j]);
      ++seen[P].at(offset + j);
    }
    return w;
  }
};

template <class T>
double tolerance() {
  return std::is_same_v<T, float> ? 2e-5 : 1e-12;
}

/// Worst |a − b| over the arrays, relative to the largest |b| (at least 1).
double worst_error(const std::vector<double>& a, const std::vector<double>& b) {
  double scale = 1, worst = 0;
  for (double v : b) scale = std::max(scale, std::abs(v));
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst / scale;
}

/// The bound layer of Spec on InShape, for B samples of T, against the reference: y (and its zero
/// padding; all of y is written), then dx (NeedDx), dW and db, every register handed over once.
template <class Spec, class InShape, class T, std::size_t B>
void check_layer(const geometry& g, act a) {
  using layer = typename Spec::template bind<T, InShape, 3>;
  using params_t = typename layer::parameters;
  constexpr std::size_t in_p = tg::padded<T>(layer::in_size), out_p = tg::padded<T>(layer::out_size);
  constexpr std::size_t scratch = std::max<std::size_t>(1, layer::template scratch_size<B>);
  REQUIRE(layer::in_size == g.in_size());
  REQUIRE(layer::out_size == g.out_size());
  REQUIRE(layer::out_shape::dims[0] == g.O);
  REQUIRE(layer::out_shape::last == g.wo());

  params_t p{};
  p.for_each([&](auto blk, std::size_t o, std::size_t i, T& v) {
    v = T(0.4 * std::sin(0.9 * double(o) + 1.7 * double(i) + (decltype(blk)::value ? 2.0 : 0.3)));
  });
  const auto nan = std::numeric_limits<T>::quiet_NaN();
  auto x = make_buffer<T, B * in_p>(T(0));
  for (std::size_t b = 0; b < B; ++b)
    for (std::size_t i = 0; i < layer::in_size; ++i)
      x->data[b * in_p + i] = T(1.5 * std::sin(1.3 * double(i) + 0.7 * double(b) + 0.2));
  auto y = make_buffer<T, B * out_p>(nan);
  auto s = make_buffer<T, scratch>(nan);
  auto cache = std::make_unique<typename layer::template cache<B>>();
  layer::template forward<B, tg::pass::training>(p, x->data, *cache, y->data, s->data);

  // Reference pre-activations z[b][out].
  std::vector<double> z(B * g.out_size());
  for (std::size_t b = 0; b < B; ++b) {
    for (std::size_t o = 0; o < g.O; ++o)
      for (std::size_t e = 0; e < g.ho() * g.wo(); ++e)
        z[b * g.out_size() + o * g.ho() * g.wo() + e] = double(p.bias(o));
    for_each_product(g, [&](std::size_t o, std::size_t c, std::size_t ky, std::size_t kx, std::size_t in,
                            std::size_t out) {
      z[b * g.out_size() + out] += double(p.weight(o, (c * g.KH + ky) * g.KW + kx)) * double(x->data[b * in_p + in]);
    });
  }
  std::vector<double> got, want;
  bool padding_zero = true;
  for (std::size_t b = 0; b < B; ++b) {
    for (std::size_t e = 0; e < g.out_size(); ++e) {
      got.push_back(double(y->data[b * out_p + e]));
      want.push_back(act_value(a, z[b * g.out_size() + e]));
    }
    for (std::size_t e = g.out_size(); e < out_p; ++e) padding_zero = padding_zero && y->data[b * out_p + e] == T(0);
  }
  CHECK(padding_zero);
  CHECK(worst_error(got, want) <= tolerance<T>());

  // Backward from dL/dy; dL/dz = dL/dy · f'(z).
  auto dy = make_buffer<T, B * out_p>(T(0));
  std::vector<double> dz(B * g.out_size());
  for (std::size_t b = 0; b < B; ++b)
    for (std::size_t e = 0; e < g.out_size(); ++e) {
      dy->data[b * out_p + e] = T(std::cos(0.77 * double(e) + 1.1 * double(b)));
      dz[b * g.out_size() + e] = double(dy->data[b * out_p + e]) * act_slope(a, z[b * g.out_size() + e]);
    }
  auto dy2 = make_buffer<T, B * out_p>(T(0));
  *dy2 = *dy;
  auto dx = make_buffer<T, B * in_p>(nan);
  for (std::size_t i = 0; i < scratch; ++i) s->data[i] = nan;
  const std::size_t block_size[2] = {params_t::padded_size(tg::simd::weight_c),
                                     params_t::padded_size(tg::simd::bias_c)};
  recorder rec;
  for (int k = 0; k < 2; ++k) {
    rec.g[k].assign(block_size[k], nan);
    rec.seen[k].assign(block_size[k], 0);
  }
  const params_t before = p;
  layer::template backward<B, true, false>(p, x->data, *cache, y->data, dy->data, dx->data, s->data, rec);
  CHECK(p == before);

  std::vector<double> dx_ref(B * g.in_size(), 0.0), dw_ref(params_t::padded_size(tg::simd::param_c<0>{}), 0.0),
      db_ref(params_t::padded_size(tg::simd::param_c<1>{}), 0.0);
  for (std::size_t b = 0; b < B; ++b) {
    for_each_product(
        g, [&](std::size_t o, std::size_t c, std::size_t ky, std::size_t kx, std::size_t in, std::size_t out) {
          const std::size_t i = (c * g.KH + ky) * g.KW + kx;
          dx_ref[b * g.in_size() + in] += double(p.weight(o, i)) * dz[b * g.out_size() + out];
          dw_ref[std::size_t(&p.weight(o, i) - p.data(tg::simd::weight_c))] +=
              double(x->data[b * in_p + in]) * dz[b * g.out_size() + out];
        });
    for (std::size_t e = 0; e < g.out_size(); ++e) db_ref[e / (g.ho() * g.wo())] += dz[b * g.out_size() + e];
  }
  got.clear();
  padding_zero = true;
  for (std::size_t b = 0; b < B; ++b) {
    for (std::size_t e = 0; e < g.in_size(); ++e) got.push_back(double(dx->data[b * in_p + e]));
    for (std::size_t e = g.in_size(); e < in_p; ++e) padding_zero = padding_zero && dx->data[b * in_p + e] == T(0);
  }
  CHECK(padding_zero);
  CHECK(worst_error(got, dx_ref) <= tolerance<T>());
  CHECK(worst_error(rec.g[0], dw_ref) <= tolerance<T>());  // the padding's gradient included: zero
  CHECK(worst_error(rec.g[1], db_ref) <= tolerance<T>());
  bool once = true;
  for (int k = 0; k < 2; ++k)
    for (int n : rec.seen[k]) once = once && n == 1;
  CHECK(once);

  // Without dx (a first layer): the same parameter gradients.
  recorder rec2;
  for (int k = 0; k < 2; ++k) {
    rec2.g[k].assign(rec.g[k].size(), nan);
    rec2.seen[k].assign(rec.g[k].size(), 0);
  }
  layer::template backward<B, false, false>(p, x->data, *cache, y->data, dy2->data, static_cast<T*>(nullptr), s->data,
                                            rec2);
  CHECK(worst_error(rec2.g[0], rec.g[0]) == 0);
  CHECK(worst_error(rec2.g[1], rec.g[1]) == 0);
}

template <class Spec, class InShape>
void check_layer_all(const geometry& g, act a) {
  SECTION("float, batch 1") { check_layer<Spec, InShape, float, 1>(g, a); }
  SECTION("float, batch 5") { check_layer<Spec, InShape, float, 5>(g, a); }
  SECTION("double, batch 1") { check_layer<Spec, InShape, double, 1>(g, a); }
  SECTION("double, batch 5") { check_layer<Spec, InShape, double, 5>(g, a); }
}

// ---- Finite differences through whole networks ----

constexpr double gradient_tolerance = 1e-6;

template <class Net, class X, class Target>
void require_gradient_matches(const Net& net, const X& x, const Target& t) {
  const auto r = tg::check_gradient(net, tg::mse{}, x, t);
  INFO("worst relative error " << r.max_relative_error << " at layer " << r.layer << (r.block ? " bias(" : " weight(")
                               << r.row << ", " << r.col << "): analytic " << r.analytic << " numeric " << r.numeric);
  REQUIRE(r.checked == Net::parameters_type::count());
  REQUIRE(r.max_relative_error <= gradient_tolerance);
}

/// input → dense → unflatten<Dims...> → Conv → flatten → dense<3>: the first dense layer's
/// gradient depends on the convolution's dx. Float and double networks, batch 1 and 5.
template <class Conv, std::size_t... Dims>
void check_network_gradient() {
  constexpr std::size_t n = (Dims * ...);
  auto run = [&]<class T, std::size_t B>() {
    using net_t =
        tg::network<tg::input<n, T>, tg::dense<n, tg::tanh>, tg::unflatten<Dims...>, Conv, tg::flatten, tg::dense<3>>;
    net_t net{tg::init::pytorch_default{7}};
    tg::matrix<T, B, n> x;
    fill(x);
    tg::matrix<T, B, 3> t;
    fill(t, 1.0);
    require_gradient_matches(net, x, t);
  };
  SECTION("float, batch 1") { run.template operator()<float, 1>(); }
  SECTION("float, batch 5") { run.template operator()<float, 5>(); }
  SECTION("double, batch 1") { run.template operator()<double, 1>(); }
  SECTION("double, batch 5") { run.template operator()<double, 5>(); }
}

}  // namespace

TEST_CASE("conv1d matches a nested-loop reference (forward, dx, dW, db)", "[layers][conv]") {
  using tg::causal, tg::dilation, tg::groups, tg::padding, tg::padding_same, tg::stride;
  // geometry: g1(C, L, O, K, stride, pad before, pad after, dilation, groups)
  SECTION("3 taps") {
    check_layer_all<tg::conv1d<4, 3, tg::tanh>, tg::shape<3, 11>>(g1(3, 11, 4, 3, 1, 0, 0, 1, 1), act::tanh);
  }
  SECTION("stride 2, padding 1, even kernel") {
    check_layer_all<tg::conv1d<5, 4, stride<2>, padding<1>>, tg::shape<2, 13>>(g1(2, 13, 5, 4, 2, 1, 1, 1, 1),
                                                                               act::identity);
  }
  SECTION("stride 3, padding 2, dilation 2, swish") {
    check_layer_all<tg::conv1d<3, 3, tg::swish, stride<3>, padding<2>, dilation<2>>, tg::shape<3, 17>>(
        g1(3, 17, 3, 3, 3, 2, 2, 2, 1), act::swish);
  }
  SECTION("padding_same, dilation 3") {  // total 3·4 = 12: 6 before, 6 after
    check_layer_all<tg::conv1d<4, 5, tg::tanh, padding_same, dilation<3>>, tg::shape<2, 15>>(
        g1(2, 15, 4, 5, 1, 6, 6, 3, 1), act::tanh);
  }
  SECTION("padding_same, even kernel") {  // total 3: 1 before, 2 after (PyTorch)
    check_layer_all<tg::conv1d<4, 4, padding_same>, tg::shape<3, 9>>(g1(3, 9, 4, 4, 1, 1, 2, 1, 1), act::identity);
  }
  SECTION("causal, dilation 2") {  // (3 − 1)·2 = 4 before, none after
    check_layer_all<tg::conv1d<6, 3, tg::tanh, causal, dilation<2>>, tg::shape<3, 10>>(g1(3, 10, 6, 3, 1, 4, 0, 2, 1),
                                                                                       act::tanh);
  }
  SECTION("groups 2, padding 1") {
    check_layer_all<tg::conv1d<4, 3, tg::tanh, groups<2>, padding<1>>, tg::shape<4, 9>>(g1(4, 9, 4, 3, 1, 1, 1, 1, 2),
                                                                                        act::tanh);
  }
  SECTION("depthwise (groups = channels), stride 2") {
    check_layer_all<tg::conv1d<6, 3, groups<3>, stride<2>>, tg::shape<3, 12>>(g1(3, 12, 6, 3, 2, 0, 0, 1, 3),
                                                                              act::identity);
  }
  SECTION("long signal, many channels: several registers and channel blocks") {
    check_layer_all<tg::conv1d<9, 5, tg::tanh, stride<2>, padding<2>, groups<1>>, tg::shape<5, 70>>(
        g1(5, 70, 9, 5, 2, 2, 2, 1, 1), act::tanh);
  }
  SECTION("long signal, stride 3, dilation 3, groups 3") {
    check_layer_all<tg::conv1d<6, 4, tg::swish, stride<3>, dilation<3>, padding<1>, groups<3>>, tg::shape<15, 100>>(
        g1(15, 100, 6, 4, 3, 1, 1, 3, 3), act::swish);
  }
  SECTION("output rows of whole registers (written in place)") {
    check_layer_all<tg::conv1d<3, 3, tg::tanh, padding_same>, tg::shape<2, 64>>(g1(2, 64, 3, 3, 1, 1, 1, 1, 1),
                                                                                act::tanh);
  }
  SECTION("kernel as long as the padded input") {
    check_layer_all<tg::conv1d<2, 7, padding<1>>, tg::shape<3, 5>>(g1(3, 5, 2, 7, 1, 1, 1, 1, 1), act::identity);
  }
}

TEST_CASE("conv2d matches a nested-loop reference (forward, dx, dW, db)", "[layers][conv]") {
  using tg::dilation, tg::groups, tg::padding, tg::padding_same, tg::stride;
  // geometry: {C, H, W, O, KH, KW, SH, SW, PT, PB, PL, PR, DH, DW, G}
  SECTION("3×3") {
    check_layer_all<tg::conv2d<3, 3, 3, tg::tanh>, tg::shape<2, 5, 7>>({2, 5, 7, 3, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1},
                                                                       act::tanh);
  }
  SECTION("2×3, stride (2, 1), padding (1, 0), swish") {
    check_layer_all<tg::conv2d<4, 2, 3, tg::swish, stride<2, 1>, padding<1, 0>>, tg::shape<3, 6, 7>>(
        {3, 6, 7, 4, 2, 3, 2, 1, 1, 1, 0, 0, 1, 1, 1}, act::swish);
  }
  SECTION("padding_same, dilation (2, 1), even kernel width") {  // H: total 4 → 2, 2; W: total 1 → 0, 1
    check_layer_all<tg::conv2d<4, 3, 2, tg::tanh, padding_same, dilation<2, 1>>, tg::shape<2, 5, 6>>(
        {2, 5, 6, 4, 3, 2, 1, 1, 2, 2, 0, 1, 2, 1, 1}, act::tanh);
  }
  SECTION("depthwise, stride 2, padding 1") {
    check_layer_all<tg::conv2d<2, 3, 2, stride<2>, padding<1>, groups<2>>, tg::shape<2, 7, 5>>(
        {2, 7, 5, 2, 3, 2, 2, 2, 1, 1, 1, 1, 1, 1, 2}, act::identity);
  }
  SECTION("1×3, stride 3, dilation (1, 2), padding (2, 1)") {
    check_layer_all<tg::conv2d<2, 1, 3, stride<3>, dilation<1, 2>, padding<2, 1>>, tg::shape<3, 5, 9>>(
        {3, 5, 9, 2, 1, 3, 3, 3, 2, 2, 1, 1, 1, 2, 1}, act::identity);
  }
  SECTION("groups 3, stride (3, 2), padding 2, dilation 2") {
    check_layer_all<tg::conv2d<6, 3, 3, tg::tanh, groups<3>, stride<3, 2>, padding<2>, dilation<2>>,
                    tg::shape<3, 8, 9>>({3, 8, 9, 6, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 3}, act::tanh);
  }
  SECTION("wide image, many channels") {
    check_layer_all<tg::conv2d<9, 3, 3, tg::tanh, padding<1>>, tg::shape<5, 6, 37>>(
        {5, 6, 37, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1}, act::tanh);
  }
}

TEST_CASE("conv1d gradients match finite differences", "[layers][conv][gradient]") {
  using tg::causal, tg::dilation, tg::groups, tg::padding, tg::padding_same, tg::stride;
  SECTION("3 taps") { check_network_gradient<tg::conv1d<4, 3, tg::tanh>, 3, 11>(); }
  SECTION("stride 2, padding 1, even kernel") {
    check_network_gradient<tg::conv1d<5, 4, stride<2>, padding<1>>, 2, 13>();
  }
  SECTION("stride 3, padding 2, dilation 2") {
    check_network_gradient<tg::conv1d<3, 3, tg::swish, stride<3>, padding<2>, dilation<2>>, 3, 17>();
  }
  SECTION("padding_same, dilation 3") {
    check_network_gradient<tg::conv1d<4, 5, tg::tanh, padding_same, dilation<3>>, 2, 15>();
  }
  SECTION("padding_same, even kernel") { check_network_gradient<tg::conv1d<4, 4, tg::tanh, padding_same>, 3, 9>(); }
  SECTION("causal, dilation 2") { check_network_gradient<tg::conv1d<6, 3, tg::tanh, causal, dilation<2>>, 3, 10>(); }
  SECTION("groups 2") { check_network_gradient<tg::conv1d<4, 3, tg::tanh, groups<2>, padding<1>>, 4, 9>(); }
  SECTION("depthwise, stride 2") { check_network_gradient<tg::conv1d<6, 3, tg::tanh, groups<3>, stride<2>>, 3, 12>(); }
}

TEST_CASE("conv2d gradients match finite differences", "[layers][conv][gradient]") {
  using tg::dilation, tg::groups, tg::padding, tg::padding_same, tg::stride;
  SECTION("3×3") { check_network_gradient<tg::conv2d<3, 3, 3, tg::tanh>, 2, 5, 7>(); }
  SECTION("stride (2, 1), padding (1, 0)") {
    check_network_gradient<tg::conv2d<4, 2, 3, tg::swish, stride<2, 1>, padding<1, 0>>, 3, 4, 5>();
  }
  SECTION("padding_same, dilation (2, 1)") {
    check_network_gradient<tg::conv2d<4, 3, 2, tg::tanh, padding_same, dilation<2, 1>>, 2, 5, 6>();
  }
  SECTION("groups 3, stride (3, 2), padding 2, dilation 2") {
    check_network_gradient<tg::conv2d<6, 3, 3, tg::tanh, groups<3>, stride<3, 2>, padding<2>, dilation<2>>, 3, 4, 5>();
  }
}

TEST_CASE("conv layers state their shapes, modules and activation", "[layers][conv]") {
  using net_t = tg::network<tg::input<2 * 12>, tg::unflatten<2, 12>, tg::conv1d<4, 3, tg::relu, tg::stride<2>>,
                            tg::conv1d<3, 2, tg::stride<2>>, tg::flatten>;
  STATIC_REQUIRE(std::is_same_v<net_t::layer_t<1>::out_shape, tg::shape<4, 5>>);
  STATIC_REQUIRE(std::is_same_v<net_t::layer_t<2>::out_shape, tg::shape<3, 2>>);
  STATIC_REQUIRE(net_t::layer_t<1>::modules == 2);
  STATIC_REQUIRE(net_t::layer_t<2>::modules == 1);
  STATIC_REQUIRE(std::is_same_v<net_t::layer_t<2>::activation_type, tg::identity>);
  STATIC_REQUIRE(std::is_same_v<tg::conv1d<3, 2, tg::stride<2>>::with_activation<tg::relu>,
                                tg::conv1d<3, 2, tg::relu, tg::stride<2>>>);
  STATIC_REQUIRE(std::is_same_v<tg::conv2d<3, 2, 2, tg::tanh, tg::groups<3>>::with_activation<tg::identity>,
                                tg::conv2d<3, 2, 2, tg::identity, tg::groups<3>>>);
  STATIC_REQUIRE(tg::layer<net_t::layer_t<1>>);
  using image_t = tg::network<tg::input<3 * 8 * 8>, tg::unflatten<3, 8, 8>, tg::conv2d<5, 3, 3, tg::padding_same>,
                              tg::conv2d<4, 2, 2, tg::stride<2>>>;
  STATIC_REQUIRE(std::is_same_v<image_t::layer_t<1>::out_shape, tg::shape<5, 8, 8>>);
  STATIC_REQUIRE(std::is_same_v<image_t::layer_t<2>::out_shape, tg::shape<4, 4, 4>>);
  STATIC_REQUIRE(image_t::parameters_type::count() == 5 * 3 * 9 + 5 + 4 * 5 * 4 + 4);
}

TEST_CASE("conv weights are indexed as PyTorch's (cross-correlation, no flip)", "[layers][conv]") {
  SECTION("conv1d: weight(o, c, k)") {
    tg::network<tg::input<2 * 8>, tg::unflatten<2, 8>, tg::conv1d<3, 3, tg::padding<1>>> net{tg::init::zeros{}};
    tg::get<1>(net).weight(2, 1, 0) = 1.0f;
    tg::get<1>(net).bias(0) = 0.5f;
    tg::vector<float, 16> x{};
    x[8 + 5] = 1.0f;  // channel 1, position 5
    const auto y = net(x);
    // y[o][t] = Σ_c Σ_k w[o][c][k]·x[c][t + k − 1]: tap 0 reads position t − 1, so t = 6 moves.
    for (std::size_t o = 0; o < 3; ++o)
      for (std::size_t t = 0; t < 8; ++t) {
        INFO("o " << o << " t " << t);
        CHECK(y[o * 8 + t] == (o == 0 ? 0.5f : o == 2 && t == 6 ? 1.0f : 0.0f));
      }
  }
  SECTION("conv2d: weight(o, c, kh, kw)") {
    tg::network<tg::input<2 * 4 * 5>, tg::unflatten<2, 4, 5>, tg::conv2d<2, 2, 3>> net{tg::init::zeros{}};
    tg::get<1>(net).weight(1, 1, 1, 2) = 2.0;
    tg::vector<float, 40> x{};
    x[20 + 2 * 5 + 3] = 1.0f;  // channel 1, row 2, column 3
    const auto y = net(x);     // output (2, 3, 3): row 2 − 1 = 1, column 3 − 2 = 1 moves
    for (std::size_t i = 0; i < 18; ++i) CHECK(y[i] == (i == 9 + 1 * 3 + 1 ? 2.0f : 0.0f));
  }
  SECTION("for_each_tensor: PyTorch names, shapes and strides") {
    tg::network<tg::input<4 * 3 * 5>, tg::unflatten<4, 3, 5>, tg::conv2d<6, 2, 3, tg::groups<2>>> net;
    const auto& p = tg::get<1>(net);
    int tensors = 0;
    p.for_each_tensor([&](std::string_view name, std::initializer_list<std::size_t> shape, const float* data,
                          std::size_t row_stride, std::size_t col_stride) {
      ++tensors;
      if (name == "weight") {
        CHECK(std::vector<std::size_t>(shape) == std::vector<std::size_t>{6, 2, 2, 3});
        for (std::size_t o = 0; o < 6; ++o)
          for (std::size_t c = 0; c < 2; ++c)
            for (std::size_t kh = 0; kh < 2; ++kh)
              for (std::size_t kw = 0; kw < 3; ++kw)
                CHECK(&data[o * row_stride + ((c * 2 + kh) * 3 + kw) * col_stride] == &p.weight(o, c, kh, kw));
      } else {
        CHECK(name == "bias");
        CHECK(std::vector<std::size_t>(shape) == std::vector<std::size_t>{6});
        for (std::size_t o = 0; o < 6; ++o) CHECK(&data[o * row_stride] == &p.bias(o));
      }
    });
    CHECK(tensors == 2);
    std::size_t n = 0;
    p.for_each([&](auto blk, std::size_t o, std::size_t i, const float& v) {
      if (decltype(blk)::value == 0) CHECK(&v == &p.weight(o, i / 6, i / 3 % 2, i % 3));
      ++n;
    });
    CHECK(n == 6 * 2 * 2 * 3 + 6);
  }
  SECTION("PyTorch's default initialisation: U(±1/√fan_in), fan_in = C/G · KH · KW") {
    tg::network<tg::input<4 * 3 * 5>, tg::unflatten<4, 3, 5>, tg::conv2d<6, 2, 3, tg::groups<2>>> net;
    const double bound = 1 / std::sqrt(2.0 * 2 * 3);
    double largest = 0;
    net.parameters().for_each([&](std::size_t, auto, std::size_t, std::size_t, float v) {
      largest = std::max(largest, std::abs(double(v)));
    });
    CHECK(largest <= bound);
    CHECK(largest > 0.8 * bound);
    CHECK(test_support::padding_is_zero(
        tg::network_parameters<std::remove_cvref_t<decltype(tg::get<1>(net))>>{{tg::get<1>(net)}}));
  }
}

TEMPLATE_TEST_CASE("train_step with sgd fits a small conv1d problem", "[layers][conv][training]", float, double) {
  using T = TestType;
  using net_t = tg::network<tg::input<2 * 12, T>, tg::unflatten<2, 12>, tg::conv1d<4, 3, tg::tanh, tg::padding_same>,
                            tg::conv1d<3, 3, tg::tanh, tg::stride<2>>, tg::flatten, tg::dense<2>>;
  net_t net{tg::init::pytorch_default{3}};
  tg::matrix<T, 8, 24> x;
  fill(x);
  tg::matrix<T, 8, 2> t;
  for (std::size_t b = 0; b < 8; ++b) {  // a smooth function of the signal: its mean and its first differences
    double mean = 0, diff = 0;
    for (std::size_t i = 0; i < 24; ++i) mean += double(x(b, i)) / 24;
    for (std::size_t i = 1; i < 12; ++i) diff += double(x(b, i) - x(b, i - 1)) / 12;
    t(b, 0) = T(mean);
    t(b, 1) = T(diff);
  }
  tg::sgd opt{0.05};
  const T first = tg::train_step(net, tg::mse{}, opt, x, t);
  T last = first;
  for (int step = 0; step < 300; ++step) last = tg::train_step(net, tg::mse{}, opt, x, t);
  INFO("loss " << first << " -> " << last);
  CHECK(last < 0.2 * first);
  CHECK(net.is_finite());
}

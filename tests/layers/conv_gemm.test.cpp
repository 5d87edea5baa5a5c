// The GEMM kernels of the convolutions (simd/conv_gemm.hpp) and the direct ones (simd/conv.hpp), each
// against a nested-loop reference on the same layers: chunks of samples with a shorter last one, the
// dot and broadcast forms of dW, stride along W (col2im by accumulation), padding and dilation.
#include <catch2/catch.hpp>
#include <typegrad/typegrad.hpp>

#include <cmath>
#include <cstddef>
#include <limits>
#include <memory>
#include <vector>

namespace tg = typegrad;

namespace {

/// Records every gradient register handed to the optimizer (parameters left alone).
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

double worst_error(const std::vector<double>& a, const std::vector<double>& b) {
  double scale = 1, worst = 0;
  for (double v : b) scale = std::max(scale, std::abs(v));
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst / scale;
}

template <class T, std::size_t N>
std::unique_ptr<tg::detail::buffer<T, N>> filled(T value) {
  auto p = std::make_unique<tg::detail::buffer<T, N>>();
  for (std::size_t i = 0; i < N; ++i) p->data[i] = value;
  return p;
}

/// Forward, dX (NeedDx) and the parameter gradients of the bound identity-activation convolution
/// Spec on InShape for B samples, through the GEMM kernels (Gemm) or the direct ones, against
/// a nested-loop reference in double.
template <class Spec, class InShape, class T, std::size_t B, bool Gemm, bool NeedDx>
void check_kernels() {
  using layer = typename Spec::template bind<T, InShape, 2>;
  using G = typename layer::G;
  using params_t = typename layer::parameters;
  constexpr std::size_t in_p = tg::padded<T>(G::in_size), out_p = tg::padded<T>(G::out_size);
  constexpr std::size_t scratch = Gemm ? std::max(tg::simd::conv_gemm_plan<T, G, B>::forward_scratch,
                                                  tg::simd::conv_gemm_plan<T, G, B>::backward_scratch)
                                       : std::max(G::forward_scratch, G::template backward_scratch<B>);
  const T nan = std::numeric_limits<T>::quiet_NaN();

  params_t p{};
  p.for_each([&](auto blk, std::size_t o, std::size_t i, T& v) {
    v = T(0.3 * std::sin(1.1 * double(o) + 0.37 * double(i) + (decltype(blk)::value ? 1.0 : 0.2)));
  });
  auto x = filled<T, B * in_p>(T(0));
  for (std::size_t b = 0; b < B; ++b)
    for (std::size_t i = 0; i < G::in_size; ++i)
      x->data[b * in_p + i] = T(std::cos(0.71 * double(i) + 1.3 * double(b)));
  auto z = filled<T, B * out_p>(nan);
  auto s = filled<T, scratch>(nan);
  if constexpr (Gemm)
    tg::simd::conv_gemm_forward<T, G, B>(p.w_, p.b_, x->data, z->data, s->data);
  else
    tg::simd::conv_forward<T, G, B>(p.w_, p.b_, x->data, z->data, s->data);

  // The reference: every product of the convolution, in double.
  std::vector<double> z_ref(B * G::out_size), dz(B * G::out_size), dx_ref(B * G::in_size, 0.0),
      dw_ref(params_t::padded_size(tg::simd::weight_c), 0.0), db_ref(params_t::padded_size(tg::simd::bias_c), 0.0);
  for (std::size_t b = 0; b < B; ++b)
    for (std::size_t o = 0; o < G::o; ++o)
      for (std::size_t e = 0; e < G::ho * G::wo; ++e) {
        const std::size_t out = (o * G::ho) * G::wo + e;
        dz[b * G::out_size + out] = std::sin(0.53 * double(out) + 0.9 * double(b));
        db_ref[o] += dz[b * G::out_size + out];
      }
  for (std::size_t b = 0; b < B; ++b)
    for (std::size_t o = 0; o < G::o; ++o)
      for (std::size_t yo = 0; yo < G::ho; ++yo)
        for (std::size_t xo = 0; xo < G::wo; ++xo) {
          const std::size_t out = b * G::out_size + (o * G::ho + yo) * G::wo + xo;
          double acc = double(p.bias(o));
          for (std::size_t c = 0; c < G::cg; ++c)
            for (std::size_t ky = 0; ky < G::kh; ++ky)
              for (std::size_t kx = 0; kx < G::kw; ++kx) {
                const long y = long(yo * G::sh + ky * G::dh) - long(G::pt);
                const long xx = long(xo * G::sw + kx * G::dw) - long(G::pl);
                if (y < 0 || xx < 0 || y >= long(G::h) || xx >= long(G::w)) continue;
                const std::size_t in = (c * G::h + std::size_t(y)) * G::w + std::size_t(xx);
                const std::size_t i = (c * G::kh + ky) * G::kw + kx;
                acc += double(p.weight(o, i)) * double(x->data[b * in_p + in]);
                dx_ref[b * G::in_size + in] += double(p.weight(o, i)) * dz[out];
                dw_ref[std::size_t(&p.weight(o, i) - p.data(tg::simd::weight_c))] +=
                    double(x->data[b * in_p + in]) * dz[out];
              }
          z_ref[out] = acc;
        }

  const double tol = std::is_same_v<T, float> ? 2e-5 : 1e-12;
  std::vector<double> got;
  bool padding_zero = true;
  for (std::size_t b = 0; b < B; ++b) {
    for (std::size_t e = 0; e < G::out_size; ++e) got.push_back(double(z->data[b * out_p + e]));
    for (std::size_t e = G::out_size; e < out_p; ++e) padding_zero = padding_zero && z->data[b * out_p + e] == T(0);
  }
  CHECK(padding_zero);
  CHECK(worst_error(got, z_ref) <= tol);

  auto dzb = filled<T, B * out_p>(T(0));
  for (std::size_t b = 0; b < B; ++b)
    for (std::size_t e = 0; e < G::out_size; ++e) dzb->data[b * out_p + e] = T(dz[b * G::out_size + e]);
  auto dx = filled<T, B * in_p>(nan);
  for (std::size_t i = 0; i < scratch; ++i) s->data[i] = nan;
  recorder rec;
  for (int k = 0; k < 2; ++k) {
    const std::size_t n = k == 0 ? params_t::padded_size(tg::simd::weight_c) : params_t::padded_size(tg::simd::bias_c);
    rec.g[k].assign(n, nan);
    rec.seen[k].assign(n, 0);
  }
  T* dx_out = NeedDx ? dx->data : nullptr;
  if constexpr (Gemm)
    tg::simd::conv_gemm_backward<T, G, B, NeedDx>(p.w_, p.b_, x->data, dzb->data, dx_out, s->data, rec);
  else
    tg::simd::conv_backward<T, G, B, NeedDx>(p.w_, p.b_, x->data, dzb->data, dx_out, s->data, rec);
  if constexpr (NeedDx) {
    got.clear();
    padding_zero = true;
    for (std::size_t b = 0; b < B; ++b) {
      for (std::size_t e = 0; e < G::in_size; ++e) got.push_back(double(dx->data[b * in_p + e]));
      for (std::size_t e = G::in_size; e < in_p; ++e) padding_zero = padding_zero && dx->data[b * in_p + e] == T(0);
    }
    CHECK(padding_zero);
    CHECK(worst_error(got, dx_ref) <= tol);
  }
  CHECK(worst_error(rec.g[0], dw_ref) <= tol);  // the zero gradient of the rows' padding included
  CHECK(worst_error(rec.g[1], db_ref) <= tol);
  bool once = true;
  for (int k = 0; k < 2; ++k)
    for (int n : rec.seen[k]) once = once && n == 1;
  CHECK(once);
}

template <class Spec, class InShape, std::size_t B>
void check_both() {
  SECTION("GEMM, float") { check_kernels<Spec, InShape, float, B, true, true>(); }
  SECTION("GEMM, double") { check_kernels<Spec, InShape, double, B, true, true>(); }
  SECTION("GEMM, float, no dx") { check_kernels<Spec, InShape, float, B, true, false>(); }
  SECTION("direct, float") { check_kernels<Spec, InShape, float, B, false, true>(); }
  SECTION("direct, double") { check_kernels<Spec, InShape, double, B, false, true>(); }
}

}  // namespace

TEST_CASE("conv GEMM and direct kernels match a nested-loop reference", "[layers][conv][gemm]") {
  using tg::dilation, tg::padding, tg::padding_same, tg::stride;
  SECTION("conv1d 8 → 16, k5, 32 samples: many chunks, broadcast form") {
    check_both<tg::conv1d<16, 5>, tg::shape<8, 88>, 32>();
  }
  SECTION("conv1d 8 → 16, k5, 5 samples: a shorter last chunk") {
    check_both<tg::conv1d<16, 5>, tg::shape<8, 88>, 5>();
  }
  SECTION("conv1d 1 → 8, k7, stride 2, 3 samples: dot form, col2im by accumulation") {
    check_both<tg::conv1d<8, 7, stride<2>>, tg::shape<1, 360>, 3>();
  }
  SECTION("conv1d padding_same, even kernel, dilation 2, 7 samples") {
    check_both<tg::conv1d<5, 4, padding_same, dilation<2>>, tg::shape<3, 50>, 7>();
  }
  SECTION("conv2d 3 → 6, 3×3, stride (2, 1), padding 1, dilation 2, 5 samples: dot form over chunks") {
    check_both<tg::conv2d<6, 3, 3, stride<2, 1>, padding<1>, dilation<2>>, tg::shape<3, 9, 20>, 5>();
  }
  SECTION("conv2d 16 → 32, 3×3, padding 1 on 4×4, 64 samples") {
    check_both<tg::conv2d<32, 3, 3, padding<1>>, tg::shape<16, 4, 4>, 64>();
  }
  SECTION("conv2d 1 → 16, 3×3, padding 1 on 8×8, 1 sample") {
    check_both<tg::conv2d<16, 3, 3, padding<1>>, tg::shape<1, 8, 8>, 1>();
  }
}

TEST_CASE("conv layers choose the GEMM kernels for one group", "[layers][conv][gemm]") {
  using one_group = tg::conv1d<16, 5>::bind<float, tg::shape<8, 88>, 2>;
  using two_groups = tg::conv1d<16, 5, tg::groups<2>>::bind<float, tg::shape<8, 88>, 2>;
  STATIC_REQUIRE(one_group::uses_gemm<32>);
  STATIC_REQUIRE(!two_groups::uses_gemm<32>);
  // The chunks and forms the kernel test above relies on.
  using plan_broadcast = tg::simd::conv_gemm_plan<float, one_group::G, 32>;
  STATIC_REQUIRE(plan_broadcast::chunks > 2);
  using plan_last = tg::simd::conv_gemm_plan<float, one_group::G, 5>;
  STATIC_REQUIRE(plan_last::chunks > 1);
  STATIC_REQUIRE(plan_last::last < plan_last::chunk);
  using strided = tg::conv1d<8, 7, tg::stride<2>>::bind<float, tg::shape<1, 360>, 2>;
  STATIC_REQUIRE(tg::simd::conv_gemm_plan<float, strided::G, 3>::dot);
  using image =
      tg::conv2d<6, 3, 3, tg::stride<2, 1>, tg::padding<1>, tg::dilation<2>>::bind<float, tg::shape<3, 9, 20>, 2>;
  STATIC_REQUIRE(tg::simd::conv_gemm_plan<float, image::G, 5>::dot);
  STATIC_REQUIRE(tg::simd::conv_gemm_plan<float, image::G, 5>::chunks > 1);
  STATIC_REQUIRE(tg::simd::conv_gemm_plan<double, image::G, 5>::dot);
}

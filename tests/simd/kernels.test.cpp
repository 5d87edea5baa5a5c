// The SIMD kernels against plain scalar loops, for sizes on and off the vector width.
#include <catch2/catch.hpp>
#include <typegrad/typegrad.hpp>

#include <cmath>
#include <vector>

#include "../network/test_support.hpp"

namespace tg = typegrad;
using test_support::plain_sgd;
namespace simd = typegrad::simd;

namespace {

template <class T, std::size_t B, std::size_t In, std::size_t Out>
void check_dense_kernels() {
  constexpr std::size_t in_p = tg::padded<T>(In), out_p = tg::padded<T>(Out);
  tg::dense_parameters<T, In, Out> p;
  for (std::size_t o = 0; o < Out; ++o) {
    for (std::size_t i = 0; i < In; ++i) p.weight(o, i) = T(std::sin(0.7 * double(o * In + i) + 0.1));
    p.bias(o) = T(std::cos(1.3 * double(o)));
  }
  alignas(64) T x[B * in_p] = {}, z[B * out_p], dz[B * out_p] = {}, dx[B * in_p];
  for (std::size_t b = 0; b < B; ++b) {
    for (std::size_t i = 0; i < In; ++i) x[b * in_p + i] = T(std::cos(0.3 * double(b * In + i)));
    for (std::size_t o = 0; o < Out; ++o) dz[b * out_p + o] = T(std::sin(0.9 * double(b * Out + o) + 0.4));
  }
  const T eps = std::is_same_v<T, float> ? T(1e-5) : T(1e-12);

  simd::dense_forward<T, B, In, Out>(p.w_, p.b_, x, z);
  for (std::size_t b = 0; b < B; ++b) {
    for (std::size_t o = 0; o < Out; ++o) {
      double ref = p.bias(o);
      for (std::size_t i = 0; i < In; ++i) ref += double(p.weight(o, i)) * double(x[b * in_p + i]);
      REQUIRE(z[b * out_p + o] == Approx(ref).epsilon(eps).margin(eps));
    }
    for (std::size_t o = Out; o < out_p; ++o) REQUIRE(z[b * out_p + o] == T(0));
  }

  auto before = p;
  const double lr = 0.125;
  plain_sgd opt{lr};
  simd::dense_backward<T, B, In, Out, true>(p.w_, p.b_, x, dz, dx, opt);
  for (std::size_t b = 0; b < B; ++b) {
    for (std::size_t i = 0; i < In; ++i) {
      double ref = 0;  // dX = dZ W with the weights from before the update
      for (std::size_t o = 0; o < Out; ++o) ref += double(dz[b * out_p + o]) * double(before.weight(o, i));
      REQUIRE(dx[b * in_p + i] == Approx(ref).epsilon(eps).margin(eps));
    }
    for (std::size_t i = In; i < in_p; ++i) REQUIRE(dx[b * in_p + i] == T(0));
  }
  for (std::size_t o = 0; o < Out; ++o) {
    for (std::size_t i = 0; i < In; ++i) {
      double g = 0;
      for (std::size_t b = 0; b < B; ++b) g += double(dz[b * out_p + o]) * double(x[b * in_p + i]);
      REQUIRE(p.weight(o, i) == Approx(double(before.weight(o, i)) - lr * g).epsilon(eps).margin(eps));
    }
    for (std::size_t i = In; i < in_p; ++i) REQUIRE(p.w_[o * in_p + i] == T(0));  // padding stays zero
    double gb = 0;
    for (std::size_t b = 0; b < B; ++b) gb += dz[b * out_p + o];
    REQUIRE(p.bias(o) == Approx(double(before.bias(o)) - lr * gb).epsilon(eps).margin(eps));
  }
}

}  // namespace

TEMPLATE_TEST_CASE("dense kernels equal scalar loops on every size", "[simd]", float, double) {
  check_dense_kernels<TestType, 1, 1, 1>();
  check_dense_kernels<TestType, 1, 3, 7>();
  check_dense_kernels<TestType, 1, 9, 17>();
  check_dense_kernels<TestType, 1, 16, 16>();
  check_dense_kernels<TestType, 1, 33, 8>();
  check_dense_kernels<TestType, 3, 17, 9>();
  check_dense_kernels<TestType, 2, 30, 33>();
  check_dense_kernels<TestType, 5, 64, 40>();
}

TEMPLATE_TEST_CASE("pack and unpack rows round-trip with zero padding", "[simd]", float, double) {
  constexpr std::size_t rows = 3, cols = 11, stride = tg::padded<TestType>(cols);
  TestType src[rows * cols];
  for (std::size_t i = 0; i < rows * cols; ++i) src[i] = TestType(i) + TestType(0.5);
  alignas(64) TestType packed[rows * stride];
  for (auto& v : packed) v = TestType(-7);
  simd::pack_rows<TestType, rows, cols>(src, packed);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < stride; ++c)
      REQUIRE(packed[r * stride + c] == (c < cols ? src[r * cols + c] : TestType(0)));
  TestType back[rows * cols];
  simd::unpack_rows<TestType, rows, cols>(packed, back);
  for (std::size_t i = 0; i < rows * cols; ++i) REQUIRE(back[i] == src[i]);
}

namespace {
// Input-major weights (the first layer): forward and the fused gradient + update, row-major and
// feature-major batches, against scalar loops.
template <class T, std::size_t B, std::size_t In, std::size_t Out>
void check_input_major_kernels() {
  constexpr std::size_t in_p = tg::padded<T>(In), out_p = tg::padded<T>(Out), bp = tg::padded<T>(B);
  tg::dense_parameters<T, In, Out, true> p;
  for (std::size_t o = 0; o < Out; ++o) {
    for (std::size_t i = 0; i < In; ++i) p.weight(o, i) = T(std::sin(0.7 * double(o * In + i) + 0.1));
    p.bias(o) = T(std::cos(1.3 * double(o)));
  }
  std::vector<T, xsimd::aligned_allocator<T, 64>> x(B * in_p, T(0)), xt(In * bp), z(B * out_p), zt(Out * bp),
      dz(B * out_p, T(0)), dzt(Out * bp), scratch(B * out_p);
  for (std::size_t b = 0; b < B; ++b) {
    for (std::size_t i = 0; i < In; ++i) x[b * in_p + i] = T(std::cos(0.3 * double(b * In + i)));
    for (std::size_t o = 0; o < Out; ++o) dz[b * out_p + o] = T(std::sin(0.9 * double(b * Out + o) + 0.4));
  }
  const T eps = std::is_same_v<T, float> ? T(1e-5) : T(1e-12);
  simd::dense_forward_input_major<T, B, In, Out>(p.w_, p.b_, x.data(), z.data());
  simd::rows_to_features<T, B, In, in_p>(x.data(), xt.data());
  simd::dense_forward_fm_input_major<T, B, In, Out>(p.w_, p.b_, xt.data(), zt.data());
  for (std::size_t b = 0; b < B; ++b)
    for (std::size_t o = 0; o < Out; ++o) {
      double ref = p.bias(o);
      for (std::size_t i = 0; i < In; ++i) ref += double(p.weight(o, i)) * double(x[b * in_p + i]);
      REQUIRE(z[b * out_p + o] == Approx(ref).epsilon(eps).margin(eps));
      REQUIRE(zt[o * bp + b] == Approx(ref).epsilon(eps).margin(eps));
    }
  const double lr = 0.125;
  plain_sgd opt{lr};
  auto rows = p, fm = p;
  simd::dense_backward_input_major<T, B, In, Out>(rows.w_, rows.b_, x.data(), dz.data(), opt);
  simd::rows_to_features<T, B, Out, out_p>(dz.data(), dzt.data());
  simd::dense_backward_fm_input_major<T, B, In, Out>(fm.w_, fm.b_, xt.data(), dzt.data(), scratch.data(), opt);
  for (std::size_t o = 0; o < Out; ++o) {
    for (std::size_t i = 0; i < In; ++i) {
      double g = 0;
      for (std::size_t b = 0; b < B; ++b) g += double(dz[b * out_p + o]) * double(x[b * in_p + i]);
      REQUIRE(rows.weight(o, i) == Approx(double(p.weight(o, i)) - lr * g).epsilon(eps).margin(eps));
      REQUIRE(fm.weight(o, i) == Approx(double(p.weight(o, i)) - lr * g).epsilon(eps).margin(eps));
    }
    double gb = 0;
    for (std::size_t b = 0; b < B; ++b) gb += dz[b * out_p + o];
    REQUIRE(rows.bias(o) == Approx(double(p.bias(o)) - lr * gb).epsilon(eps).margin(eps));
    REQUIRE(fm.bias(o) == Approx(double(p.bias(o)) - lr * gb).epsilon(eps).margin(eps));
  }
  for (std::size_t i = 0; i < In; ++i)  // padding (outputs past Out) stays zero
    for (std::size_t o = Out; o < out_p; ++o) REQUIRE((rows.w_[i * out_p + o] == T(0) && fm.w_[i * out_p + o] == T(0)));
}
}  // namespace

TEMPLATE_TEST_CASE("input-major dense kernels equal scalar loops", "[simd]", float, double) {
  check_input_major_kernels<TestType, 1, 2, 8>();
  check_input_major_kernels<TestType, 1, 30, 16>();
  check_input_major_kernels<TestType, 3, 9, 17>();
  check_input_major_kernels<TestType, 19, 33, 7>();
  check_input_major_kernels<TestType, 40, 20, 70>();
}

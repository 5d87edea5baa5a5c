// The feature-major building blocks (layout transposes, the register-blocked GEMM driver and the
// feature-major dense kernels) against plain scalar loops, on and off the vector width.
#include <catch2/catch.hpp>
#include <typegrad/typegrad.hpp>

#include <cmath>
#include <cstddef>
#include <memory>
#include <vector>

#include "../network/test_support.hpp"

namespace tg = typegrad;
using test_support::plain_sgd;
namespace simd = typegrad::simd;

namespace {

// 64-byte aligned scratch of n values, filled with a NaN sentinel so unwritten slots show up.
template <class T>
struct aligned_buffer {
  std::vector<T> storage;
  T* data;
  explicit aligned_buffer(std::size_t n, T fill = T(std::nan(""))) : storage(n + 64 / sizeof(T), fill) {
    void* p = storage.data();
    std::size_t space = storage.size() * sizeof(T);
    data = static_cast<T*>(std::align(64, n * sizeof(T), p, space));
  }
};

template <class T>
T value_at(std::size_t i, double phase) {
  return T(std::sin(0.37 * double(i) + phase));
}

template <class T, std::size_t B, std::size_t N, std::size_t RowStride>
void check_transposes() {
  constexpr std::size_t bp = tg::padded<T>(B), np = tg::padded<T>(N);
  aligned_buffer<T> rows(B * RowStride), fm(N * bp), back(B * np);
  for (std::size_t b = 0; b < B; ++b)
    for (std::size_t n = 0; n < RowStride; ++n) rows.data[b * RowStride + n] = value_at<T>(b * RowStride + n, 0.2);
  simd::rows_to_features<T, B, N, RowStride>(rows.data, fm.data);
  for (std::size_t n = 0; n < N; ++n) {
    for (std::size_t b = 0; b < B; ++b) REQUIRE(fm.data[n * bp + b] == rows.data[b * RowStride + n]);
    for (std::size_t b = B; b < bp; ++b) REQUIRE(fm.data[n * bp + b] == T(0));
  }
  simd::features_to_rows<T, B, N>(fm.data, back.data);
  for (std::size_t b = 0; b < B; ++b) {
    for (std::size_t n = 0; n < N; ++n) REQUIRE(back.data[b * np + n] == rows.data[b * RowStride + n]);
    for (std::size_t n = N; n < np; ++n) REQUIRE(back.data[b * np + n] == T(0));
  }
}

}  // namespace

TEMPLATE_TEST_CASE("rows_to_features and features_to_rows transpose exactly, zeroing the padding", "[simd][gemm]",
                   float, double) {
  using T = TestType;
  constexpr std::size_t L = tg::lanes<T>;
  check_transposes<T, L, L, L>();                                     // one block
  check_transposes<T, 4 * L, 3 * L, tg::padded<T>(3 * L)>();          // whole blocks only
  check_transposes<T, 2 * L + 3, 2 * L + 1, tg::padded<T>(2 * L + 1)>();  // ragged edges
  check_transposes<T, L + 1, 3, 3>();                                 // narrow, unpadded rows
  check_transposes<T, 2 * L, 5, tg::padded<T>(5)>();                  // narrow, padded rows
  check_transposes<T, 3, 2 * L + 5, tg::padded<T>(2 * L + 5)>();      // fewer samples than lanes
}

namespace {

// Output-major feature-major kernels: Zᵀ = W Xᵀ + b, dXᵀ = Wᵀ dZᵀ (old weights) and the fused
// update W -= lr · dZᵀ X, b -= lr · Σ_b dZ, each against a double-precision scalar loop.
template <class T, std::size_t B, std::size_t In, std::size_t Out>
void check_fm_kernels() {
  constexpr std::size_t in_p = tg::padded<T>(In), bp = tg::padded<T>(B);
  tg::dense_parameters<T, In, Out> p;
  for (std::size_t o = 0; o < Out; ++o) {
    for (std::size_t i = 0; i < In; ++i) p.weight(o, i) = value_at<T>(o * In + i, 0.1);
    p.bias(o) = value_at<T>(o, 1.3);
  }
  aligned_buffer<T> xr(B * in_p, T(0)), xt(In * bp), zt(Out * bp), dzt(Out * bp, T(0)), dxt(In * bp);
  for (std::size_t b = 0; b < B; ++b) {
    for (std::size_t i = 0; i < In; ++i) xr.data[b * in_p + i] = value_at<T>(b * In + i, 0.5);
    for (std::size_t o = 0; o < Out; ++o) dzt.data[o * bp + b] = value_at<T>(b * Out + o, 0.9);
  }
  simd::rows_to_features<T, B, In, in_p>(xr.data, xt.data);
  const double eps = std::is_same_v<T, float> ? 2e-5 : 1e-12;
  // Sums of up to 2·In (or 2·B) terms of size ≤ 1: a relative-plus-absolute tolerance scaled by it.
  const double tol = eps * double(std::max(In, std::max(B, Out)));

  simd::dense_forward_fm<T, B, In, Out>(p.w_, p.b_, xt.data, zt.data);
  for (std::size_t o = 0; o < Out; ++o)
    for (std::size_t b = 0; b < B; ++b) {
      double ref = p.bias(o);
      for (std::size_t i = 0; i < In; ++i) ref += double(p.weight(o, i)) * double(xr.data[b * in_p + i]);
      REQUIRE(double(zt.data[o * bp + b]) == Approx(ref).margin(tol));
    }

  const double lr = 0.125;
  plain_sgd opt{lr};
  auto with_dx = p, without_dx = p;
  simd::dense_backward_fm<T, B, In, Out, true>(with_dx.w_, with_dx.b_, xr.data, dzt.data, dxt.data, opt);
  simd::dense_backward_fm<T, B, In, Out, false>(without_dx.w_, without_dx.b_, xr.data, dzt.data, nullptr, opt);
  for (std::size_t i = 0; i < In; ++i)
    for (std::size_t b = 0; b < B; ++b) {
      double ref = 0;
      for (std::size_t o = 0; o < Out; ++o) ref += double(p.weight(o, i)) * double(dzt.data[o * bp + b]);
      REQUIRE(double(dxt.data[i * bp + b]) == Approx(ref).margin(tol));
    }
  for (std::size_t o = 0; o < Out; ++o) {
    for (std::size_t i = 0; i < In; ++i) {
      double g = 0;
      for (std::size_t b = 0; b < B; ++b) g += double(dzt.data[o * bp + b]) * double(xr.data[b * in_p + i]);
      const double ref = double(p.weight(o, i)) - lr * g;
      REQUIRE(double(with_dx.weight(o, i)) == Approx(ref).margin(tol));
      REQUIRE(with_dx.weight(o, i) == without_dx.weight(o, i));
    }
    double gb = 0;
    for (std::size_t b = 0; b < B; ++b) gb += double(dzt.data[o * bp + b]);
    REQUIRE(double(with_dx.bias(o)) == Approx(double(p.bias(o)) - lr * gb).margin(tol));
    for (std::size_t i = In; i < in_p; ++i) REQUIRE(with_dx.w_[o * in_p + i] == T(0));  // padding stays zero
  }
}

}  // namespace

TEMPLATE_TEST_CASE("feature-major dense kernels equal scalar loops, whole and partial register tiles",
                   "[simd][gemm]", float, double) {
  using T = TestType;
  constexpr std::size_t L = tg::lanes<T>;
  check_fm_kernels<T, L, 1, 1>();
  check_fm_kernels<T, 2 * L + 3, 30, 16>();  // cancer-like: ragged inputs and batch
  check_fm_kernels<T, 4 * L, 5 * L, 13>();   // 13 rows: one whole tile and a shorter one
  check_fm_kernels<T, 5 * L, 6 * L + 1, 2 * L + 7>();  // 5 and 7 chunks: chunk remainders
  check_fm_kernels<T, 64, 96, 50>();
}

// The hot path allocates nothing: a replaced global operator new counts every allocation.
#include <catch2/catch.hpp>
#include <typegrad/typegrad.hpp>

#include <array>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <new>
#include <span>
#include <vector>

#include "test_support.hpp"

namespace {
std::atomic<long> allocations{0};
}  // namespace

// GCC sees std::free in the replaced operator delete after inlining a `new` it also replaced, and
// calls the pair mismatched (a false positive: every form below allocates with malloc).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

// Replacing the global allocation functions is the standard's own hook (and ASan keeps working).
// Every form is replaced, so that no allocation escapes the count and new/delete stay paired.
namespace {
void* counted_malloc(std::size_t n) {
  ++allocations;
  return std::malloc(n ? n : 1);
}
void* counted_aligned(std::size_t n, std::align_val_t a) {
  ++allocations;
  const auto align = static_cast<std::size_t>(a);
  return std::aligned_alloc(align, (n + align - 1) / align * align);
}
}  // namespace
void* operator new(std::size_t n) {
  if (void* p = counted_malloc(n)) return p;
  throw std::bad_alloc{};
}
void* operator new[](std::size_t n) {
  if (void* p = counted_malloc(n)) return p;
  throw std::bad_alloc{};
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted_malloc(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted_malloc(n); }
void* operator new(std::size_t n, std::align_val_t a) {
  if (void* p = counted_aligned(n, a)) return p;
  throw std::bad_alloc{};
}
void* operator new[](std::size_t n, std::align_val_t a) {
  if (void* p = counted_aligned(n, a)) return p;
  throw std::bad_alloc{};
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept { return counted_aligned(n, a); }
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept { return counted_aligned(n, a); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }

namespace tg = typegrad;

TEST_CASE("the counter sees allocations (the test can fail)", "[network][alloc]") {
  const long before = allocations;
  // A direct call, not a new-expression, so the optimiser may not elide it.
  void* p = ::operator new(16);
  ::operator delete(p);
  REQUIRE(allocations - before == 1);
}

TEST_CASE("train_step, gradient, loss_value and inference allocate nothing", "[network][alloc]") {
  using net_t = tg::network<tg::input<30>, tg::dense<16, tg::relu>, tg::dense<16, tg::relu>, tg::dense<1, tg::sigmoid>>;
  using cls_t = tg::network<tg::input<64>, tg::dense<33, tg::gelu>, tg::dense<10>>;
  net_t net{tg::init::he_uniform{1}};
  cls_t cls{tg::init::he_uniform{2}};
  tg::vector<float, 30> x1;
  tg::matrix<float, 32, 30> x32;
  test_support::fill(x1);
  test_support::fill(x32);
  tg::vector<float, 1> t1{1};
  tg::matrix<float, 32, 1> t32;
  tg::matrix<float, 7, 64> xc;
  test_support::fill(xc);
  tg::vector<int, 7> labels{1, 2, 3, 4, 5, 6, 7};
  tg::sgd opt{0.01};

  const long before = allocations;
  float sink = 0;
  for (int i = 0; i < 10; ++i) {
    sink += tg::train_step(net, tg::binary_cross_entropy{}, opt, x1, t1);
    sink += tg::train_step(net, tg::binary_cross_entropy{}, opt, x32, t32);
    sink += tg::train_step(cls, tg::softmax_cross_entropy{}, opt, xc, labels);
    sink += net(x1)[0] + net(x32)(3, 0);
    sink += tg::get<0>(tg::gradient(net, tg::mse{}, x1, t1)).bias(0);
    sink += tg::loss_value(cls, tg::softmax_cross_entropy{}, xc, labels);
  }
  const long during = allocations - before;
  REQUIRE(during == 0);
  REQUIRE(std::isfinite(sink));
}

TEST_CASE("convolution, pooling and batch norm networks allocate nothing and are noexcept", "[network][alloc][conv]") {
  using ecg_t = tg::network<tg::input<90>, tg::unflatten<1, 90>, tg::conv1d<4, 7, tg::relu, tg::stride<2>>, tg::max_pool1d<2>,
                            tg::conv1d<6, 5, tg::relu, tg::causal, tg::dilation<2>>, tg::global_avg_pool, tg::dense<1, tg::sigmoid>>;
  using img_t = tg::network<tg::input<81>, tg::unflatten<1, 9, 9>, tg::conv2d<3, 3, 3, tg::identity, tg::padding<1>>,
                            tg::batch_norm<tg::relu>, tg::avg_pool2d<2>, tg::flatten, tg::dense<10>>;
  ecg_t ecg{tg::init::he_uniform{3}};
  img_t img{tg::init::he_uniform{4}};
  tg::vector<float, 90> x1;
  tg::matrix<float, 19, 90> x19;
  tg::matrix<float, 6, 81> xi;
  test_support::fill(x1);
  test_support::fill(x19);
  test_support::fill(xi);
  tg::vector<float, 1> t1{1};
  tg::matrix<float, 19, 1> t19;
  std::array<int, 6> labels{1, 2, 3, 4, 5, 6};
  auto adam = tg::make_optimizer(img, tg::adam{.lr = 1e-3});
  tg::sgd opt{0.01};
  STATIC_REQUIRE(noexcept(tg::train_step(ecg, tg::binary_cross_entropy{}, opt, x1, t1)));
  STATIC_REQUIRE(noexcept(tg::train_step(img, tg::softmax_cross_entropy{}, adam, xi, labels)));
  STATIC_REQUIRE(noexcept(ecg(x1)));
  STATIC_REQUIRE(noexcept(tg::input_gradient(ecg, tg::binary_cross_entropy{}, x1, t1)));

  const long before = allocations;
  float sink = 0;
  for (int i = 0; i < 5; ++i) {
    sink += tg::train_step(ecg, tg::binary_cross_entropy{}, opt, x1, t1);
    sink += tg::train_step(ecg, tg::binary_cross_entropy{}, opt, x19, t19);
    sink += tg::train_step(img, tg::softmax_cross_entropy{}, adam, xi, labels);
    sink += ecg(x1)[0] + img(xi)(2, 3);
    sink += tg::get<1>(tg::gradient(ecg, tg::binary_cross_entropy{}, x19, t19)).bias(0);
    sink += tg::input_gradient(img, tg::softmax_cross_entropy{}, xi, labels)(1, 1);
  }
  const long during = allocations - before;
  REQUIRE(during == 0);
  REQUIRE(std::isfinite(sink));
}

TEST_CASE("DP-SGD's per-example clipping and noisy step allocate nothing and are noexcept", "[network][alloc][privacy]") {
  using net_t = tg::network<tg::input<30>, tg::dense<16, tg::relu>, tg::dense<16, tg::relu>, tg::dense<1, tg::sigmoid>>;
  net_t net{tg::init::he_uniform{1}};
  tg::privacy::dp_sgd<net_t> dp{{.noise_multiplier = 1.1, .max_grad_norm = 1.0, .noise_seed = 3}};  // allocates its buffers here
  auto adam = tg::make_optimizer(net, tg::adam{.lr = 1e-3});
  tg::sgd opt{0.01};
  tg::vector<float, 30> x;
  test_support::fill(x);
  tg::matrix<float, 1, 1> t{{1}};
  STATIC_REQUIRE(noexcept(dp.add_example(net, tg::binary_cross_entropy{}, x, t)));
  STATIC_REQUIRE(noexcept(dp.step(net, opt, 4.0)));
  const long before = allocations;
  float sink = 0;
  for (int i = 0; i < 10; ++i) {
    for (int k = 0; k < 4; ++k) sink += dp.add_example(net, tg::binary_cross_entropy{}, x, t);
    if (i % 2) dp.step(net, opt, 4.0);
    else dp.step(net, adam, 4.0);
  }
  REQUIRE(allocations - before == 0);
  REQUIRE(std::isfinite(sink));
}

TEST_CASE("stream<Net> steps and resets allocate nothing", "[network][alloc][stream]") {
  using gru_t = tg::network<tg::input<16>, tg::unflatten<16, 1>, tg::gru<8>, tg::dense<1>>;
  using conv_t = tg::network<tg::input<3 * 20>, tg::unflatten<3, 20>,
                             tg::conv1d<12, 5, tg::relu, tg::causal, tg::dilation<2>>, tg::transpose, tg::lstm<5>,
                             tg::dense<2>>;
  using dense_t = tg::network<tg::input<64>, tg::dense<64, tg::tanh>, tg::dense<64>>;
  gru_t gru{tg::init::pytorch_default{1}};
  conv_t conv{tg::init::pytorch_default{2}};
  dense_t dense{tg::init::pytorch_default{3}};
  tg::stream g{gru};
  tg::stream c{conv};
  tg::stream d{dense};
  tg::vector<float, 1> x1{0.5f};
  tg::vector<float, 3> x3{0.1f, -0.2f, 0.3f};
  tg::vector<float, 64> x64;
  test_support::fill(x64);
  const long before = allocations;
  float sink = 0;
  for (int i = 0; i < 50; ++i) {
    sink += g(x1)[0] + c(x3)[1] + d(x64)[63];
    if (i % 20 == 19) g.reset(), c.reset(), d.reset();
  }
  REQUIRE(allocations - before == 0);
  REQUIRE(std::isfinite(sink));
}

TEST_CASE("recurrent and combinator networks train and infer without allocating, noexcept", "[network][alloc][recurrent]") {
  // Full BPTT (conv1d → transpose → lstm → gru → last step), truncated BPTT from a state, and a
  // two-input parallel + residual network; float, odd sizes.
  using seq_t = tg::network<tg::input<3 * 13>, tg::unflatten<3, 13>, tg::conv1d<5, 3, tg::tanh, tg::causal>, tg::transpose,
                            tg::lstm<7>, tg::gru<9>, tg::last_step, tg::dense<1, tg::sigmoid>>;
  using fused_t = tg::network<tg::inputs<tg::input<22>, tg::input<5>>,
                              tg::parallel<tg::branch<tg::unflatten<2, 11>, tg::conv1d<3, 3, tg::relu>, tg::flatten>,
                                           tg::branch<tg::dense<4, tg::tanh>>, tg::concat>,
                              tg::residual<tg::dense<6, tg::relu>, tg::dense<31>>, tg::dense<1>>;
  seq_t seq{tg::init::he_uniform{5}};
  fused_t fused{tg::init::he_uniform{6}};
  tg::matrix<float, 5, 39> xs;
  tg::matrix<float, 5, 27> xf;
  test_support::fill(xs);
  test_support::fill(xf);
  tg::matrix<float, 5, 1> t;
  auto adam = tg::make_optimizer(seq, tg::adam{.lr = 1e-3}, tg::clip_grad_norm{1.0});
  tg::sgd opt{0.01};
  tg::recurrent_state<seq_t, 5> state;
  STATIC_REQUIRE(noexcept(tg::train_step(seq, tg::binary_cross_entropy{}, opt, xs, t)));
  STATIC_REQUIRE(noexcept(tg::train_step(fused, tg::mse{}, opt, xf, t)));

  // A workspace the caller holds (here on the heap, allocated before counting).
  auto ws = std::make_unique<seq_t::workspace<5>>();
  STATIC_REQUIRE(noexcept(tg::train_step(seq, tg::binary_cross_entropy{}, opt, state, xs, t, *ws)));

  const long before = allocations;
  float sink = 0;
  for (int i = 0; i < 5; ++i) {
    sink += tg::train_step(seq, tg::binary_cross_entropy{}, adam, xs, t);
    sink += tg::train_step(seq, tg::binary_cross_entropy{}, opt, state, xs, t);
    sink += tg::train_step(seq, tg::binary_cross_entropy{}, adam, xs, t, *ws);
    sink += tg::train_step(seq, tg::binary_cross_entropy{}, opt, state, xs, t, *ws);
    sink += tg::train_step(fused, tg::mse{}, opt, xf, t);
    sink += seq(xs)(1, 0) + fused(xf)(2, 0);
  }
  const long during = allocations - before;
  REQUIRE(during == 0);
  REQUIRE(std::isfinite(sink));
}

TEST_CASE("fit's data-parallel step (threads = 2) allocates nothing and is noexcept", "[network][alloc][threads]") {
  using net_t = tg::network<tg::input<30>, tg::dense<16, tg::relu>, tg::dense<16, tg::relu>, tg::dense<1, tg::sigmoid>>;
  net_t net{tg::init::he_uniform{1}};
  tg::dataset<float, 30, 1> data;
  tg::vector<float, 30> x;
  for (std::size_t i = 0; i < 200; ++i) {
    test_support::fill(x, double(i));
    const float t[1] = {float(i % 2)};
    data.push_back(std::span<const float, 30>(x.data(), 30), std::span<const float, 1>(t, 1));
  }
  std::vector<std::size_t> rows(200);
  for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = i;
  const std::span<const std::size_t> all(rows);
  tg::detail::data_parallel_step<net_t, tg::binary_cross_entropy, 64, 30, 1> split(2);  // its pool and buffers
  auto adam = tg::make_optimizer(net, tg::adam{.lr = 1e-3});
  tg::sgd opt{0.01};
  STATIC_REQUIRE(noexcept(split.step(net, opt, data, all.subspan(0, 64), true)));
  const long before = allocations;
  double sink = 0;
  for (int i = 0; i < 10; ++i) {
    sink += split.step(net, opt, data, all.subspan(0, 64), true);
    sink += split.step(net, adam, data, all.subspan(64, 45), true);  // a short batch
  }
  REQUIRE(allocations - before == 0);
  REQUIRE(std::isfinite(sink));
  // In fit: nothing between the first and the last step of an epoch.
  long at_first = -1, at_last = -2;
  tg::fit_options o;
  o.epochs = 1;
  o.show = tg::progress::never;
  o.threads = 2;
  const auto h = tg::fit<64>(net, tg::binary_cross_entropy{}, opt, data, o, tg::no_callback{},
                             [&](std::size_t, std::size_t k, double) {
                               if (k == 0) at_first = allocations;
                               at_last = allocations;
                             });
  REQUIRE(h.threads == 2);
  REQUIRE(at_last - at_first == 0);
}

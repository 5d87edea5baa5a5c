// Combinators (inputs, parallel + concat, residual): finite differences, a plain forward reference,
// the fused update, optimizers, weight files and PyTorch reference values.
#include <catch2/catch.hpp>

#include <typegrad/typegrad.hpp>

#include <array>
#include <cmath>
#include <cstddef>
#include <fstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "../network/test_support.hpp"

namespace tg = typegrad;

namespace {

// Two inputs: a dense branch on the first (5 values), a conv1d branch on the second (2 channels × 7).
template <class T>
using split_net =
    tg::network<tg::inputs<tg::input<5, T>, tg::input<14, T>>,
                tg::parallel<tg::branch<tg::dense<3, tg::tanh>>,
                             tg::branch<tg::unflatten<2, 7>, tg::conv1d<3, 3, tg::tanh>, tg::flatten>, tg::concat>,
                tg::dense<2>>;
// Every branch on the same input, after a dense layer (so dx must flow through the parallel).
template <class T>
using shared_net =
    tg::network<tg::input<9, T>, tg::dense<7, tg::tanh>,
                tg::parallel<tg::branch<tg::dense<5, tg::tanh>>, tg::branch<tg::dense<3, tg::sigmoid>, tg::dense<2>>>,
                tg::dense<2>>;
template <class T>
using residual_dense_net = tg::network<tg::input<9, T>, tg::dense<11, tg::tanh>,
                                       tg::residual<tg::dense<6, tg::tanh>, tg::dense<11>>, tg::dense<3>>;
template <class T>
using residual_conv_net = tg::network<
    tg::input<21, T>, tg::dense<21, tg::tanh>, tg::unflatten<3, 7>,
    tg::residual<tg::conv1d<5, 3, tg::tanh, tg::padding_same>, tg::conv1d<3, 3, tg::identity, tg::padding_same>>,
    tg::flatten, tg::dense<2>>;
// A residual inside each branch.
template <class T>
using nested_net =
    tg::network<tg::inputs<tg::input<6, T>, tg::input<10, T>>,
                tg::parallel<tg::branch<tg::dense<7, tg::tanh>, tg::residual<tg::dense<5, tg::tanh>, tg::dense<7>>>,
                             tg::branch<tg::unflatten<2, 5>, tg::residual<tg::conv1d<2, 3, tg::tanh, tg::padding_same>>,
                                        tg::flatten>>,
                tg::dense<2>>;

template <class Net, std::size_t B>
struct problem {
  using T = typename Net::value_type;
  tg::matrix<T, B, Net::in_size> x;
  tg::matrix<T, B, Net::out_size> t;
  explicit problem(double salt = 0.0) {
    test_support::fill(x, salt);
    test_support::fill(t, salt + 1.0);
  }
};

template <class Net, std::size_t B>
double gradient_error(std::uint64_t seed) {
  Net net{tg::init::glorot_uniform{seed}};
  problem<Net, B> p(0.1 * double(seed));
  const auto r = tg::check_gradient(net, tg::mse{}, p.x, p.t);
  INFO("layer " << r.layer << " block " << r.block << " (" << r.row << ", " << r.col << "): analytic " << r.analytic
                << " numeric " << r.numeric);
  CHECK(r.checked == Net::parameters_type::count());
  return r.max_relative_error;
}

template <class Net, std::size_t B>
double input_error() {
  using twin = typename Net::template rebind<double>;
  twin net{tg::init::glorot_uniform{5}};
  problem<twin, B> p(0.3);
  return test_support::input_gradient_error(net, tg::mse{}, p.x, p.t);
}

// Every parameter of a, b as doubles, in for_each order.
template <class Params>
std::vector<double> values_of(const Params& p) {
  std::vector<double> v;
  p.for_each([&](std::size_t, auto, std::size_t, std::size_t, auto x) { v.push_back(double(x)); });
  return v;
}

template <class T>
double tolerance() {
  return std::is_same_v<T, float> ? 2e-5 : 1e-12;
}

}  // namespace

TEST_CASE("combinators state their shapes and parameters as types", "[layers][combinators]") {
  using net = split_net<float>;
  STATIC_REQUIRE(net::in_size == 19);
  STATIC_REQUIRE(std::is_same_v<net::layer_t<0>::out_shape, tg::shape<3 + 15>>);
  STATIC_REQUIRE(net::depth == 2);
  STATIC_REQUIRE(net::parameters_type::count() == (5 * 3 + 3) + (3 * 2 * 3 + 3) + (18 * 2 + 2));
  STATIC_REQUIRE(std::is_same_v<residual_conv_net<float>::layer_t<2>::out_shape, tg::shape<3, 7>>);
  STATIC_REQUIRE(
      std::is_same_v<net::rebind<double>::input_type, tg::inputs<tg::input<5, double>, tg::input<14, double>>>);
  STATIC_REQUIRE(tg::layer<net::layer_t<0>> && tg::layer<residual_dense_net<double>::layer_t<1>>);
  // The parallel's block is seen as one flat list of the inner blocks (4 here: 2 per branch).
  STATIC_REQUIRE(net::layer_t<0>::parameters::parameter_blocks == 4);
  STATIC_REQUIRE(nested_net<float>::layer_t<0>::parameters::parameter_blocks == 8);
}

TEMPLATE_TEST_CASE("combinator gradients match finite differences", "[layers][combinators][gradient]", float, double) {
  // Checked through the network's double twin; the float network is the one rebound.
  SECTION("parallel + concat on two inputs (dense branch, conv1d branch)") {
    CHECK(gradient_error<split_net<TestType>, 1>(1) <= 1e-6);
    CHECK(gradient_error<split_net<TestType>, 5>(2) <= 1e-6);
  }
  SECTION("parallel on a shared input") {
    CHECK(gradient_error<shared_net<TestType>, 1>(3) <= 1e-6);
    CHECK(gradient_error<shared_net<TestType>, 5>(4) <= 1e-6);
    CHECK(gradient_error<shared_net<TestType>, 17>(5) <= 1e-6);  // feature-major dense layers inside
  }
  SECTION("residual around dense layers") {
    CHECK(gradient_error<residual_dense_net<TestType>, 1>(6) <= 1e-6);
    CHECK(gradient_error<residual_dense_net<TestType>, 5>(7) <= 1e-6);
    CHECK(gradient_error<residual_dense_net<TestType>, 17>(8) <= 1e-6);
  }
  SECTION("residual around conv1d (padding_same)") {
    CHECK(gradient_error<residual_conv_net<TestType>, 1>(9) <= 1e-6);
    CHECK(gradient_error<residual_conv_net<TestType>, 5>(10) <= 1e-6);
  }
  SECTION("residual nested inside branches") {
    CHECK(gradient_error<nested_net<TestType>, 1>(11) <= 1e-6);
    CHECK(gradient_error<nested_net<TestType>, 5>(12) <= 1e-6);
  }
}

TEST_CASE("input gradients pass through the combinators", "[layers][combinators][gradient]") {
  CHECK(input_error<split_net<double>, 1>() <= 1e-6);
  CHECK(input_error<split_net<double>, 5>() <= 1e-6);
  CHECK(input_error<shared_net<double>, 1>() <= 1e-6);
  CHECK(input_error<shared_net<double>, 5>() <= 1e-6);
  CHECK(input_error<shared_net<double>, 17>() <= 1e-6);
  CHECK(input_error<residual_dense_net<double>, 5>() <= 1e-6);
  CHECK(input_error<residual_conv_net<double>, 1>() <= 1e-6);
  CHECK(input_error<residual_conv_net<double>, 5>() <= 1e-6);
  CHECK(input_error<nested_net<double>, 5>() <= 1e-6);
}

TEMPLATE_TEST_CASE("parallel and residual forward match a plain reference", "[layers][combinators]", float, double) {
  using T = TestType;
  SECTION("split inputs, dense and conv1d branches, concat, dense head") {
    split_net<T> net{tg::init::glorot_uniform{21}};
    problem<split_net<T>, 3> p(0.7);
    const auto y = net(p.x);
    const auto& dense0 = tg::get<0>(tg::get<0>(tg::get<0>(net)));  // layer 0, branch 0, layer 0
    const auto& conv = tg::get<1>(tg::get<1>(tg::get<0>(net)));    // layer 0, branch 1, layer 1
    const auto& head = tg::get<1>(net);
    for (std::size_t b = 0; b < 3; ++b) {
      double joined[18];
      for (std::size_t o = 0; o < 3; ++o) {
        double z = dense0.bias(o);
        for (std::size_t i = 0; i < 5; ++i) z += double(dense0.weight(o, i)) * p.x(b, i);
        joined[o] = std::tanh(z);
      }
      for (std::size_t o = 0; o < 3; ++o)  // conv1d<3, 3> on (2, 7): (3, 5), flattened channel-major
        for (std::size_t l = 0; l < 5; ++l) {
          double z = conv.bias(o);
          for (std::size_t c = 0; c < 2; ++c)
            for (std::size_t k = 0; k < 3; ++k) z += double(conv.weight(o, c, k)) * p.x(b, 5 + c * 7 + l + k);
          joined[3 + o * 5 + l] = std::tanh(z);
        }
      for (std::size_t o = 0; o < 2; ++o) {
        double z = head.bias(o);
        for (std::size_t i = 0; i < 18; ++i) z += double(head.weight(o, i)) * joined[i];
        CHECK(y(b, o) == Approx(z).epsilon(tolerance<T>()).margin(tolerance<T>()));
      }
    }
  }
  SECTION("residual: y = x + f(x)") {
    residual_dense_net<T> net{tg::init::glorot_uniform{22}};
    problem<residual_dense_net<T>, 2> p(0.9);
    const auto y = net(p.x);
    const auto& first = tg::get<0>(net);
    const auto& inner0 = tg::get<0>(tg::get<1>(net));
    const auto& inner1 = tg::get<1>(tg::get<1>(net));
    const auto& head = tg::get<2>(net);
    for (std::size_t b = 0; b < 2; ++b) {
      double h[11], u[6], r[11];
      for (std::size_t o = 0; o < 11; ++o) {
        double z = first.bias(o);
        for (std::size_t i = 0; i < 9; ++i) z += double(first.weight(o, i)) * p.x(b, i);
        h[o] = std::tanh(z);
      }
      for (std::size_t o = 0; o < 6; ++o) {
        double z = inner0.bias(o);
        for (std::size_t i = 0; i < 11; ++i) z += double(inner0.weight(o, i)) * h[i];
        u[o] = std::tanh(z);
      }
      for (std::size_t o = 0; o < 11; ++o) {
        double z = inner1.bias(o);
        for (std::size_t i = 0; i < 6; ++i) z += double(inner1.weight(o, i)) * u[i];
        r[o] = h[o] + z;
      }
      for (std::size_t o = 0; o < 3; ++o) {
        double z = head.bias(o);
        for (std::size_t i = 0; i < 11; ++i) z += double(head.weight(o, i)) * r[i];
        CHECK(y(b, o) == Approx(z).epsilon(tolerance<T>()).margin(tolerance<T>()));
      }
    }
  }
}

TEMPLATE_TEST_CASE("join_inputs builds the rows of a network with several inputs", "[layers][combinators]", float,
                   double) {
  using T = TestType;
  tg::vector<T, 2> a{T(1), T(2)};
  tg::vector<T, 3> c{T(3), T(4), T(5)};
  const auto v = tg::join_inputs(a, c);
  STATIC_REQUIRE(std::is_same_v<std::remove_cvref_t<decltype(v)>, tg::vector<T, 5>>);
  for (std::size_t i = 0; i < 5; ++i) CHECK(v[i] == T(i + 1));
  tg::matrix<T, 2, 2> ma;
  tg::matrix<T, 2, 1> mc;
  ma(0, 0) = 1, ma(0, 1) = 2, ma(1, 0) = 4, ma(1, 1) = 5;
  mc(0, 0) = 3, mc(1, 0) = 6;
  const auto m = tg::join_inputs(ma, mc);
  for (std::size_t i = 0; i < 6; ++i) CHECK(m.data()[i] == T(i + 1));
  // A network with two inputs gives the same answer for one joined sample as for a batch row.
  split_net<T> net{tg::init::glorot_uniform{3}};
  tg::vector<T, 5> x1;
  tg::vector<T, 14> x2;
  test_support::fill(x1, 0.2);
  test_support::fill(x2, 0.4);
  tg::matrix<T, 1, 19> row;
  for (std::size_t i = 0; i < 19; ++i) row(0, i) = i < 5 ? x1[i] : x2[i - 5];
  const auto y1 = net(tg::join_inputs(x1, x2));
  const auto y2 = net(row);
  CHECK(y1[0] == y2(0, 0));
  CHECK(y1[1] == y2(0, 1));
}

TEST_CASE("join_inputs joins datasets of the same samples, and refuses others", "[layers][combinators][data]") {
  tg::dataset<float, 2> a({1, 2, 4, 5}, {0, 1});
  tg::dataset<float, 1> c({3, 6}, {0, 1});
  const auto d = tg::join_inputs(a, c);
  STATIC_REQUIRE(std::is_same_v<std::remove_cvref_t<decltype(d)>, tg::dataset<float, 3>>);
  REQUIRE(d.size() == 2);
  for (std::size_t i = 0; i < 6; ++i) CHECK(d.feature_data()[i] == float(i + 1));
  CHECK(d.target(1) == 1.0f);
  tg::dataset<float, 1> shorter({3}, {0});
  CHECK_THROWS_WITH(tg::join_inputs(a, shorter), Catch::Contains("dataset 1 holds 1 samples, dataset 0 holds 2"));
  tg::dataset<float, 1> other_targets({3, 6}, {1, 1});
  CHECK_THROWS_WITH(tg::join_inputs(a, other_targets), Catch::Contains("sample 0 has other targets"));
}

namespace {
template <class Net, std::size_t B>
void check_fused_sgd() {
  using T = typename Net::value_type;
  Net fused{tg::init::glorot_uniform{31}};
  Net manual = fused;
  problem<Net, B> p(1.3);
  const double lr = 0.05;
  const auto g = tg::gradient(manual, tg::mse{}, p.x, p.t);
  const auto before = values_of(manual.parameters());
  const auto grads = values_of(g);
  static_assert(noexcept(tg::train_step(fused, tg::mse{}, tg::sgd{lr}, p.x, p.t)));
  tg::train_step(fused, tg::mse{}, tg::sgd{lr}, p.x, p.t);
  const auto after = values_of(fused.parameters());
  REQUIRE(after.size() == before.size());
  std::size_t changed = 0;
  for (std::size_t k = 0; k < after.size(); ++k) {
    const double expected = before[k] - lr * grads[k];
    CHECK(after[k] == Approx(expected).epsilon(tolerance<T>()).margin(tolerance<T>()));
    changed += after[k] != before[k];
  }
  CHECK(changed > after.size() / 2);  // the step really moved the parameters
}

template <class Net, std::size_t B>
void check_adam() {
  using T = typename Net::value_type;
  Net fused{tg::init::glorot_uniform{41}};
  Net whole = fused;
  auto opt_fused = tg::make_optimizer(fused, tg::adam{.lr = 1e-2});
  auto opt_whole = tg::make_optimizer(whole, tg::adam{.lr = 1e-2});
  problem<Net, B> p(0.5);
  for (int step = 0; step < 3; ++step) {
    tg::train_step(fused, tg::mse{}, opt_fused, p.x, p.t);
    opt_whole.step(whole.parameters(), tg::gradient(whole, tg::mse{}, p.x, p.t));
  }
  const auto a = values_of(fused.parameters()), b = values_of(whole.parameters());
  for (std::size_t k = 0; k < a.size(); ++k)
    CHECK(a[k] == Approx(b[k]).epsilon(tolerance<T>() * 10).margin(tolerance<T>() * 10));
  // and with clipping (the whole gradient first, then the nested blocks through apply())
  auto clipped = tg::make_optimizer(fused, tg::sgd{.lr = 0.1}, tg::clip_grad_norm{1e-3});
  const auto before = values_of(fused.parameters());
  tg::train_step(fused, tg::mse{}, clipped, p.x, p.t);
  const auto after = values_of(fused.parameters());
  double moved = 0;
  for (std::size_t k = 0; k < after.size(); ++k) moved += (after[k] - before[k]) * (after[k] - before[k]);
  CHECK(std::sqrt(moved) == Approx(0.1 * 1e-3).epsilon(1e-3));  // lr × max_norm
}
}  // namespace

TEMPLATE_TEST_CASE("the fused update through combinators equals gradient + SGD", "[layers][combinators][training]",
                   float, double) {
  check_fused_sgd<split_net<TestType>, 1>();
  check_fused_sgd<split_net<TestType>, 5>();
  check_fused_sgd<shared_net<TestType>, 17>();
  check_fused_sgd<residual_conv_net<TestType>, 5>();
  check_fused_sgd<nested_net<TestType>, 1>();
  check_fused_sgd<nested_net<TestType>, 5>();
}

TEMPLATE_TEST_CASE("stateful optimizers reach the nested blocks", "[layers][combinators][training]", float, double) {
  check_adam<nested_net<TestType>, 5>();
  check_adam<residual_dense_net<TestType>, 3>();
}

TEST_CASE("combinators train and save / load as PyTorch modules", "[layers][combinators][io]") {
  using net_t = nested_net<float>;
  CHECK(
      tg::architecture_string<net_t>() ==
      "input<16>,parallel<inputs,branch<dense<7,tanh>,residual<dense<5,tanh>,dense<7,identity>>>,branch<unflatten<2,5>,"
      "residual<conv1d<2,3,tanh,stride<1>,padding<1>,dilation<1>,groups<1>>>,flatten>,concat>,dense<2,identity>");
  // Inside a combinator an activation is spelled as at the top level (activation_name), slope included.
  using leaky_t = tg::network<tg::input<4>, tg::residual<tg::dense<4, tg::leaky_relu_with<1, 5>>>>;
  CHECK(tg::architecture_string<leaky_t>() == "input<4>,residual<dense<4,leaky_relu(1/5)>>");
  // PyTorch module structure: Parallel(branches = ModuleList([Sequential, Sequential])), Linear;
  // Residual(body = Sequential). The names follow that state_dict.
  const std::vector<std::string> expected{"0.branches.0.0.weight",
                                          "0.branches.0.0.bias",
                                          "0.branches.0.2.body.0.weight",
                                          "0.branches.0.2.body.0.bias",
                                          "0.branches.0.2.body.2.weight",
                                          "0.branches.0.2.body.2.bias",
                                          "0.branches.1.1.body.0.weight",
                                          "0.branches.1.1.body.0.bias",
                                          "1.weight",
                                          "1.bias"};
  CHECK(tg::weight_tensor_names<net_t>() == expected);

  net_t net{tg::init::glorot_uniform{7}};
  problem<net_t, 4> p(0.2);
  for (int step = 0; step < 5; ++step) tg::train_step(net, tg::mse{}, tg::sgd{0.1}, p.x, p.t);
  const auto bytes = tg::save_weights_to_bytes(net, {{"note", "combinators"}});
  net_t loaded{tg::init::zeros{}};
  REQUIRE_FALSE(loaded == net);
  const auto meta = tg::load_weights_from_bytes(loaded, bytes);
  CHECK(meta.at("note") == "combinators");
  CHECK(loaded == net);
  const auto y1 = net(p.x), y2 = loaded(p.x);
  for (std::size_t k = 0; k < decltype(y1)::size(); ++k) CHECK(y1.data()[k] == y2.data()[k]);
  // Another architecture with the same tensors is refused, and the network is left as it was.
  using other_t =
      tg::network<tg::inputs<tg::input<6>, tg::input<10>>,
                  tg::parallel<tg::branch<tg::dense<7, tg::relu>, tg::residual<tg::dense<5, tg::tanh>, tg::dense<7>>>,
                               tg::branch<tg::unflatten<2, 5>,
                                          tg::residual<tg::conv1d<2, 3, tg::tanh, tg::padding_same>>, tg::flatten>>,
                  tg::dense<2>>;
  other_t other{tg::init::zeros{}};
  const other_t untouched = other;
  CHECK_THROWS_AS(tg::load_weights_from_bytes(other, bytes), tg::io_error);
  CHECK(other == untouched);
}

// ---- PyTorch (tests/data/combinators_reference.{json,safetensors}, written by
// tools/pytorch_reference/combinators.py with the modules Parallel and Residual defined there) ----

namespace {

using json = nlohmann::json;

const json& reference() {
  static const json doc = [] {
    std::ifstream in(TYPEGRAD_SOURCE_DIR "/tests/data/combinators_reference.json");
    if (!in) throw std::runtime_error("cannot open tests/data/combinators_reference.json");
    return json::parse(in);
  }();
  return doc;
}

// The generator's "split" and "nested" networks (see its docstring for the PyTorch modules).
using pt_split = split_net<double>;
using pt_nested = tg::network<
    tg::input<14, double>, tg::dense<14, tg::tanh>, tg::unflatten<2, 7>,
    tg::residual<tg::conv1d<4, 3, tg::tanh, tg::padding_same>, tg::conv1d<2, 3, tg::identity, tg::padding_same>>,
    tg::parallel<tg::branch<tg::flatten, tg::dense<5, tg::tanh>, tg::residual<tg::dense<3, tg::tanh>, tg::dense<5>>>,
                 tg::branch<tg::global_avg_pool>>,
    tg::dense<3>>;

// Calls f(name, shape, data, row_stride, col_stride) for every tensor of a parameter object of Net
// (its parameters, or a gradient), with the weight files' names: the state_dict names.
template <class Net, class Params, class F>
void for_each_named_tensor(Params& p, F&& f) {
  const auto names = tg::weight_tensor_names<Net>();
  std::size_t k = 0;
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (tg::get<I>(p).for_each_tensor([&](std::string_view, std::initializer_list<std::size_t> shape, auto* data,
                                       std::size_t rs, std::size_t cs) { f(names.at(k++), shape, data, rs, cs); }),
     ...);
  }
  (std::make_index_sequence<Net::depth>{});
  REQUIRE(k == names.size());
}

std::size_t columns(std::initializer_list<std::size_t> shape) {
  std::size_t cols = 1;
  for (auto it = shape.begin() + 1; it != shape.end(); ++it) cols *= *it;
  return cols;
}

template <class Net, class Params>
void require_tensors_close(Params& p, const json& expected, double eps = 1e-10) {
  std::size_t compared = 0;
  for_each_named_tensor<Net>(p, [&](const std::string& name, std::initializer_list<std::size_t> shape,
                                    const double* data, std::size_t rs, std::size_t cs) {
    const json& t = expected.at(name);
    REQUIRE(t.at("shape").get<std::vector<std::size_t>>() == std::vector<std::size_t>(shape));
    const auto v = t.at("values").get<std::vector<double>>();
    const std::size_t cols = columns(shape);
    for (std::size_t r = 0; r < *shape.begin(); ++r)
      for (std::size_t c = 0; c < cols; ++c) {
        INFO(name << " (" << r << ", " << c << ")");
        REQUIRE(data[r * rs + c * cs] == Approx(v[r * cols + c]).epsilon(eps).margin(eps));
        ++compared;
      }
  });
  REQUIRE(compared == Params::count());
}

template <class Matrix>
Matrix matrix_from(const json& tensor) {
  Matrix m;
  const auto v = tensor.at("values").get<std::vector<double>>();
  REQUIRE(v.size() == Matrix::size());
  for (std::size_t k = 0; k < v.size(); ++k) m.data()[k] = v[k];
  return m;
}

template <class A>
void require_close(const A& got, const json& expected, double eps = 1e-10) {
  const auto v = expected.at("values").get<std::vector<double>>();
  REQUIRE(v.size() == A::size());
  for (std::size_t k = 0; k < v.size(); ++k) REQUIRE(got.data()[k] == Approx(v[k]).epsilon(eps).margin(eps));
}

}  // namespace

TEST_CASE("parallel on two inputs equals PyTorch: outputs, loss, dL/dx, gradients, one SGD step",
          "[layers][combinators][pytorch]") {
  const json& ref = reference().at("split");
  pt_split net{tg::init::zeros{}};
  for_each_named_tensor<pt_split>(
      net.parameters(), [&](const std::string& name, std::initializer_list<std::size_t> shape, double* data,
                            std::size_t rs, std::size_t cs) {
        const auto v = ref.at("state_dict").at(name).at("values").get<std::vector<double>>();
        const std::size_t cols = columns(shape);
        for (std::size_t r = 0; r < *shape.begin(); ++r)
          for (std::size_t c = 0; c < cols; ++c) data[r * rs + c * cs] = v.at(r * cols + c);
      });
  const auto x = matrix_from<tg::matrix<double, 5, 19>>(ref.at("x"));
  const auto t = matrix_from<tg::matrix<double, 5, 2>>(ref.at("target"));
  require_close(net(x), ref.at("output"));
  REQUIRE(tg::loss_value(net, tg::mse{}, x, t) == Approx(ref.at("loss").get<double>()).epsilon(1e-12));
  require_close(tg::input_gradient(net, tg::mse{}, x, t), ref.at("input_grad"));
  auto grad = tg::gradient(net, tg::mse{}, x, t);
  require_tensors_close<pt_split>(grad, ref.at("grad"));

  SECTION("batch 1") {
    const json& one = ref.at("batch1");
    tg::vector<double, 19> x1;
    tg::vector<double, 2> t1;
    for (std::size_t k = 0; k < 19; ++k) x1[k] = x(0, k);
    for (std::size_t k = 0; k < 2; ++k) t1[k] = t(0, k);
    require_close(net(x1), one.at("output"));
    REQUIRE(tg::loss_value(net, tg::mse{}, x1, t1) == Approx(one.at("loss").get<double>()).epsilon(1e-12));
    require_close(tg::input_gradient(net, tg::mse{}, x1, t1), one.at("input_grad"));
    auto g1 = tg::gradient(net, tg::mse{}, x1, t1);
    require_tensors_close<pt_split>(g1, one.at("grad"));
  }
  SECTION("one SGD step, lr 0.1") {
    tg::train_step(net, tg::mse{}, tg::sgd{0.1}, x, t);
    require_tensors_close<pt_split>(net.parameters(), ref.at("after_sgd_step"));
  }
}

TEST_CASE("residual and a shared-input parallel, nested, equal PyTorch; its state_dict file loads as is",
          "[layers][combinators][pytorch][io]") {
  const json& ref = reference().at("nested");
  pt_nested net{tg::init::zeros{}};
  // The generator's own state_dict, by PyTorch's names (Parallel.branches, Residual.body).
  tg::load_weights(net, TYPEGRAD_SOURCE_DIR "/tests/data/combinators_reference.safetensors");
  require_tensors_close<pt_nested>(net.parameters(), ref.at("state_dict"), 0.0);
  const auto x = matrix_from<tg::matrix<double, 5, 14>>(ref.at("x"));
  std::array<int, 5> t{};
  for (std::size_t b = 0; b < 5; ++b) t[b] = ref.at("target").at("values").at(b).get<int>();
  require_close(net(x), ref.at("output"));
  REQUIRE(tg::loss_value(net, tg::softmax_cross_entropy{}, x, t) ==
          Approx(ref.at("loss").get<double>()).epsilon(1e-12));
  require_close(tg::input_gradient(net, tg::softmax_cross_entropy{}, x, t), ref.at("input_grad"));
  auto grad = tg::gradient(net, tg::softmax_cross_entropy{}, x, t);
  require_tensors_close<pt_nested>(grad, ref.at("grad"));
  tg::train_step(net, tg::softmax_cross_entropy{}, tg::sgd{0.1}, x, t);
  require_tensors_close<pt_nested>(net.parameters(), ref.at("after_sgd_step"));
}

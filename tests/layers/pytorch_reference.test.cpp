// Convolutional networks against PyTorch (tests/data/conv_reference.json, written by
// tools/pytorch_reference/conv.py): outputs, loss, input gradient, every parameter gradient, one
// SGD step and batch norm's running statistics, in double precision.
#include <catch2/catch.hpp>
#include <typegrad/typegrad.hpp>

#include <cstddef>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tg = typegrad;
using json = nlohmann::json;

namespace {

const json& reference() {
  static const json doc = [] {
    std::ifstream in(TYPEGRAD_SOURCE_DIR "/tests/data/conv_reference.json");
    if (!in) throw std::runtime_error("cannot open tests/data/conv_reference.json");
    return json::parse(in);
  }();
  return doc;
}

// Net A: nn.Sequential(Unflatten(1, (2, 19)), Conv1d(2, 6, 3, stride=2, padding=1), Tanh,
// Conv1d(6, 6, 3, dilation=2, groups=3, padding=2), Sigmoid, MaxPool1d(2), Flatten, Linear(30, 3)).
using net_a = tg::network<tg::input<38, double>, tg::unflatten<2, 19>, tg::conv1d<6, 3, tg::tanh, tg::stride<2>, tg::padding<1>>,
                          tg::conv1d<6, 3, tg::sigmoid, tg::dilation<2>, tg::groups<3>, tg::padding<2>>, tg::max_pool1d<2>,
                          tg::flatten, tg::dense<3>>;
constexpr std::size_t modules_a[] = {0, 1, 3, 5, 6, 7};  // nn.Sequential index of each typegrad layer
// The same layer with padding_same (total padding D·(K − 1) = 4, split 2 / 2) is the same network.
using net_a_same = tg::network<tg::input<38, double>, tg::unflatten<2, 19>, tg::conv1d<6, 3, tg::tanh, tg::stride<2>, tg::padding<1>>,
                               tg::conv1d<6, 3, tg::sigmoid, tg::dilation<2>, tg::groups<3>, tg::padding_same>, tg::max_pool1d<2>,
                               tg::flatten, tg::dense<3>>;

// Net B: nn.Sequential(Unflatten(1, (2, 9, 8)), Conv2d(2, 4, 3, padding=1), BatchNorm2d(4), ReLU,
// MaxPool2d(2), Conv2d(4, 5, (2, 3), stride=(2, 1)), Tanh, AvgPool2d(2), Flatten, Linear(5, 3)).
using net_b = tg::network<tg::input<144, double>, tg::unflatten<2, 9, 8>, tg::conv2d<4, 3, 3, tg::identity, tg::padding<1>>,
                          tg::batch_norm<tg::relu>, tg::max_pool2d<2>, tg::conv2d<5, 2, 3, tg::tanh, tg::stride<2, 1>>,
                          tg::avg_pool2d<2>, tg::flatten, tg::dense<3>>;
constexpr std::size_t modules_b[] = {0, 1, 2, 4, 5, 7, 8, 9};

std::vector<double> values(const json& tensor) { return tensor.at("values").get<std::vector<double>>(); }

// Values of tensor `name` of a state_dict-like object at (row, col) of the tensor seen as
// [shape[0], product of the rest], as the parameter blocks' for_each visits them.
double at(const json& tensors, const std::string& name, std::size_t row, std::size_t col) {
  const json& t = tensors.at(name);
  const auto shape = t.at("shape").get<std::vector<std::size_t>>();
  std::size_t cols = 1;
  for (std::size_t k = 1; k < shape.size(); ++k) cols *= shape[k];
  return t.at("values").at(row * cols + col).get<double>();
}

std::string tensor_name(std::size_t module, std::size_t block) {
  return std::to_string(module) + (block == 0 ? ".weight" : ".bias");
}

// Calls f(name, row, col, value&) for every trainable parameter of a network or gradient object.
template <class Params, std::size_t N, class F>
void for_each_named(Params& p, const std::size_t (&modules)[N], F&& f) {
  p.for_each([&](std::size_t layer, auto block, std::size_t row, std::size_t col, auto& v) {
    f(tensor_name(modules[layer], decltype(block)::value), row, col, v);
  });
}

template <class Net, std::size_t N>
Net load(const json& state, const std::size_t (&modules)[N]) {
  Net net{tg::init::zeros{}};
  for_each_named(net.parameters(), modules, [&](const std::string& name, std::size_t r, std::size_t c, double& v) {
    v = at(state, name, r, c);
  });
  return net;
}

template <class Matrix>
Matrix matrix_from(const json& tensor) {
  Matrix m;
  const auto v = values(tensor);
  REQUIRE(v.size() == Matrix::size());
  for (std::size_t k = 0; k < v.size(); ++k) m.data()[k] = v[k];
  return m;
}

template <class A>
void require_close(const A& got, const json& expected, double eps = 1e-10) {
  const auto v = values(expected);
  REQUIRE(v.size() == A::size());
  for (std::size_t k = 0; k < v.size(); ++k) REQUIRE(got.data()[k] == Approx(v[k]).epsilon(eps).margin(eps));
}

template <class Params, std::size_t N>
void require_parameters_close(Params& p, const std::size_t (&modules)[N], const json& expected, double eps = 1e-10) {
  std::size_t compared = 0;
  for_each_named(p, modules, [&](const std::string& name, std::size_t r, std::size_t c, double v) {
    INFO(name << " (" << r << ", " << c << ")");
    REQUIRE(v == Approx(at(expected, name, r, c)).epsilon(eps).margin(eps));
    ++compared;
  });
  REQUIRE(compared == Params::count());
}

}  // namespace

TEST_CASE("conv1d net equals PyTorch: outputs, loss, dL/dx, gradients, one SGD step", "[conv][pytorch]") {
  const json& ref = reference().at("net_a");
  auto net = load<net_a>(ref.at("state_dict"), modules_a);
  const auto x = matrix_from<tg::matrix<double, 5, 38>>(ref.at("x"));
  const auto t = matrix_from<tg::matrix<double, 5, 3>>(ref.at("target"));
  require_close(net(x), ref.at("output"));
  REQUIRE(tg::loss_value(net, tg::mse{}, x, t) == Approx(ref.at("loss").get<double>()).epsilon(1e-12));
  require_close(tg::input_gradient(net, tg::mse{}, x, t), ref.at("input_grad"));
  auto grad = tg::gradient(net, tg::mse{}, x, t);
  require_parameters_close(grad, modules_a, ref.at("grad"));

  SECTION("padding_same is padding (D (K - 1)) / 2 on both sides") {
    auto same = load<net_a_same>(ref.at("state_dict"), modules_a);
    require_close(same(x), ref.at("output"));
  }
  SECTION("batch 1") {
    const json& one = ref.at("batch1");
    tg::vector<double, 38> x1;
    tg::vector<double, 3> t1;
    for (std::size_t k = 0; k < 38; ++k) x1[k] = x(0, k);
    for (std::size_t k = 0; k < 3; ++k) t1[k] = t(0, k);
    require_close(net(x1), one.at("output"));
    REQUIRE(tg::loss_value(net, tg::mse{}, x1, t1) == Approx(one.at("loss").get<double>()).epsilon(1e-12));
    require_close(tg::input_gradient(net, tg::mse{}, x1, t1), one.at("input_grad"));
    auto g1 = tg::gradient(net, tg::mse{}, x1, t1);
    require_parameters_close(g1, modules_a, one.at("grad"));
  }
  SECTION("one SGD step, lr 0.1") {
    tg::train_step(net, tg::mse{}, tg::sgd{0.1}, x, t);
    require_parameters_close(net.parameters(), modules_a, ref.at("after_sgd_step"));
  }
}

TEST_CASE("conv2d + batch norm + pooling net equals PyTorch, running statistics included", "[conv][batch_norm][pytorch]") {
  const json& ref = reference().at("net_b");
  const json& state = ref.at("state_dict");
  auto net = load<net_b>(state, modules_b);
  auto& bn = tg::get<2>(net);
  for (std::size_t c = 0; c < 4; ++c) {
    bn.running_mean(c) = at(state, "2.running_mean", c, 0);
    bn.running_var(c) = at(state, "2.running_var", c, 0);
  }
  const auto x = matrix_from<tg::matrix<double, 5, 144>>(ref.at("x"));
  std::array<int, 5> t{};
  for (std::size_t b = 0; b < 5; ++b) t[b] = ref.at("target").at("values").at(b).get<int>();

  // Inference uses the running statistics, training passes the batch statistics.
  require_close(net(x), ref.at("eval_output"));
  REQUIRE(tg::loss_value(net, tg::softmax_cross_entropy{}, x, t) == Approx(ref.at("loss").get<double>()).epsilon(1e-12));
  require_close(tg::input_gradient(net, tg::softmax_cross_entropy{}, x, t), ref.at("input_grad"));
  auto grad = tg::gradient(net, tg::softmax_cross_entropy{}, x, t);
  require_parameters_close(grad, modules_b, ref.at("grad"));
  // gradient() and loss_value() leave the running statistics alone, as PyTorch's eval-free passes
  // would not: only a training step updates them.
  REQUIRE(bn.running_mean(0) == at(state, "2.running_mean", 0, 0));
  REQUIRE(bn.num_batches_tracked == 0);

  tg::train_step(net, tg::softmax_cross_entropy{}, tg::sgd{0.1}, x, t);
  const json& after = ref.at("after_sgd_step");
  require_parameters_close(net.parameters(), modules_b, after);
  for (std::size_t c = 0; c < 4; ++c) {
    REQUIRE(bn.running_mean(c) == Approx(at(after, "2.running_mean", c, 0)).epsilon(1e-12));
    REQUIRE(bn.running_var(c) == Approx(at(after, "2.running_var", c, 0)).epsilon(1e-12));
  }
  REQUIRE(bn.num_batches_tracked == 1);
}

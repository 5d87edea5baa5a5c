// The typegrad engine of the benchmark comparison: every row as a network type, train_step + sgd.
#include <typegrad/typegrad.hpp>

#include <array>
#include <exception>
#include <initializer_list>
#include <memory>
#include <string_view>

#include "common.hpp"

namespace tg = typegrad;

namespace {

using seed_net = tg::network<tg::input<2>, tg::dense<3, tg::identity>>;
using xor_net = tg::network<tg::input<2>, tg::dense<8, tg::tanh>, tg::dense<1, tg::sigmoid>>;
using cancer_net = tg::network<tg::input<30>, tg::dense<16, tg::relu>, tg::dense<16, tg::relu>, tg::dense<1, tg::sigmoid>>;
using mnist_net = tg::network<tg::input<784>, tg::dense<128, tg::relu>, tg::dense<10, tg::identity>>;
using wide_net =
    tg::network<tg::input<256>, tg::dense<256, tg::relu>, tg::dense<256, tg::relu>, tg::dense<256, tg::identity>>;
// The convolutional networks of bench/cases.py (CONV_NETWORKS).
using ecg_net = tg::network<tg::input<360>, tg::unflatten<1, 360>, tg::conv1d<8, 7, tg::relu, tg::stride<2>>,
                            tg::max_pool1d<2>, tg::conv1d<16, 5, tg::relu>, tg::max_pool1d<2>, tg::conv1d<16, 5, tg::relu>,
                            tg::global_avg_pool, tg::dense<1, tg::sigmoid>>;
using digits_net = tg::network<tg::input<64>, tg::unflatten<1, 8, 8>, tg::conv2d<16, 3, 3, tg::relu, tg::padding<1>>,
                               tg::max_pool2d<2>, tg::conv2d<32, 3, 3, tg::relu, tg::padding<1>>, tg::global_avg_pool,
                               tg::dense<10, tg::identity>>;

template <class Net>
std::vector<int> sizes_of() {
  std::vector<int> s{int(Net::in_size)};
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (s.push_back(int(Net::template layer_t<I>::out_size)), ...);
  }(std::make_index_sequence<Net::depth>{});
  return s;
}

/// The row's parameter tensors (state_dict order) into the network's layers that have parameters:
/// through for_each_tensor where the block has it, else as a dense layer's [out, in] weight and bias.
/// Every shape is checked, so a file for another architecture is an error.
template <class Net>
std::unique_ptr<Net> load_net(const bench::row_data& r, const std::string& id) {
  auto net = std::make_unique<Net>(tg::init::zeros{});
  std::size_t k = 0;
  auto next = [&](std::vector<int> shape) -> const std::vector<float>& {
    if (k >= r.params.size() || r.params[k].shape != shape)
      throw std::runtime_error(id + ": the data file's tensors differ from the engine's compiled network");
    return r.params[k++].values;
  };
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    auto load = [&](auto& block) {
      using block_t = std::remove_cvref_t<decltype(block)>;
      if constexpr (block_t::parameter_blocks == 0) {
      } else if constexpr (requires { block.for_each_tensor([](auto&&...) {}); }) {
        block.for_each_tensor([&](std::string_view, std::initializer_list<std::size_t> shape, float* data,
                                  std::size_t row_stride, std::size_t col_stride) {
          const auto& v = next(std::vector<int>(shape.begin(), shape.end()));
          const std::size_t rows = *shape.begin(), cols = v.size() / rows;
          for (std::size_t i = 0; i < rows; ++i)
            for (std::size_t j = 0; j < cols; ++j) data[i * row_stride + j * col_stride] = v[i * cols + j];
        });
      } else {
        const int out = int(block_t::out_size), in = int(block_t::in_size);
        const auto& w = next({out, in});
        const auto& b = next({out});
        for (std::size_t o = 0; o < std::size_t(out); ++o) {
          for (std::size_t i = 0; i < std::size_t(in); ++i) block.weight(o, i) = w[o * std::size_t(in) + i];
          block.bias(o) = b[o];
        }
      }
    };
    (load(tg::get<I>(*net)), ...);
  }(std::make_index_sequence<Net::depth>{});
  if (k != r.params.size()) throw std::runtime_error(id + ": the data file has more tensors than the network");
  return net;
}

/// Dense rows: the file's layer sizes; convolutional rows: its per-sample input and output sizes.
template <class Net>
void expect_network(const bench::row_data& r, const std::string& id, int batch) {
  if (r.modules.empty()) bench::expect_shape(r, id, sizes_of<Net>(), batch);
  else bench::expect_shape(r, id, {int(Net::in_size), int(Net::out_size)}, batch);
}

// A single sample is a vector (and its target a vector or a class index); B samples a matrix.
template <class Net, std::size_t B>
auto make_input(const bench::row_data& r) {
  if constexpr (B == 1) {
    tg::vector<float, Net::in_size> x;
    std::copy(r.x.begin(), r.x.end(), x.data());
    return x;
  } else {
    tg::matrix<float, B, Net::in_size> x;
    std::copy(r.x.begin(), r.x.end(), x.data());
    return x;
  }
}
template <class Net, std::size_t B, class Loss>
auto make_target(const bench::row_data& r) {
  if constexpr (std::is_same_v<Loss, tg::softmax_cross_entropy>) {
    if constexpr (B == 1) return r.t_class[0];
    else {
      std::array<int, B> t;
      std::copy(r.t_class.begin(), r.t_class.end(), t.begin());
      return t;
    }
  } else if constexpr (B == 1) {
    tg::vector<float, Net::out_size> t;
    std::copy(r.t.begin(), r.t.end(), t.data());
    return t;
  } else {
    tg::matrix<float, B, Net::out_size> t;
    std::copy(r.t.begin(), r.t.end(), t.data());
    return t;
  }
}

template <class Net, std::size_t B, class Loss>
void train(const bench::options& o, const std::string& id) {
  if (!o.wants(id)) return;
  const auto r = bench::load_row(o.data, id);
  expect_network<Net>(r, id, int(B));
  const auto start = load_net<Net>(r, id);
  auto net = std::make_unique<Net>(*start);
  auto x = make_input<Net, B>(r);
  const auto t = make_target<Net, B, Loss>(r);
  tg::sgd opt{0.01};
  bench::train_row row;
  row.step = [&] { return double(tg::train_step(*net, Loss{}, opt, x, t)); };
  row.reset = [&] { *net = *start; };
  row.run = [&](long n) {
    for (long s = 0; s < n; ++s) {
      bench::clobber(&x);
      tg::train_step(*net, Loss{}, opt, x, t);
    }
  };
  bench::do_train(o, id, row);
}

template <class Net>
void infer(const bench::options& o, const std::string& id) {
  if (!o.wants(id)) return;
  const auto r = bench::load_row(o.data, id);
  expect_network<Net>(r, id, 1);
  const auto net = load_net<Net>(r, id);
  auto x = make_input<Net, 1>(r);
  bench::infer_row row;
  row.output = [&] {
    const auto y = (*net)(x);
    return std::vector<double>(y.data(), y.data() + Net::out_size);
  };
  row.run = [&](long n) {
    for (long s = 0; s < n; ++s) {
      bench::clobber(&x);
      const auto y = (*net)(x);
      bench::keep(y);
    }
  };
  bench::do_infer(o, id, row);
}

}  // namespace

int main(int argc, char** argv) try {
  const auto o = bench::parse(argc, argv);
  bench::print_info("typegrad", xsimd::default_arch::name());
  train<seed_net, 2, tg::mse>(o, "seed_b2");
  train<xor_net, 1, tg::binary_cross_entropy>(o, "xor_b1");
  train<xor_net, 4, tg::binary_cross_entropy>(o, "xor_b4");
  train<cancer_net, 1, tg::binary_cross_entropy>(o, "cancer_b1");
  train<cancer_net, 32, tg::binary_cross_entropy>(o, "cancer_b32");
  train<mnist_net, 1, tg::softmax_cross_entropy>(o, "mnist_b1");
  train<mnist_net, 64, tg::softmax_cross_entropy>(o, "mnist_b64");
  train<wide_net, 64, tg::mse>(o, "wide_b64");
  infer<cancer_net>(o, "cancer_infer_b1");
  infer<mnist_net>(o, "mnist_infer_b1");
  train<ecg_net, 1, tg::binary_cross_entropy>(o, "ecg_b1");
  train<ecg_net, 32, tg::binary_cross_entropy>(o, "ecg_b32");
  train<digits_net, 1, tg::softmax_cross_entropy>(o, "digits_b1");
  train<digits_net, 64, tg::softmax_cross_entropy>(o, "digits_b64");
  infer<ecg_net>(o, "ecg_infer_b1");
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "typegrad_engine: %s\n", e.what());
  return 1;
}

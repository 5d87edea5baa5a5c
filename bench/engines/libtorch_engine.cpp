// The libtorch (PyTorch C++ API) engine: torch::nn::Sequential (Linear modules, or the convolutional
// modules listed in the row file, i.e. bench/cases.py's CONV_NETWORKS) + torch::optim::SGD, one thread.
#include <torch/torch.h>

#include <exception>
#include <sstream>
#include <string>

#include "common.hpp"

namespace {

torch::nn::Sequential make_model(const std::vector<int>& sizes, const std::vector<std::string>& acts) {
  torch::nn::Sequential m;
  for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
    m->push_back(torch::nn::Linear(sizes[l], sizes[l + 1]));
    if (acts[l] == "relu") m->push_back(torch::nn::ReLU());
    else if (acts[l] == "tanh") m->push_back(torch::nn::Tanh());
    else if (acts[l] == "sigmoid") m->push_back(torch::nn::Sigmoid());
  }
  return m;
}

/// nn.Sequential from the modules of a tensor row file ("conv1d 1 8 7 stride=2", one per line).
torch::nn::Sequential make_model(const std::string& modules) {
  namespace nn = torch::nn;
  nn::Sequential m;
  std::istringstream lines(modules);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string kind, w;
    words >> kind;
    std::vector<std::int64_t> a;
    std::int64_t stride = 1, padding = 0;
    while (words >> w) {
      if (w.rfind("stride=", 0) == 0) stride = std::stoll(w.substr(7));
      else if (w.rfind("padding=", 0) == 0) padding = std::stoll(w.substr(8));
      else if (w.find('=') != std::string::npos) throw std::runtime_error("unknown module option " + w);
      else a.push_back(std::stoll(w));
    }
    auto need = [&](std::size_t n) {
      if (a.size() != n) throw std::runtime_error("module '" + line + "': expected " + std::to_string(n) + " numbers");
    };
    if (kind == "unflatten") m->push_back(nn::Unflatten(nn::UnflattenOptions(1, a)));
    else if (kind == "conv1d") {
      need(3);
      m->push_back(nn::Conv1d(nn::Conv1dOptions(a[0], a[1], a[2]).stride(stride).padding(padding)));
    } else if (kind == "conv2d") {
      need(3);
      m->push_back(nn::Conv2d(nn::Conv2dOptions(a[0], a[1], a[2]).stride(stride).padding(padding)));
    } else if (kind == "maxpool1d") {
      need(1);
      m->push_back(nn::MaxPool1d(nn::MaxPool1dOptions(a[0])));
    } else if (kind == "maxpool2d") {
      need(1);
      m->push_back(nn::MaxPool2d(nn::MaxPool2dOptions(a[0])));
    } else if (kind == "adaptiveavgpool1d") {
      need(1);
      m->push_back(nn::AdaptiveAvgPool1d(nn::AdaptiveAvgPool1dOptions(a[0])));
    } else if (kind == "adaptiveavgpool2d") {
      need(1);
      m->push_back(nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions(a[0])));
    } else if (kind == "flatten") m->push_back(nn::Flatten());
    else if (kind == "linear") {
      need(2);
      m->push_back(nn::Linear(a[0], a[1]));
    } else if (kind == "relu") m->push_back(nn::ReLU());
    else if (kind == "tanh") m->push_back(nn::Tanh());
    else if (kind == "sigmoid") m->push_back(nn::Sigmoid());
    else throw std::runtime_error("unknown module '" + line + "'");
  }
  return m;
}

std::vector<torch::Tensor> initial_parameters(const bench::row_data& r) {
  std::vector<torch::Tensor> p;
  for (const auto& t : r.params) {
    const std::vector<std::int64_t> shape(t.shape.begin(), t.shape.end());
    p.push_back(torch::from_blob(const_cast<float*>(t.values.data()), shape).clone());
  }
  return p;
}

void set_parameters(torch::nn::Sequential& m, const std::vector<torch::Tensor>& p) {
  torch::NoGradGuard no_grad;
  auto params = m->parameters();  // weight, bias per module with weights, in order
  if (params.size() != p.size()) throw std::runtime_error("the data file's parameters differ from the model's");
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (!params[i].sizes().equals(p[i].sizes())) throw std::runtime_error("the data file's parameter shapes differ from the model's");
    params[i].copy_(p[i]);
  }
}

// ATen's kernel ISA, from its build summary ("CPU capability usage: AVX2").
std::string cpu_capability() {
  const std::string c = torch::show_config(), key = "CPU capability usage: ";
  const auto p = c.find(key);
  if (p == std::string::npos) return "unknown";
  return c.substr(p + key.size(), c.find('\n', p) - p - key.size());
}

struct row_spec {
  const char* id;
  std::vector<int> sizes;  // {in, out} of a convolutional row (its modules come from the data file)
  std::vector<std::string> acts;
  const char* loss;  // mse, bce, ce
  int batch;
  bool inference;
  bool conv = false;
};

void run_row(const bench::options& o, const row_spec& s) {
  if (!o.wants(s.id)) return;
  const auto r = bench::load_row(o.data, s.id);
  bench::expect_shape(r, s.id, s.sizes, s.batch);
  auto model = s.conv ? make_model(r.modules) : make_model(s.sizes, s.acts);
  const auto start = initial_parameters(r);
  set_parameters(model, start);
  const long B = s.batch, in = s.sizes.front(), out = s.sizes.back();
  const auto x = torch::from_blob(const_cast<float*>(r.x.data()), {B, in}).clone();
  const std::string loss_name = s.loss;
  torch::Tensor t = loss_name == "ce" ? torch::from_blob(const_cast<int*>(r.t_class.data()), {B}, torch::kInt32).to(torch::kLong)
                                      : torch::from_blob(const_cast<float*>(r.t.data()), {B, out}).clone();
  if (s.inference) {
    bench::infer_row row;
    row.output = [&] {
      torch::InferenceMode guard;
      const auto y = model->forward(x).contiguous();
      return std::vector<double>(y.data_ptr<float>(), y.data_ptr<float>() + y.numel());
    };
    row.run = [&](long n) {
      torch::InferenceMode guard;
      for (long k = 0; k < n; ++k) bench::keep(model->forward(x));
    };
    bench::do_infer(o, s.id, row);
    return;
  }
  torch::optim::SGD opt(model->parameters(), torch::optim::SGDOptions(0.01));
  auto step = [&] {
    opt.zero_grad();
    const auto y = model->forward(x);
    torch::Tensor loss;
    if (loss_name == "mse") loss = torch::mse_loss(y, t);
    else if (loss_name == "bce") loss = torch::binary_cross_entropy(y, t);
    else loss = torch::cross_entropy_loss(y, t);
    loss.backward();
    opt.step();
    return loss;
  };
  bench::train_row row;
  row.step = [&] { return double(step().item<float>()); };
  row.reset = [&] { set_parameters(model, start); };
  row.run = [&](long n) {
    for (long k = 0; k < n; ++k) step();
  };
  bench::do_train(o, s.id, row);
}

}  // namespace

int main(int argc, char** argv) try {
  const auto o = bench::parse(argc, argv);
  torch::set_num_threads(1);
  bench::print_info("libtorch", cpu_capability());
  const std::vector<row_spec> rows = {
      {"seed_b2", {2, 3}, {"identity"}, "mse", 2, false},
      {"xor_b1", {2, 8, 1}, {"tanh", "sigmoid"}, "bce", 1, false},
      {"xor_b4", {2, 8, 1}, {"tanh", "sigmoid"}, "bce", 4, false},
      {"cancer_b1", {30, 16, 16, 1}, {"relu", "relu", "sigmoid"}, "bce", 1, false},
      {"cancer_b32", {30, 16, 16, 1}, {"relu", "relu", "sigmoid"}, "bce", 32, false},
      {"mnist_b1", {784, 128, 10}, {"relu", "identity"}, "ce", 1, false},
      {"mnist_b64", {784, 128, 10}, {"relu", "identity"}, "ce", 64, false},
      {"wide_b64", {256, 256, 256, 256}, {"relu", "relu", "identity"}, "mse", 64, false},
      {"cancer_infer_b1", {30, 16, 16, 1}, {"relu", "relu", "sigmoid"}, "bce", 1, true},
      {"mnist_infer_b1", {784, 128, 10}, {"relu", "identity"}, "ce", 1, true},
      {"ecg_b1", {360, 1}, {}, "bce", 1, false, true},
      {"ecg_b32", {360, 1}, {}, "bce", 32, false, true},
      {"digits_b1", {64, 10}, {}, "ce", 1, false, true},
      {"digits_b64", {64, 10}, {}, "ce", 64, false, true},
      {"ecg_infer_b1", {360, 1}, {}, "bce", 1, true, true},
  };
  for (const auto& s : rows) run_row(o, s);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "libtorch_engine: %s\n", e.what());
  return 1;
}

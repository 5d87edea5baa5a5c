// The hand-written Eigen 3.4 baseline: fixed-size matrices, noalias GEMMs, SGD fused into the
// backward pass, output activation fused with its loss. What a careful C++ engineer would write.

// Fixed-size matrices as large as 128×784 live in heap-allocated models here, never on the stack.
#define EIGEN_STACK_ALLOCATION_LIMIT 0
#include <Eigen/Core>

#include <exception>
#include <memory>

#include "common.hpp"

namespace {

enum class act { identity, relu, tanh, sigmoid };

/// One dense layer for B samples stored as columns: Y = act(W·X + b).
template <int In, int Out, int B, act A>
struct dense {
  Eigen::Matrix<float, Out, In> w;
  Eigen::Matrix<float, Out, 1> b;
  Eigen::Matrix<float, Out, B> y;   // output (activation)
  Eigen::Matrix<float, Out, B> dz;  // dL/d(pre-activation)

  void load(const std::vector<float>& wf, const std::vector<float>& bf) {
    for (int o = 0; o < Out; ++o) {
      for (int i = 0; i < In; ++i) w(o, i) = wf[std::size_t(o * In + i)];
      b(o) = bf[std::size_t(o)];
    }
  }

  template <class X>
  void forward(const X& x) {
    y.noalias() = w * x;
    y.colwise() += b;
    if constexpr (A == act::relu) y = y.cwiseMax(0.0f);
    else if constexpr (A == act::tanh) y.array() = y.array().tanh();
    else if constexpr (A == act::sigmoid) y.array() = (1.0f + (-y.array()).exp()).inverse();
  }

  /// dz holds dL/dY on entry unless `fused` (then it already holds dL/dZ, from the loss).
  template <bool Fused, class X, class DX>
  void backward(const X& x, DX* dx, float lr) {
    if constexpr (!Fused) {
      if constexpr (A == act::relu) dz.array() = (y.array() > 0.0f).select(dz.array(), 0.0f);
      else if constexpr (A == act::tanh) dz.array() *= 1.0f - y.array().square();
      else if constexpr (A == act::sigmoid) dz.array() *= y.array() * (1.0f - y.array());
    }
    if (dx) dx->noalias() = w.transpose() * dz;  // before W changes
    w.noalias() -= (lr * dz) * x.transpose();
    b.noalias() -= lr * dz.rowwise().sum();
  }
};

constexpr float lr = 0.01f;

// Losses: each returns the mean loss and writes dL/dZ or dL/dY of the output layer.
template <class Y, class T, class D>
float mse(const Y& y, const T& t, D& dy) {
  const float n = float(y.size());
  dy = (2.0f / n) * (y - t);
  return (y - t).squaredNorm() / n;
}
// Binary cross-entropy on sigmoid outputs (logs clamped at −100 like nn.BCELoss); dL/dZ = (y − t)/n.
template <class Y, class T, class D>
float bce_sigmoid(const Y& y, const T& t, D& dz) {
  const float n = float(y.size());
  const auto ly = y.array().log().max(-100.0f);
  const auto l1y = (1.0f - y.array()).log().max(-100.0f);
  dz = (y - t) / n;
  return -(t.array() * ly + (1.0f - t.array()) * l1y).sum() / n;
}
// Softmax cross-entropy on logits, one class index per column; dL/dZ = (softmax − onehot)/B.
template <class Y, class D>
float softmax_ce(const Y& z, const std::vector<int>& cls, D& dz) {
  const int B = int(z.cols());
  float total = 0;
  for (int c = 0; c < B; ++c) {
    const float m = z.col(c).maxCoeff();
    const auto e = (z.col(c).array() - m).exp();
    const float s = e.sum();
    total += m + std::log(s) - z(cls[std::size_t(c)], c);
    dz.col(c).array() = e / (s * float(B));
    dz(cls[std::size_t(c)], c) -= 1.0f / float(B);
  }
  return total / float(B);
}

template <int N, int B>
Eigen::Matrix<float, N, B> columns(const std::vector<float>& rows) {
  Eigen::Matrix<float, N, B> m;
  for (int s = 0; s < B; ++s)
    for (int i = 0; i < N; ++i) m(i, s) = rows[std::size_t(s * N + i)];
  return m;
}

// ---- the networks ----

template <int B>
struct seed_model {
  static constexpr int in = 2, out = 3;
  dense<2, 3, B, act::identity> l0;
  Eigen::Matrix<float, 2, B> x;
  Eigen::Matrix<float, 3, B> t;
  void load(const bench::row_data& r) {
    l0.load(r.w[0], r.b[0]);
    x = columns<2, B>(r.x);
    t = columns<3, B>(r.t);
  }
  float step() {
    l0.forward(x);
    const float loss = mse(l0.y, t, l0.dz);
    l0.template backward<false>(x, static_cast<Eigen::Matrix<float, 2, B>*>(nullptr), lr);
    return loss;
  }
};

template <int B>
struct xor_model {
  dense<2, 8, B, act::tanh> l0;
  dense<8, 1, B, act::sigmoid> l1;
  Eigen::Matrix<float, 2, B> x;
  Eigen::Matrix<float, 1, B> t;
  void load(const bench::row_data& r) {
    l0.load(r.w[0], r.b[0]);
    l1.load(r.w[1], r.b[1]);
    x = columns<2, B>(r.x);
    t = columns<1, B>(r.t);
  }
  float step() {
    l0.forward(x);
    l1.forward(l0.y);
    const float loss = bce_sigmoid(l1.y, t, l1.dz);
    l1.template backward<true>(l0.y, &l0.dz, lr);
    l0.template backward<false>(x, static_cast<Eigen::Matrix<float, 2, B>*>(nullptr), lr);
    return loss;
  }
};

template <int B>
struct cancer_model {
  dense<30, 16, B, act::relu> l0;
  dense<16, 16, B, act::relu> l1;
  dense<16, 1, B, act::sigmoid> l2;
  Eigen::Matrix<float, 30, B> x;
  Eigen::Matrix<float, 1, B> t;
  void load(const bench::row_data& r) {
    l0.load(r.w[0], r.b[0]);
    l1.load(r.w[1], r.b[1]);
    l2.load(r.w[2], r.b[2]);
    x = columns<30, B>(r.x);
    if (!r.t.empty()) t = columns<1, B>(r.t);
  }
  void forward() {
    l0.forward(x);
    l1.forward(l0.y);
    l2.forward(l1.y);
  }
  float step() {
    forward();
    const float loss = bce_sigmoid(l2.y, t, l2.dz);
    l2.template backward<true>(l1.y, &l1.dz, lr);
    l1.template backward<false>(l0.y, &l0.dz, lr);
    l0.template backward<false>(x, static_cast<Eigen::Matrix<float, 30, B>*>(nullptr), lr);
    return loss;
  }
  const auto& output() const { return l2.y; }
};

template <int B>
struct mnist_model {
  dense<784, 128, B, act::relu> l0;
  dense<128, 10, B, act::identity> l1;
  Eigen::Matrix<float, 784, B> x;
  std::vector<int> t;
  void load(const bench::row_data& r) {
    l0.load(r.w[0], r.b[0]);
    l1.load(r.w[1], r.b[1]);
    x = columns<784, B>(r.x);
    t = r.t_class;
  }
  void forward() {
    l0.forward(x);
    l1.forward(l0.y);
  }
  float step() {
    forward();
    const float loss = softmax_ce(l1.y, t, l1.dz);
    l1.template backward<true>(l0.y, &l0.dz, lr);
    l0.template backward<false>(x, static_cast<Eigen::Matrix<float, 784, B>*>(nullptr), lr);
    return loss;
  }
  const auto& output() const { return l1.y; }
};

template <int B>
struct wide_model {
  dense<256, 256, B, act::relu> l0;
  dense<256, 256, B, act::relu> l1;
  dense<256, 256, B, act::identity> l2;
  Eigen::Matrix<float, 256, B> x, t;
  void load(const bench::row_data& r) {
    l0.load(r.w[0], r.b[0]);
    l1.load(r.w[1], r.b[1]);
    l2.load(r.w[2], r.b[2]);
    x = columns<256, B>(r.x);
    t = columns<256, B>(r.t);
  }
  float step() {
    l0.forward(x);
    l1.forward(l0.y);
    l2.forward(l1.y);
    const float loss = mse(l2.y, t, l2.dz);
    l2.template backward<false>(l1.y, &l1.dz, lr);
    l1.template backward<false>(l0.y, &l0.dz, lr);
    l0.template backward<false>(x, static_cast<Eigen::Matrix<float, 256, B>*>(nullptr), lr);
    return loss;
  }
};

template <class Model>
void train(const bench::options& o, const std::string& id, std::vector<int> sizes, int batch) {
  if (!o.wants(id)) return;
  const auto r = bench::load_row(o.data, id);
  bench::expect_shape(r, id, sizes, batch);
  auto start = std::make_unique<Model>();
  start->load(r);
  auto m = std::make_unique<Model>(*start);
  bench::train_row row;
  row.step = [&] { return double(m->step()); };
  row.reset = [&] { *m = *start; };
  row.run = [&](long n) {
    for (long s = 0; s < n; ++s) {
      bench::clobber(&m->x);
      m->step();
    }
  };
  bench::do_train(o, id, row);
}

template <class Model>
void infer(const bench::options& o, const std::string& id, std::vector<int> sizes) {
  if (!o.wants(id)) return;
  const auto r = bench::load_row(o.data, id);
  bench::expect_shape(r, id, sizes, 1);
  auto m = std::make_unique<Model>();
  m->load(r);
  bench::infer_row row;
  row.output = [&] {
    m->forward();
    const auto& y = m->output();
    return std::vector<double>(y.data(), y.data() + y.size());
  };
  row.run = [&](long n) {
    for (long s = 0; s < n; ++s) {
      bench::clobber(&m->x);
      m->forward();
      bench::keep(m->output());
    }
  };
  bench::do_infer(o, id, row);
}

const char* simd_name() {
#if defined(__AVX512F__)
  return "avx512f";
#elif defined(__AVX2__)
  return "avx2";
#else
  return "sse2";
#endif
}

}  // namespace

int main(int argc, char** argv) try {
  const auto o = bench::parse(argc, argv);
  bench::print_info("eigen", simd_name());
  train<seed_model<2>>(o, "seed_b2", {2, 3}, 2);
  train<xor_model<1>>(o, "xor_b1", {2, 8, 1}, 1);
  train<xor_model<4>>(o, "xor_b4", {2, 8, 1}, 4);
  train<cancer_model<1>>(o, "cancer_b1", {30, 16, 16, 1}, 1);
  train<cancer_model<32>>(o, "cancer_b32", {30, 16, 16, 1}, 32);
  train<mnist_model<1>>(o, "mnist_b1", {784, 128, 10}, 1);
  train<mnist_model<64>>(o, "mnist_b64", {784, 128, 10}, 64);
  train<wide_model<64>>(o, "wide_b64", {256, 256, 256, 256}, 64);
  infer<cancer_model<1>>(o, "cancer_infer_b1", {30, 16, 16, 1});
  infer<mnist_model<1>>(o, "mnist_infer_b1", {784, 128, 10});
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "eigen_engine: %s\n", e.what());
  return 1;
}

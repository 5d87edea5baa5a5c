// The hand-written baseline of the convolutional rows: plain C++ (no typegrad, no Eigen), every size a
// compile-time constant, direct convolution loops ordered so that the innermost loop runs over
// contiguous output positions (the compiler vectorises it; -O3 -march as typegrad), the weight
// gradients' dot products marked `omp simd reduction` (-fopenmp-simd: float sums are not reordered
// otherwise). Padded convolutions read a zero-bordered copy of their input, written by the layer
// before; max pooling keeps its argmax; SGD after the backward pass. What a competent C++ engineer
// would write by hand for these two networks (bench/cases.py: ecg, digits).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>
#include <memory>
#include <type_traits>
#include <vector>

#include "common.hpp"

namespace {

constexpr float lr = 0.01f;

// ---- layers (one sample at a time; the model loops over the batch) ----

/// y = relu(conv1d(x) + b): x [C][L], weight [O][C][K], stride S, no padding; y [O][Lo].
template <int C, int L, int O, int K, int S = 1>
struct conv1d_relu {
  static constexpr int out = (L - K) / S + 1;
  alignas(64) float w[O][C][K];
  alignas(64) float b[O];
  alignas(64) float gw[O][C][K] = {};
  alignas(64) float gb[O] = {};

  void forward(const float (&x)[C][L], float (&y)[O][out]) const noexcept {
    for (int o = 0; o < O; ++o) {
      float* yo = y[o];
      for (int l = 0; l < out; ++l) yo[l] = b[o];
      for (int c = 0; c < C; ++c)
        for (int k = 0; k < K; ++k) {
          const float wv = w[o][c][k];
          const float* xc = x[c] + k;
          for (int l = 0; l < out; ++l) yo[l] += wv * xc[l * S];
        }
      for (int l = 0; l < out; ++l) yo[l] = std::max(yo[l], 0.0f);
    }
  }

  /// dy: dL/dy on entry (turned into dL/d(pre-activation) in place); accumulates gw, gb; dx if given.
  void backward(const float (&x)[C][L], const float (&y)[O][out], float (&dy)[O][out], float (*dx)[C][L]) noexcept {
    for (int o = 0; o < O; ++o) {
      float* d = dy[o];
      float sb = 0;
#pragma omp simd reduction(+ : sb)
      for (int l = 0; l < out; ++l) {
        d[l] = y[o][l] > 0.0f ? d[l] : 0.0f;
        sb += d[l];
      }
      gb[o] += sb;
      for (int c = 0; c < C; ++c)
        for (int k = 0; k < K; ++k) {
          const float* xc = x[c] + k;
          float s = 0;
#pragma omp simd reduction(+ : s)
          for (int l = 0; l < out; ++l) s += d[l] * xc[l * S];
          gw[o][c][k] += s;
        }
    }
    if (dx) {
      for (int c = 0; c < C; ++c)
        for (int l = 0; l < L; ++l) (*dx)[c][l] = 0;
      for (int o = 0; o < O; ++o)
        for (int c = 0; c < C; ++c)
          for (int k = 0; k < K; ++k) {
            const float wv = w[o][c][k];
            float* dxc = (*dx)[c] + k;
            for (int l = 0; l < out; ++l) dxc[l * S] += wv * dy[o][l];
          }
    }
  }

  void sgd() noexcept {
    for (int o = 0; o < O; ++o) {
      for (int c = 0; c < C; ++c)
        for (int k = 0; k < K; ++k) {
          w[o][c][k] -= lr * gw[o][c][k];
          gw[o][c][k] = 0;
        }
      b[o] -= lr * gb[o];
      gb[o] = 0;
    }
  }
};

/// y = relu(conv2d(x) + b) with padding P, stride 1: xp [C][H+2P][W+2P] is the input with a zero
/// border (the border is never written), weight [O][C][K][K]; y [O][H+2P-K+1][W+2P-K+1].
template <int C, int H, int W, int O, int K, int P>
struct conv2d_relu {
  static constexpr int hp = H + 2 * P, wp = W + 2 * P, ho = hp - K + 1, wo = wp - K + 1;
  alignas(64) float w[O][C][K][K];
  alignas(64) float b[O];
  alignas(64) float gw[O][C][K][K] = {};
  alignas(64) float gb[O] = {};

  void forward(const float (&xp)[C][hp][wp], float (&y)[O][ho][wo]) const noexcept {
    for (int o = 0; o < O; ++o) {
      for (int i = 0; i < ho; ++i)
        for (int j = 0; j < wo; ++j) y[o][i][j] = b[o];
      for (int c = 0; c < C; ++c)
        for (int ki = 0; ki < K; ++ki)
          for (int kj = 0; kj < K; ++kj) {
            const float wv = w[o][c][ki][kj];
            for (int i = 0; i < ho; ++i)
              for (int j = 0; j < wo; ++j) y[o][i][j] += wv * xp[c][i + ki][j + kj];
          }
      for (int i = 0; i < ho; ++i)
        for (int j = 0; j < wo; ++j) y[o][i][j] = std::max(y[o][i][j], 0.0f);
    }
  }

  /// As conv1d_relu::backward; dxp (if given) receives dL/dxp, border included.
  void backward(const float (&xp)[C][hp][wp], const float (&y)[O][ho][wo], float (&dy)[O][ho][wo],
                float (*dxp)[C][hp][wp]) noexcept {
    for (int o = 0; o < O; ++o) {
      float sb = 0;
      for (int i = 0; i < ho; ++i) {
#pragma omp simd reduction(+ : sb)
        for (int j = 0; j < wo; ++j) {
          dy[o][i][j] = y[o][i][j] > 0.0f ? dy[o][i][j] : 0.0f;
          sb += dy[o][i][j];
        }
      }
      gb[o] += sb;
      for (int c = 0; c < C; ++c)
        for (int ki = 0; ki < K; ++ki)
          for (int kj = 0; kj < K; ++kj) {
            float s = 0;
            for (int i = 0; i < ho; ++i) {
#pragma omp simd reduction(+ : s)
              for (int j = 0; j < wo; ++j) s += dy[o][i][j] * xp[c][i + ki][j + kj];
            }
            gw[o][c][ki][kj] += s;
          }
    }
    if (dxp) {
      for (int c = 0; c < C; ++c)
        for (int i = 0; i < hp; ++i)
          for (int j = 0; j < wp; ++j) (*dxp)[c][i][j] = 0;
      for (int o = 0; o < O; ++o)
        for (int c = 0; c < C; ++c)
          for (int ki = 0; ki < K; ++ki)
            for (int kj = 0; kj < K; ++kj) {
              const float wv = w[o][c][ki][kj];
              for (int i = 0; i < ho; ++i)
                for (int j = 0; j < wo; ++j) (*dxp)[c][i + ki][j + kj] += wv * dy[o][i][j];
            }
    }
  }

  void sgd() noexcept {
    for (int o = 0; o < O; ++o) {
      for (int c = 0; c < C; ++c)
        for (int ki = 0; ki < K; ++ki)
          for (int kj = 0; kj < K; ++kj) {
            w[o][c][ki][kj] -= lr * gw[o][c][ki][kj];
            gw[o][c][ki][kj] = 0;
          }
      b[o] -= lr * gb[o];
      gb[o] = 0;
    }
  }
};

/// MaxPool1d(2) over [C][L] (a trailing odd element is dropped, as in PyTorch); arg = 0/1 per output.
template <int C, int L>
struct max_pool1d2 {
  static constexpr int out = L / 2;
  static void forward(const float (&x)[C][L], float (&y)[C][out], std::uint8_t (&arg)[C][out]) noexcept {
    for (int c = 0; c < C; ++c)
      for (int i = 0; i < out; ++i) {
        const float a = x[c][2 * i], b = x[c][2 * i + 1];
        arg[c][i] = b > a;  // ties go to the first, as in PyTorch
        y[c][i] = b > a ? b : a;
      }
  }
  static void backward(const float (&dy)[C][out], const std::uint8_t (&arg)[C][out], float (&dx)[C][L]) noexcept {
    for (int c = 0; c < C; ++c) {
      for (int i = 0; i < out; ++i) {
        dx[c][2 * i] = arg[c][i] ? 0.0f : dy[c][i];
        dx[c][2 * i + 1] = arg[c][i] ? dy[c][i] : 0.0f;
      }
      for (int l = 2 * out; l < L; ++l) dx[c][l] = 0;
    }
  }
};

/// MaxPool2d(2) over [C][H][W] (even sizes); arg = window position 0..3 (row-major) per output.
/// Writes into the interior of a buffer with a zero border of `Pad` (the next convolution's input).
template <int C, int H, int W, int Pad>
struct max_pool2d2 {
  static constexpr int ho = H / 2, wo = W / 2;
  using padded_out = float[C][ho + 2 * Pad][wo + 2 * Pad];
  static void forward(const float (&x)[C][H][W], padded_out& y, std::uint8_t (&arg)[C][ho][wo]) noexcept {
    for (int c = 0; c < C; ++c)
      for (int i = 0; i < ho; ++i)
        for (int j = 0; j < wo; ++j) {
          const float v[4] = {x[c][2 * i][2 * j], x[c][2 * i][2 * j + 1], x[c][2 * i + 1][2 * j], x[c][2 * i + 1][2 * j + 1]};
          int a = 0;
          for (int k = 1; k < 4; ++k)
            if (v[k] > v[a]) a = k;
          arg[c][i][j] = std::uint8_t(a);
          y[c][i + Pad][j + Pad] = v[a];
        }
  }
  static void backward(const padded_out& dy, const std::uint8_t (&arg)[C][ho][wo], float (&dx)[C][H][W]) noexcept {
    for (int c = 0; c < C; ++c)
      for (int i = 0; i < ho; ++i)
        for (int j = 0; j < wo; ++j) {
          const int a = arg[c][i][j];
          const float d = dy[c][i + Pad][j + Pad];
          dx[c][2 * i][2 * j] = a == 0 ? d : 0.0f;
          dx[c][2 * i][2 * j + 1] = a == 1 ? d : 0.0f;
          dx[c][2 * i + 1][2 * j] = a == 2 ? d : 0.0f;
          dx[c][2 * i + 1][2 * j + 1] = a == 3 ? d : 0.0f;
        }
  }
};

/// Global average pooling over the N positions of each of C channels.
template <int C, int N>
struct avg_pool {
  static void forward(const float* x, float (&y)[C]) noexcept {
    for (int c = 0; c < C; ++c) {
      float s = 0;
      for (int n = 0; n < N; ++n) s += x[c * N + n];
      y[c] = s * (1.0f / N);
    }
  }
  static void backward(const float (&dy)[C], float* dx) noexcept {
    for (int c = 0; c < C; ++c)
      for (int n = 0; n < N; ++n) dx[c * N + n] = dy[c] * (1.0f / N);
  }
};

/// z = W·x + b: W [O][I].
template <int I, int O>
struct linear {
  alignas(64) float w[O][I];
  alignas(64) float b[O];
  alignas(64) float gw[O][I] = {};
  alignas(64) float gb[O] = {};

  void forward(const float (&x)[I], float (&z)[O]) const noexcept {
    for (int o = 0; o < O; ++o) {
      float s = b[o];
      for (int i = 0; i < I; ++i) s += w[o][i] * x[i];
      z[o] = s;
    }
  }
  void backward(const float (&x)[I], const float (&dz)[O], float (&dx)[I]) noexcept {
    for (int i = 0; i < I; ++i) dx[i] = 0;
    for (int o = 0; o < O; ++o) {
      gb[o] += dz[o];
      for (int i = 0; i < I; ++i) {
        gw[o][i] += dz[o] * x[i];
        dx[i] += w[o][i] * dz[o];
      }
    }
  }
  void sgd() noexcept {
    for (int o = 0; o < O; ++o) {
      for (int i = 0; i < I; ++i) {
        w[o][i] -= lr * gw[o][i];
        gw[o][i] = 0;
      }
      b[o] -= lr * gb[o];
      gb[o] = 0;
    }
  }
};

// ---- loading ----

/// Copies tensor k of the row into a fixed-size array (shapes were checked by expect_tensors).
template <class A>
void load_tensor(A& dst, const bench::row_data& r, std::size_t k) {
  static_assert(std::is_trivially_copyable_v<A>);
  const auto& v = r.params[k].values;
  if (v.size() * sizeof(float) != sizeof(A)) throw std::runtime_error("tensor size mismatch");
  std::memcpy(&dst, v.data(), sizeof(A));
}

// ---- the networks ----

/// ecg: Conv1d(1,8,7,stride 2) ReLU MaxPool(2) Conv1d(8,16,5) ReLU MaxPool(2) Conv1d(16,16,5) ReLU
/// global average, Linear(16,1), sigmoid + binary cross-entropy.
template <int B>
struct ecg_model {
  static constexpr int in = 360;
  conv1d_relu<1, 360, 8, 7, 2> c1;  // -> 8 x 177
  using pool1 = max_pool1d2<8, 177>;  // -> 8 x 88
  conv1d_relu<8, 88, 16, 5> c2;     // -> 16 x 84
  using pool2 = max_pool1d2<16, 84>;  // -> 16 x 42
  conv1d_relu<16, 42, 16, 5> c3;    // -> 16 x 38
  using gap = avg_pool<16, 38>;
  linear<16, 1> fc;

  alignas(64) float x[B][1][in];
  float t[B];
  alignas(64) float y1[B][8][177], p1[B][8][88], y2[B][16][84], p2[B][16][42], y3[B][16][38];
  std::uint8_t a1[B][8][88], a2[B][16][42];
  float g[B][16], z[B][1], out[B][1];
  // gradients
  alignas(64) float dy1[B][8][177], dp1[B][8][88], dy2[B][16][84], dp2[B][16][42], dy3[B][16][38];
  float dg[B][16], dz[B][1];

  static std::vector<std::vector<int>> shapes() {
    return {{8, 1, 7}, {8}, {16, 8, 5}, {16}, {16, 16, 5}, {16}, {1, 16}, {1}};
  }
  void load(const bench::row_data& r, const std::string& id) {
    bench::expect_tensors(r, id, shapes(), B, in);
    load_tensor(c1.w, r, 0);
    load_tensor(c1.b, r, 1);
    load_tensor(c2.w, r, 2);
    load_tensor(c2.b, r, 3);
    load_tensor(c3.w, r, 4);
    load_tensor(c3.b, r, 5);
    load_tensor(fc.w, r, 6);
    load_tensor(fc.b, r, 7);
    std::copy(r.x.begin(), r.x.end(), &x[0][0][0]);
    if (!r.t.empty()) std::copy(r.t.begin(), r.t.end(), t);
  }
  void forward() noexcept {
    for (int s = 0; s < B; ++s) {
      c1.forward(x[s], y1[s]);
      pool1::forward(y1[s], p1[s], a1[s]);
      c2.forward(p1[s], y2[s]);
      pool2::forward(y2[s], p2[s], a2[s]);
      c3.forward(p2[s], y3[s]);
      gap::forward(&y3[s][0][0], g[s]);
      fc.forward(g[s], z[s]);
      out[s][0] = 1.0f / (1.0f + std::exp(-z[s][0]));
    }
  }
  float step() noexcept {
    forward();
    // Binary cross-entropy on the sigmoid (logs clamped at −100 as nn.BCELoss); dL/dz = (y − t)/B.
    float loss = 0;
    for (int s = 0; s < B; ++s) {
      const float y = out[s][0];
      loss -= t[s] * std::max(std::log(y), -100.0f) + (1 - t[s]) * std::max(std::log(1 - y), -100.0f);
      dz[s][0] = (y - t[s]) / B;
    }
    for (int s = 0; s < B; ++s) {
      fc.backward(g[s], dz[s], dg[s]);
      gap::backward(dg[s], &dy3[s][0][0]);
      c3.backward(p2[s], y3[s], dy3[s], &dp2[s]);
      pool2::backward(dp2[s], a2[s], dy2[s]);
      c2.backward(p1[s], y2[s], dy2[s], &dp1[s]);
      pool1::backward(dp1[s], a1[s], dy1[s]);
      c1.backward(x[s], y1[s], dy1[s], nullptr);
    }
    fc.sgd();
    c3.sgd();
    c2.sgd();
    c1.sgd();
    return loss / B;
  }
  const float* output() const noexcept { return &out[0][0]; }
  static constexpr int outputs = B;
};

/// digits: Conv2d(1,16,3,padding 1) ReLU MaxPool2d(2) Conv2d(16,32,3,padding 1) ReLU global average,
/// Linear(32,10), softmax cross-entropy with class targets.
template <int B>
struct digits_model {
  static constexpr int in = 64;
  conv2d_relu<1, 8, 8, 16, 3, 1> c1;     // -> 16 x 8 x 8
  using pool1 = max_pool2d2<16, 8, 8, 1>;  // -> 16 x 4 x 4, written with c2's zero border
  conv2d_relu<16, 4, 4, 32, 3, 1> c2;    // -> 32 x 4 x 4
  using gap = avg_pool<32, 16>;
  linear<32, 10> fc;

  alignas(64) float x[B][64];
  int t[B];
  alignas(64) float xp1[B][1][10][10] = {}, y1[B][16][8][8], xp2[B][16][6][6] = {}, y2[B][32][4][4];
  std::uint8_t a1[B][16][4][4];
  float g[B][32], z[B][10];
  alignas(64) float dy1[B][16][8][8], dxp2[B][16][6][6], dy2[B][32][4][4];
  float dg[B][32], dz[B][10];

  static std::vector<std::vector<int>> shapes() {
    return {{16, 1, 3, 3}, {16}, {32, 16, 3, 3}, {32}, {10, 32}, {10}};
  }
  void load(const bench::row_data& r, const std::string& id) {
    bench::expect_tensors(r, id, shapes(), B, in);
    load_tensor(c1.w, r, 0);
    load_tensor(c1.b, r, 1);
    load_tensor(c2.w, r, 2);
    load_tensor(c2.b, r, 3);
    load_tensor(fc.w, r, 4);
    load_tensor(fc.b, r, 5);
    std::copy(r.x.begin(), r.x.end(), &x[0][0]);
    if (!r.t_class.empty()) std::copy(r.t_class.begin(), r.t_class.end(), t);
  }
  void forward() noexcept {
    for (int s = 0; s < B; ++s) {
      for (int i = 0; i < 8; ++i)
        for (int j = 0; j < 8; ++j) xp1[s][0][i + 1][j + 1] = x[s][i * 8 + j];
      c1.forward(xp1[s], y1[s]);
      pool1::forward(y1[s], xp2[s], a1[s]);
      c2.forward(xp2[s], y2[s]);
      gap::forward(&y2[s][0][0][0], g[s]);
      fc.forward(g[s], z[s]);
    }
  }
  float step() noexcept {
    forward();
    // Softmax cross-entropy; dL/dz = (softmax − onehot)/B.
    float loss = 0;
    for (int s = 0; s < B; ++s) {
      float m = z[s][0];
      for (int k = 1; k < 10; ++k) m = std::max(m, z[s][k]);
      float e[10], sum = 0;
      for (int k = 0; k < 10; ++k) sum += e[k] = std::exp(z[s][k] - m);
      loss += m + std::log(sum) - z[s][t[s]];
      for (int k = 0; k < 10; ++k) dz[s][k] = e[k] / (sum * B);
      dz[s][t[s]] -= 1.0f / B;
    }
    for (int s = 0; s < B; ++s) {
      fc.backward(g[s], dz[s], dg[s]);
      gap::backward(dg[s], &dy2[s][0][0][0]);
      c2.backward(xp2[s], y2[s], dy2[s], &dxp2[s]);
      pool1::backward(dxp2[s], a1[s], dy1[s]);
      c1.backward(xp1[s], y1[s], dy1[s], nullptr);
    }
    fc.sgd();
    c2.sgd();
    c1.sgd();
    return loss / B;
  }
  const float* output() const noexcept { return &z[0][0]; }
  static constexpr int outputs = 10 * B;
};

template <class Model>
void train(const bench::options& o, const std::string& id) {
  if (!o.wants(id)) return;
  const auto r = bench::load_row(o.data, id);
  auto start = std::make_unique<Model>();
  start->load(r, id);
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
void infer(const bench::options& o, const std::string& id) {
  if (!o.wants(id)) return;
  const auto r = bench::load_row(o.data, id);
  auto m = std::make_unique<Model>();
  m->load(r, id);
  bench::infer_row row;
  row.output = [&] {
    m->forward();
    return std::vector<double>(m->output(), m->output() + Model::outputs);
  };
  row.run = [&](long n) {
    for (long s = 0; s < n; ++s) {
      bench::clobber(&m->x);
      m->forward();
      bench::keep(m->output()[0]);
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
  bench::print_info("direct", simd_name());
  train<ecg_model<1>>(o, "ecg_b1");
  train<ecg_model<32>>(o, "ecg_b32");
  train<digits_model<1>>(o, "digits_b1");
  train<digits_model<64>>(o, "digits_b64");
  infer<ecg_model<1>>(o, "ecg_infer_b1");
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "direct_engine: %s\n", e.what());
  return 1;
}

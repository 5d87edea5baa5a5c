// Shared by the C++ benchmark engines: the row file reader, the verify/time protocol and its JSON lines.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace bench {

/// One parameter tensor: PyTorch's shape and its values in PyTorch's (row-major) layout.
struct tensor {
  std::vector<int> shape;
  std::vector<float> values;
};

/// One row's initial state, as written by bench/gen_data.py (either format).
struct row_data {
  std::vector<int> sizes;  // dense rows: layer sizes, input first; tensor rows: {in, out}
  int batch = 0;
  int target_kind = 0;                    // 0: float targets [B][out]; 1: class indices [B]
  std::vector<std::vector<float>> w, b;   // dense rows, per layer: W[out][in] (PyTorch layout), b[out]
  std::vector<tensor> params;             // every parameter tensor in state_dict order (both formats)
  std::string modules;                    // tensor rows: the nn.Sequential modules, one per line (cases.py)
  std::vector<float> x;                   // [B][in]
  std::vector<float> t;                   // target_kind 0
  std::vector<int> t_class;               // target_kind 1

  int in() const { return sizes.front(); }
  int out() const { return sizes.back(); }
};

inline row_data load_row(const std::string& dir, const std::string& id) {
  const std::string path = dir + "/" + id + ".bin";
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path);
  auto read_i = [&] {
    std::int32_t v;
    f.read(reinterpret_cast<char*>(&v), 4);
    return int(v);
  };
  auto read_f = [&](std::vector<float>& v, std::size_t n) {
    v.resize(n);
    f.read(reinterpret_cast<char*>(v.data()), std::streamsize(n * 4));
  };
  row_data r;
  const int magic = read_i();
  if (magic == 0x31424754) {  // "TGB1": a dense network
    const int layers = read_i();
    for (int i = 0; i <= layers; ++i) r.sizes.push_back(read_i());
    r.batch = read_i();
    r.target_kind = read_i();
    r.w.resize(std::size_t(layers));
    r.b.resize(std::size_t(layers));
    for (std::size_t l = 0; l < std::size_t(layers); ++l) {
      read_f(r.w[l], std::size_t(r.sizes[l] * r.sizes[l + 1]));
      read_f(r.b[l], std::size_t(r.sizes[l + 1]));
      r.params.push_back({{r.sizes[l + 1], r.sizes[l]}, r.w[l]});
      r.params.push_back({{r.sizes[l + 1]}, r.b[l]});
    }
  } else if (magic == 0x32424754) {  // "TGB2": a list of tensors
    r.batch = read_i();
    r.target_kind = read_i();
    const int in = read_i(), out = read_i();
    r.sizes = {in, out};
    r.modules.resize(std::size_t(read_i()));
    f.read(r.modules.data(), std::streamsize(r.modules.size()));
    const int n = read_i();
    for (int k = 0; k < n && f; ++k) {
      tensor t;
      t.shape.resize(std::size_t(read_i()));
      std::size_t count = 1;
      for (auto& d : t.shape) count *= std::size_t(d = read_i());
      read_f(t.values, count);
      r.params.push_back(std::move(t));
    }
  } else {
    throw std::runtime_error(path + ": not a bench row file");
  }
  const auto B = std::size_t(r.batch), in = std::size_t(r.in()), out = std::size_t(r.out());
  read_f(r.x, B * in);
  if (r.target_kind == 0) read_f(r.t, B * out);
  else {
    r.t_class.resize(B);
    f.read(reinterpret_cast<char*>(r.t_class.data()), std::streamsize(B * 4));
  }
  if (!f) throw std::runtime_error(path + ": truncated");
  return r;
}

/// Throws unless the file describes the architecture the engine was compiled for.
inline void expect_shape(const row_data& r, const std::string& id, std::vector<int> sizes, int batch) {
  if (r.sizes != sizes || r.batch != batch)
    throw std::runtime_error(id + ": the data file's shape differs from the engine's compiled network");
}

/// Throws unless the file's parameter tensors have exactly these shapes (in state_dict order), its
/// batch is `batch` and its samples have `in` inputs.
inline void expect_tensors(const row_data& r, const std::string& id, const std::vector<std::vector<int>>& shapes,
                           int batch, int in) {
  bool same = r.params.size() == shapes.size() && r.batch == batch && r.in() == in;
  for (std::size_t k = 0; same && k < shapes.size(); ++k) same = r.params[k].shape == shapes[k];
  if (!same) throw std::runtime_error(id + ": the data file's tensors differ from the engine's compiled network");
}

/// Command line: --data DIR --mode verify|time [--budget seconds] [--rows id,id,...]
struct options {
  std::string data = ".";
  std::string mode = "verify";
  double budget = 0.15;
  std::vector<std::string> rows;
  int verify_steps = 10;

  bool wants(const std::string& id) const { return rows.empty() || std::find(rows.begin(), rows.end(), id) != rows.end(); }
};

inline options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--data") o.data = v;
    else if (k == "--mode") o.mode = v;
    else if (k == "--budget") o.budget = std::atof(v.c_str());
    else if (k == "--rows") {
      std::size_t s = 0;
      while (s <= v.size()) {
        const std::size_t e = std::min(v.find(',', s), v.size());
        if (e > s) o.rows.push_back(v.substr(s, e - s));
        s = e + 1;
      }
    } else throw std::runtime_error("unknown option " + k);
  }
  return o;
}

/// The BLAS library mapped into this process (from /proc/self/maps), or "none".
inline std::string mapped_blas() {
  std::ifstream maps("/proc/self/maps");
  std::string line, found = "none";
  while (std::getline(maps, line)) {
    const auto p = line.find('/');
    if (p == std::string::npos) continue;
    const std::string path = line.substr(p);
    if (path.find("openblas") != std::string::npos && path.find("libopenblas") != std::string::npos) return path;
    if (path.find("libblas.so") != std::string::npos) found = path;
  }
  return found;
}

inline void print_info(const char* engine, const std::string& isa) {
  std::printf("{\"info\": true, \"engine\": \"%s\", \"isa\": \"%s\", \"blas\": \"%s\"}\n", engine, isa.c_str(),
              mapped_blas().c_str());
  std::fflush(stdout);
}

/// Keeps the compiler from assuming *p unchanged (so a pure forward pass is not hoisted out of a loop).
template <class T>
inline void clobber(T* p) noexcept {
  asm volatile("" : : "r"(p) : "memory");
}
template <class T>
inline void keep(const T& v) noexcept {
  asm volatile("" : : "r"(&v) : "memory");
}

inline void print_values(const std::string& id, const char* key, const std::vector<double>& v) {
  std::printf("{\"row\": \"%s\", \"%s\": [", id.c_str(), key);
  for (std::size_t i = 0; i < v.size(); ++i) std::printf("%s%.9g", i ? ", " : "", v[i]);
  std::printf("]}\n");
  std::fflush(stdout);
}

/// Times `steps(n)` (n training steps or forward passes) and prints µs per step, both in process CPU
/// time (the primary figure: on a shared machine it leaves out the time this process was not
/// running) and in wall-clock time. The parameters are restored with `reset` between chunks of at
/// most 1000 steps, outside the timed region, so that a long run neither wanders into denormal
/// numbers nor times anything but steps. The cost of reading the clocks is measured and subtracted.
inline void time_row(const std::string& id, double budget, const std::function<void()>& reset,
                     const std::function<void(long)>& steps) {
  using clock = std::chrono::steady_clock;
  auto cpu_now = [] {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
  };
  struct span {
    double cpu, wall;
  };
  auto run = [&](long n) {
    reset();
    const double c0 = cpu_now();
    const auto t0 = clock::now();
    steps(n);
    const auto t1 = clock::now();
    const double c1 = cpu_now();
    return span{c1 - c0, std::chrono::duration<double>(t1 - t0).count()};
  };
  span overhead{1e9, 1e9};
  for (int k = 0; k < 50; ++k) {
    const span e = run(0);
    overhead = {std::min(overhead.cpu, e.cpu), std::min(overhead.wall, e.wall)};
  }
  // Warm-up (caches, page faults, branch predictors) and calibration, in growing chunks.
  double warm = 0;
  long n = 1, warm_steps = 0;
  while (warm < std::max(2e-3, budget / 10)) {
    warm += run(n).cpu;
    warm_steps += n;
    n = std::min(n * 2, 1000L);
  }
  const double per_step = warm / double(warm_steps);
  const long chunk = std::clamp(long(std::ceil(100e-6 / per_step)), 1L, 1000L);
  double cpu = 0, wall = 0;
  long done = 0;
  while (cpu < budget || done < 3) {
    const span s = run(chunk);
    cpu += std::max(s.cpu - overhead.cpu, 0.0);
    wall += std::max(s.wall - overhead.wall, 0.0);
    done += chunk;
  }
  std::printf("{\"row\": \"%s\", \"us\": %.6g, \"us_wall\": %.6g, \"steps\": %ld}\n", id.c_str(),
              cpu / double(done) * 1e6, wall / double(done) * 1e6, done);
  std::fflush(stdout);
}

/// The engine's rows: verify prints the losses of verify_steps + 1 steps (the last one being the loss
/// after verify_steps updates) or the inference output; time prints µs per step.
struct train_row {
  std::function<double()> step;   // one training step, returns the loss before the update
  std::function<void()> reset;    // back to the initial parameters
  std::function<void(long)> run;  // n steps, nothing returned (the timed loop)
};
struct infer_row {
  std::function<std::vector<double>()> output;
  std::function<void(long)> run;  // n forward passes
};

inline void do_train(const options& o, const std::string& id, const train_row& r) {
  if (o.mode == "verify") {
    r.reset();
    std::vector<double> losses;
    for (int s = 0; s <= o.verify_steps; ++s) losses.push_back(r.step());
    print_values(id, "losses", losses);
  } else {
    time_row(id, o.budget, r.reset, r.run);
  }
}
inline void do_infer(const options& o, const std::string& id, const infer_row& r) {
  if (o.mode == "verify") print_values(id, "output", r.output());
  else time_row(id, o.budget, [] {}, r.run);
}

}  // namespace bench

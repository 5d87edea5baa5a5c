// save_weights / load_weights for shaped layers: module numbering, N-d tensors, batch counters,
// architecture strings, all-or-nothing loads, and PyTorch's conv/pool/batch-norm state_dict.
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <typegrad/io/weights.hpp>
#include <typegrad/typegrad.hpp>

#if __has_include(<typegrad/layers/conv.hpp>) && __has_include(<typegrad/layers/pool.hpp>) && \
    __has_include(<typegrad/layers/batch_norm.hpp>)
#include <typegrad/layers/batch_norm.hpp>
#include <typegrad/layers/conv.hpp>
#include <typegrad/layers/pool.hpp>
#define TYPEGRAD_TEST_CONV_REFERENCE 1
#endif

namespace tg = typegrad;
using Catch::Matchers::Contains;
using nlohmann::json;

namespace {

static_assert(std::endian::native == std::endian::little, "the hand-built files below assume a little-endian host");

const std::filesystem::path data_dir = std::filesystem::path(TYPEGRAD_SOURCE_DIR) / "tests" / "data";

// ---- Two test-only layers with what conv and batch norm give weight files -----------------

/// y = f(W x + b) over a (C, L) input, with W seen as PyTorch's [Out, C, L] (a convolution whose
/// kernel covers the whole input) and stored input-major (element (o, c, l) at (c·L + l)·P + o),
/// so that the file's row-major order and the storage order differ. No describe(), no modules:
/// described generically, and it takes two module indices through its tanh activation.
template <class T, class InShape, std::size_t Out, bool Tanh>
struct mix3_layer {
  static constexpr std::size_t C = InShape::dims[0], L = InShape::dims[1], In = C * L, P = tg::padded<T>(Out);
  struct parameters {
    using value_type = T;
    static constexpr std::size_t parameter_blocks = 2;
    alignas(tg::alignment) T w_[In * P] = {};
    alignas(tg::alignment) T b_[P] = {};
    T& weight(std::size_t o, std::size_t c, std::size_t l) noexcept { return w_[(c * L + l) * P + o]; }
    static constexpr std::size_t count() noexcept { return Out * In + Out; }
    template <class F>
    void for_each(F&& f) const {
      for (std::size_t o = 0; o < Out; ++o)
        for (std::size_t i = 0; i < In; ++i) f(tg::simd::weight_c, o, i, w_[i * P + o]);
      for (std::size_t o = 0; o < Out; ++o) f(tg::simd::bias_c, o, std::size_t{0}, b_[o]);
    }
    template <class F>
    void for_each_tensor(F&& f) const {
      f(std::string_view("weight"), {Out, C, L}, w_, std::size_t{1}, P);
      f(std::string_view("bias"), {Out}, b_, std::size_t{1}, std::size_t{0});
    }
    template <class F>
    void for_each_tensor(F&& f) {
      f(std::string_view("weight"), {Out, C, L}, w_, std::size_t{1}, P);
      f(std::string_view("bias"), {Out}, b_, std::size_t{1}, std::size_t{0});
    }
    friend bool operator==(const parameters&, const parameters&) = default;
  };
  using value_type = T;
  using activation_type = std::conditional_t<Tanh, tg::tanh, tg::identity>;
  using in_shape = InShape;
  using out_shape = tg::shape<Out>;
  static constexpr std::size_t in_size = In, out_size = Out;
  template <std::size_t B>
  static constexpr tg::layout data_layout = tg::layout::rows;
  template <std::size_t B>
  struct cache {
    cache() noexcept {}
  };
  template <std::size_t B>
  static constexpr std::size_t scratch_size = 0;

  template <std::size_t B, tg::pass Pass>
  static void forward(const parameters& p, const T* x, cache<B>&, T* y, T*) noexcept {
    for (std::size_t b = 0; b < B; ++b)
      for (std::size_t o = 0; o < P; ++o) {
        T z = p.b_[o];
        for (std::size_t i = 0; i < In; ++i) z += p.w_[i * P + o] * x[b * tg::padded<T>(In) + i];
        y[b * P + o] = o < Out ? (Tanh ? std::tanh(z) : z) : T(0);
      }
  }
  template <std::size_t B, bool NeedDx, bool ActivationDone, class Update>
  static void backward(parameters&, const T*, const cache<B>&, const T*, T*, T* dx, T*, Update&) noexcept {
    if constexpr (NeedDx)
      for (std::size_t k = 0; k < B * tg::padded<T>(In); ++k) dx[k] = 0;  // not trained in these tests
  }
};
template <std::size_t Out, bool Tanh>
struct mix3 {
  template <class T, class InShape, std::size_t Index>
  using bind = mix3_layer<T, InShape, Out, Tanh>;
};

/// Batch norm's inference formula over a (C, L) input, with PyTorch's four tensors and its
/// num_batches_tracked counter; declares `modules` and describes itself.
template <class T, class InShape>
struct norm_layer {
  static constexpr std::size_t C = InShape::dims[0], L = InShape::dims[1];
  struct parameters {
    using value_type = T;
    static constexpr std::size_t parameter_blocks = 2;
    alignas(tg::alignment) T weight[tg::padded<T>(C)] = {};
    alignas(tg::alignment) T bias[tg::padded<T>(C)] = {};
    alignas(tg::alignment) T running_mean[tg::padded<T>(C)] = {};
    alignas(tg::alignment) T running_var[tg::padded<T>(C)] = {};
    std::int64_t num_batches_tracked = 0;
    static constexpr std::size_t count() noexcept { return 2 * C; }
    template <class F>
    void for_each(F&& f) const {
      for (std::size_t c = 0; c < C; ++c) f(tg::simd::weight_c, c, std::size_t{0}, weight[c]);
      for (std::size_t c = 0; c < C; ++c) f(tg::simd::bias_c, c, std::size_t{0}, bias[c]);
    }
    template <class F>
    void for_each_tensor(F&& f) const {
      f(std::string_view("weight"), {C}, weight, std::size_t{1}, std::size_t{0});
      f(std::string_view("bias"), {C}, bias, std::size_t{1}, std::size_t{0});
      f(std::string_view("running_mean"), {C}, running_mean, std::size_t{1}, std::size_t{0});
      f(std::string_view("running_var"), {C}, running_var, std::size_t{1}, std::size_t{0});
    }
    friend bool operator==(const parameters&, const parameters&) = default;
  };
  using value_type = T;
  using in_shape = InShape;
  using out_shape = InShape;
  static constexpr std::size_t in_size = InShape::size, out_size = InShape::size;
  static constexpr std::size_t modules = 1;
  static std::string describe() { return "norm<" + std::to_string(C) + ">"; }
  template <std::size_t B>
  static constexpr tg::layout data_layout = tg::layout::rows;
  template <std::size_t B>
  struct cache {
    cache() noexcept {}
  };
  template <std::size_t B>
  static constexpr std::size_t scratch_size = 0;

  template <std::size_t B, tg::pass Pass>
  static void forward(const parameters& p, const T* x, cache<B>&, T* y, T*) noexcept {
    constexpr std::size_t P = tg::padded<T>(in_size);
    for (std::size_t b = 0; b < B; ++b)
      for (std::size_t k = 0; k < P; ++k) {
        const std::size_t c = k / L;
        y[b * P + k] = k < in_size ? (x[b * P + k] - p.running_mean[c]) / std::sqrt(p.running_var[c] + T(1e-5)) *
                                             p.weight[c] +
                                         p.bias[c]
                                   : T(0);
      }
  }
  template <std::size_t B, bool NeedDx, bool ActivationDone, class Update>
  static void backward(parameters&, const T*, const cache<B>&, const T*, T* dy, T* dx, T*, Update&) noexcept {
    if constexpr (NeedDx)
      for (std::size_t k = 0; k < B * tg::padded<T>(in_size); ++k) dx[k] = dy[k];  // not trained in these tests
  }
};
struct norm {
  template <class T, class InShape, std::size_t Index>
  using bind = norm_layer<T, InShape>;
};

// Modules: 0 unflatten, 1-2 mix3 + tanh, 3-4 dense + relu, 5 unflatten, 6 norm, 7 flatten, 8 dense.
template <class T>
using shaped_net = tg::network<tg::input<6, T>, tg::unflatten<2, 3>, mix3<4, true>, tg::dense<5, tg::relu>,
                               tg::unflatten<5, 1>, norm, tg::flatten, tg::dense<2>>;
const std::string shaped_arch =
    "input<6>,unflatten<2,3>,layer(shape<2,3> -> shape<4>, tanh),dense<5,relu>,unflatten<5,1>,norm<5>,flatten,"
    "dense<2,identity>";

// Every value of the network with a distinct, exactly representable number.
template <class T>
void fill(shaped_net<T>& net, int seed) {
  int k = seed;
  const auto next = [&] { return T((k++ % 37) - 18) / T(8); };
  auto& m = tg::get<1>(net);
  for (std::size_t o = 0; o < 4; ++o)
    for (std::size_t c = 0; c < 2; ++c)
      for (std::size_t l = 0; l < 3; ++l) m.weight(o, c, l) = next();
  for (std::size_t o = 0; o < 4; ++o) m.b_[o] = next();
  for (std::size_t o = 0; o < 5; ++o) {
    for (std::size_t i = 0; i < 4; ++i) tg::get<2>(net).weight(o, i) = next();
    tg::get<2>(net).bias(o) = next();
  }
  auto& n = tg::get<4>(net);
  for (std::size_t c = 0; c < 5; ++c) {
    n.weight[c] = next(), n.bias[c] = next(), n.running_mean[c] = next();
    n.running_var[c] = T(1) + T(c) / T(4);
  }
  n.num_batches_tracked = seed;
  for (std::size_t o = 0; o < 2; ++o) {
    for (std::size_t i = 0; i < 5; ++i) tg::get<6>(net).weight(o, i) = next();
    tg::get<6>(net).bias(o) = next();
  }
}

// Every stored bit of the network (every block's values, and the batch counter): "unchanged"
// means bit-identical.
template <class T>
std::vector<std::uint64_t> snapshot(const shaped_net<T>& net) {
  std::vector<std::uint64_t> bits;
  const auto add = [&](const auto& p) {
    p.for_each([&](auto, std::size_t, std::size_t, const T& v) {
      bits.push_back(std::bit_cast<std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>>(v));
    });
  };
  add(tg::get<1>(net)), add(tg::get<2>(net)), add(tg::get<4>(net)), add(tg::get<6>(net));
  const auto& n = tg::get<4>(net);
  for (std::size_t c = 0; c < 5; ++c)
    bits.push_back(std::bit_cast<std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>>(n.running_mean[c])),
        bits.push_back(std::bit_cast<std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>>(n.running_var[c]));
  bits.push_back(static_cast<std::uint64_t>(n.num_batches_tracked));
  return bits;
}

// The message of the io_error `f` throws ("<no io_error>" if none).
template <class F>
std::string io_error_message(F&& f) {
  try {
    f();
  } catch (const tg::io_error& e) {
    return e.what();
  }
  return "<no io_error>";
}

// A safetensors file edited through its JSON header: the bytes of `file` re-assembled after
// `edit` changed the header (and possibly the data area).
struct raw_file {
  json header;
  std::vector<std::byte> data;
  explicit raw_file(const std::vector<std::byte>& file) {
    std::uint64_t n = 0;
    std::memcpy(&n, file.data(), 8);
    header = json::parse(reinterpret_cast<const char*>(file.data()) + 8, reinterpret_cast<const char*>(file.data()) + 8 + n);
    data.assign(file.begin() + std::ptrdiff_t(8 + n), file.end());
  }
  std::vector<std::byte> bytes() const {
    const std::string text = header.dump();
    std::vector<std::byte> out(8);
    const std::uint64_t n = text.size();
    std::memcpy(out.data(), &n, 8);
    for (char c : text) out.push_back(static_cast<std::byte>(c));
    out.insert(out.end(), data.begin(), data.end());
    return out;
  }
  // Removes tensor `name` and its bytes, shifting the offsets of the tensors after it.
  void erase(const std::string& name) {
    const std::size_t begin = header[name]["data_offsets"][0], end = header[name]["data_offsets"][1];
    header.erase(name);
    data.erase(data.begin() + std::ptrdiff_t(begin), data.begin() + std::ptrdiff_t(end));
    for (auto& [k, v] : header.items())
      if (k != "__metadata__" && v["data_offsets"][0].get<std::size_t>() >= end)
        v["data_offsets"] = {v["data_offsets"][0].get<std::size_t>() - (end - begin),
                             v["data_offsets"][1].get<std::size_t>() - (end - begin)};
  }
  template <class V>
  void set(const std::string& name, std::size_t element, V value) {
    std::memcpy(data.data() + header[name]["data_offsets"][0].get<std::size_t>() + element * sizeof(V), &value,
                sizeof(V));
  }
};

// Loads `bytes` into a network filled with seed 7, expects an io_error containing every one of
// `needles`, and checks that the network did not change by a single bit.
template <class T>
void expect_rejected(const std::vector<std::byte>& bytes, std::initializer_list<std::string> needles) {
  shaped_net<T> net{tg::init::zeros{}};
  fill(net, 7);
  const auto before = snapshot(net);
  const std::string message = io_error_message([&] { tg::load_weights_from_bytes(net, bytes, "shaped.safetensors"); });
  INFO(message);
  CHECK_THAT(message, Contains("shaped.safetensors: "));
  for (const auto& n : needles) CHECK_THAT(message, Contains(n));
  CHECK(snapshot(net) == before);
}

template <class T>
std::vector<std::byte> good_bytes() {
  shaped_net<T> net{tg::init::zeros{}};
  fill(net, 99);
  return tg::save_weights_to_bytes(net);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Names, module indices and architecture strings

TEST_CASE("weights (shaped): module indices, tensor names and the architecture string", "[io][weights]") {
  using net_t = shaped_net<float>;
  CHECK(tg::architecture_string<net_t>() == shaped_arch);
  CHECK(tg::weight_tensor_names<net_t>() ==
        std::vector<std::string>{"1.weight", "1.bias", "3.weight", "3.bias", "6.weight", "6.bias", "6.running_mean",
                                 "6.running_var", "6.num_batches_tracked", "8.weight", "8.bias"});
  // nn.Linear on the last axis of a shaped input: weight [Out, last].
  using seq = tg::network<tg::input<6, double>, tg::unflatten<2, 3>, tg::dense<4, tg::tanh>, tg::flatten, tg::dense<2>>;
  CHECK(tg::architecture_string<seq>() == "input<6>,unflatten<2,3>,dense<4,tanh>,flatten,dense<2,identity>");
  CHECK(tg::weight_tensor_names<seq>() == std::vector<std::string>{"1.weight", "1.bias", "4.weight", "4.bias"});
  const auto file = tg::save_weights_to_bytes(seq{tg::init::he_uniform{1}});
  CHECK(raw_file(file).header["1.weight"]["shape"] == json::array({4, 3}));
  // A network of reshapes only: module indices, no tensors.
  using bare = tg::network<tg::input<4>, tg::unflatten<2, 2>, tg::flatten>;
  CHECK(tg::architecture_string<bare>() == "input<4>,unflatten<2,2>,flatten");
  CHECK(tg::weight_tensor_names<bare>().empty());
  bare b;
  tg::load_weights_from_bytes(b, tg::save_weights_to_bytes(b));
  raw_file extra(tg::save_weights_to_bytes(seq{}));
  CHECK_THAT(io_error_message([&] { tg::load_weights_from_bytes(b, [&] {
               extra.header.erase("__metadata__");
               return extra.bytes();
             }()); }),
             Contains("unexpected tensor '1.weight' (this network input<4>,unflatten<2,2>,flatten has exactly no tensors)"));
}

// ---------------------------------------------------------------------------------------------
// Round trips

TEMPLATE_TEST_CASE("weights (shaped): save then load is bit-identical, batch counter included", "[io][weights]", float,
                   double) {
  using T = TestType;
  shaped_net<T> saved{tg::init::zeros{}};
  fill(saved, 3);
  tg::get<4>(saved).num_batches_tracked = 123456789012345;
  const auto bytes = tg::save_weights_to_bytes(saved, {{"note", "shaped"}});

  shaped_net<T> loaded{tg::init::zeros{}};
  fill(loaded, 11);
  REQUIRE_FALSE(snapshot(loaded) == snapshot(saved));
  const auto meta = tg::load_weights_from_bytes(loaded, bytes);
  CHECK(snapshot(loaded) == snapshot(saved));
  CHECK(tg::get<4>(loaded).num_batches_tracked == 123456789012345);
  CHECK(meta.at("typegrad.architecture") == shaped_arch);
  CHECK(meta.at("note") == "shaped");
  CHECK(tg::save_weights_to_bytes(loaded, meta) == bytes);

  // Inference agrees too (the test layers read their parameters as the file put them).
  tg::vector<T, 6> x;
  for (std::size_t i = 0; i < 6; ++i) x[i] = T(i) / T(3) - T(1);
  const auto ya = saved(x), yb = loaded(x);
  for (std::size_t o = 0; o < 2; ++o) CHECK(ya[o] == yb[o]);
}

TEMPLATE_TEST_CASE("weights (shaped): an N-d tensor is written row-major in PyTorch's shape, whatever the storage",
                   "[io][weights]", float, double) {
  using T = TestType;
  shaped_net<T> net{tg::init::zeros{}};
  fill(net, 5);
  const raw_file f(tg::save_weights_to_bytes(net));
  const json& w = f.header["1.weight"];
  CHECK(w["dtype"] == (sizeof(T) == 4 ? "F32" : "F64"));
  CHECK(w["shape"] == json::array({4, 2, 3}));
  const std::size_t begin = w["data_offsets"][0];
  for (std::size_t o = 0; o < 4; ++o)
    for (std::size_t c = 0; c < 2; ++c)
      for (std::size_t l = 0; l < 3; ++l) {
        T v;
        std::memcpy(&v, f.data.data() + begin + ((o * 2 + c) * 3 + l) * sizeof(T), sizeof(T));
        CHECK(v == tg::get<1>(net).weight(o, c, l));
      }
  // The counter: I64, shape [], 8 bytes.
  const json& n = f.header["6.num_batches_tracked"];
  CHECK(n["dtype"] == "I64");
  CHECK(n["shape"] == json::array());
  std::int64_t count = 0;
  std::memcpy(&count, f.data.data() + n["data_offsets"][0].get<std::size_t>(), 8);
  CHECK(count == 5);
  CHECK(n["data_offsets"][1].get<std::size_t>() - n["data_offsets"][0].get<std::size_t>() == 8);
  // State_dict order in the data area: weight, bias, running_mean, running_var, num_batches_tracked.
  CHECK(f.header["6.running_var"]["data_offsets"][1] == n["data_offsets"][0]);
  CHECK(f.header["6.num_batches_tracked"]["data_offsets"][1] == f.header["8.weight"]["data_offsets"][0]);
}

TEST_CASE("weights (shaped): a file without num_batches_tracked (older tools) loads with the counter at 0",
          "[io][weights]") {
  shaped_net<float> source{tg::init::zeros{}};
  fill(source, 4);
  raw_file f(tg::save_weights_to_bytes(source));
  f.erase("6.num_batches_tracked");
  f.header.erase("__metadata__");
  shaped_net<float> net{tg::init::zeros{}};
  fill(net, 8);
  tg::load_weights_from_bytes(net, f.bytes());
  CHECK(tg::get<4>(net).num_batches_tracked == 0);
  tg::get<4>(net).num_batches_tracked = 4;
  CHECK(snapshot(net) == snapshot(source));
}

TEST_CASE("weights (shaped): a non-finite value of an N-d tensor is named by its full index on save", "[io][weights]") {
  shaped_net<float> net{tg::init::zeros{}};
  fill(net, 1);
  tg::get<1>(net).weight(2, 1, 0) = std::numeric_limits<float>::infinity();
  CHECK_THAT(io_error_message([&] { (void)tg::save_weights_to_bytes(net); }), Contains("1.weight[2, 1, 0] is inf"));
  tg::get<1>(net).weight(2, 1, 0) = 0;
  tg::get<4>(net).running_var[3] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THAT(io_error_message([&] { (void)tg::save_weights_to_bytes(net); }), Contains("6.running_var[3] is nan"));
}

// ---------------------------------------------------------------------------------------------
// Rejected files: io_error naming the problem, and the network unchanged to the bit.

TEMPLATE_TEST_CASE("weights (shaped): every rejected file leaves the network as it was", "[io][weights][corrupt]",
                   float, double) {
  using T = TestType;
  constexpr std::size_t s = sizeof(T);
  const auto good = good_bytes<T>();
  {
    // Sanity: the good file is accepted (so each rejection below is due to its one change).
    shaped_net<T> net{tg::init::zeros{}};
    tg::load_weights_from_bytes(net, good);
  }
  expect_rejected<T>(std::vector<std::byte>(good.begin(), good.end() - 1), {"outside the data area"});  // truncated
  {
    raw_file f(good);
    f.erase("6.running_var");  // the last-but-one tensor of the norm layer: everything before it is valid
    expect_rejected<T>(f.bytes(), {"missing tensor '6.running_var', the running_var [5] of layer 4 (norm<5>)"});
  }
  {
    raw_file f(good);
    f.header["1.weight"]["shape"] = json::array({4, 6});  // same byte count, flattened
    expect_rejected<T>(f.bytes(), {"tensor '1.weight' has shape [4, 6] but the weight of layer 1 "
                                   "(layer(shape<2,3> -> shape<4>, tanh)) is [4, 2, 3]"});
  }
  {
    raw_file f(good);
    f.set<T>("6.running_mean", 4, std::numeric_limits<T>::quiet_NaN());
    expect_rejected<T>(f.bytes(), {"tensor '6.running_mean' element 4 is nan"});
  }
  {
    raw_file f(good);
    f.header["6.num_batches_tracked"]["dtype"] = "F64";
    expect_rejected<T>(f.bytes(), {"tensor '6.num_batches_tracked' has dtype F64 and shape []",
                                   "the batch counter of layer 4 (norm<5>) is I64 []"});
  }
  {
    raw_file f(good);
    f.header["6.num_batches_tracked"]["shape"] = json::array({1});
    expect_rejected<T>(f.bytes(), {"tensor '6.num_batches_tracked' has dtype I64 and shape [1]"});
  }
  {
    raw_file f(good);
    const std::size_t end = f.data.size();
    f.data.resize(end + s);
    f.header["2.weight"] = {{"dtype", sizeof(T) == 4 ? "F32" : "F64"}, {"shape", {1}}, {"data_offsets", {end, end + s}}};
    expect_rejected<T>(f.bytes(), {"unexpected tensor '2.weight'", "6.num_batches_tracked"});
  }
  {
    using other = std::conditional_t<std::is_same_v<T, float>, double, float>;
    expect_rejected<T>(good_bytes<other>(), {"tensor '1.weight' has dtype", "no conversion"});
  }
}

TEST_CASE("weights (shaped): a different architecture names the first layer that differs", "[io][weights][corrupt]") {
  using other = tg::network<tg::input<6>, tg::unflatten<3, 2>, mix3<4, true>, tg::dense<5, tg::relu>,
                            tg::unflatten<5, 1>, norm, tg::flatten, tg::dense<2>>;
  expect_rejected<float>(tg::save_weights_to_bytes(other{tg::init::zeros{}}),
                         {"wrong architecture", "layer 0 is \"unflatten<3,2>\" in the file but \"unflatten<2,3>\" in "
                                                "this network"});
  using longer = tg::network<tg::input<6>, tg::unflatten<2, 3>, mix3<4, true>, tg::dense<5, tg::relu>,
                             tg::unflatten<5, 1>, norm, tg::flatten, tg::dense<2>, tg::dense<2>>;
  expect_rejected<float>(tg::save_weights_to_bytes(longer{tg::init::zeros{}}),
                         {"wrong architecture", "the file has 8 layers, this network 7"});
  using wider = tg::network<tg::input<8>, tg::unflatten<2, 4>, mix3<4, true>, tg::dense<5, tg::relu>,
                            tg::unflatten<5, 1>, norm, tg::flatten, tg::dense<2>>;
  expect_rejected<float>(tg::save_weights_to_bytes(wider{tg::init::zeros{}}),
                         {"the file's input is input<8>, this network's input<6>"});
}

// ---------------------------------------------------------------------------------------------
// PyTorch: net B of tests/data/conv_reference.json (tools/pytorch_reference/conv.py), whose
// initial state_dict is tests/data/conv_reference.safetensors (F32, no metadata, no counter).

#ifdef TYPEGRAD_TEST_CONV_REFERENCE
TEST_CASE("weights (shaped): PyTorch's conv2d / batch-norm / pooling state_dict loads by name", "[io][weights][pytorch]") {
  using net_t = tg::network<tg::input<144>, tg::unflatten<2, 9, 8>, tg::conv2d<4, 3, 3, tg::identity, tg::padding<1>>,
                            tg::batch_norm<tg::relu>, tg::max_pool2d<2>, tg::conv2d<5, 2, 3, tg::tanh, tg::stride<2, 1>>,
                            tg::avg_pool2d<2>, tg::flatten, tg::dense<3>>;
  CHECK(tg::weight_tensor_names<net_t>() ==
        std::vector<std::string>{"1.weight", "1.bias", "2.weight", "2.bias", "2.running_mean", "2.running_var",
                                 "2.num_batches_tracked", "5.weight", "5.bias", "9.weight", "9.bias"});
  std::ifstream in(data_dir / "conv_reference.json");
  const json ref = json::parse(in)["net_b"];
  const json& sd = ref["state_dict"];
  net_t net{tg::init::zeros{}};
  tg::get<2>(net).num_batches_tracked = 17;  // the file has no counter: it becomes 0
  tg::load_weights(net, data_dir / "conv_reference.safetensors");
  CHECK(tg::get<2>(net).num_batches_tracked == 0);

  std::size_t compared = 0;
  const auto check_block = [&](const std::string& module, const auto& block) {
    block.for_each_tensor([&](std::string_view name, std::initializer_list<std::size_t> shape, const float* data,
                              std::size_t row_stride, std::size_t col_stride) {
      const json& t = sd[module + "." + std::string(name)];
      CHECK(t["shape"] == json(std::vector<std::size_t>(shape)));
      const std::size_t rows = *shape.begin(), cols = t["values"].size() / rows;
      for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = 0; c < cols; ++c, ++compared)
          CHECK(data[r * row_stride + c * col_stride] == static_cast<float>(t["values"][r * cols + c].get<double>()));
    });
  };
  check_block("1", tg::get<1>(net));
  check_block("2", tg::get<2>(net));
  check_block("5", tg::get<4>(net));
  for (std::size_t o = 0; o < 3; ++o) {
    for (std::size_t i = 0; i < 5; ++i, ++compared)
      CHECK(tg::get<7>(net).weight(o, i) == static_cast<float>(sd["9.weight"]["values"][o * 5 + i].get<double>()));
    CHECK(tg::get<7>(net).bias(o) == static_cast<float>(sd["9.bias"]["values"][o].get<double>()));
  }
  CHECK(compared == 72 + 4 + 16 + 120 + 5 + 15);

  // And back: the saved file holds the same tensors plus the counter and the architecture.
  const raw_file saved(tg::save_weights_to_bytes(net));
  CHECK(saved.header["2.num_batches_tracked"]["dtype"] == "I64");
  CHECK(saved.header["5.weight"]["shape"] == json::array({5, 4, 2, 3}));
  net_t again{tg::init::zeros{}};
  tg::load_weights_from_bytes(again, saved.bytes());
  CHECK(again.parameters() == net.parameters());
}
#endif

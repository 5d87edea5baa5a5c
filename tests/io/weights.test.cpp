// save_weights / load_weights: PyTorch reference, round trips, and one test per kind of corrupt file.
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <typegrad/io/weights.hpp>
#include <typegrad/typegrad.hpp>

namespace tg = typegrad;
using Catch::Matchers::Contains;
using nlohmann::json;

namespace {

static_assert(std::endian::native == std::endian::little, "the hand-built files below assume a little-endian host");

const std::filesystem::path data_dir = std::filesystem::path(TYPEGRAD_SOURCE_DIR) / "tests" / "data";

// A unique file under the temp directory, removed when it goes out of scope.
struct temp_file {
  std::filesystem::path path;
  temp_file() {
    static std::mt19937_64 rng{std::random_device{}()};
    path = std::filesystem::temp_directory_path() / ("typegrad_weights_test_" + std::to_string(rng()) + ".safetensors");
  }
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;
  ~temp_file() {
    std::error_code ignored;
    std::filesystem::remove(path, ignored);
  }
};

template <class T>
using ref_net = tg::network<tg::input<5, T>, tg::dense<7, tg::tanh>, tg::dense<3, tg::relu>, tg::dense<2>>;

// Every stored bit of the network, padding included: "unchanged" means bit-identical.
template <class Net>
std::vector<std::uint64_t> snapshot(const Net& net) {
  std::vector<std::uint64_t> bits;
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    const auto add = [&](const auto& p) {
      using P = std::remove_cvref_t<decltype(p)>;
      using T = typename P::value_type;
      using U = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
      for (std::size_t k = 0; k < P::padded_size(tg::simd::weight_c); ++k) bits.push_back(std::bit_cast<U>(p.w_[k]));
      for (std::size_t k = 0; k < tg::padded<T>(P::out_size); ++k) bits.push_back(std::bit_cast<U>(p.b_[k]));
    };
    (add(tg::get<I>(net)), ...);
  }
  (std::make_index_sequence<Net::depth>{});
  return bits;
}

std::vector<std::byte> read_bytes(const std::filesystem::path& p) { return tg::safetensors::read_file(p); }
void write_bytes(const std::filesystem::path& p, const std::vector<std::byte>& bytes) {
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// The message of the io_error `f` throws ("<no io_error>" if none; other exceptions fail the test).
template <class F>
std::string io_error_message(F&& f) {
  try {
    f();
  } catch (const tg::io_error& e) {
    return e.what();
  }
  return "<no io_error>";
}

// A safetensors file assembled here, independently of typegrad's writer: a JSON header (edited
// by each test) and a data area, with an optional forced header length.
struct raw_file {
  json header = json::object();
  std::vector<std::byte> data;

  template <class T>
  void add(const std::string& name, std::string dtype, std::vector<std::size_t> shape, const std::vector<T>& values) {
    const std::size_t begin = data.size();
    data.resize(begin + values.size() * sizeof(T));
    std::memcpy(data.data() + begin, values.data(), values.size() * sizeof(T));
    header[name] = {{"dtype", dtype}, {"shape", shape}, {"data_offsets", {begin, data.size()}}};
  }
  std::vector<std::byte> bytes(std::string text, std::uint64_t length) const {
    std::vector<std::byte> out(8);
    std::memcpy(out.data(), &length, 8);
    for (char c : text) out.push_back(static_cast<std::byte>(c));
    out.insert(out.end(), data.begin(), data.end());
    return out;
  }
  std::vector<std::byte> bytes() const {
    const std::string text = header.dump();
    return bytes(text, text.size());
  }
};

// The file of `net` built by hand: names 0/2/4, W as [out, in] row-major, the architecture metadata.
template <class T>
raw_file reference_file(const ref_net<T>& net) {
  raw_file f;
  const std::string dtype = sizeof(T) == 4 ? "F32" : "F64";
  f.header["__metadata__"] = {{"typegrad.architecture", "input<5>,dense<7,tanh>,dense<3,relu>,dense<2,identity>"}};
  const auto add_layer = [&](const std::string& module, const auto& p) {
    using P = std::remove_cvref_t<decltype(p)>;
    std::vector<T> w, b;
    for (std::size_t o = 0; o < P::out_size; ++o)
      for (std::size_t i = 0; i < P::in_size; ++i) w.push_back(p.weight(o, i));
    for (std::size_t o = 0; o < P::out_size; ++o) b.push_back(p.bias(o));
    f.add(module + ".weight", dtype, {P::out_size, P::in_size}, w);
    f.add(module + ".bias", dtype, {P::out_size}, b);
  };
  add_layer("0", tg::get<0>(net));
  add_layer("2", tg::get<1>(net));
  add_layer("4", tg::get<2>(net));
  return f;
}

// Loads `bytes` (through a real file) into a seeded network, expects an io_error whose message
// contains every one of `needles`, and checks that the network did not change by a single bit.
template <class T>
void expect_rejected(const std::vector<std::byte>& bytes, std::initializer_list<std::string> needles) {
  ref_net<T> net{tg::init::he_uniform{7}};
  const auto before = snapshot(net);
  temp_file file;
  write_bytes(file.path, bytes);
  const std::string message = io_error_message([&] { tg::load_weights(net, file.path); });
  INFO(message);
  CHECK_THAT(message, Contains("typegrad::load_weights('" + file.path.string() + "')"));
  for (const auto& n : needles) CHECK_THAT(message, Contains(n));
  CHECK(snapshot(net) == before);
}

// A valid file of a network with other values than the one it is loaded into (seed 99 vs 7),
// so a partial load would show.
template <class T>
raw_file good_file() {
  return reference_file(ref_net<T>{tg::init::he_uniform{99}});
}

struct cube : tg::activation<decltype(tg::x * tg::x * tg::x)> {};
struct named_cube : tg::activation<decltype(tg::x * tg::x * tg::x)> {
  static constexpr std::string_view name = "cube";
};

json read_json(const std::filesystem::path& p) {
  std::ifstream in(p);
  return json::parse(in);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Names and architecture strings

TEST_CASE("weights: tensor names mirror PyTorch's nn.Sequential", "[io][weights]") {
  using a = tg::network<tg::input<30>, tg::dense<16, tg::relu>, tg::dense<16, tg::relu>, tg::dense<1, tg::sigmoid>>;
  CHECK(tg::architecture_string<a>() == "input<30>,dense<16,relu>,dense<16,relu>,dense<1,sigmoid>");
  CHECK(tg::weight_tensor_names<a>() ==
        std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"});
  // Sequential(Linear, Tanh, Linear): the final identity layer has no module.
  using b = tg::network<tg::input<3, double>, tg::dense<4, tg::tanh>, tg::dense<2>>;
  CHECK(tg::architecture_string<b>() == "input<3>,dense<4,tanh>,dense<2,identity>");
  CHECK(tg::weight_tensor_names<b>() == std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"});
  // An identity layer in the middle takes no slot: Sequential(Linear, Linear, Softmax).
  using c = tg::network<tg::input<3>, tg::dense<4>, tg::dense<2, tg::softmax>>;
  CHECK(tg::weight_tensor_names<c>() == std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias"});
  CHECK(tg::architecture_string<c>() == "input<3>,dense<4,identity>,dense<2,softmax>");
}

TEST_CASE("weights: activation names", "[io][weights]") {
  CHECK(tg::activation_name<tg::leaky_relu>() == "leaky_relu");
  CHECK(tg::activation_name<tg::leaky_relu_with<1, 100>>() == "leaky_relu");
  CHECK(tg::activation_name<tg::leaky_relu_with<2, 10>>() == "leaky_relu(1/5)");
  CHECK(tg::activation_name<tg::elu>() == "elu");
  CHECK(tg::activation_name<tg::softplus>() == "softplus");
  CHECK(tg::activation_name<tg::gelu>() == "gelu");
  CHECK(tg::activation_name<tg::silu>() == "silu");
  CHECK(tg::activation_name<tg::activation<decltype(tg::x)>>() == "identity");
  CHECK(tg::activation_name<cube>() == "custom");
  CHECK(tg::activation_name<named_cube>() == "cube");
}

// ---------------------------------------------------------------------------------------------
// PyTorch reference (tests/data, made by tools/pytorch_reference/weights_reference.py)

TEMPLATE_TEST_CASE("weights: a PyTorch nn.Sequential exported by tools/export_pytorch.py computes the same outputs",
                   "[io][weights][pytorch]", float, double) {
  using T = TestType;
  const json io = read_json(data_dir / "weights_pytorch_reference_io.json")["reference"];
  const bool is_float = std::is_same_v<T, float>;
  const auto file =
      data_dir / (is_float ? "weights_pytorch_reference.safetensors" : "weights_pytorch_reference_f64.safetensors");
  ref_net<T> net{tg::init::zeros{}};
  const auto meta = tg::load_weights(net, file);
  CHECK(meta.at("typegrad.architecture") == tg::architecture_string<ref_net<T>>());
  CHECK_THAT(meta.at("description"), Contains("manual_seed(20261125)"));

  constexpr std::size_t batch = 8;
  REQUIRE(io["inputs"].size() == batch);
  tg::matrix<T, batch, 5> x;
  for (std::size_t r = 0; r < batch; ++r)
    for (std::size_t c = 0; c < 5; ++c) x(r, c) = io["inputs"][r][c].get<T>();
  const auto y = net(x);
  const json& expected = io[is_float ? "outputs_f32" : "outputs_f64"];
  const double tol = is_float ? 2e-6 : 1e-13;
  for (std::size_t r = 0; r < batch; ++r)
    for (std::size_t c = 0; c < 2; ++c) CHECK(double(y(r, c)) == Approx(expected[r][c].get<double>()).margin(tol));
}

TEST_CASE("weights: every supported PyTorch activation, and nn.Identity taking no slot", "[io][weights][pytorch]") {
  using net_t = tg::network<tg::input<4, double>, tg::dense<6, tg::leaky_relu>, tg::dense<5, tg::elu>,
                            tg::dense<5, tg::softplus>, tg::dense<4, tg::gelu>, tg::dense<4, tg::silu>, tg::dense<3>,
                            tg::dense<3, tg::leaky_relu_with<1, 5>>, tg::dense<3, tg::sigmoid>>;
  const json io = read_json(data_dir / "weights_pytorch_reference_io.json")["activations"];
  CHECK(io["architecture"].get<std::string>() == tg::architecture_string<net_t>());
  CHECK(tg::weight_tensor_names<net_t>()[12] == "11.weight");  // after the identity layer at module 10
  net_t net{tg::init::zeros{}};
  tg::load_weights(net, data_dir / "weights_pytorch_activations.safetensors");
  for (std::size_t r = 0; r < io["inputs"].size(); ++r) {
    tg::vector<double, 4> x;
    for (std::size_t c = 0; c < 4; ++c) x[c] = io["inputs"][r][c].get<double>();
    const auto y = net(x);
    for (std::size_t c = 0; c < 3; ++c) CHECK(y[c] == Approx(io["outputs_f64"][r][c].get<double>()).margin(1e-12));
  }
}

// ---------------------------------------------------------------------------------------------
// Round trips and saving

TEMPLATE_TEST_CASE("weights: save then load is bit-identical, metadata included", "[io][weights]", float, double) {
  using T = TestType;
  const ref_net<T> saved{tg::init::he_normal{3}};
  temp_file file;
  tg::save_weights(saved, file.path, {{"mean", "0.25,-1.5"}, {"typegrad.architecture", "ignored"}});

  ref_net<T> loaded{tg::init::he_uniform{4}};
  REQUIRE_FALSE(snapshot(loaded) == snapshot(saved));
  const auto meta = tg::load_weights(loaded, file.path);
  CHECK(snapshot(loaded) == snapshot(saved));
  CHECK(meta.at("mean") == "0.25,-1.5");
  CHECK(meta.at("typegrad.architecture") == "input<5>,dense<7,tanh>,dense<3,relu>,dense<2,identity>");
  CHECK(meta.at("typegrad.version") == tg::weights_typegrad_version);
  CHECK(meta.at("format") == "pt");
  CHECK(tg::read_weights_metadata(file.path) == meta);

  // Re-saving what was loaded, with the metadata read back, gives the same file byte for byte.
  temp_file again;
  tg::save_weights(loaded, again.path, meta);
  CHECK(read_bytes(again.path) == read_bytes(file.path));
  CHECK(tg::save_weights_to_bytes(loaded, meta) == read_bytes(file.path));

  ref_net<T> from_memory{tg::init::zeros{}};
  tg::load_weights_from_bytes(from_memory, read_bytes(file.path));
  CHECK(snapshot(from_memory) == snapshot(saved));
}

TEMPLATE_TEST_CASE("weights: the saved file is plain safetensors with [out, in] weights", "[io][weights]", float,
                   double) {
  using T = TestType;
  const ref_net<T> net{tg::init::glorot_uniform{5}};
  temp_file file;
  tg::save_weights(net, file.path);
  const auto bytes = read_bytes(file.path);
  // Read back with nlohmann + memcpy only, not with typegrad's reader.
  std::uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  CHECK(n % 8 == 0);  // data area 8-byte aligned
  const json h =
      json::parse(reinterpret_cast<const char*>(bytes.data()) + 8, reinterpret_cast<const char*>(bytes.data()) + 8 + n);
  CHECK(h.size() == 7);  // 6 tensors + __metadata__
  const json& w = h["2.weight"];
  CHECK(w["dtype"] == (sizeof(T) == 4 ? "F32" : "F64"));
  CHECK(w["shape"] == json::array({3, 7}));
  const std::size_t begin = w["data_offsets"][0];
  CHECK(std::size_t(w["data_offsets"][1]) - begin == 21 * sizeof(T));
  for (std::size_t o = 0; o < 3; ++o)
    for (std::size_t i = 0; i < 7; ++i) {
      T v;
      std::memcpy(&v, bytes.data() + 8 + n + begin + (o * 7 + i) * sizeof(T), sizeof(T));
      CHECK(v == tg::get<1>(net).weight(o, i));
    }
  const std::size_t end = h["4.bias"]["data_offsets"][1];
  CHECK(bytes.size() == 8 + n + end);
}

TEST_CASE("weights: a file without metadata (plain PyTorch state_dict names) loads", "[io][weights]") {
  const ref_net<float> source{tg::init::he_uniform{99}};
  raw_file f = reference_file(source);
  f.header.erase("__metadata__");
  ref_net<float> net{tg::init::zeros{}};
  tg::load_weights_from_bytes(net, f.bytes());
  CHECK(snapshot(net) == snapshot(source));
}

TEST_CASE("weights: a failed save leaves no file, and never a partial one", "[io][weights]") {
  ref_net<float> net{tg::init::he_uniform{1}};
  temp_file file;
  tg::save_weights(net, file.path);
  const auto good = read_bytes(file.path);

  tg::get<2>(net).bias(1) = std::numeric_limits<float>::quiet_NaN();
  CHECK_THAT(io_error_message([&] { tg::save_weights(net, file.path); }), Contains("4.bias[1] is nan"));
  CHECK(read_bytes(file.path) == good);  // the old file is untouched
  for (const auto& e : std::filesystem::directory_iterator(file.path.parent_path()))
    CHECK_FALSE(e.path().string().starts_with(file.path.string() + ".tmp"));

  tg::get<2>(net).bias(1) = 0;
  const auto nowhere = file.path.parent_path() / "typegrad_no_such_directory" / "w.safetensors";
  CHECK_THAT(io_error_message([&] { tg::save_weights(net, nowhere); }), Contains("cannot open"));
  CHECK_FALSE(std::filesystem::exists(nowhere));
}

// ---------------------------------------------------------------------------------------------
// Corrupt or mismatched files: each throws io_error naming the problem; the network is unchanged.

TEST_CASE("weights: a missing file", "[io][weights][corrupt]") {
  ref_net<float> net{tg::init::he_uniform{7}};
  const auto before = snapshot(net);
  const auto msg = io_error_message([&] { tg::load_weights(net, data_dir / "no_such_weights.safetensors"); });
  CHECK_THAT(msg, Contains("cannot open"));
  CHECK(snapshot(net) == before);
  CHECK_THAT(io_error_message([] { tg::read_weights_metadata("no_such_weights.safetensors"); }),
             Contains("cannot open"));
}

TEMPLATE_TEST_CASE("weights: truncated file", "[io][weights][corrupt]", float, double) {
  const auto bytes = good_file<TestType>().bytes();
  const auto cut = [&](std::size_t n) {
    return std::vector<std::byte>(bytes.begin(), bytes.begin() + std::ptrdiff_t(n));
  };
  expect_rejected<TestType>(cut(0), {"file is 0 bytes, too short"});
  expect_rejected<TestType>(cut(7), {"file is 7 bytes, too short"});
  expect_rejected<TestType>(cut(40), {"header length", "exceeds the 32 bytes that follow it"});
  expect_rejected<TestType>(cut(bytes.size() - 1), {"tensor '4.bias'", "outside the data area"});
}

TEMPLATE_TEST_CASE("weights: bad header length", "[io][weights][corrupt]", float, double) {
  const raw_file f = good_file<TestType>();
  const std::string text = f.header.dump();
  expect_rejected<TestType>(f.bytes(text, 0), {"header length is 0"});
  expect_rejected<TestType>(f.bytes(text, std::uint64_t{1} << 40), {"header length 1099511627776 exceeds"});
  expect_rejected<TestType>(f.bytes(text, text.size() - 3), {"header is not valid JSON"});
  // Too long: JSON parsing would reach into the data area.
  expect_rejected<TestType>(f.bytes(text, text.size() + 4), {"header is not valid JSON"});
}

TEMPLATE_TEST_CASE("weights: bad JSON", "[io][weights][corrupt]", float, double) {
  const raw_file f = good_file<TestType>();
  std::string text = f.header.dump();
  std::string broken = text;
  broken[broken.size() / 2] = '\x01';
  expect_rejected<TestType>(f.bytes(broken, broken.size()), {"header is not valid JSON"});
  std::string array = "[" + std::string(text.size() - 2, ' ') + "]";
  expect_rejected<TestType>(f.bytes(array, array.size()), {"header is not a JSON object"});

  raw_file m = f;
  m.header["__metadata__"]["mean"] = 0.5;
  expect_rejected<TestType>(m.bytes(), {"metadata 'mean' is not a string"});
  raw_file e = f;
  e.header["2.bias"] = "F32";
  expect_rejected<TestType>(e.bytes(), {"tensor '2.bias'", "not a JSON object"});
  raw_file s = f;
  s.header["2.bias"]["shape"] = json::array({-3});
  expect_rejected<TestType>(s.bytes(), {"tensor '2.bias'", "shape entry must be a non-negative integer"});
  // The same name twice: nlohmann would silently keep the last one.
  std::string dup = text;
  dup.insert(1, "\"4.bias\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},");
  expect_rejected<TestType>(f.bytes(dup, dup.size()), {"names '4.bias' more than once"});
}

TEMPLATE_TEST_CASE("weights: missing tensor", "[io][weights][corrupt]", float, double) {
  raw_file f = good_file<TestType>();
  // 4.bias is last in the data area: drop its entry and its bytes.
  f.header.erase("4.bias");
  f.data.resize(f.data.size() - 2 * sizeof(TestType));
  expect_rejected<TestType>(f.bytes(), {"missing tensor '4.bias'", "the bias [2] of layer 2 (dense<2,identity>)"});
}

TEMPLATE_TEST_CASE("weights: extra tensor", "[io][weights][corrupt]", float, double) {
  raw_file f = good_file<TestType>();
  f.add("6.weight", sizeof(TestType) == 4 ? "F32" : "F64", {1, 2}, std::vector<TestType>{1, 2});
  expect_rejected<TestType>(f.bytes(), {"unexpected tensor '6.weight'", "0.weight, 0.bias, 2.weight"});
}

TEMPLATE_TEST_CASE("weights: wrong dtype", "[io][weights][corrupt]", float, double) {
  using T = TestType;
  using other = std::conditional_t<std::is_same_v<T, float>, double, float>;
  // The other precision: a structurally valid file that this network does not read.
  const raw_file f = reference_file(ref_net<other>{tg::init::he_uniform{99}});
  expect_rejected<T>(f.bytes(),
                     {"tensor '0.weight' has dtype " + std::string(sizeof(T) == 4 ? "F64" : "F32"), "no conversion"});
  // Same element size, wrong kind.
  raw_file g = good_file<T>();
  g.header["4.bias"]["dtype"] = sizeof(T) == 4 ? "I32" : "I64";
  expect_rejected<T>(g.bytes(), {"tensor '4.bias' has dtype I"});
  raw_file h = good_file<T>();
  h.header["4.bias"]["dtype"] = "F17";
  expect_rejected<T>(h.bytes(), {"tensor '4.bias': unknown dtype 'F17'"});
}

TEMPLATE_TEST_CASE("weights: wrong shape", "[io][weights][corrupt]", float, double) {
  raw_file f = good_file<TestType>();
  f.header["2.weight"]["shape"] = json::array({7, 3});  // transposed: same byte count
  expect_rejected<TestType>(f.bytes(), {"tensor '2.weight' has shape [7, 3]", "layer 1 (dense<3,relu>) is [3, 7]"});
  raw_file g = good_file<TestType>();
  g.header["4.bias"]["shape"] = json::array({1, 2});
  expect_rejected<TestType>(g.bytes(), {"tensor '4.bias' has shape [1, 2]"});
  raw_file h = good_file<TestType>();
  h.header["4.bias"]["shape"] = json::array({3});  // disagrees with its byte range
  expect_rejected<TestType>(h.bytes(), {"tensor '4.bias'", "hold " + std::to_string(2 * sizeof(TestType)) + " bytes"});
}

TEMPLATE_TEST_CASE("weights: data offsets out of range, overlapping or leaving gaps", "[io][weights][corrupt]", float,
                   double) {
  constexpr std::size_t s = sizeof(TestType);
  const raw_file good = good_file<TestType>();
  const std::size_t end = good.data.size();

  raw_file out = good;
  out.header["4.bias"]["data_offsets"] = json::array({end - 2 * s + 8, end + 8});
  expect_rejected<TestType>(out.bytes(), {"tensor '4.bias'", "outside the data area"});

  raw_file backwards = good;
  backwards.header["4.bias"]["data_offsets"] = json::array({end, end - 2 * s});
  expect_rejected<TestType>(backwards.bytes(), {"tensor '4.bias'", "end before they begin"});

  raw_file overlap = good;  // 4.bias moved onto 4.weight's last bytes
  overlap.header["4.bias"]["data_offsets"] = json::array({end - 4 * s, end - 2 * s});
  expect_rejected<TestType>(overlap.bytes(), {"'4.weight'", "'4.bias'", "overlap"});

  raw_file gap = good;  // one spare element between 4.weight and 4.bias
  gap.data.resize(end + s);
  gap.header["4.bias"]["data_offsets"] = json::array({end - s, end + s});
  expect_rejected<TestType>(gap.bytes(), {"belong to no tensor", "'4.bias'"});

  raw_file tail = good;  // bytes after the last tensor
  tail.data.resize(end + 4);
  expect_rejected<TestType>(tail.bytes(), {"data area holds " + std::to_string(end + 4) +
                                           " bytes but the tensors use " + std::to_string(end)});
}

TEMPLATE_TEST_CASE("weights: wrong architecture", "[io][weights][corrupt]", float, double) {
  using T = TestType;
  // Same shapes, different activation: only the architecture metadata tells them apart.
  using relu_net = tg::network<tg::input<5, T>, tg::dense<7, tg::relu>, tg::dense<3, tg::relu>, tg::dense<2>>;
  expect_rejected<T>(tg::save_weights_to_bytes(relu_net{tg::init::he_uniform{2}}),
                     {"wrong architecture", "\"input<5>,dense<7,relu>,dense<3,relu>,dense<2,identity>\"",
                      "\"input<5>,dense<7,tanh>,dense<3,relu>,dense<2,identity>\""});
  // Different sizes: caught by the architecture, and without metadata by the shapes.
  using wide_net = tg::network<tg::input<5, T>, tg::dense<8, tg::tanh>, tg::dense<3, tg::relu>, tg::dense<2>>;
  const auto wide = tg::save_weights_to_bytes(wide_net{tg::init::he_uniform{2}});
  expect_rejected<T>(wide, {"wrong architecture"});
  raw_file plain = good_file<T>();
  plain.header.erase("__metadata__");
  plain.header["0.weight"]["shape"] = json::array({1, 35});
  expect_rejected<T>(plain.bytes(), {"tensor '0.weight' has shape [1, 35]", "[7, 5]"});
}

TEMPLATE_TEST_CASE("weights: non-finite values are rejected", "[io][weights][corrupt]", float, double) {
  using T = TestType;
  for (const T bad : {std::numeric_limits<T>::quiet_NaN(), std::numeric_limits<T>::infinity()}) {
    raw_file f = good_file<T>();
    std::memcpy(f.data.data() + f.data.size() - sizeof(T), &bad, sizeof(T));  // last element of 4.bias
    expect_rejected<T>(f.bytes(),
                       {"tensor '4.bias' element 1 is " + std::string(std::isnan(bad) ? "nan" : "inf"), "non-finite"});
  }
}

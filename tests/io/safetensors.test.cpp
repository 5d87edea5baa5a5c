// The safetensors container directly: the exact header bytes written, round trips of names and
// metadata, the writer's refusals and the reader's JSON-level checks (the weight files built on
// it are tested in weights.test.cpp).
#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <typegrad/io/safetensors.hpp>

namespace {

namespace st = typegrad::safetensors;
using Catch::Matchers::Contains;

// An 8-byte little-endian length, then `text`, then `data`: a file assembled by hand.
std::vector<std::byte> file_of(const std::string& text, const std::vector<std::byte>& data = {}) {
  std::vector<std::byte> out;
  for (int k = 0; k < 8; ++k) out.push_back(static_cast<std::byte>((std::uint64_t{text.size()} >> (8 * k)) & 0xff));
  for (char c : text) out.push_back(static_cast<std::byte>(c));
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

std::vector<std::byte> bytes_from(std::size_t n, unsigned first) {
  std::vector<std::byte> b(n);
  for (std::size_t k = 0; k < n; ++k) b[k] = static_cast<std::byte>(first + k);
  return b;
}

template <class F>
std::string io_error_message(F&& f) {
  try {
    f();
  } catch (const typegrad::io_error& e) {
    return e.what();
  }
  return "<no io_error>";
}

}  // namespace

TEST_CASE("safetensors: the header is compact JSON, keys sorted, padded to 8 bytes", "[io][safetensors]") {
  const std::vector<st::tensor_bytes> tensors = {{"w", "F32", {2, 1}, bytes_from(8, 1)},
                                                 {"b", "F32", {2}, bytes_from(8, 101)}};
  const std::map<std::string, std::string> meta = {{"note", "a \"quoted\"\nline"}, {"format", "pt"}};
  const auto file = st::serialize(tensors, meta);
  // Written by hand: the reference writer's layout (sorted keys, no spaces, JSON escapes),
  // data offsets in the order the tensors were given (w first).
  std::string expected =
      R"({"__metadata__":{"format":"pt","note":"a \"quoted\"\nline"},)"
      R"("b":{"data_offsets":[8,16],"dtype":"F32","shape":[2]},)"
      R"("w":{"data_offsets":[0,8],"dtype":"F32","shape":[2,1]}})";
  REQUIRE(expected.size() == 169);
  expected += "       ";  // 169 → 176, a multiple of 8
  std::vector<std::byte> data = bytes_from(8, 1);
  const auto b = bytes_from(8, 101);
  data.insert(data.end(), b.begin(), b.end());
  CHECK(file == file_of(expected, data));
  // No tensors and no metadata: "{}" and six spaces.
  CHECK(st::serialize({}, {}) == file_of("{}      "));
}

TEST_CASE("safetensors: names, dtypes, shapes and metadata round-trip", "[io][safetensors]") {
  const std::vector<st::tensor_bytes> tensors = {
      {"layer.0 \xc3\xa9\xf0\x9f\x98\x80", "F64", {3}, bytes_from(24, 0)},
      {"q\"b\\s/\t", "U8", {0, 5}, {}},
      {"scalar", "I16", {}, bytes_from(2, 7)}};
  const std::map<std::string, std::string> meta = {{"ctl \x01\x1f\x7f", "line\nfeed\r\ttab"},
                                                   {"empty", ""},
                                                   {"\xe2\x82\xac", std::string("nul\0in", 6)}};
  const auto file = st::serialize(tensors, meta);
  CHECK(std::to_integer<unsigned>(file[0]) % 8 == 0);  // the data area starts 8-byte aligned
  const st::header h = st::parse(file, "round trip");
  CHECK(h.metadata == meta);
  REQUIRE(h.tensors.size() == 3);
  CHECK(h.data_offset + h.data_size == file.size());
  CHECK(h.data_size == 26);
  for (const auto& t : tensors) {
    INFO(t.name);
    const st::tensor_info* p = h.find(t.name);
    REQUIRE(p);
    CHECK(p->dtype == t.dtype);
    CHECK(p->shape == t.shape);
    CHECK(p->end - p->begin == t.bytes.size());
  }
  // Data offsets follow the order given: 24 bytes, then 0, then 2.
  CHECK(h.find("scalar")->begin == 24);
  CHECK(h.find("missing") == nullptr);
  // Saving what was read gives the same bytes.
  std::vector<st::tensor_bytes> again;
  for (const auto& t : tensors) again.push_back({t.name, h.find(t.name)->dtype, h.find(t.name)->shape, t.bytes});
  CHECK(st::serialize(again, h.metadata) == file);
}

TEST_CASE("safetensors: the writer refuses names that would make an unreadable file", "[io][safetensors]") {
  const st::tensor_bytes w{"w", "F32", {1}, bytes_from(4, 0)};
  CHECK_THAT(io_error_message([&] { (void)st::serialize({w, w}, {}); }), Contains("the tensor name 'w' is used twice"));
  CHECK_THAT(io_error_message([&] { (void)st::serialize({{"__metadata__", "F32", {0}, {}}}, {}); }),
             Contains("the tensor name '__metadata__' is reserved"));
  CHECK_THAT(io_error_message([&] { (void)st::serialize({w}, {{"k", "bad \xff"}}); }),
             Contains("metadata value 'bad \\xff' is not valid UTF-8"));
  CHECK_THAT(io_error_message([&] { (void)st::serialize({w}, {{"\xc3", "v"}}); }),
             Contains("metadata key '\\xc3' is not valid UTF-8"));
  CHECK_THAT(io_error_message([&] { (void)st::serialize({{"\xed\xa0\x80", "F32", {0}, {}}}, {}); }),  // a surrogate
             Contains("tensor name '\\xed\\xa0\\x80' is not valid UTF-8"));
  CHECK_THAT(io_error_message([&] { (void)st::serialize({{"x", "F\xf5", {0}, {}}}, {}); }),
             Contains("dtype 'F\\xf5' is not valid UTF-8"));
}

TEST_CASE("safetensors: JSON-level checks of the reader", "[io][safetensors]") {
  const auto message = [](const std::string& header, std::size_t data = 0) {
    return io_error_message([&] { (void)st::parse(file_of(header, bytes_from(data, 0)), "f.safetensors"); });
  };
  const std::string entry = R"({"dtype":"U8","shape":[2],"data_offsets":[0,2]})";
  CHECK(message(R"({"a":)" + entry + "}", 2) == "<no io_error>");
  CHECK_THAT(message(R"({"a":)" + entry + R"(,"a":)" + entry + "}", 2),
             Contains("f.safetensors: header names 'a' more than once"));
  // Inside an entry a repeated member keeps its last value (as nlohmann-json and Python's json do).
  CHECK(message(R"({"a":{"dtype":"F64","dtype":"U8","shape":[2],"data_offsets":[0,2]}})", 2) == "<no io_error>");
  CHECK_THAT(message("{\"a\":" + entry), Contains("header is not valid JSON"));
  CHECK_THAT(message("{\"\xc3\":{}}"), Contains("header is not valid JSON"));  // invalid UTF-8 in a key
  CHECK_THAT(message(R"({"a":)" + entry + "} x", 2), Contains("header is not valid JSON"));
  CHECK_THAT(message("[]"), Contains("header is not a JSON object"));
  CHECK_THAT(message(R"({"__metadata__":[]})"), Contains("\"__metadata__\" is not a JSON object"));
  CHECK_THAT(message(R"({"__metadata__":{"n":1.5}})"), Contains("metadata 'n' is not a string (got 1.5)"));
  CHECK_THAT(message(R"({"a":{"dtype":"U8","shape":[-2],"data_offsets":[0,2]}})", 2),
             Contains("tensor 'a': every shape entry must be a non-negative integer, got -2"));
  CHECK_THAT(message(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0]}})", 2),
             Contains("tensor 'a': \"data_offsets\" must be an array [begin, end]"));
  CHECK_THAT(message(R"({"a":{"shape":[2],"data_offsets":[0,2]}})", 2), Contains("tensor 'a': no \"dtype\" string"));
  CHECK_THAT(message(R"({"a":{"dtype":"U8","data_offsets":[0,2]}})", 2), Contains("tensor 'a': no \"shape\" array"));
  // Nesting: a value 100 deep is JSON (and here the wrong type); 100000 deep is refused before
  // building it.
  const auto nested = [](std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); };
  CHECK_THAT(message(R"({"__metadata__":{"k":)" + nested(100) + "}}"), Contains("metadata 'k' is not a string"));
  CHECK_THAT(message(R"({"__metadata__":{"k":)" + nested(100000) + "}}"),
             Contains("header is not valid JSON (nested more than 256 levels deep)"));
}

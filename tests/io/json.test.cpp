// typegrad's small JSON reader/writer (io/detail/json.hpp) against nlohmann-json as the independent reference.
#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <typegrad/io/detail/json.hpp>
#include <typegrad/io/safetensors.hpp>

namespace {

namespace tj = typegrad::detail::json;
using nlohmann::json;

bool ours_accepts(const std::string& text) {
  try {
    (void)tj::parser(text).parse();
    return true;
  } catch (const tj::syntax_error&) {
    return false;
  }
}

bool nlohmann_accepts(const std::string& text) {
  try {
    const json parsed = json::parse(text);
    (void)parsed;
    return true;
  } catch (const json::exception&) {
    return false;
  }
}

}  // namespace

TEST_CASE("json: accepts and rejects exactly what nlohmann-json does", "[io][json]") {
  const std::vector<std::string> cases = {
      "{}", "[]", " {\"a\" : [1, 2, 3]} ", "{\"a\":{\"b\":{\"c\":null}}}", "true", "false", "null", "nul", "tru",
      "0", "-0", "01", "1.", ".5", "1.5e3", "1E+3", "1e", "-", "--1", "18446744073709551615", "18446744073709551616",
      "1e400", "-1e400", "1e-400", "\"\\u00e9\"", "\"\\ud83d\\ude00\"", "\"\\ud83d\"", "\"\\ude00\"", "\"\\uZZZZ\"",
      "\"\\x\"", "\"\\/\"", "\"a\nb\"", "\"a\x01\"", "\"\xc3\xa9\"", "\"\xc3\"", "\"\xe0\x80\x80\"", "\"\xed\xa0\x80\"",
      "\"\xf4\x90\x80\x80\"", "\"\xf0\x9f\x98\x80\"", "\xEF\xBB\xBF{}", "{\"a\":1,}", "[1,]", "{\"a\" 1}", "{1:2}",
      "[1 2]", "{} {}", "{}x", "", " ", "[", "{\"a\":", "\"abc", "[\"\\u0000\"]", "{\"a\":1,\"a\":2}"};
  for (const auto& text : cases) {
    INFO("input: " << text);
    CHECK(ours_accepts(text) == nlohmann_accepts(text));
  }
}

TEST_CASE("json: values, escapes and unsigned integers", "[io][json]") {
  const auto v = tj::parser(R"({"s":"a\"b\\c\/\n\u00e9\ud83d\ude00","n":[0,7,18446744073709551615,-1,1.5,1e2,18446744073709551616],"o":{"k":"x","k":"y"}})")
                     .parse();
  REQUIRE(v.type == tj::value::kind::object);
  const tj::value* s = v.find("s");
  REQUIRE(s);
  CHECK(s->text == "a\"b\\c/\n\xc3\xa9\xf0\x9f\x98\x80");
  const tj::value* n = v.find("n");
  REQUIRE(n);
  REQUIRE(n->items.size() == 7);
  CHECK(n->items[0].is_unsigned);
  CHECK(n->items[0].unsigned_value == 0);
  CHECK(n->items[1].unsigned_value == 7);
  CHECK(n->items[2].unsigned_value == UINT64_MAX);
  for (std::size_t k = 3; k < 7; ++k) CHECK_FALSE(n->items[k].is_unsigned);  // negative, fractional, exponent, too big
  CHECK(n->items[4].raw == "1.5");
  // A repeated key: find() gives the last one, as nlohmann-json keeps it.
  CHECK(v.find("o")->find("k")->text == "y");
  CHECK(v.find("missing") == nullptr);
}

TEST_CASE("json: nesting is limited instead of overflowing the stack", "[io][json]") {
  CHECK(ours_accepts(std::string(100, '[') + std::string(100, ']')));
  CHECK_FALSE(ours_accepts(std::string(100000, '[') + std::string(100000, ']')));
}

TEST_CASE("json: strings are written as nlohmann-json dumps them", "[io][json]") {
  for (const std::string& s : {std::string("plain"), std::string("q\"b\\s/"), std::string("\b\f\n\r\t\x01\x1f\x7f"),
                              std::string("\xc3\xa9 \xf0\x9f\x98\x80"), std::string("nul\0in", 6)}) {
    std::string out;
    REQUIRE(tj::write_string(out, s));
    CHECK(out == json(s).dump());
  }
  std::string out;
  CHECK_FALSE(tj::write_string(out, "bad \xc3"));
}

TEST_CASE("json: safetensors headers are written as nlohmann-json would", "[io][json]") {
  using typegrad::safetensors::tensor_bytes;
  const std::vector<tensor_bytes> tensors = {{"w", "F32", {2, 1}, std::vector<std::byte>(8)},
                                             {"b", "F32", {2}, std::vector<std::byte>(8)}};
  const std::map<std::string, std::string> meta = {{"note", "a \"quoted\"\nline"}, {"format", "pt"}};
  const auto file = typegrad::safetensors::serialize(tensors, meta);
  std::uint64_t n = 0;
  for (int k = 7; k >= 0; --k) n = (n << 8) | std::to_integer<std::uint64_t>(file[std::size_t(k)]);
  const std::string header(reinterpret_cast<const char*>(file.data() + 8), n);
  json expected = json::object();
  expected["__metadata__"] = meta;
  expected["w"] = {{"dtype", "F32"}, {"shape", {2, 1}}, {"data_offsets", {0, 8}}};
  expected["b"] = {{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {8, 16}}};
  std::string text = expected.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  CHECK(header == text);
  // Names that would make an unreadable file are refused.
  CHECK_THROWS_AS(typegrad::safetensors::serialize({tensors[0], tensors[0]}, {}), typegrad::io_error);
  CHECK_THROWS_AS(typegrad::safetensors::serialize({{"__metadata__", "F32", {0}, {}}}, {}), typegrad::io_error);
  CHECK_THROWS_AS(typegrad::safetensors::serialize(tensors, {{"k", "\xff"}}), typegrad::io_error);
}

// CSV and .npy readers: good files, and every kind of bad input reported with its position.
#include <catch2/catch.hpp>

#include <typegrad/io/csv.hpp>
#include <typegrad/io/npy.hpp>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace tg = typegrad;

namespace {

const std::string data_dir = TYPEGRAD_SOURCE_DIR "/tests/data/";

/// Matches a data_error whose message starts with "<file>: line L, column C:".
struct csv_error_at : Catch::MatcherBase<tg::data_error> {
  std::string prefix;
  csv_error_at(const std::string& file, std::size_t line, std::size_t column)
      : prefix(file + ": line " + std::to_string(line) + ", column " + std::to_string(column) + ":") {}
  bool match(const tg::data_error& e) const override { return std::string(e.what()).rfind(prefix, 0) == 0; }
  std::string describe() const override { return "starts with \"" + prefix + "\""; }
};

/// Matches a data_error whose message starts with "<file>: byte B:" and contains `what`.
struct npy_error_at : Catch::MatcherBase<tg::data_error> {
  std::string prefix, what;
  npy_error_at(const std::string& file, std::size_t byte, std::string text)
      : prefix(file + ": byte " + std::to_string(byte) + ":"), what(std::move(text)) {}
  bool match(const tg::data_error& e) const override {
    const std::string m = e.what();
    return m.rfind(prefix, 0) == 0 && m.find(what) != std::string::npos;
  }
  std::string describe() const override { return "starts with \"" + prefix + "\" and contains \"" + what + "\""; }
};

template <class T, std::size_t F, std::size_t Tg = 1>
tg::dataset<T, F, Tg> csv(std::string_view text, const tg::csv_options& options = {}) {
  return tg::parse_csv<T, F, Tg>(text, "mem.csv", options);
}

}  // namespace

TEMPLATE_TEST_CASE("read_csv: sklearn-style header, detected or explicit", "[data][csv]", float, double) {
  using T = TestType;
  const std::string file = data_dir + "data_sklearn_small.csv";  // last line has no newline
  for (const auto header : {tg::csv_header::automatic, tg::csv_header::sklearn}) {
    const auto data = tg::read_csv<T, 3>(file, {.header = header});
    REQUIRE(data.size() == 5);
    REQUIRE(data.class_names() == std::vector<std::string>{"malignant", "benign"});
    CHECK(data.features(0)[0] == T(1.5));
    CHECK(data.features(0)[2] == T(30));
    CHECK(data.features(1)[1] == T(0.25));
    CHECK(data.features(4)[2] == T(30.5));
    CHECK(data.features(4)[1] == T(-20));
    const std::vector<T> labels{0, 1, 1, 0, 1};
    for (std::size_t i = 0; i < 5; ++i) CHECK(data.target(i) == labels[i]);
  }
}

TEMPLATE_TEST_CASE("parse_csv: no header, names header, columns chosen by index", "[data][csv]", float, double) {
  using T = TestType;
  const auto plain = csv<T, 2>("1,2,3\n4,5,6\n");
  REQUIRE(plain.size() == 2);
  CHECK(plain.features(1)[0] == T(4));
  CHECK(plain.target(1) == T(6));
  CHECK(plain.feature_names().empty());

  const auto named = csv<T, 2>("a, b ,y\n1,2,0\n3,4,1");
  REQUIRE(named.size() == 2);
  CHECK(named.feature_names() == std::vector<std::string>{"a", "b"});
  CHECK(named.target(1) == T(1));

  // Five columns; features are columns 4 and 0, the target is column 2; the id column is not read.
  const tg::csv_options pick{.header = tg::csv_header::names, .feature_columns = {4, 0}, .target_columns = {2}};
  const auto picked = csv<T, 2>("c0,id,c2,c3,c4\n1,row-a,7,9,5\n2,row-b,8,9,6\n", pick);
  REQUIRE(picked.size() == 2);
  CHECK(picked.features(0)[0] == T(5));
  CHECK(picked.features(0)[1] == T(1));
  CHECK(picked.target(1) == T(8));
  CHECK(picked.feature_names() == std::vector<std::string>{"c4", "c0"});

  // Two targets: the last two columns by default.
  const auto two = csv<T, 1, 2>("1,2,3\n4,5,6\n");
  CHECK(two.targets(0)[0] == T(2));
  CHECK(two.targets(1)[1] == T(6));
}

TEST_CASE("parse_csv: BOM, CRLF, signs, exponents and spaces around fields", "[data][csv]") {
  const auto data = csv<double, 3>("\xEF\xBB\xBF+1.5, -2e-3 ,\t.5,1\r\n1E2,0,-0,0\r\n", {.header = tg::csv_header::none});
  REQUIRE(data.size() == 2);
  CHECK(data.features(0)[0] == 1.5);
  CHECK(data.features(0)[1] == -0.002);
  CHECK(data.features(0)[2] == 0.5);
  CHECK(data.features(1)[0] == 100.0);
}

TEST_CASE("parse_csv_table: whitespace-separated files, features and targets from two files", "[data][csv]") {
  // Shaped like sklearn's diabetes_data_raw.txt / diabetes_target.txt.
  const auto x = tg::parse_csv_table<double>("59 2  32.1\n48\t1 21.6 \n", "x.txt", {.header = tg::csv_header::none, .separator = ' '});
  const auto y = tg::parse_csv_table<double>("1.51e+02\n7.5e+01\n", "y.txt", {.header = tg::csv_header::none, .separator = ' '});
  REQUIRE(x.rows == 2);
  REQUIRE(x.cols == 3);
  REQUIRE(y.cols == 1);
  const tg::dataset<double, 3> data(x.values, y.values);
  CHECK(data.features(1)[2] == 21.6);
  CHECK(data.target(0) == 151.0);
  CHECK_THROWS_AS((tg::dataset<double, 3>(x.values, {1.0})), std::invalid_argument);
}

TEST_CASE("parse_csv: bad input throws data_error naming file, line and column", "[data][csv]") {
  using tg::csv_header;
  const tg::csv_options none{.header = csv_header::none};
  // Wrong column count: too few (column 3 is missing), too many (column 4 is extra).
  REQUIRE_THROWS_MATCHES((csv<double, 2>("1,2,3\n4,5\n")), tg::data_error, csv_error_at("mem.csv", 2, 3));
  REQUIRE_THROWS_MATCHES((csv<double, 2>("1,2,3\n4,5,6,7\n")), tg::data_error, csv_error_at("mem.csv", 2, 4));
  // Truncated last line (no newline, fields missing).
  REQUIRE_THROWS_MATCHES((csv<double, 2>("1,2,3\n4,5")), tg::data_error, csv_error_at("mem.csv", 2, 3));
  // Non-numeric field, number with trailing junk, empty field.
  REQUIRE_THROWS_MATCHES((csv<double, 2>("1,2,3\n4,x5,6\n")), tg::data_error, csv_error_at("mem.csv", 2, 2));
  REQUIRE_THROWS_MATCHES((csv<double, 2>("1,2,3\n4,5,6x\n")), tg::data_error, csv_error_at("mem.csv", 2, 3));
  REQUIRE_THROWS_MATCHES((csv<double, 2>("1,,3\n", none)), tg::data_error, csv_error_at("mem.csv", 1, 2));
  REQUIRE_THROWS_MATCHES((csv<double, 2>("1,2,3\n4,\"5\",6\n")), tg::data_error, csv_error_at("mem.csv", 2, 2));
  // NaN and infinities.
  REQUIRE_THROWS_MATCHES((csv<double, 2>("1,2,3\nnan,5,6\n")), tg::data_error, csv_error_at("mem.csv", 2, 1));
  REQUIRE_THROWS_MATCHES((csv<double, 2>("1,2,3\n4,inf,6\n")), tg::data_error, csv_error_at("mem.csv", 2, 2));
  REQUIRE_THROWS_MATCHES((csv<double, 2>("1,2,3\n4,5,-Infinity\n")), tg::data_error, csv_error_at("mem.csv", 2, 3));
  // Out of range: for float only, and for double too.
  CHECK(csv<double, 2>("1,1e39,3\n").features(0)[1] == 1e39);
  REQUIRE_THROWS_MATCHES((csv<float, 2>("1,1e39,3\n")), tg::data_error, csv_error_at("mem.csv", 1, 2));
  REQUIRE_THROWS_MATCHES((csv<double, 2>("1,2,3\n1,2,1e999\n")), tg::data_error, csv_error_at("mem.csv", 2, 3));
  // Empty file, only a BOM, header without data rows.
  REQUIRE_THROWS_MATCHES((csv<double, 2>("")), tg::data_error, csv_error_at("mem.csv", 1, 1));
  REQUIRE_THROWS_MATCHES((csv<double, 2>("\xEF\xBB\xBF")), tg::data_error, csv_error_at("mem.csv", 1, 1));
  REQUIRE_THROWS_MATCHES((csv<double, 2>("a,b,y\n")), tg::data_error, csv_error_at("mem.csv", 2, 1));
  // Empty lines, in the middle and at the end: nothing is skipped.
  REQUIRE_THROWS_MATCHES((csv<double, 2>("1,2,3\n\n4,5,6\n")), tg::data_error, csv_error_at("mem.csv", 2, 1));
  REQUIRE_THROWS_MATCHES((csv<double, 2>("1,2,3\n4,5,6\n \n")), tg::data_error, csv_error_at("mem.csv", 3, 1));
  // A names header of the wrong width.
  REQUIRE_THROWS_MATCHES((csv<double, 2>("a,b\n1,2,3\n")), tg::data_error, csv_error_at("mem.csv", 1, 3));
  // Chosen columns outside the file.
  REQUIRE_THROWS_MATCHES((csv<double, 2>("1,2,3\n", {.header = csv_header::none, .feature_columns = {0, 9}, .target_columns = {2}})),
                         tg::data_error, csv_error_at("mem.csv", 1, 10));
  CHECK_THROWS_AS((csv<double, 2>("1,2,3\n", {.feature_columns = {0}})), std::invalid_argument);
}

TEST_CASE("parse_csv: sklearn header checks rows, width and class labels", "[data][csv]") {
  const tg::csv_options sk{.header = tg::csv_header::sklearn};
  // Fewer rows than announced (truncated): reported just past the last line (4 rows on lines 2..5).
  const std::string truncated = data_dir + "data_truncated.csv";
  REQUIRE_THROWS_MATCHES((tg::read_csv<double, 2>(truncated)), tg::data_error, csv_error_at(truncated, 6, 1));
  REQUIRE_THROWS_MATCHES((tg::read_csv<double, 2>(truncated, sk)), tg::data_error, csv_error_at(truncated, 6, 1));
  // More rows than announced: the first extra row (line 4).
  REQUIRE_THROWS_MATCHES((csv<double, 2>("2,2,a,b\n1,2,0\n3,4,1\n5,6,0\n")), tg::data_error, csv_error_at("mem.csv", 4, 1));
  // Label outside the named classes, or not an integer.
  REQUIRE_THROWS_MATCHES((csv<double, 2>("2,2,a,b\n1,2,0\n3,4,2\n")), tg::data_error, csv_error_at("mem.csv", 3, 3));
  REQUIRE_THROWS_MATCHES((csv<double, 2>("2,2,a,b\n1,2,0.5\n3,4,1\n")), tg::data_error, csv_error_at("mem.csv", 2, 3));
  // Announced feature count does not match the 2 features + 1 target being read.
  REQUIRE_THROWS_MATCHES((csv<double, 2>("2,5,a,b\n1,2,0\n3,4,1\n")), tg::data_error, csv_error_at("mem.csv", 1, 2));
  // Counts that are not counts.
  REQUIRE_THROWS_MATCHES((csv<double, 2>("x,2\n1,2,0\n", sk)), tg::data_error, csv_error_at("mem.csv", 1, 1));
  REQUIRE_THROWS_MATCHES((csv<double, 2>("2,-2\n1,2,0\n", sk)), tg::data_error, csv_error_at("mem.csv", 1, 2));
  REQUIRE_THROWS_MATCHES((csv<double, 2>("2\n1,2,0\n", sk)), tg::data_error, csv_error_at("mem.csv", 1, 2));
  // Without class names (detected by the width change), and a huge announced count allocates nothing.
  CHECK(csv<double, 2>("2,2\n1,2,5\n3,4,6\n").target(1) == 6.0);
  REQUIRE_THROWS_MATCHES((csv<double, 2>("999999999999999999,2\n1,2,5\n")), tg::data_error, csv_error_at("mem.csv", 3, 1));
}

TEST_CASE("read_csv: a bad field in a file, and a missing file", "[data][csv]") {
  const std::string file = data_dir + "data_bad_field.csv";
  REQUIRE_THROWS_MATCHES((tg::read_csv<float, 2>(file)), tg::data_error, csv_error_at(file, 4, 2));
  try {
    (void)tg::read_csv<float, 2>(file);
  } catch (const tg::data_error& e) {
    CHECK_THAT(e.what(), Catch::Matchers::Contains("'abc' is not a number"));
  }
  REQUIRE_THROWS_MATCHES((tg::read_csv<float, 2>(data_dir + "data_no_such_file.csv")), tg::data_error,
                         Catch::Matchers::Predicate<tg::data_error>([](const tg::data_error& e) {
                           return std::string(e.what()).find("data_no_such_file.csv: cannot open") != std::string::npos;
                         }));
}

TEST_CASE("read_csv: the real breast cancer file, if present", "[data][csv]") {
  const std::string file = "/work/shared/data/breast_cancer.csv";
  if (!std::filesystem::exists(file)) return;
  const auto data = tg::read_csv<float, 30>(file);
  REQUIRE(data.size() == 569);
  CHECK(data.features(0)[0] == 17.99f);
  std::size_t benign = 0;
  for (std::size_t i = 0; i < data.size(); ++i) benign += data.target(i) == 1.0f;
  CHECK(benign == 357);  // README: 212 malignant (0), 357 benign (1)
}

TEST_CASE("read_csv: the real digits and diabetes files, if present", "[data][csv]") {
  const std::string dir = "/work/shared/data/";
  if (!std::filesystem::exists(dir + "digits.csv") || !std::filesystem::exists(dir + "diabetes_target.txt")) return;
  const auto digits = tg::read_csv<float, 64>(dir + "digits.csv");  // no header: detected as data
  REQUIRE(digits.size() == 1797);
  CHECK(digits.features(0)[2] == 5.0f);
  CHECK(digits.class_names().empty());
  const tg::csv_options ws{.separator = ' '};
  const auto x = tg::read_csv_table<double>(dir + "diabetes_data_raw.txt", ws);
  const auto y = tg::read_csv_table<double>(dir + "diabetes_target.txt", ws);
  REQUIRE(x.rows == 442);
  REQUIRE(x.cols == 10);
  REQUIRE(y.rows == 442);
  const tg::dataset<double, 10> diabetes(x.values, y.values);
  CHECK(diabetes.features(0)[0] == 59.0);
  CHECK(diabetes.target(0) == 151.0);
}

// ---------------------------------------------------------------------------------------------
// .npy

namespace {

std::string npy_bytes(unsigned major, std::string header, const std::string& data) {
  const std::size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out = std::string("\x93NUMPY", 6) + char(major) + '\0';
  const std::size_t n = header.size();
  out += char(n & 255);
  out += char((n >> 8) & 255);
  if (major == 2) out += std::string(2, '\0');
  return out + header + data;
}

std::string le_bytes(std::uint64_t v, std::size_t n) {
  std::string s;
  for (std::size_t b = 0; b < n; ++b) s += char((v >> (8 * b)) & 255);
  return s;
}

}  // namespace

TEMPLATE_TEST_CASE("read_npy: files written by NumPy", "[data][npy]", float, double) {
  using T = TestType;
  for (const char* name : {"data_f8_2x3.npy", "data_f4_2x3_v2.npy"}) {
    const auto a = tg::read_npy<T>(data_dir + name);
    REQUIRE(a.shape == std::vector<std::size_t>{2, 3});
    REQUIRE(a.rows() == 2);
    REQUIRE(a.cols() == 3);
    for (std::size_t r = 0; r < 2; ++r)
      for (std::size_t c = 0; c < 3; ++c) CHECK(a.values[r * 3 + c] == T(0.5 * double(3 * r + c) - 1));  // as the script
  }
  const auto i8 = tg::read_npy<T>(data_dir + "data_i8_5.npy");
  CHECK(i8.dtype == "<i8");
  CHECK(i8.values == std::vector<T>{-3, -1, 0, 2, T(1ull << 40)});
  CHECK(tg::read_npy<T>(data_dir + "data_i4_5.npy").values == std::vector<T>{-3, -1, 0, 2, 7});
  const auto u1 = tg::read_npy<T>(data_dir + "data_u1_4.npy");
  CHECK(u1.dtype == "|u1");
  CHECK(u1.values == std::vector<T>{0, 1, 128, 255});
  // First 16 samples of the ECG record; values decoded by hand from `xxd` of the shared file
  // (cf03 d503 db03 dd03 ... little-endian uint16).
  const auto ecg = tg::read_npy<T>(data_dir + "data_ecg_head.npy");
  REQUIRE(ecg.shape == std::vector<std::size_t>{16});
  CHECK(ecg.cols() == 1);
  CHECK(ecg.values == std::vector<T>{975, 981, 987, 989, 990, 990, 987, 990, 992, 994, 990, 983, 980, 978, 982, 986});
}

TEST_CASE("read_npy: the full ECG record, if present", "[data][npy]") {
  const std::string file = "/work/shared/data/ecg_mitbih208.npy";
  if (!std::filesystem::exists(file)) return;
  const auto ecg = tg::read_npy<float>(file);
  REQUIRE(ecg.shape == std::vector<std::size_t>{108000});
  CHECK(ecg.values[0] == 975.0f);
}

TEST_CASE("parse_npy: hand-written headers, versions 1.0 and 2.0, all integer widths", "[data][npy]") {
  const std::string shape = "'fortran_order': False, 'shape': (3,), }";
  const auto u2 = tg::parse_npy<double>(npy_bytes(1, "{'descr': '<u2', " + shape, le_bytes(1, 2) + le_bytes(65535, 2) + le_bytes(256, 2)), "m.npy");
  CHECK(u2.values == std::vector<double>{1, 65535, 256});
  const auto i2 = tg::parse_npy<double>(npy_bytes(2, "{\"shape\": (3,), \"descr\": \"<i2\", \"fortran_order\": False}", le_bytes(0xffff, 2) + le_bytes(2, 2) + le_bytes(0x8000, 2)), "m.npy");
  CHECK(i2.values == std::vector<double>{-1, 2, -32768});
  CHECK(tg::parse_npy<double>(npy_bytes(1, "{'descr': '|i1', " + shape, "\xff\x01\x80"), "m.npy").values == std::vector<double>{-1, 1, -128});
  CHECK(tg::parse_npy<double>(npy_bytes(1, "{'descr': '<u4', " + shape, le_bytes(4000000000u, 4) + le_bytes(0, 4) + le_bytes(1, 4)), "m.npy").values ==
        std::vector<double>{4e9, 0, 1});
  CHECK(tg::parse_npy<double>(npy_bytes(1, "{'descr': '<u8', " + shape, le_bytes(1ull << 50, 8) + le_bytes(0, 8) + le_bytes(1, 8)), "m.npy").values ==
        std::vector<double>{double(1ull << 50), 0, 1});
  // Empty extents are valid; 2-D with a Python-2 long suffix.
  CHECK(tg::parse_npy<float>(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }", ""), "m.npy").values.empty());
  const auto two = tg::parse_npy<float>(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1L, 2L), }", le_bytes(0x3f800000, 4) + le_bytes(0xc0000000, 4)), "m.npy");
  CHECK(two.values == std::vector<float>{1.0f, -2.0f});
}

TEST_CASE("parse_npy / read_npy: bad input throws data_error naming file and byte", "[data][npy]") {
  const std::string good_header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  const std::string two_floats = le_bytes(0x3f800000, 4) + le_bytes(0x40000000, 4);
  const std::string good = npy_bytes(1, good_header, two_floats);  // header padded to 128 bytes: data at 128
  REQUIRE(tg::parse_npy<float>(good, "m.npy").values == std::vector<float>{1.0f, 2.0f});

  REQUIRE_THROWS_MATCHES(tg::parse_npy<float>("", "m.npy"), tg::data_error, npy_error_at("m.npy", 0, "bad magic"));
  REQUIRE_THROWS_MATCHES(tg::parse_npy<float>("\x93NUMPZ\x01", "m.npy"), tg::data_error, npy_error_at("m.npy", 0, "bad magic"));
  REQUIRE_THROWS_MATCHES(tg::parse_npy<float>(good.substr(0, 7), "m.npy"), tg::data_error, npy_error_at("m.npy", 7, "truncated"));
  std::string v3 = good;
  v3[6] = 3;
  REQUIRE_THROWS_MATCHES(tg::parse_npy<float>(v3, "m.npy"), tg::data_error, npy_error_at("m.npy", 6, "version 3.0"));
  REQUIRE_THROWS_MATCHES(tg::parse_npy<float>(good.substr(0, 9), "m.npy"), tg::data_error, npy_error_at("m.npy", 9, "header length"));
  REQUIRE_THROWS_MATCHES(tg::parse_npy<float>(good.substr(0, 40), "m.npy"), tg::data_error, npy_error_at("m.npy", 40, "truncated header"));
  // Header syntax: the byte points at the offending character (header text starts at byte 10).
  const auto bad_header = [&](const std::string& h, std::size_t at, const char* what) {
    REQUIRE_THROWS_MATCHES(tg::parse_npy<float>(npy_bytes(1, h, two_floats), "m.npy"), tg::data_error, npy_error_at("m.npy", at, what));
  };
  bad_header("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }", 10 + 34, "True or False");
  bad_header("['descr']", 10, "expected '{'");
  bad_header("{'descr': '<f4', 'shape': (2,), }", 10, "are all required");
  bad_header("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 10 + 17, "repeated key");
  bad_header("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", 10 + 51, "non-negative integer");
  bad_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } x", 10 + 58, "after the dictionary");
  bad_header("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 10 + 70, "too large");
  bad_header("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", 10, "unsupported dtype");
  bad_header("{'descr': '|f4', 'fortran_order': False, 'shape': (2,), }", 10, "unsupported dtype");
  bad_header("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 10, "0-D");
  bad_header("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", 10, "shape too large");
  // Data: truncated (one byte short), trailing bytes, NaN, infinity.
  REQUIRE_THROWS_MATCHES(tg::parse_npy<float>(good.substr(0, good.size() - 1), "m.npy"), tg::data_error,
                         npy_error_at("m.npy", good.size() - 1, "truncated data"));
  REQUIRE_THROWS_MATCHES(tg::parse_npy<float>(good + "xy", "m.npy"), tg::data_error, npy_error_at("m.npy", 136, "2 unexpected bytes"));
  REQUIRE_THROWS_MATCHES(tg::parse_npy<float>(npy_bytes(1, good_header, le_bytes(0x3f800000, 4) + le_bytes(0x7f800000, 4)), "m.npy"),
                         tg::data_error, npy_error_at("m.npy", 132, "element 1 is NaN or infinite"));
  REQUIRE_THROWS_MATCHES(tg::parse_npy<float>(npy_bytes(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", le_bytes(0x47efffffe0000001ull, 8)), "m.npy"),
                         tg::data_error, npy_error_at("m.npy", 128, "out of the range of float"));

  // Files written by NumPy that are rejected. Their data starts at 128 (header padded to 64).
  const auto file_error = [&](const char* name, std::size_t at, const char* what) {
    REQUIRE_THROWS_MATCHES(tg::read_npy<double>(data_dir + name), tg::data_error, npy_error_at(data_dir + name, at, what));
  };
  file_error("data_fortran_2x3.npy", 10, "Fortran order");
  file_error("data_big_endian_3.npy", 10, "unsupported dtype '>f4'");
  file_error("data_3d.npy", 10, "3-D");
  file_error("data_nan_2x2.npy", 128 + 2 * 4, "element 2 (row 1, column 0) is NaN");
  REQUIRE_THROWS_MATCHES(tg::read_npy<double>(data_dir + "data_no_such_file.npy"), tg::data_error,
                         Catch::Matchers::Predicate<tg::data_error>([](const tg::data_error& e) {
                           return std::string(e.what()).find("data_no_such_file.npy: cannot open") != std::string::npos;
                         }));
}

// A small strict JSON reader and string writer: just what safetensors headers need.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

// Why not nlohmann-json: its parser and serializer templates made every program that saves or
// loads weights compile about four seconds longer at -O3; a safetensors header needs far less.
namespace typegrad::detail::json {

/// A parsed JSON value. Objects keep their members in document order (duplicates included);
/// `raw` is the value's own text in the input, for error messages.
struct value {
  enum class kind : unsigned char { null, boolean, number, string, array, object };
  kind type = kind::null;
  bool is_unsigned = false;  ///< a number written as a non-negative integer that fits in 64 bits
  std::uint64_t unsigned_value = 0;
  std::string text;               ///< a string's decoded UTF-8 content
  std::vector<std::string> keys;  ///< object member names (parallel to `items`)
  std::vector<value> items;       ///< array elements, or object member values
  std::string_view raw;

  /// The member named `key` (the last one if repeated, as nlohmann-json and Python's json do), or nullptr.
  const value* find(std::string_view key) const noexcept {
    for (std::size_t k = keys.size(); k-- > 0;)
      if (keys[k] == key) return &items[k];
    return nullptr;
  }
};

/// Thrown by parse: what is wrong and the byte offset where it was found.
struct syntax_error {
  const char* what;
  std::size_t offset;
};

/// Length of the well-formed UTF-8 sequence (RFC 3629: no overlongs, surrogates or code points
/// above U+10FFFF) starting at s[i], or 0.
inline std::size_t utf8_length(std::string_view s, std::size_t i) noexcept {
  const auto at = [&](std::size_t k) { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0u; };
  const unsigned c = at(0);
  const auto cont = [&](std::size_t k, unsigned lo = 0x80, unsigned hi = 0xbf) { return at(k) >= lo && at(k) <= hi; };
  if (c < 0x80) return i < s.size() ? 1 : 0;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c == 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (c == 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (c == 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xf1 && c <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c == 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

/// Appends `s` to `out` as a JSON string literal, escaped as nlohmann-json's dump() does
/// (\" \\ \b \f \n \r \t, other control characters as \u00xx, UTF-8 kept as is).
/// Returns false, leaving `out` partly written, if `s` is not valid UTF-8.
inline bool write_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const std::size_t n = utf8_length(s, i);
      if (n == 0) return false;
      out.append(s, i, n);
      i += n;
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  out += '"';
  return true;
}

/// RFC 8259 JSON, strictly: one value, optional surrounding whitespace (and a leading UTF-8
/// byte order mark, which nlohmann-json accepts too), valid UTF-8 in strings, nesting at most
/// max_depth deep (deeper input is rejected rather than risking the stack).
class parser {
 public:
  static constexpr int max_depth = 256;

  explicit parser(std::string_view text) noexcept : s_(text) {}

  /// The whole input as one value; throws syntax_error.
  value parse() {
    if (s_.substr(0, 3) == "\xEF\xBB\xBF") p_ = 3;
    value v;
    parse_value(v, 0);
    skip_space();
    if (p_ != s_.size()) fail("unexpected text after the JSON value");
    return v;
  }

 private:
  std::string_view s_;
  std::size_t p_ = 0;

  [[noreturn]] void fail(const char* what) const { throw syntax_error{what, p_}; }
  int peek() const noexcept { return p_ < s_.size() ? static_cast<unsigned char>(s_[p_]) : -1; }
  void skip_space() noexcept {
    while (p_ < s_.size() && (s_[p_] == ' ' || s_[p_] == '\t' || s_[p_] == '\n' || s_[p_] == '\r')) ++p_;
  }
  void expect_word(std::string_view word) {
    if (s_.substr(p_, word.size()) != word) fail("invalid literal");
    p_ += word.size();
  }

  void parse_value(value& v, int depth) {
    skip_space();
    const std::size_t start = p_;
    switch (peek()) {
      case '{': parse_object(v, depth + 1); break;
      case '[': parse_array(v, depth + 1); break;
      case '"':
        v.type = value::kind::string;
        parse_string(v.text);
        break;
      case 't':
        expect_word("true");
        v.type = value::kind::boolean;
        break;
      case 'f':
        expect_word("false");
        v.type = value::kind::boolean;
        break;
      case 'n':
        expect_word("null");
        break;
      case -1: fail("unexpected end of input");
      default:
        if (peek() == '-' || (peek() >= '0' && peek() <= '9'))
          parse_number(v);
        else
          fail("unexpected character");
    }
    v.raw = s_.substr(start, p_ - start);
  }

  void parse_object(value& v, int depth) {
    if (depth > max_depth) fail("nesting too deep");
    v.type = value::kind::object;
    ++p_;  // '{'
    skip_space();
    if (peek() == '}') {
      ++p_;
      return;
    }
    for (;;) {
      skip_space();
      if (peek() != '"') fail("expected a string as object key");
      parse_string(v.keys.emplace_back());
      skip_space();
      if (peek() != ':') fail("expected ':' after an object key");
      ++p_;
      parse_value(v.items.emplace_back(), depth);
      skip_space();
      if (peek() == ',') {
        ++p_;
      } else if (peek() == '}') {
        ++p_;
        return;
      } else {
        fail("expected ',' or '}' in an object");
      }
    }
  }

  void parse_array(value& v, int depth) {
    if (depth > max_depth) fail("nesting too deep");
    v.type = value::kind::array;
    ++p_;  // '['
    skip_space();
    if (peek() == ']') {
      ++p_;
      return;
    }
    for (;;) {
      parse_value(v.items.emplace_back(), depth);
      skip_space();
      if (peek() == ',') {
        ++p_;
      } else if (peek() == ']') {
        ++p_;
        return;
      } else {
        fail("expected ',' or ']' in an array");
      }
    }
  }

  void parse_number(value& v) {
    v.type = value::kind::number;
    const std::size_t start = p_;
    const auto digit = [&] { return peek() >= '0' && peek() <= '9'; };
    const bool negative = peek() == '-';
    if (negative) ++p_;
    if (!digit()) fail("invalid number");
    bool integral = true, overflow = false;
    std::uint64_t u = 0;
    if (peek() == '0') {
      ++p_;
    } else {
      while (digit()) {
        const auto d = static_cast<std::uint64_t>(peek() - '0');
        if (u > (UINT64_MAX - d) / 10) overflow = true;
        u = u * 10 + d;
        ++p_;
      }
    }
    if (peek() == '.') {
      integral = false;
      ++p_;
      if (!digit()) fail("invalid number: no digit after '.'");
      while (digit()) ++p_;
    }
    if (peek() == 'e' || peek() == 'E') {
      integral = false;
      ++p_;
      if (peek() == '+' || peek() == '-') ++p_;
      if (!digit()) fail("invalid number: no digit in the exponent");
      while (digit()) ++p_;
    }
    v.is_unsigned = integral && !negative && !overflow;
    v.unsigned_value = v.is_unsigned ? u : 0;
    if (!v.is_unsigned) check_double_range(s_.substr(start, p_ - start));
  }

  // Any other number must be a finite double, as in nlohmann-json (underflow to 0 is fine).
  void check_double_range(std::string_view number) {
    double d = 0;
    if (std::from_chars(number.data(), number.data() + number.size(), d).ec != std::errc::result_out_of_range) return;
    // Out of range: overflow when the decimal exponent of the leading digit is positive.
    long long magnitude = 0, exponent = 0;
    std::size_t k = number[0] == '-' ? 1 : 0;
    bool seen_nonzero = false;
    for (; k < number.size() && number[k] != 'e' && number[k] != 'E'; ++k) {
      if (number[k] == '.') continue;
      if (number[k] != '0') seen_nonzero = true;
      if (seen_nonzero && number.find('.') > k) ++magnitude;   // integer digits from the first non-zero one
      if (!seen_nonzero && number.find('.') < k) --magnitude;  // zeros right after the point
    }
    const bool negative_exponent = k + 1 < number.size() && number[k + 1] == '-';
    for (++k; k < number.size(); ++k)
      if (number[k] >= '0' && number[k] <= '9' && exponent < 1'000'000'000) exponent = exponent * 10 + (number[k] - '0');
    if (magnitude + (negative_exponent ? -exponent : exponent) > 0) fail("number out of the range of a double");
  }

  unsigned parse_hex4() {
    unsigned u = 0;
    for (int k = 0; k < 4; ++k, ++p_) {
      const int c = peek();
      u <<= 4;
      if (c >= '0' && c <= '9') u |= unsigned(c - '0');
      else if (c >= 'a' && c <= 'f') u |= unsigned(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') u |= unsigned(c - 'A' + 10);
      else fail("invalid \\u escape");
    }
    return u;
  }

  static void append_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xe0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }

  void parse_string(std::string& out) {
    ++p_;  // '"'
    for (;;) {
      const int c = peek();
      if (c == -1) fail("unterminated string");
      if (c == '"') {
        ++p_;
        return;
      }
      if (c < 0x20) fail("control character in a string (it must be escaped)");
      if (c == '\\') {
        ++p_;
        const int e = peek();
        ++p_;
        switch (e) {
          case '"': out += '"'; break;
          case '\\': out += '\\'; break;
          case '/': out += '/'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'n': out += '\n'; break;
          case 'r': out += '\r'; break;
          case 't': out += '\t'; break;
          case 'u': {
            unsigned cp = parse_hex4();
            if (cp >= 0xdc00 && cp <= 0xdfff) fail("lone low surrogate in a \\u escape");
            if (cp >= 0xd800 && cp <= 0xdbff) {
              if (s_.substr(p_, 2) != "\\u") fail("high surrogate not followed by a low surrogate");
              p_ += 2;
              const unsigned low = parse_hex4();
              if (low < 0xdc00 || low > 0xdfff) fail("high surrogate not followed by a low surrogate");
              cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
            }
            append_utf8(out, cp);
            break;
          }
          default: --p_; fail("invalid escape in a string");
        }
        continue;
      }
      const std::size_t n = utf8_length(s_, p_);
      if (n == 0) fail("invalid UTF-8 in a string");
      out.append(s_, p_, n);
      p_ += n;
    }
  }
};

}  // namespace typegrad::detail::json

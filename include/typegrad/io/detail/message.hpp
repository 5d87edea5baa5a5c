// message(): an error text built by one out-of-line call instead of a chain of std::string operator+.
#pragma once

#include <charconv>
#include <concepts>
#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>

// Why: every `"..." + s + "..." + std::to_string(n)` chain inlines several string temporaries
// and their exception clean-ups; the I/O headers have dozens of such messages, and at -O3 they
// cost more compile time than the code that does the work.
namespace typegrad::detail {

/// One piece of a message: text (viewed, not copied) or an integer printed in decimal.
class message_part {
 public:
  message_part(std::string_view text) noexcept : text_(text) {}
  message_part(const char* text) noexcept : text_(text) {}
  message_part(const std::string& text) noexcept : text_(text) {}
  template <std::integral I>
    requires(!std::is_same_v<I, bool> && !std::is_same_v<I, char>)
  message_part(I value) noexcept
      : digits_(static_cast<std::size_t>(std::to_chars(buffer_, buffer_ + sizeof(buffer_), value).ptr - buffer_)) {}

  std::string_view view() const noexcept { return digits_ ? std::string_view(buffer_, digits_) : text_; }

 private:
  std::string_view text_;
  char buffer_[24] = {};
  std::size_t digits_ = 0;
};

/// The concatenation of `parts`, e.g. message({"tensor '", name, "' has ", n, " bytes"}).
[[gnu::noinline]] inline std::string message(std::initializer_list<message_part> parts) {
  std::string s;
  for (const auto& p : parts) s += p.view();
  return s;
}

}  // namespace typegrad::detail

// The least use of nlohmann-json that any safetensors header reader and writer needs: its public
// SAX parser driven by a handler that does nothing, and dump() of a one-member object. Pasted into
// a copy of the flagship example in place of save_weights / load_weights, it measures what
// nlohmann-json costs the flagship's compile whatever typegrad's own code around it does
// (bench/compile_cost/flagship_variants.py).
#pragma once

#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

namespace floor_probe {

struct do_nothing_handler {
  using json = nlohmann::json;
  int values = 0;
  bool null() { return ++values, true; }
  bool boolean(bool) { return ++values, true; }
  bool number_integer(json::number_integer_t) { return ++values, true; }
  bool number_unsigned(json::number_unsigned_t) { return ++values, true; }
  bool number_float(json::number_float_t, const json::string_t&) { return ++values, true; }
  bool string(json::string_t&) { return ++values, true; }
  bool binary(json::binary_t&) { return true; }
  bool start_object(std::size_t) { return true; }
  bool start_array(std::size_t) { return true; }
  bool end_object() { return true; }
  bool end_array() { return true; }
  bool key(json::string_t&) { return true; }
  bool parse_error(std::size_t, const std::string&, const json::exception&) { return false; }
};

// Reads `text` as JSON and writes {text: text}: returns a number so that nothing is dead code.
[[gnu::noinline]] inline std::size_t read_and_write(const std::string& text) {
  do_nothing_handler handler;
  nlohmann::json::sax_parse(text.data(), text.data() + text.size(), &handler);
  nlohmann::json object(nlohmann::json::value_t::object);
  object.get_ptr<nlohmann::json::object_t*>()->emplace(text, text);
  return std::size_t(handler.values) + object.dump().size();
}

}  // namespace floor_probe

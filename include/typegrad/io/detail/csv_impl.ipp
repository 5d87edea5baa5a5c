// The definitions behind io/csv.hpp: the CSV scanner and the row parser, per scalar type only.
// Compiled once into the typegrad library for float and double (src/csv.cpp), or included by
// io/csv.hpp itself when TYPEGRAD_HEADER_ONLY is defined. Never include it directly.
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <span>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include <typegrad/data/detail/text.hpp>
#include <typegrad/io/csv.hpp>
#include <typegrad/io/detail/message.hpp>
#include <typegrad/io/error.hpp>

namespace typegrad {

namespace detail {

enum class number_status { ok, empty, not_a_number, not_finite, out_of_range };

// Strict numeric field: optional surrounding spaces/tabs, optional sign, decimal or
// scientific notation, nothing else. NaN and infinities are rejected, not passed on.
template <class T>
number_status parse_number(std::string_view field, T& out) noexcept {
  while (!field.empty() && (field.front() == ' ' || field.front() == '\t')) field.remove_prefix(1);
  while (!field.empty() && (field.back() == ' ' || field.back() == '\t')) field.remove_suffix(1);
  if (field.empty()) return number_status::empty;
  // from_chars takes '-' but not '+'.
  if (field.front() == '+' && field.size() > 1 && field[1] != '-' && field[1] != '+') field.remove_prefix(1);
  double value = 0;
  const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), value);
  if (ec == std::errc::result_out_of_range) return number_status::out_of_range;
  if (ec != std::errc{} || end != field.data() + field.size()) return number_status::not_a_number;
  if (!std::isfinite(value)) return number_status::not_finite;
  if (std::fabs(value) > static_cast<double>(std::numeric_limits<T>::max())) return number_status::out_of_range;
  out = static_cast<T>(value);
  return number_status::ok;
}

inline bool is_count(std::string_view field, std::size_t& out) noexcept {
  while (!field.empty() && (field.front() == ' ' || field.front() == '\t')) field.remove_prefix(1);
  while (!field.empty() && (field.back() == ' ' || field.back() == '\t')) field.remove_suffix(1);
  if (field.empty()) return false;
  const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), out);
  return ec == std::errc{} && end == field.data() + field.size();
}

inline void split_fields(std::string_view line, char separator, std::vector<std::string_view>& fields) {
  fields.clear();
  if (separator == ' ') {
    std::size_t i = 0;
    while (true) {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
      if (i == line.size()) return;
      const std::size_t start = i;
      while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
      fields.push_back(line.substr(start, i - start));
    }
  }
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = line.find(separator, start);
    if (comma == std::string_view::npos) {
      fields.push_back(line.substr(start));
      return;
    }
    fields.push_back(line.substr(start, comma - start));
    start = comma + 1;
  }
}

inline std::string trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

[[noreturn, gnu::noinline, gnu::cold]] inline void csv_fail(std::string_view name, std::size_t line, std::size_t column, const std::string& why) {
  throw data_error(message({name, ": line ", line, ", column ", column, ": ", why}));
}

[[gnu::noinline, gnu::cold]] inline std::string describe(number_status status, std::string_view field, std::string_view type) {
  switch (status) {
    case number_status::empty: return "empty field, expected a number";
    case number_status::not_a_number: return message({quoted_excerpt(field), " is not a number"});
    case number_status::not_finite: return message({quoted_excerpt(field), ": NaN and infinity are not allowed"});
    case number_status::out_of_range: return message({quoted_excerpt(field), " is out of the range of ", type});
    case number_status::ok: break;
  }
  return "ok";
}

inline bool is_missing_marker(std::string_view field, const csv_options& options) {
  const std::string t = trimmed(field);
  return std::find(options.missing_markers.begin(), options.missing_markers.end(), t) != options.missing_markers.end();
}

// A missing value where the policy does not allow one: the usual message and what would read it.
[[gnu::noinline, gnu::cold]] inline std::string describe_missing(number_status status, std::string_view field, std::string_view type,
                                                                bool is_target) {
  return message({status == number_status::empty ? std::string("empty field, expected a number")
                                                 : message({"missing value ", quoted_excerpt(field)}),
                  is_target ? std::string(" (a target cannot be missing)")
                            : std::string(" (csv_options::missing = missing_values::impute_mean reads it as missing, "
                                          "for a mean_imputer fitted on the training rows)"),
                  status == number_status::empty ? std::string() : message({"; ", describe(status, field, type)})});
}

inline bool blank(std::string_view line) noexcept {
  return line.find_first_not_of(" \t") == std::string_view::npos;
}

// The line structure and first line of a CSV file, shared by the dataset and table readers.
struct csv_layout {
  std::vector<std::string_view> lines;  // without line ends; lines[0] is line 1
  csv_header header = csv_header::none;
  std::size_t width = 0;                // columns every data row must have
  std::size_t first_data = 0;           // index of the first data line
  std::size_t announced_rows = 0;       // sklearn header only
  std::vector<std::string> class_names;
  std::vector<std::string_view> names;  // names header only
};

// `width` = the required number of columns, or 0 to take it from the header or first data row.
[[gnu::noinline]] inline csv_layout csv_scan(std::string_view text, std::string_view name, const csv_options& options,
                           std::size_t width) {
  csv_layout layout;
  auto& lines = layout.lines;
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  if (text.empty()) csv_fail(name, 1, 1, "empty file");
  for (std::size_t start = 0; start < text.size();) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (line.ends_with('\r')) line.remove_suffix(1);
    lines.push_back(line);
    start = end + 1;  // a final newline does not start another line
  }
  for (std::size_t l = 0; l < lines.size(); ++l)
    if (blank(lines[l])) csv_fail(name, l + 1, 1, "empty line");

  std::vector<std::string_view> fields;
  split_fields(lines[0], options.separator, fields);
  csv_header header = options.header;
  if (header == csv_header::automatic) {
    double ignored = 0;
    bool all_numbers = true, rest_names = fields.size() > 2;
    for (std::size_t i = 0; i < fields.size(); ++i) {
      const bool number = parse_number(fields[i], ignored) == number_status::ok;
      all_numbers = all_numbers && number;
      if (i >= 2) rest_names = rest_names && !number;
    }
    std::vector<std::string_view> second;
    if (lines.size() > 1) split_fields(lines[1], options.separator, second);
    std::size_t a = 0, b = 0;
    const bool counts = fields.size() >= 2 && is_count(fields[0], a) && is_count(fields[1], b);
    if (counts && (rest_names || (lines.size() > 1 && second.size() != fields.size())))
      header = csv_header::sklearn;
    else if (!all_numbers)
      header = csv_header::names;
    else
      header = csv_header::none;
  }
  layout.header = header;

  std::size_t announced_features = 0;
  if (header == csv_header::sklearn) {
    if (fields.size() < 2) csv_fail(name, 1, fields.size() + 1, "expected 'n_samples,n_features[,class names]'");
    if (!is_count(fields[0], layout.announced_rows))
      csv_fail(name, 1, 1, message({quoted_excerpt(fields[0]), " is not a sample count"}));
    if (!is_count(fields[1], announced_features) || announced_features == std::numeric_limits<std::size_t>::max())
      csv_fail(name, 1, 2, message({quoted_excerpt(fields[1]), " is not a feature count"}));
    for (std::size_t i = 2; i < fields.size(); ++i) layout.class_names.push_back(trimmed(fields[i]));
    if (width != 0 && width != announced_features + 1)
      csv_fail(name, 1, 2,
               message({"announces ", announced_features, " features + 1 target column, but ", width,
                        " columns are expected"}));
    width = announced_features + 1;
    layout.first_data = 1;
  } else if (header == csv_header::names) {
    if (width != 0 && fields.size() != width)
      csv_fail(name, 1, std::min(fields.size(), width) + 1,
               message({"header has ", fields.size(), " columns, expected ", width}));
    width = fields.size();
    layout.names = fields;
    layout.first_data = 1;
  }
  if (layout.first_data >= lines.size()) csv_fail(name, lines.size() + 1, 1, "no data rows");
  if (width == 0) {
    split_fields(lines[layout.first_data], options.separator, fields);
    width = fields.size();
  }
  layout.width = width;
  return layout;
}

// Splits data line l into exactly `layout.width` fields, checking the sklearn row count.
inline void csv_row(const csv_layout& layout, std::size_t l, std::string_view name, char separator,
                    std::vector<std::string_view>& fields) {
  if (layout.header == csv_header::sklearn && l - layout.first_data == layout.announced_rows)
    csv_fail(name, l + 1, 1,
             message({"line 1 announces ", layout.announced_rows, " rows; this is one more"}));
  split_fields(layout.lines[l], separator, fields);
  if (fields.size() != layout.width)
    csv_fail(name, l + 1, std::min(fields.size(), layout.width) + 1,
             message({"expected ", layout.width, " columns, found ", fields.size()}));
}

inline void csv_check_count(const csv_layout& layout, std::size_t rows, std::string_view name) {
  if (layout.header == csv_header::sklearn && rows != layout.announced_rows)
    csv_fail(name, layout.lines.size() + 1, 1,
             message({"file ends after ", rows, " data rows, but line 1 announces ", layout.announced_rows,
                      " (truncated file?)"}));
}

template <class T>
constexpr std::string_view type_name = std::is_same_v<T, float> ? "float" : "double";

}  // namespace detail

namespace detail {

// The body of parse_csv with Features and Targets as run-time values (one copy per T, not per
// dataset shape): appends each row's features and targets to `features` and `targets`. Cold
// (optimised for size: a file is read once), reached through parse_csv_rows so that the
// caller's code is not predicted cold too.
template <class T>
[[gnu::noinline, gnu::cold]] void parse_csv_rows_cold(std::string_view text, std::string_view name,
                                                 const csv_options& options, std::size_t n_features,
                                                 std::size_t n_targets, std::vector<T>& features,
                                                 std::vector<T>& targets, std::vector<std::string>& class_names,
                                                 std::vector<std::string>& feature_names) {
  std::vector<std::size_t> feature_cols = options.feature_columns, target_cols = options.target_columns;
  if (!feature_cols.empty() && feature_cols.size() != n_features)
    throw std::invalid_argument(
        message({"typegrad::read_csv: ", feature_cols.size(), " feature columns given for ", n_features, " features"}));
  if (!target_cols.empty() && target_cols.size() != n_targets)
    throw std::invalid_argument(
        message({"typegrad::read_csv: ", target_cols.size(), " target columns given for ", n_targets, " targets"}));
  const bool default_columns = feature_cols.empty() && target_cols.empty();

  const csv_layout layout = csv_scan(text, name, options, default_columns ? n_features + n_targets : 0);
  const std::size_t width = layout.width, first = layout.first_data;
  if (feature_cols.empty())
    for (std::size_t i = 0; i < n_features; ++i) feature_cols.push_back(i);
  if (target_cols.empty())
    for (std::size_t i = 0; i < n_targets; ++i) target_cols.push_back(width >= n_targets ? width - n_targets + i : i);
  for (const auto c : feature_cols)
    if (c >= width || std::count(target_cols.begin(), target_cols.end(), c) != 0)
      csv_fail(name, first + 1, c + 1,
               message({"feature column ", c, " (0-based) is not a column of this ", width,
                        "-column file, or is also a target column"}));
  for (const auto c : target_cols)
    if (c >= width)
      csv_fail(name, first + 1, c + 1,
               message({"target column ", c, " (0-based) is not a column of this ", width, "-column file"}));

  class_names = layout.class_names;
  if (!layout.names.empty())
    for (const auto c : feature_cols) feature_names.push_back(trimmed(layout.names[c]));
  const std::size_t rows = layout.lines.size() - first;  // never an announced count: fuzzed headers announce 10^18
  features.reserve(rows * n_features);
  targets.reserve(rows * n_targets);
  const std::size_t classes = layout.class_names.size();
  std::vector<std::string_view> fields;
  for (std::size_t l = first; l < layout.lines.size(); ++l) {
    csv_row(layout, l, name, options.separator, fields);
    auto read = [&](std::size_t c, std::vector<T>& out, bool is_target) {
      T value{};
      const auto status = parse_number(fields[c], value);
      if (status != number_status::ok) {
        if (!is_missing_marker(fields[c], options)) csv_fail(name, l + 1, c + 1, describe(status, fields[c], type_name<T>));
        if (is_target || options.missing != missing_values::impute_mean)
          csv_fail(name, l + 1, c + 1, describe_missing(status, fields[c], type_name<T>, is_target));
        value = std::numeric_limits<T>::quiet_NaN();
      }
      out.push_back(value);
    };
    for (std::size_t i = 0; i < n_features; ++i) read(feature_cols[i], features, false);
    for (std::size_t i = 0; i < n_targets; ++i) read(target_cols[i], targets, true);
    const T t0 = targets[targets.size() - n_targets];
    if (classes != 0 && n_targets == 1 && !(t0 >= T(0) && t0 < static_cast<T>(classes) && t0 == std::floor(t0)))
      csv_fail(name, l + 1, target_cols[0] + 1,
               message({quoted_excerpt(fields[target_cols[0]]), " is not a class index 0..", classes - 1,
                        " of the classes named on line 1"}));
  }
  csv_check_count(layout, features.size() / n_features, name);
}

template <class T>
void parse_csv_rows(std::string_view text, std::string_view name, const csv_options& options, std::size_t n_features,
                    std::size_t n_targets, std::vector<T>& features, std::vector<T>& targets,
                    std::vector<std::string>& class_names, std::vector<std::string>& feature_names) {
  parse_csv_rows_cold<T>(text, name, options, n_features, n_targets, features, targets, class_names, feature_names);
}

template <class T>
void read_csv_rows(const std::filesystem::path& path, const csv_options& options, std::size_t n_features,
                   std::size_t n_targets, std::vector<T>& features, std::vector<T>& targets,
                   std::vector<std::string>& class_names, std::vector<std::string>& feature_names) {
  const std::string text = read_whole_file(path);
  parse_csv_rows_cold<T>(text, path.string(), options, n_features, n_targets, features, targets, class_names,
                         feature_names);
}

}  // namespace detail

template <class T>
[[gnu::noinline]] csv_table<T> parse_csv_table(std::string_view text, std::string_view name, const csv_options& options) {
  static_assert(std::is_floating_point_v<T>, "typegrad::parse_csv_table<T>: T must be float or double");
  const detail::csv_layout layout = detail::csv_scan(text, name, options, 0);
  csv_table<T> out;
  out.cols = layout.width;
  out.class_names = layout.class_names;
  for (const auto n : layout.names) out.column_names.push_back(detail::trimmed(n));
  std::vector<std::string_view> fields;
  for (std::size_t l = layout.first_data; l < layout.lines.size(); ++l) {
    detail::csv_row(layout, l, name, options.separator, fields);
    for (std::size_t c = 0; c < fields.size(); ++c) {
      T value{};
      const auto status = detail::parse_number(fields[c], value);
      if (status != detail::number_status::ok) {
        if (!detail::is_missing_marker(fields[c], options))
          detail::csv_fail(name, l + 1, c + 1, detail::describe(status, fields[c], detail::type_name<T>));
        if (options.missing != missing_values::impute_mean)
          detail::csv_fail(name, l + 1, c + 1, detail::describe_missing(status, fields[c], detail::type_name<T>, false));
        value = std::numeric_limits<T>::quiet_NaN();
      }
      out.values.push_back(value);
    }
    ++out.rows;
  }
  detail::csv_check_count(layout, out.rows, name);
  return out;
}

template <class T>
csv_table<T> read_csv_table(const std::filesystem::path& path, const csv_options& options) {
  const std::string text = detail::read_whole_file(path);
  return parse_csv_table<T>(text, path.string(), options);
}

}  // namespace typegrad

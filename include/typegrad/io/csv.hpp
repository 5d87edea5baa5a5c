// typegrad::read_csv / parse_csv: a strict numeric CSV reader into a typegrad::dataset.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <typegrad/data/dataset.hpp>
#include <typegrad/io/error.hpp>

namespace typegrad {

/// What the first line of a CSV file is.
enum class csv_header {
  automatic,  ///< guess: `sklearn` if it starts with two counts and then names (or has another
              ///< width than line 2), `names` if any field is not a number, else `none`
  none,       ///< the first line is data
  names,      ///< one name per column; the feature columns' names go to `feature_names()`
  sklearn,    ///< scikit-learn's `n_samples,n_features[,class names...]`, e.g. `569,30,malignant,benign`;
              ///< the row count and the width (n_features + 1 target column) are checked, and if
              ///< class names are given every label must be a class index 0..k-1
};

/// What the CSV reader does with a missing feature value (a field equal to one of
/// `csv_options::missing_markers`, e.g. empty or `NA`).
enum class missing_values {
  error,        ///< data_error naming the line and column (the default: nothing is filled in silently)
  impute_mean,  ///< read as NaN, to be filled by a mean_imputer fitted on the training rows only
                ///< (data/impute.hpp); missing targets are still an error
};

/// Options of `read_csv` / `parse_csv`.
struct csv_options {
  csv_header header = csv_header::automatic;
  /// Field separator; `' '` means any run of spaces and tabs (whitespace-separated files).
  char separator = ',';
  /// 0-based columns that become the features, in order; empty: columns 0..Features-1.
  std::vector<std::size_t> feature_columns = {};
  /// 0-based columns that become the targets, in order; empty: the last Targets columns.
  /// With both lists empty every row must have exactly Features + Targets columns; otherwise
  /// the rows must all have the width of the first line, and other columns are not read.
  std::vector<std::size_t> target_columns = {};
  /// Missing feature values: an error, or kept as NaN for imputation (see missing_values).
  missing_values missing = missing_values::error;
  /// The fields (after trimming spaces) that mean "missing".
  std::vector<std::string> missing_markers = {"", "NA", "N/A", "NaN", "nan", "null", "?"};
};

namespace detail {

// The bodies of parse_csv and read_csv with Features and Targets as run-time values (one copy per
// T, not per dataset shape, compiled into the typegrad library for float and double): append each
// row's features and targets to `features` and `targets`. read_csv_rows reads the file first and
// names it by its path.
template <class T>
void parse_csv_rows(std::string_view text, std::string_view name, const csv_options& options, std::size_t n_features,
                    std::size_t n_targets, std::vector<T>& features, std::vector<T>& targets,
                    std::vector<std::string>& class_names, std::vector<std::string>& feature_names);
template <class T>
void read_csv_rows(const std::filesystem::path& path, const csv_options& options, std::size_t n_features,
                   std::size_t n_targets, std::vector<T>& features, std::vector<T>& targets,
                   std::vector<std::string>& class_names, std::vector<std::string>& feature_names);

}  // namespace detail

/// Parses CSV text (the contents of a file called `name`, used in messages) into a dataset.
///
/// Strict: every row must have the same number of columns and every read field must be a
/// finite number that fits in T (or, with `missing = missing_values::impute_mean`, a missing
/// marker in a feature column, read as NaN); an empty line, an empty file, a header without data rows and
/// (with an sklearn header) a row count other than announced are errors too. Nothing is skipped.
/// CRLF line ends, a UTF-8 byte-order mark and a last line without a newline are accepted.
/// Quoted fields are not supported (header names are taken as written).
/// @throws data_error "name: line L, column C: what is wrong" (1-based; C counts fields)
/// @throws std::invalid_argument if the column lists in `options` do not fit Features/Targets
template <class T, std::size_t Features, std::size_t Targets = 1>
dataset<T, Features, Targets> parse_csv(std::string_view text, std::string_view name, const csv_options& options = {}) {
  static_assert(std::is_floating_point_v<T>, "typegrad::parse_csv<T, ...>: T must be float or double");
  std::vector<T> features, targets;
  std::vector<std::string> class_names, feature_names;
  detail::parse_csv_rows<T>(text, name, options, Features, Targets, features, targets, class_names, feature_names);
  dataset<T, Features, Targets> out(std::move(features), std::move(targets));
  out.class_names() = std::move(class_names);
  out.feature_names() = std::move(feature_names);
  return out;
}

/// All columns of a numeric CSV file, row-major: for files whose targets live elsewhere (or
/// whose width is only known at run time). `feature_columns`/`target_columns` are ignored.
template <class T>
struct csv_table {
  // The reader is compiled once, in the library, for these two (a clear error here, not at link time).
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "typegrad::csv_table<T> (parse_csv_table, read_csv_table): T must be float or double");
  std::size_t rows = 0, cols = 0;
  std::vector<T> values;                  ///< rows × cols, row-major
  std::vector<std::string> column_names;  ///< from a `names` header, else empty
  std::vector<std::string> class_names;   ///< from an sklearn header, else empty
};

/// Parses CSV text into a `csv_table` with the same checks as `parse_csv`.
/// @throws data_error "name: line L, column C: what is wrong"
template <class T>
csv_table<T> parse_csv_table(std::string_view text, std::string_view name, const csv_options& options = {});

/// Reads a CSV file into a `csv_table`; see `parse_csv_table`.
template <class T>
csv_table<T> read_csv_table(const std::filesystem::path& path, const csv_options& options = {});

/// Reads a CSV file into a dataset; see `parse_csv` for the format and the checks.
/// ```
/// auto data = typegrad::read_csv<float, 30>("breast_cancer.csv");   // sklearn header detected
/// auto digits = typegrad::read_csv<float, 64>("digits.csv", {.header = typegrad::csv_header::none});
/// ```
/// @throws data_error naming the file, line and column of the first problem
template <class T, std::size_t Features, std::size_t Targets = 1>
dataset<T, Features, Targets> read_csv(const std::filesystem::path& path, const csv_options& options = {}) {
  static_assert(std::is_floating_point_v<T>, "typegrad::read_csv<T, ...>: T must be float or double");
  std::vector<T> features, targets;
  std::vector<std::string> class_names, feature_names;
  detail::read_csv_rows<T>(path, options, Features, Targets, features, targets, class_names, feature_names);
  dataset<T, Features, Targets> out(std::move(features), std::move(targets));
  out.class_names() = std::move(class_names);
  out.feature_names() = std::move(feature_names);
  return out;
}

}  // namespace typegrad

#ifdef TYPEGRAD_HEADER_ONLY
#include <typegrad/io/detail/csv_impl.ipp>
#endif

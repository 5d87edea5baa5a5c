// The definitions behind data/standardizer.hpp's metadata text (to_metadata / from_metadata),
// per scalar type only. Compiled once into the typegrad library for float and double
// (src/standardizer.cpp), or included by data/standardizer.hpp itself when TYPEGRAD_HEADER_ONLY is
// defined. Never include it directly.
#pragma once

#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include <typegrad/data/standardizer.hpp>
#include <typegrad/io/error.hpp>

namespace typegrad::detail {

// "v0,v1,...": each value with enough digits to round-trip exactly (out of line, per T only).
template <class T>
[[gnu::noinline]] std::string join_numbers(const T* values, std::size_t n) {
  std::string out;
  char buf[40];
  for (std::size_t j = 0; j < n; ++j) {
    std::snprintf(buf, sizeof buf, "%s%.*g", j ? "," : "", std::numeric_limits<T>::max_digits10,
                  static_cast<double>(values[j]));
    out += buf;
  }
  return out;
}


// The n comma-separated numbers of meta[key]; io_error naming the key otherwise.
template <class T>
[[gnu::noinline]] std::vector<T> standardizer_numbers(const std::map<std::string, std::string>& meta,
                                                      const std::string& key, std::size_t n) {
  const auto it = meta.find(key);
  if (it == meta.end()) throw io_error("typegrad::standardizer::from_metadata: no '" + key + "' entry");
  std::vector<T> values(n);
  const char* p = it->second.c_str();
  for (std::size_t j = 0; j < n; ++j) {
    char* end = nullptr;
    errno = 0;
    const double v = std::strtod(p, &end);
    if (end == p || errno == ERANGE || !std::isfinite(v) || (*end != (j + 1 < n ? ',' : '\0')))
      throw io_error("typegrad::standardizer::from_metadata: '" + key + "' must hold " + std::to_string(n) +
                     " comma-separated finite numbers (entry " + std::to_string(j) + " is bad)");
    values[j] = static_cast<T>(v);
    p = end + 1;
  }
  return values;
}

template <class T>
std::map<std::string, std::string> standardizer_to_metadata(const std::string& prefix, std::size_t n, const T* mean,
                                                            const T* scale, const T* min, const T* max) {
  std::map<std::string, std::string> meta;
  meta.emplace(prefix + "mean", join_numbers<T>(mean, n));
  meta.emplace(prefix + "scale", join_numbers<T>(scale, n));
  if (min && max) {
    meta.emplace(prefix + "min", join_numbers<T>(min, n));
    meta.emplace(prefix + "max", join_numbers<T>(max, n));
  }
  return meta;
}

template <class T>
void standardizer_from_metadata(const std::map<std::string, std::string>& meta, const std::string& prefix,
                                std::size_t n, T* mean, T* scale, T* min, T* max) {
  const auto new_mean = standardizer_numbers<T>(meta, prefix + "mean", n);
  const auto new_scale = standardizer_numbers<T>(meta, prefix + "scale", n);
  for (std::size_t j = 0; j < n; ++j)
    if (!(new_scale[j] > T(0)))
      throw io_error("typegrad::standardizer::from_metadata: '" + prefix + "scale' entry " + std::to_string(j) +
                     " is not positive");
  std::vector<T> new_min(n, std::numeric_limits<T>::quiet_NaN()), new_max = new_min;
  const bool has_min = meta.count(prefix + "min") != 0, has_max = meta.count(prefix + "max") != 0;
  if (has_min != has_max)
    throw io_error("typegrad::standardizer::from_metadata: '" + prefix + (has_min ? "min" : "max") + "' without '" +
                   prefix + (has_min ? "max" : "min") + "'");
  if (has_min) {
    new_min = standardizer_numbers<T>(meta, prefix + "min", n);
    new_max = standardizer_numbers<T>(meta, prefix + "max", n);
    for (std::size_t j = 0; j < n; ++j)
      if (!(new_min[j] <= new_max[j]))
        throw io_error("typegrad::standardizer::from_metadata: entry " + std::to_string(j) + " of '" + prefix +
                       "min' is above that of '" + prefix + "max'");
  }
  for (std::size_t j = 0; j < n; ++j) {  // nothing was written before every check passed
    mean[j] = new_mean[j];
    scale[j] = new_scale[j];
    min[j] = new_min[j];
    max[j] = new_max[j];
  }
}

}  // namespace typegrad::detail

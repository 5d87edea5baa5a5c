// The exceptions thrown by typegrad's data and weight I/O (never on the training hot path).
#pragma once

#include <stdexcept>
#include <string>

namespace typegrad {

/// Malformed or unusable data (CSV, .npy): the message names the file, line and column.
struct data_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// A weight file that cannot be written, or read into this network (names, dtypes, shapes,
/// offsets, size); the network is left exactly as it was.
struct io_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace typegrad

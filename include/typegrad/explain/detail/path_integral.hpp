// refine_path and integrate_path: integrated gradients' path integral, apart from the network.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

namespace typegrad {

/// Refines integrated_gradients' path where the midpoint rule misses: after the `steps` uniform
/// intervals, each interval's midpoint estimate (b − a)·∇y_k(midpoint)·(x − x') is compared with
/// the exact change of y_k over it (two forward passes); the intervals that miss most are split
/// into thirds (the middle third keeps its midpoint gradient, so each split costs two gradients)
/// until Σ |misses| ≤ tolerance·|y_k(x) − y_k(x')| or `max_steps` gradients were spent. ReLU
/// networks need this: their gradient jumps where a unit switches, so the plain rule's error only
/// falls like 1/steps there. The result is still a midpoint sum (on a finer grid where needed)
/// and `delta` is still its true residual.
struct refine_path {
  double tolerance = 1e-3;
  std::size_t max_steps = 1024;
};

namespace detail {

/// One sample's path as integrate_path sees it, whatever the network: `direction` holds x − x'
/// (n values, in double), and the two functions evaluate the network along the path through `path`.
struct path_functions {
  std::size_t n;
  const double* direction;
  const void* path;
  void (*gradients)(const void* path, std::span<const double> alphas, std::vector<double>& out);
  std::vector<double> (*outputs)(const void* path, std::span<const double> alphas);
};

// Σ_intervals (b − a)·∇y_k(midpoint) for one sample, into `sum` (n values); returns the gradients
// spent. Not a template (compiled once, in the typegrad library): only the two passes depend on
// the network.
std::size_t integrate_path(const path_functions& path, std::size_t steps, const refine_path* refine, double* sum);

}  // namespace detail

}  // namespace typegrad

#ifdef TYPEGRAD_HEADER_ONLY
#include <typegrad/explain/detail/path_integral_impl.ipp>
#endif

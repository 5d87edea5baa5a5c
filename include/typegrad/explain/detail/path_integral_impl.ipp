// The definition behind explain/detail/path_integral.hpp's integrate_path: the midpoint rule and
// its refinement along one sample's path, for any network. Compiled once into the typegrad library
// (src/path_integral.cpp), or included by explain/detail/path_integral.hpp itself when
// TYPEGRAD_HEADER_ONLY is defined. Never include it directly.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>
#include <utility>
#include <vector>

#include <typegrad/explain/detail/path_integral.hpp>
#include <typegrad/io/detail/linkage.hpp>

namespace typegrad::detail {

TYPEGRAD_IO_INLINE std::size_t integrate_path(const path_functions& path, std::size_t steps, const refine_path* refine,
                                               double* sum) {
  const std::size_t n = path.n;
  std::vector<double> mids(steps), grads;
  for (std::size_t j = 0; j < steps; ++j) mids[j] = (double(j) + 0.5) / double(steps);
  path.gradients(path.path, mids, grads);
  struct piece {
    double a, b, fa, fb;
    std::size_t g;  // its midpoint gradient: grads[g·n ...]
  };
  if (refine) {
    std::vector<piece> pieces;
    std::vector<double> nodes(steps + 1);
    for (std::size_t j = 0; j <= steps; ++j) nodes[j] = double(j) / double(steps);
    const auto f = path.outputs(path.path, nodes);
    for (std::size_t j = 0; j < steps; ++j) pieces.push_back({nodes[j], nodes[j + 1], f[j], f[j + 1], j});
    const double target = refine->tolerance * std::abs(f[steps] - f[0]);
    auto miss = [&](const piece& p) {
      double d = 0;
      for (std::size_t i = 0; i < n; ++i) d += grads[p.g * n + i] * path.direction[i];
      return (p.b - p.a) * d - (p.fb - p.fa);
    };
    for (std::size_t spent = steps; spent + 2 <= refine->max_steps;) {
      std::vector<std::pair<double, std::size_t>> misses;  // (|miss|, piece)
      double total = 0;
      for (std::size_t j = 0; j < pieces.size(); ++j) {
        const double m = std::abs(miss(pieces[j]));
        total += m;
        misses.push_back({m, j});
      }
      if (total <= target) break;
      // Split every interval above an equal share of the target, worst first, within the budget.
      std::sort(misses.begin(), misses.end(), [](const auto& p, const auto& q) { return p.first > q.first; });
      std::size_t chosen = 0;
      while (chosen < misses.size() && misses[chosen].first > target / double(pieces.size()) &&
             spent + 2 * (chosen + 1) <= refine->max_steps)
        ++chosen;
      chosen = std::max<std::size_t>(chosen, 1);
      std::vector<double> new_mids, new_nodes;
      for (std::size_t c = 0; c < chosen; ++c) {
        const piece& p = pieces[misses[c].second];
        const double h = (p.b - p.a) / 3;
        new_mids.insert(new_mids.end(), {p.a + h / 2, p.b - h / 2});
        new_nodes.insert(new_nodes.end(), {p.a + h, p.b - h});
      }
      const std::size_t g0 = grads.size() / n;
      path.gradients(path.path, new_mids, grads);
      const auto f_new = path.outputs(path.path, new_nodes);
      for (std::size_t c = 0; c < chosen; ++c) {
        piece& p = pieces[misses[c].second];
        const piece whole = p;
        const double h = (whole.b - whole.a) / 3;
        p = {whole.a + h, whole.b - h, f_new[2 * c], f_new[2 * c + 1], whole.g};
        pieces.push_back({whole.a, whole.a + h, whole.fa, f_new[2 * c], g0 + 2 * c});
        pieces.push_back({whole.b - h, whole.b, f_new[2 * c + 1], whole.fb, g0 + 2 * c + 1});
      }
      spent += 2 * chosen;
    }
    std::fill_n(sum, n, 0.0);
    for (const piece& p : pieces)
      for (std::size_t i = 0; i < n; ++i) sum[i] += (p.b - p.a) * grads[p.g * n + i];
  } else {
    std::fill_n(sum, n, 0.0);
    for (std::size_t j = 0; j < steps; ++j)
      for (std::size_t i = 0; i < n; ++i) sum[i] += grads[j * n + i] / double(steps);
  }
  return grads.size() / n;
}

}  // namespace typegrad::detail

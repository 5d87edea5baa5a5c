// Gradient clipping by global norm (PyTorch's clip_grad_norm_), as an optimizer option and a function.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <type_traits>

#include <boost/hana/for_each.hpp>
#include <boost/hana/range.hpp>

#include <typegrad/core/config.hpp>
#include <typegrad/network/network.hpp>
#include <typegrad/simd/kernels.hpp>

namespace typegrad {

/// Optimizer option: before each update, scale the whole gradient by
/// min(1, max_norm / (‖g‖₂ + 1e-6)), ‖g‖₂ over every parameter of the network
/// (torch.nn.utils.clip_grad_norm_ with norm_type 2).
/// `auto opt = typegrad::make_optimizer(net, typegrad::adam{}, typegrad::clip_grad_norm{1.0})`.
struct clip_grad_norm {
  double max_norm = 1.0;
  static constexpr bool enabled = true;
  /// The factor that multiplies a gradient of norm `total_norm`.
  double scale(double total_norm) const noexcept { return std::min(1.0, max_norm / (total_norm + 1e-6)); }
};

/// Optimizer option: no clipping (the default). The update stays fused into the backward sweep.
struct no_clipping {
  static constexpr bool enabled = false;
  double scale(double) const noexcept { return 1.0; }
};

namespace detail {

// Length of the padded storage of block P of a layer's parameters (its registers, end to end).
template <class Block, std::size_t P>
constexpr std::size_t padded_block_size() noexcept {
  return Block::padded_size(simd::param_c<P>{});
}

/// Calls f(layer_c, param_c, offset) for every SIMD register of every parameter block, in layer
/// order; offsets index `data(param_c)` of that layer's block, as in the fused sweep.
template <class Params, class F>
void for_each_register(F&& f) noexcept {
  namespace hana = boost::hana;
  hana::for_each(hana::make_range(hana::size_c<0>, hana::size_c<Params::depth>), [&](auto I) {
    using block_t = std::remove_cvref_t<decltype(get<decltype(I)::value>(std::declval<Params&>()))>;
    using T = typename block_t::value_type;
    hana::for_each(hana::make_range(hana::size_c<0>, hana::size_c<block_t::parameter_blocks>), [&](auto P) {
      constexpr std::size_t n = padded_block_size<block_t, decltype(P)::value>();
      for (std::size_t off = 0; off < n; off += lanes<T>) f(I, simd::param_c<decltype(P)::value>{}, off);
    });
  });
}

}  // namespace detail

/// The global 2-norm of a gradient (or of any parameter-shaped object), accumulated in double.
template <class... Blocks>
double global_norm(const network_parameters<Blocks...>& g) noexcept {
  using params_t = network_parameters<Blocks...>;
  double sum = 0;
  detail::for_each_register<params_t>([&](auto I, auto p, std::size_t off) {
    using T = typename std::remove_cvref_t<decltype(get<decltype(I)::value>(g))>::value_type;
    const auto v = simd::batch<T>::load_aligned(get<decltype(I)::value>(g).data(p) + off);
    sum += static_cast<double>(xsimd::hadd(v * v));
  });
  return std::sqrt(sum);
}

/// Scales `g` in place as torch.nn.utils.clip_grad_norm_(…, max_norm) does and returns the norm
/// before clipping. For gradients from typegrad::gradient(); optimizers take clip_grad_norm instead.
template <class... Blocks>
double clip_by_global_norm(network_parameters<Blocks...>& g, double max_norm) noexcept {
  const double norm = global_norm(g);
  const double scale = clip_grad_norm{max_norm}.scale(norm);
  if (scale < 1.0)
    g.for_each([&](std::size_t, auto, std::size_t, std::size_t, auto& v) {
      using T = std::remove_cvref_t<decltype(v)>;
      v *= static_cast<T>(scale);  // in T, as PyTorch scales a float gradient by a float factor
    });
  return norm;
}

}  // namespace typegrad

// apply_gradient: one optimizer step from a whole gradient computed elsewhere (DP-SGD's noisy
// sum, the threads' reduced gradient, an MPI allreduce), instead of the fused backward sweep.
#pragma once

#include <cstddef>
#include <type_traits>

#include <boost/hana/for_each.hpp>
#include <boost/hana/range.hpp>

#include <typegrad/network/train.hpp>
#include <typegrad/optim/optimizer.hpp>
#include <typegrad/simd/kernels.hpp>

namespace typegrad::detail {

/// Hands a whole gradient to an optimizer: an optimizer object's step(params, grad) (which clips
/// first when it clips), or a stateless policy (sgd{lr}, or any update_policy) register by
/// register, as the fused sweep would. Layers without parameters are skipped.
template <class Net, class Opt>
void apply_gradient(Net& net, Opt& opt, const typename Net::parameters_type& grad) noexcept {
  using T = typename Net::value_type;
  using V = simd::batch<T>;
  if constexpr (requires { opt.step(net.parameters(), grad); }) {
    opt.step(net.parameters(), grad);
  } else {
    if constexpr (requires { opt.begin_step(); }) opt.begin_step();
    auto&& policy = step_policy<T>(opt);
    auto& params = net.parameters();
    namespace hana = boost::hana;
    hana::for_each(hana::make_range(hana::size_c<0>, hana::size_c<Net::depth>), [&](auto I) {
      constexpr std::size_t i = decltype(I)::value;
      auto&& u = layer_updater<i>(policy);
      auto& block = get<i>(params);
      const auto& g = get<i>(grad);
      using block_t = std::remove_cvref_t<decltype(block)>;
      if constexpr (block_t::parameter_blocks > 0)
        for_each_block_register<block_t>([&](auto p, std::size_t off) {
          u.update(p, off, V::load_aligned(block.data(p) + off), V::load_aligned(g.data(p) + off))
              .store_aligned(block.data(p) + off);
        });
    });
  }
}

}  // namespace typegrad::detail

// train_step, gradient and loss_value: the public entry points that run the generated passes.
#pragma once

#include <cstddef>
#include <type_traits>

#include <boost/hana/at.hpp>
#include <boost/hana/for_each.hpp>
#include <boost/hana/range.hpp>

#include <typegrad/core/tensor.hpp>
#include <typegrad/network/network.hpp>
#include <typegrad/simd/kernels.hpp>

namespace typegrad {

/// A loss usable with a network: `evaluate<T, B, Out>(Y, target, dY)` and `accepts<...>`.
template <class L>
concept loss_function = requires {
  { L::target_description } -> std::convertible_to<const char*>;
};

/// An update policy (optimizer): `update(param, offset, w, g)` returning the new w, or
/// `layer<I>()` returning a per-layer updater; `writes_parameters`.
template <class O>
concept update_policy = requires { { std::remove_cvref_t<O>::writes_parameters } -> std::convertible_to<bool>; };

namespace detail {

/// Instantiated only to report a target that does not fit the network's output.
template <class Loss, class Target, class T, std::size_t LastLayerIndex, std::size_t LastLayerOutputs, std::size_t Samples>
struct loss_does_not_fit_output {
  static constexpr bool ok = Loss::template accepts<Target, T, Samples, LastLayerOutputs>;
  static_assert(ok,
                "typegrad: the loss does not fit the network's output: the target's type or shape does not match "
                "the LastLayerOutputs outputs of layer LastLayerIndex for Samples samples "
                "(see loss_does_not_fit_output<Loss, Target, T, LastLayerIndex, LastLayerOutputs, Samples>)");
  static constexpr bool value = true;
};

template <class Net, class X>
constexpr bool check_input() {
  static_assert(tensor<X>, "typegrad: x must be a typegrad::vector<T, N> (one sample) or matrix<T, B, N> (B samples)");
  static_assert(std::is_same_v<typename std::remove_cvref_t<X>::value_type, typename Net::value_type>,
                "typegrad: x's scalar type differs from the network's (input<N, double> makes a double network)");
  return input_fits<Net::in_size, cols_of<X>>::value;
}

template <class Net, class Loss, class X, class Target>
constexpr bool check_call() {
  static_assert(loss_function<Loss>, "typegrad: the loss argument is not a typegrad loss (mse, binary_cross_entropy, ...)");
  if constexpr (Loss::template accepts<Target, typename Net::value_type, rows_of<X>, Net::out_size>)
    return check_input<Net, X>();
  else
    return check_input<Net, X>() && loss_does_not_fit_output<Loss, std::remove_cvref_t<Target>, typename Net::value_type,
                                                              Net::depth - 1, Net::out_size, rows_of<X>>::value;
}

// Writes (Add: adds) each parameter register's gradient into a block of a gradient object
// instead of updating the parameters.
template <class Block, bool Add = false>
struct block_sink {
  Block* block;
  static constexpr bool writes_parameters = false;
  template <std::size_t P, class V>
  V update(simd::param_c<P> p, std::size_t offset, const V& w, const V& g) noexcept {
    if constexpr (Add)
      (V::load_aligned(block->data(p) + offset) + g).store_aligned(block->data(p) + offset);
    else
      g.store_aligned(block->data(p) + offset);
    return w;
  }
};

// Writes (Add: adds) each layer's gradient into a network_parameters object instead of updating.
template <class Params, bool Add = false>
struct gradient_sink {
  Params* grad;
  static constexpr bool writes_parameters = false;
  template <std::size_t I>
  auto layer() noexcept {
    using block_t = std::remove_reference_t<decltype(get<I>(*grad))>;
    return block_sink<block_t, Add>{&get<I>(*grad)};
  }
};

/// True when the loss computes dL/dz of the network's last layer itself (see binary_cross_entropy).
template <class Loss, class Net>
inline constexpr bool loss_fuses_last_activation = [] {
  using last = typename Net::template layer_t<Net::depth - 1>;
  if constexpr (!requires { typename last::activation_type; }) return false;  // e.g. a reshape or pooling layer
  else if constexpr (requires { Loss::template fuses_activation<typename last::activation_type>; })
    return Loss::template fuses_activation<typename last::activation_type>;
  else return false;
}();

// Evaluates the loss and writes its gradient: dL/dy, or dL/dz when the loss fuses the activation.
template <class Net, class Loss, std::size_t B, class Target>
typename Net::value_type loss_and_gradient(typename Net::template workspace<B>& ws, const Target& t) noexcept {
  using T = typename Net::value_type;
  if constexpr (loss_fuses_last_activation<Loss, Net>)
    return Loss::template evaluate_fused<T, B, Net::out_size>(Net::output(ws), t, Net::output_gradient(ws));
  else
    return Loss::template evaluate<T, B, Net::out_size>(Net::output(ws), t, Net::output_gradient(ws));
}

/// True when the loss can write its gradient without computing its value (elementwise losses).
template <class Loss>
inline constexpr bool loss_has_separate_gradient = [] {
  if constexpr (requires { Loss::has_separate_gradient; }) return bool(Loss::has_separate_gradient);
  else return false;
}();

// Writes the loss gradient only (dL/dy, or dL/dz when the loss fuses the activation).
template <class Net, class Loss, std::size_t B, class Target>
void loss_gradient(typename Net::template workspace<B>& ws, const Target& t) noexcept {
  using T = typename Net::value_type;
  if constexpr (loss_fuses_last_activation<Loss, Net>)
    Loss::template gradient_fused<T, B, Net::out_size>(Net::output(ws), t, Net::output_gradient(ws));
  else
    Loss::template gradient<T, B, Net::out_size>(Net::output(ws), t, Net::output_gradient(ws));
}

template <class Opt>
constexpr bool needs_full_gradient_impl() {
  if constexpr (requires { std::remove_cvref_t<Opt>::needs_full_gradient; })
    return std::remove_cvref_t<Opt>::needs_full_gradient;
  else
    return false;
}
/// An optimizer that sets `needs_full_gradient` gets `apply(parameters, gradient)` instead of
/// per-register updates (checked at compile time; it may depend on the optimizer's type only).
template <class Opt>
inline constexpr bool needs_full_gradient = needs_full_gradient_impl<Opt>();

/// The policy the kernels get for one step: the optimizer's `for_step<T>()` when it has one
/// (hyperparameters prepared once per step, see sgd), else the optimizer itself.
template <class T, class Opt>
decltype(auto) step_policy(Opt& opt) noexcept {
  if constexpr (requires { opt.template for_step<T>(); }) return opt.template for_step<T>();
  else return (opt);
}

/// The backward pass of one optimizer step: begin_step(), then either the fused sweep with the
/// optimizer's step policy or, for an optimizer that needs the whole gradient first (e.g.
/// clipping by global norm), the gradient collected and handed over whole. train_step and fit
/// share it.
template <std::size_t B, bool LossFusedActivation, class Net, class Opt>
void backward_with_optimizer(Net& net, typename Net::template workspace<B>& ws, Opt& opt) noexcept {
  net.template update_running_statistics<B>(ws);  // what the training forward pass measured (batch norm)
  if constexpr (requires { opt.begin_step(); }) opt.begin_step();
  if constexpr (needs_full_gradient<Opt>) {
    typename Net::parameters_type grad{};
    gradient_sink<typename Net::parameters_type> sink{&grad};
    net.template backward<B, decltype(sink), LossFusedActivation>(ws, sink);
    opt.apply(net.parameters(), grad);
  } else {
    auto&& policy = step_policy<typename Net::value_type>(opt);
    net.template backward<B, std::remove_reference_t<decltype(policy)>, LossFusedActivation>(ws, policy);
  }
}

}  // namespace detail

/// Mean loss of the network on x (one sample or a batch) against t; no parameter changes.
template <network_type Net, loss_function Loss, tensor X, class Target>
  requires(detail::check_call<Net, Loss, X, Target>())
typename Net::value_type loss_value(const Net& net, const Loss&, const X& x, const Target& t) noexcept {
  using T = typename Net::value_type;
  constexpr std::size_t B = rows_of<X>;
  typename Net::template workspace<B> ws;
  net.template forward<B>(ws, x.data());
  return Loss::template evaluate<T, B, Net::out_size>(Net::output(ws), t, static_cast<T*>(nullptr));
}

/// One training step in a workspace the caller holds (`Net::workspace<B>`, B = the rows of x):
/// for networks whose workspace is too large for the stack (long sequences, large batches), e.g.
/// `auto ws = std::make_unique<net_t::workspace<1>>();` once, then `train_step(net, loss, opt, x, t,
/// *ws)` per step. The workspace holds nothing between calls; the step allocates nothing.
template <network_type Net, loss_function Loss, update_policy Opt, tensor X, class Target>
  requires(detail::check_call<Net, Loss, X, Target>())
typename Net::value_type train_step(Net& net, const Loss&, Opt& opt, const X& x, const Target& t,
                                    typename Net::template workspace<rows_of<X>>& ws) noexcept {
  using T = typename Net::value_type;
  constexpr std::size_t B = rows_of<X>;
  net.template forward<B>(ws, x.data());
  // With an elementwise loss only its gradient is on the way to the backward pass; the value is
  // computed last, from the same outputs (the backward pass does not touch them).
  constexpr bool value_last = detail::loss_has_separate_gradient<Loss>;
  T loss = T(0);
  if constexpr (value_last) detail::loss_gradient<Net, Loss, B>(ws, t);
  else loss = detail::loss_and_gradient<Net, Loss, B>(ws, t);
  detail::backward_with_optimizer<B, detail::loss_fuses_last_activation<Loss, Net>>(net, ws, opt);
  if constexpr (value_last) loss = Loss::template evaluate<T, B, Net::out_size>(Net::output(ws), t, static_cast<T*>(nullptr));
  return loss;
}

/// One training step: forward, loss, and a backward sweep that applies `opt` to each parameter
/// block as soon as its gradient is formed. Returns the loss before the update. Allocates nothing;
/// the workspace lives on the stack (see the overload above for one the caller holds).
template <network_type Net, loss_function Loss, update_policy Opt, tensor X, class Target>
  requires(detail::check_call<Net, Loss, X, Target>())
typename Net::value_type train_step(Net& net, const Loss& loss, Opt& opt, const X& x, const Target& t) noexcept {
  typename Net::template workspace<rows_of<X>> ws;
  return train_step(net, loss, opt, x, t, ws);
}
/// Overload for a temporary optimizer such as `train_step(net, loss, sgd{0.1}, x, t)`.
template <network_type Net, loss_function Loss, update_policy Opt, tensor X, class Target>
  requires(detail::check_call<Net, Loss, X, Target>())
typename Net::value_type train_step(Net& net, const Loss& loss, Opt&& opt, const X& x, const Target& t) noexcept {
  auto o = opt;
  return train_step(net, loss, o, x, t);
}

/// Writes dL/dθ into `grad` (every block is overwritten) and returns the loss, from one forward
/// and one backward pass; typegrad::gradient and the fit loop's short batches share it.
template <network_type Net, loss_function Loss, tensor X, class Target>
  requires(detail::check_call<Net, Loss, X, Target>())
typename Net::value_type gradient_into(const Net& net, const Loss&, const X& x, const Target& t,
                                       typename Net::parameters_type& grad) noexcept {
  constexpr std::size_t B = rows_of<X>;
  typename Net::template workspace<B> ws;
  net.template forward<B>(ws, x.data());
  const auto loss = detail::loss_and_gradient<Net, Loss, B>(ws, t);
  detail::gradient_sink<typename Net::parameters_type> sink{&grad};
  // The sink never writes parameters (writes_parameters = false), so the const_cast is only a formality.
  const_cast<Net&>(net).template backward<B, decltype(sink), detail::loss_fuses_last_activation<Loss, Net>>(ws, sink);
  return loss;
}

namespace detail {
// Takes the parameter gradients of a backward pass and keeps nothing (input_gradient wants dx only).
struct discard_gradient {
  static constexpr bool writes_parameters = false;
  template <class P, class V>
  V update(P, std::size_t, const V& w, const V&) const noexcept {
    return w;
  }
};
}  // namespace detail

/// dL/dx: the gradient of the (mean) loss with respect to the input, shaped like x (one sample or a
/// batch), from the generated backward pass (no finite differences); the parameters are untouched.
/// The basis of saliency maps and of PyTorch's `x.grad`.
template <network_type Net, loss_function Loss, tensor X, class Target>
  requires(detail::check_call<Net, Loss, X, Target>())
std::remove_cvref_t<X> input_gradient(const Net& net, const Loss&, const X& x, const Target& t) noexcept {
  using T = typename Net::value_type;
  constexpr std::size_t B = rows_of<X>;
  constexpr layout first = Net::template input_layout<B>;
  typename Net::template workspace<B> ws;
  net.template forward<B>(ws, x.data());
  detail::loss_and_gradient<Net, Loss, B>(ws, t);
  detail::buffer<T, layout_size<T, B, typename Net::in_shape, first>> dx;
  detail::discard_gradient sink;
  // The sink never writes parameters, so the const_cast is only a formality.
  const_cast<Net&>(net).template backward<B, detail::discard_gradient, detail::loss_fuses_last_activation<Loss, Net>, true>(
      ws, sink, dx.data);
  std::remove_cvref_t<X> g;
  simd::to_caller_rows<T, B, typename Net::in_shape, first>(dx.data, g.data());
  return g;
}

/// dL/dθ for every parameter, in an object shaped like the parameters: `get<I>(g).weight(o, i)`.
/// For a batch it is the gradient of the mean loss (PyTorch's convention).
template <network_type Net, loss_function Loss, tensor X, class Target>
  requires(detail::check_call<Net, Loss, X, Target>())
typename Net::parameters_type gradient(const Net& net, const Loss& loss, const X& x, const Target& t) noexcept {
  typename Net::parameters_type grad{};
  gradient_into(net, loss, x, t, grad);
  return grad;
}

}  // namespace typegrad

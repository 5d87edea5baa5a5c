// recurrent_state<Net, B>: the hidden (and cell) states a network's recurrent layers carry from one
// window of a long sequence to the next (truncated BPTT), with train_step and stream_window over it.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <type_traits>
#include <utility>

#include <boost/hana/at.hpp>
#include <boost/hana/for_each.hpp>
#include <boost/hana/range.hpp>
#include <boost/hana/tuple.hpp>

#include <typegrad/core/tensor.hpp>
#include <typegrad/layers/layer.hpp>
#include <typegrad/layers/recurrent.hpp>
#include <typegrad/network/network.hpp>
#include <typegrad/network/train.hpp>

namespace typegrad {

namespace detail {

template <class L>
concept recurrent_layer_type = requires {
  typename L::cell;
  { L::has_cell_state } -> std::convertible_to<bool>;
};

/// One layer's carried state for B samples: h (and c) [B][padded(Hidden)]; nothing for other layers.
template <class L, std::size_t B>
struct layer_state {
  static constexpr bool recurrent = false;
};
template <recurrent_layer_type L, std::size_t B>
struct layer_state<L, B> {
  using T = typename L::value_type;
  static constexpr bool recurrent = true;
  static constexpr std::size_t hp = L::hp, steps = L::steps;
  alignas(alignment) T h[B * hp] = {};
  alignas(alignment) T c[L::has_cell_state ? B * hp : 1] = {};
};

}  // namespace detail

/// The state a network's recurrent layers carry between windows of a long or endless stream, for
/// B samples (streams) side by side; zero at first. `train_step(net, loss, opt, state, x, t)` and
/// `stream_window(net, state, x)` start each recurrent layer from it and leave their final state
/// in it, detached (PyTorch's `h = h.detach()`): no gradient flows into the previous window.
template <network_type Net, std::size_t B = 1>
class recurrent_state {
  template <class Seq>
  struct states_of;
  template <std::size_t... I>
  struct states_of<std::index_sequence<I...>> {
    using type = hana::tuple<detail::layer_state<typename Net::template layer_t<I>, B>...>;
  };

 public:
  using value_type = typename Net::value_type;
  using workspace = typename Net::template workspace<B>;

  /// Zero: the state at the start of a stream.
  void reset() noexcept { states_ = {}; }

  /// Hidden unit k of sample b of layer I (a recurrent layer); cell(b, k) for an LSTM's c.
  template <std::size_t I>
  value_type& hidden(std::size_t b, std::size_t k) noexcept {
    static_assert(detail::layer_state<typename Net::template layer_t<I>, B>::recurrent,
                  "typegrad::recurrent_state::hidden<I>: layer I is not a recurrent layer");
    return at<I>().h[b * at<I>().hp + k];
  }
  template <std::size_t I>
  value_type& cell(std::size_t b, std::size_t k) noexcept {
    static_assert(
        requires { requires Net::template layer_t<I>::has_cell_state; },
        "typegrad::recurrent_state::cell<I>: layer I is not an lstm");
    return at<I>().c[b * at<I>().hp + k];
  }

  /// Before a forward pass: every recurrent layer's cache starts from this state.
  void load(workspace& ws) const noexcept {
    for_each_recurrent([&](auto I, const auto& s) {
      auto& cache = hana::at_c<decltype(I)::value>(ws.cache).value;
      std::memcpy(cache.h0.data, s.h, sizeof(s.h));
      if constexpr (Net::template layer_t<decltype(I)::value>::has_cell_state)
        std::memcpy(cache.c0.data, s.c, sizeof(s.c));
      cache.from_state = true;
    });
  }
  /// After a forward pass: the last step's h (and c) become the state (values only: detached).
  void store(const workspace& ws) noexcept {
    for_each_recurrent([&](auto I, auto& s) {
      constexpr std::size_t i = decltype(I)::value;
      const auto* y = hana::at_c<i>(ws.out).data;
      const auto& cache = hana::at_c<i>(ws.cache).value;
      constexpr std::size_t hp = std::remove_cvref_t<decltype(s)>::hp, S = std::remove_cvref_t<decltype(s)>::steps;
      for (std::size_t b = 0; b < B; ++b) {
        std::memcpy(s.h + b * hp, y + (b * S + S - 1) * hp, hp * sizeof(value_type));
        if constexpr (Net::template layer_t<i>::has_cell_state)
          std::memcpy(s.c + b * hp, cache.extra.data + (b * S + S - 1) * hp, hp * sizeof(value_type));
      }
    });
  }

 private:
  template <std::size_t I>
  auto& at() noexcept {
    return hana::at_c<I>(states_);
  }
  template <class F>
  void for_each_recurrent(F&& f) const {
    const_cast<recurrent_state*>(this)->for_each_recurrent(f);
  }
  template <class F>
  void for_each_recurrent(F&& f) {
    hana::for_each(hana::make_range(hana::size_c<0>, hana::size_c<Net::depth>), [&](auto I) {
      auto& s = hana::at_c<decltype(I)::value>(states_);
      if constexpr (std::remove_cvref_t<decltype(s)>::recurrent) f(I, s);
    });
  }

  typename states_of<std::make_index_sequence<Net::depth>>::type states_{};
};

/// Truncated BPTT: one training step over a window of the network's Steps, starting from `state`
/// and leaving the window's final state in it (detached). Otherwise as train_step; `ws` is a
/// workspace the caller holds (e.g. on the heap, for long windows: `Net::workspace<B>`).
template <network_type Net, loss_function Loss, update_policy Opt, tensor X, class Target>
requires(detail::check_call<Net, Loss, X, Target>()) typename Net::value_type
    train_step(Net& net, const Loss&, Opt& opt, recurrent_state<Net, rows_of<X>>& state, const X& x,
               const Target& t, typename Net::template workspace<rows_of<X>>& ws) noexcept {
  constexpr std::size_t B = rows_of<X>;
  state.load(ws);
  net.template forward<B>(ws, x.data());
  state.store(ws);
  const auto loss = detail::loss_and_gradient<Net, Loss, B>(ws, t);
  detail::backward_with_optimizer<B, detail::loss_fuses_last_activation<Loss, Net>>(net, ws, opt);
  return loss;
}

/// The same with the workspace on the stack.
template <network_type Net, loss_function Loss, update_policy Opt, tensor X, class Target>
requires(detail::check_call<Net, Loss, X, Target>()) typename Net::value_type
    train_step(Net& net, const Loss& loss, Opt& opt, recurrent_state<Net, rows_of<X>>& state, const X& x,
               const Target& t) noexcept {
  typename Net::template workspace<rows_of<X>> ws;
  return train_step(net, loss, opt, state, x, t, ws);
}

/// Overload for a temporary optimizer such as `train_step(net, loss, typegrad::sgd{0.1}, state, x, t)`.
template <network_type Net, loss_function Loss, update_policy Opt, tensor X, class Target>
requires(detail::check_call<Net, Loss, X, Target>()) typename Net::value_type
    train_step(Net& net, const Loss& loss, Opt&& opt, recurrent_state<Net, rows_of<X>>& state, const X& x,
               const Target& t) noexcept {
  auto o = opt;
  return train_step(net, loss, o, state, x, t);
}

/// Inference over the next window of a stream: the outputs of x (a vector: one window of Steps;
/// a matrix: one window per row, B streams), starting from `state` and leaving the final state in it.
/// (One time step at a time, with the state inside: stream<Net>, network/stream.hpp.)
template <network_type Net, tensor X>
auto stream_window(const Net& net, recurrent_state<Net, rows_of<X>>& state, const X& x) noexcept {
  static_assert(detail::check_input<Net, X>());
  constexpr std::size_t B = rows_of<X>;
  using T = typename Net::value_type;
  typename Net::template workspace<B> ws;
  state.load(ws);
  net.template forward<B, pass::inference>(ws, x.data());
  state.store(ws);
  if constexpr (requires { x[0]; }) {  // one sample in, one out (as net(x))
    vector<T, Net::out_size> y;
    simd::unpack_rows<T, 1, Net::out_size>(Net::template output<1>(ws), y.data());
    return y;
  } else {
    matrix<T, B, Net::out_size> y;
    simd::unpack_rows<T, B, Net::out_size>(Net::template output<B>(ws), y.data());
    return y;
  }
}

}  // namespace typegrad

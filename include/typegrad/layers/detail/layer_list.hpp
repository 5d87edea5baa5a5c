// What the combinators (parallel, residual) share: inner layer lists bound and run one level down,
// their parameters inside the combinator's block, the updater that maps their blocks, row copies.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include <boost/hana/at.hpp>
#include <boost/hana/for_each.hpp>
#include <boost/hana/range.hpp>
#include <boost/hana/tuple.hpp>

#include <typegrad/activations/builtin.hpp>
#include <typegrad/activations/name.hpp>
#include <typegrad/core/config.hpp>
#include <typegrad/core/shape.hpp>
#include <typegrad/layers/dense.hpp>
#include <typegrad/layers/layer.hpp>
#include <typegrad/layers/reshape.hpp>
#include <typegrad/network/network.hpp>
#include <typegrad/simd/layout.hpp>

namespace typegrad::detail {

/// An inner list of specs bound to T and InShape; `Previous` names its input in the size messages.
template <class T, class InShape, class Previous, class... Specs>
using bound_list = typename layer_chain<T, 0, Previous, InShape, Specs...>::type;

/// The parameters of a bound list (a network_parameters of its layers' blocks).
template <class Layers>
using list_parameters = typename parameters_of<Layers>::type;

/// Whether some layer of a bound list has parameters (else no gradient has to reach it).
template <class Layers>
inline constexpr bool list_has_parameters = parameters_before<Layers, std::tuple_size_v<Layers>>;

/// Whether some layer of a bound list computes differently at inference.
template <class Layers>
inline constexpr bool list_inference_differs = []<std::size_t... K>(std::index_sequence<K...>) {
  return (inference_differs<std::tuple_element_t<K, Layers>> || ... || false);
}
(std::make_index_sequence<std::tuple_size_v<Layers>>{});

/// The nn.Sequential modules a bound layer stands for (as io/weights.hpp numbers them).
template <class L>
constexpr std::size_t module_count_of() noexcept {
  if constexpr (requires { L::modules; })
    return L::modules;
  else if constexpr (requires { requires L::activation_type::is_identity; })
    return 1;
  else if constexpr (requires { typename L::activation_type; })
    return 2;
  else
    return 1;
}

/// Where the global parameter block G of a combinator lives: inner list, layer in it, its block.
struct block_place {
  std::size_t list = 0, layer = 0, block = 0;
};

/// The parameter block of a combinator: one network_parameters per inner list (a parallel's
/// branches, a residual's body), seen from outside as one flat sequence of blocks (all of list 0's
/// layers' blocks, then list 1's, ...), so that optimizers, gradient sinks and clipping address it
/// like any other layer's block. Kind names the lists in state_dict names (Kind::prefix(j)) and says
/// whether get<I> indexes lists or, with one list, its layers (Kind::flat).
template <class T, class Kind, class... Lists>
struct nested_parameters {
  using value_type = T;
  using lists_type = std::tuple<Lists...>;
  static constexpr std::size_t list_count = sizeof...(Lists);
  hana::tuple<list_parameters<Lists>...> lists;

  template <std::size_t J>
  using list_t = std::tuple_element_t<J, lists_type>;
  template <std::size_t J>
  static constexpr std::size_t depth_of = std::tuple_size_v<list_t<J>>;
  template <std::size_t J, std::size_t K>
  using block_t = typename std::tuple_element_t<K, list_t<J>>::parameters;

 private:
  template <class Layers>
  static constexpr auto blocks_per_layer() noexcept {
    return []<std::size_t... K>(std::index_sequence<K...>) {
      return std::array<std::size_t, sizeof...(K)>{std::tuple_element_t<K, Layers>::parameters::parameter_blocks...};
    }
    (std::make_index_sequence<std::tuple_size_v<Layers>>{});
  }
  template <class Layers>
  static constexpr std::size_t blocks_of() noexcept {
    std::size_t n = 0;
    for (std::size_t c : blocks_per_layer<Layers>()) n += c;
    return n;
  }

 public:
  static constexpr std::size_t parameter_blocks = (blocks_of<Lists>() + ... + 0);
  static constexpr std::array<block_place, parameter_blocks> places = [] {
    std::array<block_place, parameter_blocks> t{};
    std::size_t n = 0, j = 0;
    (
        [&] {
          const auto counts = blocks_per_layer<Lists>();
          for (std::size_t k = 0; k < counts.size(); ++k)
            for (std::size_t p = 0; p < counts[k]; ++p) t[n++] = {j, k, p};
          ++j;
        }(),
        ...);
    return t;
  }();
  /// The first global block of layer K of list J.
  template <std::size_t J, std::size_t K>
  static constexpr std::size_t base = [] {
    constexpr std::array<std::size_t, list_count> totals{blocks_of<Lists>()...};
    std::size_t n = 0;
    for (std::size_t j = 0; j < J; ++j) n += totals[j];
    const auto counts = blocks_per_layer<list_t<J>>();
    for (std::size_t k = 0; k < K; ++k) n += counts[k];
    return n;
  }();
  /// The nn.Sequential index of layer K in list J.
  template <std::size_t J, std::size_t K>
  static constexpr std::size_t module_of = []<std::size_t... k>(std::index_sequence<k...>) {
    return (module_count_of<std::tuple_element_t<k, list_t<J>>>() + ... + std::size_t{0});
  }
  (std::make_index_sequence<K>{});

  template <std::size_t J>
  constexpr auto& list() noexcept {
    return hana::at_c<J>(lists);
  }
  template <std::size_t J>
  constexpr const auto& list() const noexcept {
    return hana::at_c<J>(lists);
  }

  template <std::size_t G>
  static constexpr std::size_t padded_size(simd::param_c<G>) noexcept {
    constexpr block_place at = places[G];
    return block_t<at.list, at.layer>::padded_size(simd::param_c<at.block>{});
  }
  template <std::size_t G>
  constexpr T* data(simd::param_c<G>) noexcept {
    constexpr block_place at = places[G];
    return get<at.layer>(list<at.list>()).data(simd::param_c<at.block>{});
  }
  template <std::size_t G>
  constexpr const T* data(simd::param_c<G>) const noexcept {
    constexpr block_place at = places[G];
    return get<at.layer>(list<at.list>()).data(simd::param_c<at.block>{});
  }

  static constexpr std::size_t count() noexcept { return (list_parameters<Lists>::count() + ... + 0); }

  /// Calls f(block, o, i, value&) for every parameter, blocks numbered globally (see places).
  template <class F>
  constexpr void for_each(F&& f) {
    for_each_layer_block(*this, [&](auto J, auto K, auto& blk) {
      blk.for_each([&](auto p, std::size_t o, std::size_t i, auto& v) {
        f(simd::param_c<base<decltype(J)::value, decltype(K)::value> + decltype(p)::value>{}, o, i, v);
      });
    });
  }
  template <class F>
  constexpr void for_each(F&& f) const {
    for_each_layer_block(*this, [&](auto J, auto K, const auto& blk) {
      blk.for_each([&](auto p, std::size_t o, std::size_t i, const auto& v) {
        f(simd::param_c<base<decltype(J)::value, decltype(K)::value> + decltype(p)::value>{}, o, i, v);
      });
    });
  }
  /// Calls f(name, shape, data, row_stride, col_stride) for every tensor of every inner layer, named
  /// as the PyTorch module would name them after "<module>.": "branches.1.0.weight", "body.2.bias".
  template <class F>
  void for_each_tensor(F&& f) {
    tensors(*this, f);
  }
  template <class F>
  void for_each_tensor(F&& f) const {
    tensors(*this, f);
  }

  friend constexpr bool operator==(const nested_parameters& a, const nested_parameters& b) {
    bool same = true;
    hana::for_each(hana::make_range(hana::size_c<0>, hana::size_c<list_count>),
                   [&](auto J) { same = same && hana::at(a.lists, J) == hana::at(b.lists, J); });
    return same;
  }

 private:
  template <class Self, class F>
  static constexpr void for_each_layer_block(Self& self, F&& f) {
    hana::for_each(hana::make_range(hana::size_c<0>, hana::size_c<list_count>), [&](auto J) {
      constexpr std::size_t j = decltype(J)::value;
      hana::for_each(hana::make_range(hana::size_c<0>, hana::size_c<depth_of<j>>),
                     [&](auto K) { f(J, K, get<decltype(K)::value>(self.template list<j>())); });
    });
  }
  template <class Self, class F>
  static void tensors(Self& self, F& f) {
    for_each_layer_block(self, [&](auto J, auto K, auto& blk) {
      if constexpr (requires { blk.for_each_tensor([](auto&&...) {}); }) {
        const std::string prefix =
            Kind::prefix(decltype(J)::value) + std::to_string(module_of<decltype(J)::value, decltype(K)::value>) + ".";
        blk.for_each_tensor([&](std::string_view name, std::initializer_list<std::size_t> shape, auto* data,
                                std::size_t row_stride, std::size_t col_stride) {
          const std::string full = prefix + std::string(name);
          f(std::string_view(full), shape, data, row_stride, col_stride);
        });
      }
    });
  }
};

/// An inner layer's updater: its block P is the combinator's block Base + P.
template <class Update, std::size_t Base>
struct shifted_update {
  Update* u;
  static constexpr bool writes_parameters = std::remove_cvref_t<Update>::writes_parameters;
  static constexpr bool accumulates_into_parameters = simd::accumulates_into_parameters<Update>;

  template <class P, class V>
  V update(P, std::size_t offset, const V& w, const V& g) const noexcept {
    return u->update(simd::param_c<Base + P::value>{}, offset, w, g);
  }
  auto gradient_scale() const noexcept { return u->gradient_scale(); }
  template <class P, class V>
  V accumulation_start(P, std::size_t offset, const V& w) const noexcept {
    return u->accumulation_start(simd::param_c<Base + P::value>{}, offset, w);
  }
};

/// The updater a combinator hands the pass over its inner list J: layer<K>() shifts K's blocks.
template <class Block, std::size_t J, class Update>
struct list_update {
  Update* u;
  static constexpr bool writes_parameters = std::remove_cvref_t<Update>::writes_parameters;
  template <std::size_t K>
  shifted_update<Update, Block::template base<J, K>> layer() const noexcept {
    return {u};
  }
};

/// Initialises every layer of an inner list in order.
template <class Layers, class Params, class Init>
void initialize_list(Params& p, const Init& init, random_engine& rng) noexcept {
  hana::for_each(hana::make_range(hana::size_c<0>, hana::size_c<std::tuple_size_v<Layers>>), [&](auto K) {
    constexpr std::size_t k = decltype(K)::value;
    using L = std::tuple_element_t<k, Layers>;
    if constexpr (requires { L::initialize(get<k>(p), init, rng); }) L::initialize(get<k>(p), init, rng);
  });
}

// ---- Row copies between a combinator's rows and an inner list's layouts ----------------------

/// B samples of Shape, read from rows Stride apart starting at x, into layout To (all of dst written).
template <class T, std::size_t B, class Shape, layout To, std::size_t Stride>
void gather_rows(const T* x, T* dst) noexcept {
  constexpr std::size_t n = Shape::size;
  if constexpr (Stride == padded<T>(n)) {
    simd::convert_layout<T, B, Shape, layout::rows, To>(x, dst);  // whole padded rows: aligned, fast paths
  } else if constexpr (same_layout<Shape, To, layout::rows>) {
    for (std::size_t b = 0; b < B; ++b) {
      std::memcpy(dst + b * padded<T>(n), x + b * Stride, n * sizeof(T));
      std::fill(dst + b * padded<T>(n) + n, dst + (b + 1) * padded<T>(n), T(0));
    }
  } else {
    std::fill_n(dst, layout_size<T, B, Shape, To>, T(0));
    for (std::size_t b = 0; b < B; ++b)
      for (std::size_t e = 0; e < n; ++e) dst[simd::detail::layout_index<T, B, Shape, To>(b, e)] = x[b * Stride + e];
  }
}

/// Copies B samples of Shape to unpadded rows (what a first layer that reads_unpadded_input takes).
template <class T, std::size_t B, class Shape, std::size_t Stride>
void gather_unpadded_rows(const T* x, T* dst) noexcept {
  for (std::size_t b = 0; b < B; ++b) std::memcpy(dst + b * Shape::size, x + b * Stride, Shape::size * sizeof(T));
}

/// B samples of Shape in layout From written (Add: added) into rows Stride apart starting at y;
/// nothing else of y is touched.
template <class T, std::size_t B, class Shape, layout From, std::size_t Stride, bool Add = false>
void scatter_rows(const T* src, T* y) noexcept {
  constexpr std::size_t n = Shape::size;
  if constexpr (!Add && same_layout<Shape, From, layout::rows>) {
    for (std::size_t b = 0; b < B; ++b) std::memcpy(y + b * Stride, src + b * padded<T>(n), n * sizeof(T));
  } else if constexpr (same_layout<Shape, From, layout::rows>) {
    for (std::size_t b = 0; b < B; ++b)
      for (std::size_t e = 0; e < n; ++e) y[b * Stride + e] += src[b * padded<T>(n) + e];
  } else {
    for (std::size_t b = 0; b < B; ++b)
      for (std::size_t e = 0; e < n; ++e) {
        const T v = src[simd::detail::layout_index<T, B, Shape, From>(b, e)];
        if constexpr (Add)
          y[b * Stride + e] += v;
        else
          y[b * Stride + e] = v;
      }
  }
}

/// The pass over an inner list with its workspace: where its input comes from, and where its
/// output and input gradient go.
template <class T, class Layers>
struct inner_list {
  using pass = layer_list_pass<T, Layers>;
  template <std::size_t B>
  using workspace = typename pass::template workspace<B>;
  static constexpr std::size_t depth = std::tuple_size_v<Layers>;
  using first = std::tuple_element_t<0, Layers>;
  using last = std::tuple_element_t<depth - 1, Layers>;
  using in_shape = typename first::in_shape;
  using out_shape = typename last::out_shape;
  template <std::size_t B>
  static constexpr layout in_layout = workspace<B>::template layout_of<0>;
  template <std::size_t B>
  static constexpr layout out_layout = workspace<B>::template layout_of<depth - 1>;
  /// Unpadded rows for a first layer that reads them in place (a dense layer storing W input-major).
  template <std::size_t B>
  using rows_buffer = buffer<T, workspace<B>::reads_caller_rows ? B * in_shape::size : 1>;
  /// Scratch for the list's input gradient, in its first layer's layout.
  template <std::size_t B>
  static constexpr std::size_t dx_size = layout_size<T, B, in_shape, in_layout<B>>;

  /// Sets ws.x from the combinator's input: rows Stride apart from x (the list's part of them).
  /// When those rows already are the first layer's input, ws.x points at them (they stay valid
  /// until the backward pass, as the network's buffers do).
  template <std::size_t B, std::size_t Stride>
  static void load_input(const T* x, workspace<B>& ws, rows_buffer<B>& rows) noexcept {
    if constexpr (workspace<B>::reads_caller_rows) {
      if constexpr (Stride == in_shape::size)
        ws.x = x;
      else {
        gather_unpadded_rows<T, B, in_shape, Stride>(x, rows.data);
        ws.x = rows.data;
      }
    } else if constexpr (Stride == padded<T>(in_shape::size) && same_layout<in_shape, layout::rows, in_layout<B>>) {
      ws.x = x;
    } else {
      gather_rows<T, B, in_shape, in_layout<B>, Stride>(x, ws.input.data);
      ws.x = ws.input.data;
    }
  }
  /// The list's output, in its last layer's layout.
  template <std::size_t B>
  static const T* output(const workspace<B>& ws) noexcept {
    return hana::at_c<depth - 1>(ws.out).data;
  }
  /// Where the list's backward pass takes dL/d(output) from (the last layer's layout).
  template <std::size_t B>
  static T* output_gradient(workspace<B>& ws) noexcept {
    return hana::at_c<depth - 1>(ws.grad).data;
  }
};

// ---- Architecture strings (the weight files' "typegrad.architecture") -------------------------

template <class L>
inline constexpr bool is_reshape_layer = false;
template <class T, class In, class Out>
inline constexpr bool is_reshape_layer<reshape_layer<T, In, Out>> = true;

/// A bound layer's part of an architecture string.
template <class L>
std::string describe_inner() {
  const auto dims = [](const auto& d) {
    std::string s;
    for (std::size_t k = 0; k < d.size(); ++k) s += (k ? "," : "") + std::to_string(d[k]);
    return s;
  };
  if constexpr (requires {
                  typename L::activation_type;
                  L::describe(std::string_view());
                })
    return L::describe(activation_name<typename L::activation_type>());
  else if constexpr (requires { L::describe(); })
    return std::string(L::describe());
  else if constexpr (is_reshape_layer<L>)
    return L::out_shape::rank == 1 ? std::string("flatten") : "unflatten<" + dims(L::out_shape::dims) + ">";
  else if constexpr (is_dense_layer<L>)
    return "dense<" + std::to_string(L::out_shape::last) + "," + activation_name<typename L::activation_type>() + ">";
  else if constexpr (requires { typename L::activation_type; })
    return "layer(shape<" + dims(L::in_shape::dims) + "> -> shape<" + dims(L::out_shape::dims) + ">, " +
           activation_name<typename L::activation_type>() + ")";
  else
    return "layer(shape<" + dims(L::in_shape::dims) + "> -> shape<" + dims(L::out_shape::dims) + ">)";
}

/// "a,b,c": every layer of a bound list described.
template <class Layers>
std::string describe_list() {
  return []<std::size_t... K>(std::index_sequence<K...>) {
    std::string s;
    ((s += (K ? "," : "") + describe_inner<std::tuple_element_t<K, Layers>>()), ...);
    return s;
  }
  (std::make_index_sequence<std::tuple_size_v<Layers>>{});
}

}  // namespace typegrad::detail

namespace typegrad {

/// Inner list I of a parallel's block (branch I), or inner layer I of a residual's block.
template <std::size_t I, class T, class Kind, class... Lists>
constexpr auto& get(detail::nested_parameters<T, Kind, Lists...>& p) noexcept {
  if constexpr (Kind::flat)
    return typegrad::get<I>(p.template list<0>());
  else
    return p.template list<I>();
}
template <std::size_t I, class T, class Kind, class... Lists>
constexpr const auto& get(const detail::nested_parameters<T, Kind, Lists...>& p) noexcept {
  if constexpr (Kind::flat)
    return typegrad::get<I>(p.template list<0>());
  else
    return p.template list<I>();
}

}  // namespace typegrad

// inputs<input<...>...>, parallel<branch<...>..., concat> and join_inputs: several inputs and
// branches of layers side by side, joined by concatenation (multimodal fusion).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include <boost/hana/at.hpp>
#include <boost/hana/for_each.hpp>
#include <boost/hana/range.hpp>
#include <boost/hana/tuple.hpp>

#include <typegrad/core/config.hpp>
#include <typegrad/core/shape.hpp>
#include <typegrad/core/tensor.hpp>
#include <typegrad/data/dataset.hpp>
#include <typegrad/layers/detail/layer_list.hpp>
#include <typegrad/layers/layer.hpp>
#include <typegrad/network/network.hpp>

namespace typegrad {

namespace detail {
template <class I>
struct is_input : std::false_type {};
template <std::size_t N, class T>
struct is_input<input<N, T>> : std::true_type {};
}  // namespace detail

/// Several inputs of one network, `network<inputs<input<A>, input<C>>, ...>`: the network's input is
/// the per-sample concatenation [x_0 | x_1 | ...] (A + C features, see join_inputs), so datasets,
/// fit and predict work unchanged; a parallel right after it gives input j to branch j.
template <class... Inputs>
struct inputs {
  static_assert(sizeof...(Inputs) >= 1, "typegrad::inputs<input<N>...>: give at least one input");
  static_assert((detail::is_input<Inputs>::value && ...),
                "typegrad::inputs<...>: every argument must be a typegrad::input<N, T>");
  using value_type = typename std::tuple_element_t<0, std::tuple<Inputs...>>::value_type;
  static_assert((std::is_same_v<typename Inputs::value_type, value_type> && ...),
                "typegrad::inputs<...>: every input must have the same scalar type");
  static constexpr std::size_t count = sizeof...(Inputs);
  static constexpr std::size_t out_size = (Inputs::out_size + ...);
  using out_shape = shape<out_size>;
  /// Input J's size, and where its features start in the joined row.
  static constexpr std::array<std::size_t, count> sizes{Inputs::out_size...};
  template <std::size_t J>
  static constexpr std::size_t offset = [] {
    std::size_t n = 0;
    for (std::size_t j = 0; j < J; ++j) n += sizes[j];
    return n;
  }();
  /// The same inputs in another scalar type (network::rebind).
  template <class U>
  using rebind = inputs<input<Inputs::out_size, U>...>;
};

namespace detail {
template <class I>
struct is_inputs : std::false_type {};
template <class... I>
struct is_inputs<inputs<I...>> : std::true_type {};
}  // namespace detail

/// One sample's inputs joined into the row a network<inputs<...>, ...> takes: vectors of A and C
/// values → a vector of A + C; matrices of B rows → B rows of A + C (rows = samples).
template <tensor First, tensor... Rest>
auto join_inputs(const First& first, const Rest&... rest) noexcept {
  using T = typename First::value_type;
  static_assert((std::is_same_v<typename Rest::value_type, T> && ...),
                "typegrad::join_inputs: the inputs' scalar types differ");
  constexpr std::size_t rows = rows_of<First>, cols = (cols_of<First> + ... + cols_of<Rest>);
  static_assert(((rows_of<Rest> == rows) && ...),
                "typegrad::join_inputs: the inputs have different numbers of samples");
  auto joined = [&] {
    if constexpr (requires { first[0]; })
      return vector<T, cols>{};
    else
      return matrix<T, rows, cols>{};
  }();
  std::size_t offset = 0;
  auto put = [&](const auto& part) {
    constexpr std::size_t n = cols_of<std::remove_cvref_t<decltype(part)>>;
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t c = 0; c < n; ++c) joined.data()[r * cols + offset + c] = part.data()[r * n + c];
    offset += n;
  };
  put(first);
  (put(rest), ...);
  return joined;
}

/// Datasets of the same samples, one per input, joined into the dataset a network<inputs<...>, ...>
/// trains on (fit, predict, evaluate): row i is [a.features(i) | b.features(i) | ...], targets
/// a's. Throws std::invalid_argument when the sample counts or the targets differ (the inputs
/// would not describe the same samples); nothing is returned half-joined.
template <class T, std::size_t First, std::size_t Targets, std::size_t... Rest>
dataset<T, (First + ... + Rest), Targets> join_inputs(const dataset<T, First, Targets>& first,
                                                      const dataset<T, Rest, Targets>&... rest) {
  constexpr std::size_t features = (First + ... + Rest);
  const std::size_t n = first.size();
  std::size_t part = 1;
  const auto check = [&](const auto& d) {
    if (d.size() != n)
      throw std::invalid_argument("typegrad::join_inputs: dataset " + std::to_string(part) + " holds " +
                                  std::to_string(d.size()) + " samples, dataset 0 holds " + std::to_string(n));
    for (std::size_t i = 0; i < n; ++i)
      if (!std::equal(d.targets(i).begin(), d.targets(i).end(), first.targets(i).begin()))
        throw std::invalid_argument("typegrad::join_inputs: sample " + std::to_string(i) +
                                    " has other targets in dataset " + std::to_string(part) +
                                    " than in dataset 0 (the datasets must list the same samples)");
    ++part;
  };
  (check(rest), ...);
  std::vector<T> x(n * features), t(first.target_data().begin(), first.target_data().end());
  for (std::size_t i = 0; i < n; ++i) {
    T* row = x.data() + i * features;
    row = std::copy(first.features(i).begin(), first.features(i).end(), row);
    ((row = std::copy(rest.features(i).begin(), rest.features(i).end(), row)), ...);
  }
  return dataset<T, features, Targets>(std::move(x), std::move(t));
}

/// One branch of a parallel: a list of layers (`branch<conv1d<8, 7, relu>, global_avg_pool>`).
template <class... Specs>
struct branch {};

/// How a parallel joins its branches: their flattened outputs side by side, per sample
/// (torch.cat([b(x).flatten(1) for b in branches], dim=1)).
struct concat {};

namespace detail {

/// What a branch's first layer sees as "the previous layer" in size messages.
template <std::size_t LayerIndex, std::size_t Branch>
struct parallel_branch_input {};

/// Instantiated only to report a parallel after inputs<...> whose branch count differs.
template <std::size_t LayerIndex, std::size_t NetworkInputs, std::size_t Branches>
struct parallel_input_count_mismatch {
  static_assert(
      NetworkInputs == Branches,
      "typegrad::parallel: layer LayerIndex follows inputs<...> with NetworkInputs inputs but has Branches "
      "branches: branch j takes input j (see parallel_input_count_mismatch<LayerIndex, NetworkInputs, Branches>)");
  static constexpr bool value = true;
};

/// Instantiated only to report an empty branch.
template <std::size_t LayerIndex, std::size_t Branch>
struct parallel_empty_branch {
  static_assert(Branch != Branch,
                "typegrad::parallel: layer LayerIndex, branch Branch has no layers (see "
                "parallel_empty_branch<LayerIndex, Branch>)");
  static constexpr bool value = true;
};

/// Instantiated only to report a branch whose first layer states another input size (linear<In, Out>).
template <std::size_t LayerIndex, std::size_t Branch, std::size_t BranchExpectsInputs, std::size_t BranchGetsInputs>
struct parallel_branch_size_mismatch {
  static_assert(
      BranchExpectsInputs == BranchGetsInputs,
      "typegrad::parallel: layer LayerIndex, branch Branch: its first layer expects BranchExpectsInputs inputs "
      "but the branch gets BranchGetsInputs (see parallel_branch_size_mismatch<LayerIndex, Branch, "
      "BranchExpectsInputs, BranchGetsInputs>)");
  static constexpr bool value = true;
};

template <std::size_t LayerIndex, std::size_t Branch, class InShape, class... Specs>
constexpr bool check_branch() {
  if constexpr (sizeof...(Specs) == 0) {
    return parallel_empty_branch<LayerIndex, Branch>::value;
  } else {
    using first = std::tuple_element_t<0, std::tuple<Specs...>>;
    if constexpr (requires { first::declared_in_size; })
      if constexpr (first::declared_in_size != 0)
        return parallel_branch_size_mismatch<LayerIndex, Branch, first::declared_in_size, InShape::size>::value;
    return true;
  }
}

/// Branch `Branch` of the parallel at LayerIndex bound to T and its input shape; its layers'
/// own messages show this type (and so the branch) in their "required from" lines.
template <class T, std::size_t LayerIndex, std::size_t Branch, class InShape, std::size_t InOffset, class BranchSpec>
struct parallel_branch;
template <class T, std::size_t LayerIndex, std::size_t Branch, class InShape, std::size_t InOffset, class... Specs>
struct parallel_branch<T, LayerIndex, Branch, InShape, InOffset, branch<Specs...>> {
  static_assert(check_branch<LayerIndex, Branch, InShape, Specs...>());
  using layers = bound_list<T, InShape, parallel_branch_input<LayerIndex, Branch>, Specs...>;
  static constexpr std::size_t in_offset = InOffset;
};

struct parallel_names {
  static constexpr bool flat = false;
  static std::string prefix(std::size_t j) { return "branches." + std::to_string(j) + "."; }
};

/// A bound parallel: each branch runs on its input (a slice of the rows, or all of them), and the
/// outputs are concatenated per sample. Rows layout in and out; each branch keeps its own
/// workspace (network.hpp's workspace_impl) in this layer's cache and runs layer_list_pass.
template <class T, class InShape, class... Branches>
struct parallel_layer {
  using value_type = T;
  using in_shape = InShape;
  static constexpr std::size_t branch_count = sizeof...(Branches);
  template <std::size_t J>
  using branch_t = std::tuple_element_t<J, std::tuple<Branches...>>;
  template <std::size_t J>
  using list_t = inner_list<T, typename branch_t<J>::layers>;
  static constexpr std::array<std::size_t, branch_count> out_sizes{
      inner_list<T, typename Branches::layers>::out_shape::size...};
  using out_shape = shape<(inner_list<T, typename Branches::layers>::out_shape::size + ...)>;
  static constexpr std::size_t in_size = in_shape::size, out_size = out_shape::size;
  using parameters = nested_parameters<T, parallel_names, typename Branches::layers...>;
  /// One PyTorch module (Parallel: branches = nn.ModuleList of nn.Sequential).
  static constexpr std::size_t modules = 1;
  static constexpr bool inference_differs = (list_inference_differs<typename Branches::layers> || ...);
  /// Where branch J's output starts in each output row.
  template <std::size_t J>
  static constexpr std::size_t out_offset = [] {
    std::size_t n = 0;
    for (std::size_t j = 0; j < J; ++j) n += out_sizes[j];
    return n;
  }();
  static constexpr std::size_t in_stride = padded<T>(in_size), out_stride = padded<T>(out_size);

  template <std::size_t B>
  static constexpr layout data_layout = layout::rows;
  template <std::size_t B>
  struct cache {
    cache() noexcept {}
    // Mutable: backward (which gets the cache const, as every layer does) runs the branches' passes.
    mutable std::tuple<uninitialized<typename inner_list<T, typename Branches::layers>::template workspace<B>>...> ws;
    std::tuple<typename inner_list<T, typename Branches::layers>::template rows_buffer<B>...> rows;
  };
  /// The widest branch's input gradient, in its first layer's layout.
  template <std::size_t B>
  static constexpr std::size_t scratch_size =
      std::max({inner_list<T, typename Branches::layers>::template dx_size<B>...});

  static std::string describe() {
    // "inputs," when branch j takes input j of inputs<...> (else every branch takes the whole input)
    constexpr bool split =
        (!std::is_same_v<typename inner_list<T, typename Branches::layers>::in_shape, InShape> || ...);
    std::string s = split ? "parallel<inputs," : "parallel<";
    ((s += "branch<" + describe_list<typename Branches::layers>() + ">,"), ...);
    return s + "concat>";
  }

  template <initializer Init>
  static void initialize(parameters& p, const Init& init, random_engine& rng) noexcept {
    for_each_branch([&](auto J) {
      constexpr std::size_t j = decltype(J)::value;
      initialize_list<typename branch_t<j>::layers>(p.template list<j>(), init, rng);
    });
  }

  template <std::size_t B, pass Pass>
  static void forward(const parameters& p, const T* x, cache<B>& c, T* y, T*) noexcept {
    for_each_branch([&](auto J) {
      constexpr std::size_t j = decltype(J)::value;
      using list = list_t<j>;
      auto& ws = hana::at_c<j>(c.ws).value;
      list::template load_input<B, in_stride>(x + branch_t<j>::in_offset, ws, hana::at_c<j>(c.rows));
      list::pass::template forward<B, Pass>(p.template list<j>(), ws);
      scatter_rows<T, B, typename list::out_shape, list::template out_layout<B>, out_stride>(list::output(ws),
                                                                                             y + out_offset<j>);
    });
    for (std::size_t b = 0; b < B; ++b) std::fill(y + b * out_stride + out_size, y + (b + 1) * out_stride, T(0));
  }

  template <std::size_t B>
  static void update_running_statistics(parameters& p, const cache<B>& c) noexcept {
    for_each_branch([&](auto J) {
      constexpr std::size_t j = decltype(J)::value;
      list_t<j>::pass::template update_running_statistics<B>(p.template list<j>(), hana::at_c<j>(c.ws).value);
    });
  }

  /// Each branch's part of dL/dy goes down its own pass (its parameters through `update`, shifted to
  /// their blocks in this layer's); dL/dx is the branches' input gradients, each added at its input.
  template <std::size_t B, bool NeedDx, bool ActivationDone, class Update>
  static void backward(parameters& p, const T*, const cache<B>& c, const T*, T* dy, T* dx, T* scratch,
                       Update& update) noexcept {
    if constexpr (NeedDx) std::fill_n(dx, B * in_stride, T(0));
    for_each_branch([&](auto J) {
      constexpr std::size_t j = branch_count - 1 - decltype(J)::value;
      using list = list_t<j>;
      if constexpr (NeedDx || list_has_parameters<typename branch_t<j>::layers>) {
        auto& ws = hana::at_c<j>(c.ws).value;
        gather_rows<T, B, typename list::out_shape, list::template out_layout<B>, out_stride>(
            dy + out_offset<j>, list::output_gradient(ws));
        list_update<parameters, j, Update> inner{&update};
        list::pass::template backward<B, false, NeedDx>(p.template list<j>(), ws, inner, NeedDx ? scratch : nullptr);
        if constexpr (NeedDx)
          scatter_rows<T, B, typename list::in_shape, list::template in_layout<B>, in_stride, true>(
              scratch, dx + branch_t<j>::in_offset);
      }
    });
  }

 private:
  template <class F>
  static constexpr void for_each_branch(F&& f) {
    hana::for_each(hana::make_range(hana::size_c<0>, hana::size_c<branch_count>), f);
  }
};

template <class Arg>
inline constexpr bool is_branch = false;
template <class... S>
inline constexpr bool is_branch<branch<S...>> = true;

/// The bound parallel: branch j on input j of inputs<...> (Split), or every branch on the whole input.
template <class T, class InShape, std::size_t Index, class Previous, class Seq, class... Branches>
struct bind_parallel;
template <class T, class InShape, std::size_t Index, class Previous, std::size_t... J, class... Branches>
struct bind_parallel<T, InShape, Index, Previous, std::index_sequence<J...>, Branches...> {
  static constexpr bool split = is_inputs<Previous>::value;
  // (Past the last input, when the counts differ, a placeholder: the count's message says why.)
  template <std::size_t K>
  static constexpr std::size_t size_of = [] {
    if constexpr (!split)
      return InShape::size;
    else if constexpr (K < Previous::count)
      return Previous::sizes[K];
    else
      return std::size_t{1};
  }();
  template <std::size_t K>
  static constexpr std::size_t offset_of = [] {
    if constexpr (!split)
      return std::size_t{0};
    else if constexpr (K < Previous::count)
      return Previous::template offset<K>;
    else
      return std::size_t{0};
  }();
  template <std::size_t K>
  using branch_shape = std::conditional_t<split, shape<size_of<K>>, InShape>;
  using type = parallel_layer<T, InShape, parallel_branch<T, Index, J, branch_shape<J>, offset_of<J>, Branches>...>;
};

template <class T, class InShape, std::size_t Index, class Previous, class... Branches>
constexpr bool check_parallel_inputs() {
  if constexpr (is_inputs<Previous>::value)
    return parallel_input_count_mismatch<Index, Previous::count, sizeof...(Branches)>::value;
  else
    return true;
}

/// The first elements of a tuple type, those of the index sequence.
template <class Tuple, class Seq>
struct tuple_prefix;
template <class Tuple, std::size_t... K>
struct tuple_prefix<Tuple, std::index_sequence<K...>> {
  using type = std::tuple<std::tuple_element_t<K, Tuple>...>;
};

/// The branches of a parallel's arguments: all of them, or all but a trailing join (concat).
/// (Not a lambda in decltype: clang 14 crashes reading one back from a precompiled header.)
template <class Args>
struct without_join;
template <class... Args>
struct without_join<std::tuple<Args...>> {
  using all = std::tuple<Args...>;
  using type = typename tuple_prefix<
      all, std::make_index_sequence<sizeof...(Args) - (sizeof...(Args) > 0 &&
                                                               std::is_same_v<std::tuple_element_t<sizeof...(Args) - 1, all>, concat>
                                                           ? 1
                                                           : 0)>>::type;
};

template <class Previous, class T, class InShape, std::size_t Index, class Branches>
struct parallel_binding;
template <class Previous, class T, class InShape, std::size_t Index, class... Branches>
struct parallel_binding<Previous, T, InShape, Index, std::tuple<Branches...>> {
  static_assert(check_parallel_inputs<T, InShape, Index, Previous, Branches...>());
  using type =
      typename bind_parallel<T, InShape, Index, Previous, std::index_sequence_for<Branches...>, Branches...>::type;
};

}  // namespace detail

/// Branches of layers side by side, joined by `concat` (the default join; it may be written last):
///
///     using net_t = tg::network<tg::inputs<tg::input<360>, tg::input<12>>,
///                               tg::parallel<tg::branch<tg::unflatten<1, 360>, tg::conv1d<8, 7, tg::relu>,
///                               tg::global_avg_pool>,
///                                            tg::branch<tg::dense<8, tg::relu>>,
///                                            tg::concat>,
///                               tg::dense<1, tg::sigmoid>>;
///
/// Right after `inputs<...>` branch j takes input j (as many branches as inputs); anywhere else
/// every branch takes the whole input. The output is the branches' flattened outputs concatenated
/// per sample. `get<j>(get<I>(net))` is branch j's parameters, `get<k>(get<j>(get<I>(net)))` its
/// layer k's; weight files name them as a PyTorch module with `branches = nn.ModuleList(
/// [nn.Sequential(...), ...])` would ("0.branches.1.0.weight").
template <class... Args>
struct parallel {
  static constexpr bool explicit_join =
      sizeof...(Args) > 0 && std::is_same_v<std::tuple_element_t<sizeof...(Args) - 1, std::tuple<Args...>>, concat>;
  static_assert(sizeof...(Args) > std::size_t(explicit_join),
                "typegrad::parallel<branch<...>..., concat>: give at least one branch");
  static_assert(((detail::is_branch<Args> || std::is_same_v<Args, concat>)&&...),
                "typegrad::parallel<branch<...>..., concat>: every argument must be a typegrad::branch<Layers...>, "
                "and the join (concat) comes last");

 private:
  using branches = typename detail::without_join<std::tuple<Args...>>::type;

 public:
  /// Bound after `Previous`: split its inputs when it is inputs<...>.
  template <class Previous, class T, class InShape, std::size_t Index>
  using bind_after = typename detail::parallel_binding<Previous, T, InShape, Index, branches>::type;
  /// Bound anywhere: every branch takes the whole input.
  template <class T, class InShape, std::size_t Index>
  using bind = bind_after<void, T, InShape, Index>;
};

}  // namespace typegrad

// shape<Dims...>: a compile-time tensor shape, outermost axis first, without the batch axis.
#pragma once

#include <array>
#include <cstddef>
#include <type_traits>

namespace typegrad {

/// The shape of one sample as a type, in PyTorch's axis order without the batch axis:
/// `shape<N>` for N features, `shape<C, L>` for a signal, `shape<C, H, W>` for an image,
/// `shape<Steps, F>` for a sequence.
template <std::size_t... Dims>
struct shape {
  static_assert(sizeof...(Dims) > 0, "typegrad::shape<Dims...>: give at least one extent");
  static_assert(((Dims > 0) && ...), "typegrad::shape<Dims...>: every extent must be at least 1");
  static constexpr std::size_t rank = sizeof...(Dims);
  /// Number of values in one sample.
  static constexpr std::size_t size = (Dims * ...);
  static constexpr std::array<std::size_t, rank> dims{Dims...};
  /// Extent of the last axis (what nn.Linear acts on) and the number of vectors along it.
  static constexpr std::size_t last = dims[rank - 1];
  static constexpr std::size_t outer = size / last;
};

namespace detail {
template <class S>
struct is_shape : std::false_type {};
template <std::size_t... D>
struct is_shape<shape<D...>> : std::true_type {};

template <class S, std::size_t Last>
struct with_last;
template <std::size_t Last, std::size_t D0>
struct with_last<shape<D0>, Last> {
  using type = shape<Last>;
};
template <std::size_t Last, std::size_t D0, std::size_t D1>
struct with_last<shape<D0, D1>, Last> {
  using type = shape<D0, Last>;
};
template <std::size_t Last, std::size_t D0, std::size_t D1, std::size_t D2>
struct with_last<shape<D0, D1, D2>, Last> {
  using type = shape<D0, D1, Last>;
};
template <std::size_t Last, std::size_t D0, std::size_t D1, std::size_t D2, std::size_t D3>
struct with_last<shape<D0, D1, D2, D3>, Last> {
  using type = shape<D0, D1, D2, Last>;
};
}  // namespace detail

/// A shape type.
template <class S>
concept shape_type = detail::is_shape<S>::value;

/// S with its last extent replaced by Last (what dense<Last> makes of S).
template <shape_type S, std::size_t Last>
using shape_with_last = typename detail::with_last<S, Last>::type;

}  // namespace typegrad

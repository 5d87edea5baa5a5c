// max_pool1d, avg_pool1d, max_pool2d, avg_pool2d and global_avg_pool: pooling layers without parameters.
#pragma once

#include <cstddef>
#include <string>
#include <cstdint>
#include <type_traits>

#include <typegrad/core/shape.hpp>
#include <typegrad/layers/layer.hpp>
#include <typegrad/layers/reshape.hpp>
#include <typegrad/simd/pool.hpp>

namespace typegrad {

namespace detail {

enum class pool_kind { max, average };

/// The smallest unsigned type that holds a window offset in [0, Window).
template <std::size_t Window>
using window_index_t = std::conditional_t<Window <= 256, std::uint8_t,
                                          std::conditional_t<Window <= 65536, std::uint16_t, std::uint32_t>>;

/// Max or average pooling (no padding, floor mode) over a (C, L) input with a window of K along L,
/// or over a (C, H, W) input with a K×K window; stride S along every pooled axis.
template <class T, class InShape, pool_kind Kind, std::size_t K, std::size_t S>
struct pool_layer {
  static constexpr std::size_t rank = InShape::rank;
  static_assert(rank == 2 || rank == 3);
  using geometry = simd::pool_geometry<InShape::dims[0], rank == 3 ? InShape::dims[1] : 1, InShape::dims[rank - 1],
                                       rank == 3 ? K : 1, K, rank == 3 ? S : 1, S>;

  using value_type = T;
  using in_shape = InShape;
  using out_shape = std::conditional_t<rank == 3, shape<geometry::channels, geometry::out_height, geometry::out_width>,
                                       shape<geometry::channels, geometry::out_width>>;
  using parameters = no_parameters<T>;
  static constexpr std::size_t in_size = in_shape::size, out_size = out_shape::size;
  static constexpr std::size_t modules = 1;  // one nn.MaxPool / nn.AvgPool module, no tensors
  /// Its entry in a weight file's architecture string.
  static std::string describe() {
    return std::string(Kind == pool_kind::max ? "max" : "avg") + (InShape::rank == 3 ? "_pool2d<" : "_pool1d<") +
           std::to_string(K) + "," + std::to_string(S) + ">";
  }
  /// A window offset (kh·K + kw), kept per output of a max pooling for its backward pass.
  using index_type = window_index_t<geometry::window>;

  template <std::size_t B>
  static constexpr layout data_layout = layout::rows;
  template <std::size_t B>
  struct cache {
    cache() noexcept {}
    buffer<index_type, Kind == pool_kind::max ? B * out_size : 1> argmax;
  };
  template <std::size_t B>
  static constexpr std::size_t scratch_size = 0;

  template <std::size_t B, pass Pass>
  static void forward(const parameters&, const T* x, cache<B>& c, T* y, T*) noexcept {
    for (std::size_t b = 0; b < B; ++b) {
      const T* xb = x + b * padded<T>(in_size);
      T* yb = y + b * padded<T>(out_size);
      if constexpr (Kind == pool_kind::max)
        simd::max_pool_forward<T, geometry, Pass == pass::training>(xb, yb, c.argmax.data + b * out_size);
      else
        simd::avg_pool_forward<T, geometry>(xb, yb);
    }
  }

  template <std::size_t B, bool NeedDx, bool ActivationDone, class Update>
  static void backward(parameters&, const T*, const cache<B>& c, const T*, T* dy, T* dx, T*, Update&) noexcept {
    if constexpr (NeedDx) {
      for (std::size_t b = 0; b < B; ++b) {
        const T* dyb = dy + b * padded<T>(out_size);
        T* dxb = dx + b * padded<T>(in_size);
        if constexpr (Kind == pool_kind::max)
          simd::max_pool_backward<T, geometry>(dyb, c.argmax.data + b * out_size, dxb);
        else
          simd::avg_pool_backward<T, geometry>(dyb, dxb);
      }
    }
  }
};

/// The mean over every axis but the first: (C, ...) → (C).
template <class T, class InShape>
struct global_avg_pool_layer {
  static constexpr std::size_t C = InShape::dims[0], N = InShape::size / C;

  using value_type = T;
  using in_shape = InShape;
  using out_shape = shape<C>;
  using parameters = no_parameters<T>;
  static constexpr std::size_t in_size = in_shape::size, out_size = C;
  static constexpr std::size_t modules = 2;  // nn.AdaptiveAvgPool(1) + nn.Flatten, no tensors
  static std::string describe() { return "global_avg_pool"; }
  template <std::size_t B>
  static constexpr layout data_layout = layout::rows;
  template <std::size_t B>
  struct cache {
    cache() noexcept {}
  };
  template <std::size_t B>
  static constexpr std::size_t scratch_size = 0;

  template <std::size_t B, pass Pass>
  static void forward(const parameters&, const T* x, cache<B>&, T* y, T*) noexcept {
    for (std::size_t b = 0; b < B; ++b)
      simd::global_avg_pool_forward<T, C, N>(x + b * padded<T>(in_size), y + b * padded<T>(out_size));
  }
  template <std::size_t B, bool NeedDx, bool ActivationDone, class Update>
  static void backward(parameters&, const T*, const cache<B>&, const T*, T* dy, T* dx, T*, Update&) noexcept {
    if constexpr (NeedDx)
      for (std::size_t b = 0; b < B; ++b)
        simd::global_avg_pool_backward<T, C, N>(dy + b * padded<T>(out_size), dx + b * padded<T>(in_size));
  }
};

// A misused spec binds to one of the layers below instead: each passes its input through
// unchanged (so the network stays well formed and its static_assert is the only error) and
// carries the layer's index, spec and input shape into the compiler's message.

template <std::size_t LayerIndex, class Pool, std::size_t K, std::size_t S, class T, class InputShape>
struct pool_zero_window_or_stride : reshape_layer<T, InputShape, InputShape> {
  static_assert(K > 0 && S > 0,
                "typegrad::max_pool1d/avg_pool1d/max_pool2d/avg_pool2d<K, S>: layer LayerIndex (Pool) has a window K "
                "or a stride S of 0; both must be at least 1 (see pool_zero_window_or_stride<LayerIndex, Pool, K, S, "
                "...>)");
};

template <std::size_t LayerIndex, class Pool, class InputShape, std::size_t ExpectedRank, class T>
struct pool_input_rank_mismatch : reshape_layer<T, InputShape, InputShape> {
  static_assert(InputShape::rank == ExpectedRank,
                "typegrad::max_pool1d/avg_pool1d<K, S> pool a (C, L) input (rank 2), max_pool2d/avg_pool2d<K, S> a "
                "(C, H, W) input (rank 3): layer LayerIndex (Pool) needs rank ExpectedRank but the layer before it "
                "produces InputShape; reshape with unflatten<...> first (see pool_input_rank_mismatch<LayerIndex, "
                "Pool, InputShape, ExpectedRank, ...>)");
};

template <class InputShape, std::size_t K>
constexpr bool window_fits() noexcept {
  for (std::size_t i = 1; i < InputShape::rank; ++i)
    if (InputShape::dims[i] < K) return false;
  return true;
}

template <std::size_t LayerIndex, class Pool, class InputShape, std::size_t K, class T>
struct pool_window_larger_than_input : reshape_layer<T, InputShape, InputShape> {
  static_assert(window_fits<InputShape, K>(),
                "typegrad::max_pool1d/avg_pool1d/max_pool2d/avg_pool2d<K, S>: the window of layer LayerIndex (Pool) "
                "does not fit its input InputShape: K must not exceed L (pool1d) or H and W (pool2d) (see "
                "pool_window_larger_than_input<LayerIndex, Pool, InputShape, K, ...>)");
};

template <std::size_t LayerIndex, class InputShape, class T>
struct global_avg_pool_flat_input : reshape_layer<T, InputShape, InputShape> {
  static_assert(InputShape::rank >= 2,
                "typegrad::global_avg_pool: layer LayerIndex averages every axis but the channels ((C, L) or (C, H, "
                "W) to (C)), but its input InputShape has one axis only; reshape with unflatten<...> first (see "
                "global_avg_pool_flat_input<LayerIndex, InputShape, ...>)");
};

/// The pooling layer, or the report of the first misuse (later checks would only repeat it).
template <class T, class InShape, std::size_t Index, class Pool, pool_kind Kind, std::size_t Rank, std::size_t K,
          std::size_t S>
using pool_bind = std::conditional_t<
    !(K > 0 && S > 0), pool_zero_window_or_stride<Index, Pool, K, S, T, InShape>,
    std::conditional_t<InShape::rank != Rank, pool_input_rank_mismatch<Index, Pool, InShape, Rank, T>,
                       std::conditional_t<!window_fits<InShape, K>(), pool_window_larger_than_input<Index, Pool, InShape, K, T>,
                                          pool_layer<T, InShape, Kind, K, S>>>>;

}  // namespace detail

/// PyTorch's nn.MaxPool1d(K, S) on a (C, L) input: (C, (L − K) / S + 1), each output the largest
/// of its K-wide window (no padding, floor mode). The gradient goes to the window's first maximum.
/// @tparam K window length, 1 ≤ K ≤ L
/// @tparam S stride (default K: windows side by side)
///
///     network<input<48>, unflatten<4, 12>, max_pool1d<2>, flatten, dense<3>>   // (4, 12) → (4, 6)
template <std::size_t K, std::size_t S = K>
struct max_pool1d {
  static constexpr std::size_t kernel_size = K, stride = S;
  template <class T, class InShape, std::size_t Index>
  using bind = detail::pool_bind<T, InShape, Index, max_pool1d, detail::pool_kind::max, 2, K, S>;
};

/// PyTorch's nn.AvgPool1d(K, S) on a (C, L) input: (C, (L − K) / S + 1), each output the mean of
/// its K-wide window (no padding, floor mode).
/// @tparam K window length, 1 ≤ K ≤ L
/// @tparam S stride (default K)
template <std::size_t K, std::size_t S = K>
struct avg_pool1d {
  static constexpr std::size_t kernel_size = K, stride = S;
  template <class T, class InShape, std::size_t Index>
  using bind = detail::pool_bind<T, InShape, Index, avg_pool1d, detail::pool_kind::average, 2, K, S>;
};

/// PyTorch's nn.MaxPool2d(K, S) on a (C, H, W) input: (C, (H − K) / S + 1, (W − K) / S + 1), each
/// output the largest of its K×K window (no padding, floor mode). The gradient goes to the
/// window's first maximum in row-major order.
/// @tparam K window height and width, K ≤ H and K ≤ W
/// @tparam S stride along both axes (default K)
///
///     network<input<192>, unflatten<3, 8, 8>, max_pool2d<2>, flatten, dense<10>>   // → (3, 4, 4)
template <std::size_t K, std::size_t S = K>
struct max_pool2d {
  static constexpr std::size_t kernel_size = K, stride = S;
  template <class T, class InShape, std::size_t Index>
  using bind = detail::pool_bind<T, InShape, Index, max_pool2d, detail::pool_kind::max, 3, K, S>;
};

/// PyTorch's nn.AvgPool2d(K, S) on a (C, H, W) input: each output the mean of its K×K window.
/// @tparam K window height and width, K ≤ H and K ≤ W
/// @tparam S stride along both axes (default K)
template <std::size_t K, std::size_t S = K>
struct avg_pool2d {
  static constexpr std::size_t kernel_size = K, stride = S;
  template <class T, class InShape, std::size_t Index>
  using bind = detail::pool_bind<T, InShape, Index, avg_pool2d, detail::pool_kind::average, 3, K, S>;
};

/// The mean of each channel over every other axis, (C, L) → (C) or (C, H, W) → (C): PyTorch's
/// nn.AdaptiveAvgPool1d(1) / nn.AdaptiveAvgPool2d(1) followed by nn.Flatten().
///
///     network<input<192>, unflatten<3, 8, 8>, global_avg_pool, dense<10>>   // (3, 8, 8) → (3)
struct global_avg_pool {
  template <class T, class InShape, std::size_t Index>
  using bind = std::conditional_t<InShape::rank >= 2, detail::global_avg_pool_layer<T, InShape>,
                                  detail::global_avg_pool_flat_input<Index, InShape, T>>;
};

}  // namespace typegrad

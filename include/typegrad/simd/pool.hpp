// Pooling kernels: max and average over KH×KW windows, and the global average, one sample at a time.
#pragma once

#include <cmath>
#include <cstddef>

#include <xsimd/xsimd.hpp>

#include <typegrad/core/config.hpp>

namespace typegrad::simd {

/// Where the windows of a pooling layer lie: C channels of H×W values (PyTorch order), windows of
/// KH×KW moved by SH rows and SW columns, no padding, floor mode. A 1-D pooling is H = KH = 1.
template <std::size_t C, std::size_t H, std::size_t W, std::size_t KH, std::size_t KW, std::size_t SH, std::size_t SW>
struct pool_geometry {
  static_assert(KH >= 1 && KW >= 1 && SH >= 1 && SW >= 1 && KH <= H && KW <= W);
  static constexpr std::size_t channels = C, height = H, width = W;
  static constexpr std::size_t window_height = KH, window_width = KW, stride_height = SH, stride_width = SW;
  static constexpr std::size_t out_height = (H - KH) / SH + 1, out_width = (W - KW) / SW + 1;
  static constexpr std::size_t in_size = C * H * W, out_size = C * out_height * out_width;
  /// Values in one window; a window offset is kh·KW + kw (row-major, PyTorch's search order).
  static constexpr std::size_t window = KH * KW;
  /// Whether a register of L consecutive outputs of a row reads L consecutive inputs per offset.
  template <class T>
  static constexpr bool vector_rows = SW == 1 && out_width >= lanes<T>;
};

namespace detail {
template <class T>
inline void zero_pool_padding(T* p, std::size_t size, std::size_t padded_size) noexcept {
  for (std::size_t i = size; i < padded_size; ++i) p[i] = T(0);
}
}  // namespace detail

/// Max pooling of one sample: y (padded(out_size), padding zeroed) and, with KeepArgmax, the
/// window offset of each output's maximum in arg (the first maximum in window order, a NaN
/// counting as the maximum, as PyTorch does).
template <class T, class G, bool KeepArgmax, class Index>
inline void max_pool_forward(const T* __restrict x, T* __restrict y, Index* __restrict arg) noexcept {
  using V = xsimd::batch<T>;
  constexpr std::size_t L = lanes<T>, H = G::height, W = G::width, KW = G::window_width;
  constexpr std::size_t Ho = G::out_height, Wo = G::out_width;
  for (std::size_t c = 0; c < G::channels; ++c) {
    for (std::size_t ho = 0; ho < Ho; ++ho) {
      const T* row = x + (c * H + ho * G::stride_height) * W;  // the window's top row
      const std::size_t o0 = (c * Ho + ho) * Wo;
      std::size_t wo = 0;
      if constexpr (G::template vector_rows<T>) {
        for (; wo + L <= Wo; wo += L) {
          auto best = V::load_unaligned(row + wo);
          auto at = V(T(0));
          for (std::size_t kh = 0; kh < G::window_height; ++kh)
            for (std::size_t kw = kh == 0 ? 1 : 0; kw < KW; ++kw) {
              const auto v = V::load_unaligned(row + kh * W + wo + kw);
              const auto take = (v > best) | xsimd::isnan(v);  // xsimd's != is ordered: false for NaN
              best = xsimd::select(take, v, best);
              if constexpr (KeepArgmax) at = xsimd::select(take, V(T(kh * KW + kw)), at);
            }
          best.store_unaligned(y + o0 + wo);
          if constexpr (KeepArgmax) {
            alignas(alignment) T offsets[L];
            at.store_aligned(offsets);
            for (std::size_t j = 0; j < L; ++j) arg[o0 + wo + j] = static_cast<Index>(offsets[j]);
          }
        }
      }
      for (; wo < Wo; ++wo) {
        const T* w0 = row + wo * G::stride_width;
        T best = w0[0];
        std::size_t at = 0;
        for (std::size_t kh = 0; kh < G::window_height; ++kh)
          for (std::size_t kw = kh == 0 ? 1 : 0; kw < KW; ++kw) {
            const T v = w0[kh * W + kw];
            if (v > best || std::isnan(v)) {
              best = v;
              at = kh * KW + kw;
            }
          }
        y[o0 + wo] = best;
        if constexpr (KeepArgmax) arg[o0 + wo] = static_cast<Index>(at);
      }
    }
  }
  detail::zero_pool_padding(y, G::out_size, padded<T>(G::out_size));
}

/// dL/dx of max pooling for one sample: each output's gradient goes to its window's argmax
/// (overlapping windows add up); all of dx is written, padding zero.
template <class T, class G, class Index>
inline void max_pool_backward(const T* __restrict dy, const Index* __restrict arg, T* __restrict dx) noexcept {
  constexpr std::size_t H = G::height, W = G::width, KW = G::window_width, Ho = G::out_height, Wo = G::out_width;
  for (std::size_t i = 0; i < padded<T>(G::in_size); ++i) dx[i] = T(0);
  for (std::size_t c = 0; c < G::channels; ++c)
    for (std::size_t ho = 0; ho < Ho; ++ho)
      for (std::size_t wo = 0; wo < Wo; ++wo) {
        const std::size_t o = (c * Ho + ho) * Wo + wo, at = arg[o];
        dx[(c * H + ho * G::stride_height + at / KW) * W + wo * G::stride_width + at % KW] += dy[o];
      }
}

/// Average pooling of one sample: each output is its window's sum divided by KH·KW (summed in
/// window order); y's padding is zeroed.
template <class T, class G>
inline void avg_pool_forward(const T* __restrict x, T* __restrict y) noexcept {
  using V = xsimd::batch<T>;
  constexpr std::size_t L = lanes<T>, H = G::height, W = G::width, KW = G::window_width;
  constexpr std::size_t Ho = G::out_height, Wo = G::out_width;
  constexpr T n = T(G::window);
  for (std::size_t c = 0; c < G::channels; ++c) {
    for (std::size_t ho = 0; ho < Ho; ++ho) {
      const T* row = x + (c * H + ho * G::stride_height) * W;
      const std::size_t o0 = (c * Ho + ho) * Wo;
      std::size_t wo = 0;
      if constexpr (G::template vector_rows<T>) {
        for (; wo + L <= Wo; wo += L) {
          auto sum = V(T(0));
          for (std::size_t kh = 0; kh < G::window_height; ++kh)
            for (std::size_t kw = 0; kw < KW; ++kw) sum += V::load_unaligned(row + kh * W + wo + kw);
          (sum / V(n)).store_unaligned(y + o0 + wo);
        }
      }
      for (; wo < Wo; ++wo) {
        const T* w0 = row + wo * G::stride_width;
        T sum = T(0);
        for (std::size_t kh = 0; kh < G::window_height; ++kh)
          for (std::size_t kw = 0; kw < KW; ++kw) sum += w0[kh * W + kw];
        y[o0 + wo] = sum / n;
      }
    }
  }
  detail::zero_pool_padding(y, G::out_size, padded<T>(G::out_size));
}

/// dL/dx of average pooling for one sample: dy / (KH·KW) spread over each window (overlapping
/// windows add up); all of dx is written, padding zero.
template <class T, class G>
inline void avg_pool_backward(const T* __restrict dy, T* __restrict dx) noexcept {
  using V = xsimd::batch<T>;
  constexpr std::size_t L = lanes<T>, H = G::height, W = G::width, KW = G::window_width;
  constexpr std::size_t Ho = G::out_height, Wo = G::out_width;
  constexpr T n = T(G::window);
  for (std::size_t i = 0; i < padded<T>(G::in_size); ++i) dx[i] = T(0);
  for (std::size_t c = 0; c < G::channels; ++c) {
    for (std::size_t ho = 0; ho < Ho; ++ho) {
      T* row = dx + (c * H + ho * G::stride_height) * W;
      const std::size_t o0 = (c * Ho + ho) * Wo;
      std::size_t wo = 0;
      if constexpr (G::template vector_rows<T>) {
        // The L lanes of one store are L different inputs, so the adds never collide in a register.
        for (; wo + L <= Wo; wo += L) {
          const auto g = V::load_unaligned(dy + o0 + wo) / V(n);
          for (std::size_t kh = 0; kh < G::window_height; ++kh)
            for (std::size_t kw = 0; kw < KW; ++kw) {
              T* p = row + kh * W + wo + kw;
              (V::load_unaligned(p) + g).store_unaligned(p);
            }
        }
      }
      for (; wo < Wo; ++wo) {
        T* w0 = row + wo * G::stride_width;
        const T g = dy[o0 + wo] / n;
        for (std::size_t kh = 0; kh < G::window_height; ++kh)
          for (std::size_t kw = 0; kw < KW; ++kw) w0[kh * W + kw] += g;
      }
    }
  }
}

/// The mean of each of C channels of N contiguous values of one sample: y[c], padding zeroed.
template <class T, std::size_t C, std::size_t N>
inline void global_avg_pool_forward(const T* __restrict x, T* __restrict y) noexcept {
  using V = xsimd::batch<T>;
  constexpr std::size_t L = lanes<T>;
  for (std::size_t c = 0; c < C; ++c) {
    const T* xc = x + c * N;
    T sum = T(0);
    std::size_t i = 0;
    if constexpr (N >= L) {
      auto acc = V::load_unaligned(xc);
      for (i = L; i + L <= N; i += L) acc += V::load_unaligned(xc + i);
      sum = xsimd::hadd(acc);
    }
    for (; i < N; ++i) sum += xc[i];
    y[c] = sum / T(N);
  }
  detail::zero_pool_padding(y, C, padded<T>(C));
}

/// dL/dx of the global average: dy[c] / N over channel c; all of dx is written, padding zero.
template <class T, std::size_t C, std::size_t N>
inline void global_avg_pool_backward(const T* __restrict dy, T* __restrict dx) noexcept {
  for (std::size_t c = 0; c < C; ++c) {
    const T g = dy[c] / T(N);
    for (std::size_t i = 0; i < N; ++i) dx[c * N + i] = g;
  }
  detail::zero_pool_padding(dx, C * N, padded<T>(C * N));
}

}  // namespace typegrad::simd

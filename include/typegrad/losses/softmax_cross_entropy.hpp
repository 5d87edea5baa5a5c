// softmax_cross_entropy: cross-entropy of softmax(logits) against a class index or a one-hot row.
#pragma once

#include <array>
#include <cassert>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <type_traits>

#include <typegrad/core/config.hpp>
#include <typegrad/core/tensor.hpp>
#include <typegrad/losses/elementwise.hpp>

namespace typegrad {

namespace detail {
template <class Target, std::size_t B>
inline constexpr bool is_class_index_target = [] {
  using U = std::remove_cvref_t<Target>;
  if constexpr (B == 1 && std::integral<U>) return true;
  else if constexpr (requires { typename U::value_type; })
    return std::integral<typename U::value_type> &&
           (std::is_same_v<U, vector<typename U::value_type, B>> || std::is_same_v<U, std::array<typename U::value_type, B>>);
  else return false;
}();
}  // namespace detail

/// −mean_b log softmax(z_b)[class_b], from logits (use an identity output layer), like PyTorch's
/// nn.CrossEntropyLoss. The target is a class index per sample (an integer for one sample;
/// vector<int, B> or std::array for B samples; each must be < Out) or a row of class
/// probabilities (one-hot) as vector<T, Out> / matrix<T, B, Out>.
struct softmax_cross_entropy {
  template <class Target, class T, std::size_t B, std::size_t Out>
  static constexpr bool accepts = detail::is_class_index_target<Target, B> || detail::is_dense_target<Target, T, B, Out>;
  static constexpr const char* target_description =
      "a class index (an integer, or vector<int, B> / std::array of B indices) or a one-hot vector<T, Out> / matrix<T, B, Out>";

  template <class T, std::size_t B, std::size_t Out, class Target>
  static T evaluate(const T* Z, const Target& target, T* dZ) noexcept {
    static_assert(Out >= 2, "typegrad::softmax_cross_entropy: the network must produce at least 2 logits (one per class)");
    constexpr std::size_t stride = padded<T>(Out);
    T total = 0;
    for (std::size_t b = 0; b < B; ++b) {
      const T* z = Z + b * stride;
      T m = z[0];
      for (std::size_t i = 1; i < Out; ++i) m = z[i] > m ? z[i] : m;
      // e^(z − m) once per class, kept for the gradient; log Σ e^z computed without overflow.
      T e[Out];
      T sum = 0;
      for (std::size_t i = 0; i < Out; ++i) sum += (e[i] = std::exp(z[i] - m));
      const T log_sum = m + std::log(sum), inv_sum = T(1) / sum;
      if constexpr (detail::is_class_index_target<Target, B>) {
        std::size_t k;
        if constexpr (std::integral<std::remove_cvref_t<Target>>) k = static_cast<std::size_t>(target);
        else k = static_cast<std::size_t>(target[b]);
        assert(k < Out && "typegrad::softmax_cross_entropy: class index out of range");
        total += log_sum - z[k];
        if (dZ)
          for (std::size_t i = 0; i < Out; ++i) dZ[b * stride + i] = (e[i] * inv_sum - T(i == k)) / T(B);
      } else {
        const T* tr = target.data() + b * Out;
        T t_sum = 0;
        for (std::size_t i = 0; i < Out; ++i) {
          total += tr[i] * (log_sum - z[i]);
          t_sum += tr[i];
        }
        // d/dz_i of Σ_j t_j (lse − z_j) = p_i Σ_j t_j − t_i
        if (dZ)
          for (std::size_t i = 0; i < Out; ++i) dZ[b * stride + i] = (e[i] * inv_sum * t_sum - tr[i]) / T(B);
      }
      if (dZ)
        for (std::size_t i = Out; i < stride; ++i) dZ[b * stride + i] = T(0);
    }
    return total / T(B);
  }
};

}  // namespace typegrad

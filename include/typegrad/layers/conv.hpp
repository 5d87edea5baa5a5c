// conv1d and conv2d: convolution layers (PyTorch's nn.Conv1d, nn.Conv2d) and their options.
#pragma once

#include <algorithm>
#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>

#include <typegrad/activations/activation.hpp>
#include <typegrad/activations/builtin.hpp>
#include <typegrad/core/config.hpp>
#include <typegrad/core/init.hpp>
#include <typegrad/core/shape.hpp>
#include <typegrad/layers/layer.hpp>
#include <typegrad/simd/conv.hpp>
#include <typegrad/simd/conv_gemm.hpp>
#include <typegrad/simd/kernels.hpp>
#include <typegrad/simd/stream.hpp>

namespace typegrad {

// ---- Options ----

/// Step between output positions: `stride<S>` on every axis, `stride<SH, SW>` for conv2d.
template <std::size_t S, std::size_t SW = S>
struct stride {
  static_assert(S > 0 && SW > 0, "typegrad::stride<S>: the stride must be at least 1");
};
/// Zeros added on both sides of each axis: `padding<P>`, or `padding<PH, PW>` for conv2d.
template <std::size_t P, std::size_t PW = P>
struct padding {};
/// PyTorch's padding='same' (stride 1 only): D·(K−1) zeros per axis, half (rounded down) before.
struct padding_same {};
/// conv1d only: (K−1)·D zeros before the signal and none after, so output t sees inputs ≤ t.
struct causal {};
/// Spacing between kernel taps: `dilation<D>`, or `dilation<DH, DW>` for conv2d.
template <std::size_t D, std::size_t DW = D>
struct dilation {
  static_assert(D > 0 && DW > 0, "typegrad::dilation<D>: the dilation must be at least 1");
};
/// Channels split into G groups, each convolved with its own filters (G = channels: depthwise).
template <std::size_t G>
struct groups {
  static_assert(G > 0, "typegrad::groups<G>: G must be at least 1");
};

namespace detail {

template <class O>
struct is_conv_option : std::false_type {};
template <std::size_t A, std::size_t B>
struct is_conv_option<stride<A, B>> : std::true_type {};
template <std::size_t A, std::size_t B>
struct is_conv_option<padding<A, B>> : std::true_type {};
template <>
struct is_conv_option<padding_same> : std::true_type {};
template <>
struct is_conv_option<causal> : std::true_type {};
template <std::size_t A, std::size_t B>
struct is_conv_option<dilation<A, B>> : std::true_type {};
template <std::size_t A>
struct is_conv_option<groups<A>> : std::true_type {};

/// The options of a convolution folded into numbers (how many of each kind were given, too).
struct conv_settings {
  std::size_t sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1, groups = 1;
  bool same = false, causal = false, square_stride = true, square_padding = true, square_dilation = true;
  int n_stride = 0, n_padding = 0, n_dilation = 0, n_groups = 0;
};
template <std::size_t A, std::size_t B>
constexpr void apply_conv_option(conv_settings& s, const stride<A, B>*) noexcept {
  s.sh = A, s.sw = B, s.square_stride = A == B, ++s.n_stride;
}
template <std::size_t A, std::size_t B>
constexpr void apply_conv_option(conv_settings& s, const padding<A, B>*) noexcept {
  s.ph = A, s.pw = B, s.square_padding = A == B, ++s.n_padding;
}
constexpr void apply_conv_option(conv_settings& s, const padding_same*) noexcept { s.same = true, ++s.n_padding; }
constexpr void apply_conv_option(conv_settings& s, const causal*) noexcept { s.causal = true, ++s.n_padding; }
template <std::size_t A, std::size_t B>
constexpr void apply_conv_option(conv_settings& s, const dilation<A, B>*) noexcept {
  s.dh = A, s.dw = B, s.square_dilation = A == B, ++s.n_dilation;
}
template <std::size_t A>
constexpr void apply_conv_option(conv_settings& s, const groups<A>*) noexcept {
  s.groups = A, ++s.n_groups;
}
template <class... Options>
constexpr conv_settings make_conv_settings() noexcept {
  conv_settings s;
  (apply_conv_option(s, static_cast<const Options*>(nullptr)), ...);
  return s;
}
/// The settings of conv<..., Act, Options...>, where Act may be the first option (or defaults,
/// when some option is not one: check_conv_spec reports that).
template <class Act, class... Options>
constexpr conv_settings conv_settings_of() noexcept {
  if constexpr (is_conv_option<Act>::value)
    return conv_settings_of<identity, Act, Options...>();
  else if constexpr ((is_conv_option<Options>::value && ...))
    return make_conv_settings<Options...>();
  else
    return {};
}

/// conv1d<O, K, stride<2>>: an option where the activation goes means the identity activation.
template <class Act>
using conv_activation = std::conditional_t<is_conv_option<Act>::value, identity, Act>;

template <class... Ts>
struct type_list {};
template <template <std::size_t, std::size_t, class, class...> class Conv, std::size_t O, std::size_t K, class A,
          class Act, class... Options>
struct conv_with_activation {
  using type =
      std::conditional_t<is_conv_option<Act>::value, Conv<O, K, A, Act, Options...>, Conv<O, K, A, Options...>>;
};
template <template <std::size_t, std::size_t, std::size_t, class, class...> class Conv, std::size_t O, std::size_t KH,
          std::size_t KW, class A, class Act, class... Options>
struct conv2d_with_activation {
  using type = std::conditional_t<is_conv_option<Act>::value, Conv<O, KH, KW, A, Act, Options...>,
                                  Conv<O, KH, KW, A, Options...>>;
};

}  // namespace detail

// ---- Parameters ----

/// Parameters of a convolution with O filters of Cg (= C / groups) channels × KH × KW taps, as
/// PyTorch stores them: weight [O, Cg, K] (conv1d, Rank 1) or [O, Cg, KH, KW] (conv2d), bias [O].
/// Each filter's Cg·KH·KW weights are contiguous in that order, in a row padded to whole registers
/// (zero), so that the GEMM kernels (simd/conv_gemm.hpp) read the weight as a dense layer's.
template <class T, std::size_t O, std::size_t Cg, std::size_t KH, std::size_t KW, std::size_t Rank>
struct conv_parameters {
  using value_type = T;
  static constexpr std::size_t out_channels = O, group_channels = Cg, kernel_h = KH, kernel_w = KW, rank = Rank;
  /// The weight seen as [O, in_size] (as dense's): out_size rows of Cg·KH·KW values, row_stride apart.
  static constexpr std::size_t out_size = O, in_size = Cg * KH * KW, row_stride = padded<T>(in_size);
  static constexpr std::size_t parameter_blocks = 2;  // weight, bias

  alignas(alignment) T w_[O * row_stride] = {};
  alignas(alignment) T b_[padded<T>(O)] = {};

  /// conv1d: Conv1d.weight[o][c][k].
  constexpr T& weight(std::size_t o, std::size_t c, std::size_t k) noexcept requires(Rank == 1) {
    return w_[o * row_stride + c * KW + k];
  }
  constexpr const T& weight(std::size_t o, std::size_t c, std::size_t k) const noexcept requires(Rank == 1) {
    return w_[o * row_stride + c * KW + k];
  }
  /// conv2d: Conv2d.weight[o][c][kh][kw].
  constexpr T& weight(std::size_t o, std::size_t c, std::size_t kh, std::size_t kw) noexcept requires(Rank == 2) {
    return w_[o * row_stride + (c * KH + kh) * KW + kw];
  }
  constexpr const T& weight(std::size_t o, std::size_t c, std::size_t kh, std::size_t kw) const noexcept
      requires(Rank == 2) {
    return w_[o * row_stride + (c * KH + kh) * KW + kw];
  }
  /// The weight as [O, Cg·KH·KW] (row o, column (c·KH + kh)·KW + kw), as for_each sees it.
  constexpr T& weight(std::size_t o, std::size_t i) noexcept { return w_[o * row_stride + i]; }
  constexpr const T& weight(std::size_t o, std::size_t i) const noexcept { return w_[o * row_stride + i]; }
  constexpr T& bias(std::size_t o) noexcept { return b_[o]; }
  constexpr const T& bias(std::size_t o) const noexcept { return b_[o]; }

  /// Length of block P's padded storage (0 = weight, 1 = bias).
  static constexpr std::size_t padded_size(simd::param_c<0>) noexcept { return sizeof(w_) / sizeof(T); }
  static constexpr std::size_t padded_size(simd::param_c<1>) noexcept { return padded<T>(O); }
  /// Raw padded storage of block P (0 = weight, 1 = bias), for optimizers and I/O.
  constexpr T* data(simd::param_c<0>) noexcept { return w_; }
  constexpr T* data(simd::param_c<1>) noexcept { return b_; }
  constexpr const T* data(simd::param_c<0>) const noexcept { return w_; }
  constexpr const T* data(simd::param_c<1>) const noexcept { return b_; }

  /// Calls f(block, o, i, value&) for every real parameter: weight(o, i) over [O, Cg·KH·KW], then bias(o) with i = 0.
  template <class F>
  constexpr void for_each(F&& f) {
    for (std::size_t o = 0; o < O; ++o)
      for (std::size_t i = 0; i < in_size; ++i) f(simd::weight_c, o, i, w_[o * row_stride + i]);
    for (std::size_t o = 0; o < O; ++o) f(simd::bias_c, o, std::size_t{0}, b_[o]);
  }
  template <class F>
  constexpr void for_each(F&& f) const {
    for (std::size_t o = 0; o < O; ++o)
      for (std::size_t i = 0; i < in_size; ++i) f(simd::weight_c, o, i, w_[o * row_stride + i]);
    for (std::size_t o = 0; o < O; ++o) f(simd::bias_c, o, std::size_t{0}, b_[o]);
  }
  /// Calls f(name, pytorch_shape, data, row_stride, col_stride) for "weight" and "bias" (state_dict order).
  template <class F>
  constexpr void for_each_tensor(F&& f) {
    if constexpr (Rank == 1)
      f(std::string_view("weight"), std::initializer_list<std::size_t>{O, Cg, KW}, w_, row_stride, std::size_t{1});
    else
      f(std::string_view("weight"), std::initializer_list<std::size_t>{O, Cg, KH, KW}, w_, row_stride, std::size_t{1});
    f(std::string_view("bias"), std::initializer_list<std::size_t>{O}, b_, std::size_t{1}, std::size_t{0});
  }
  template <class F>
  constexpr void for_each_tensor(F&& f) const {
    const T* w = w_;
    const T* b = b_;
    if constexpr (Rank == 1)
      f(std::string_view("weight"), std::initializer_list<std::size_t>{O, Cg, KW}, w, row_stride, std::size_t{1});
    else
      f(std::string_view("weight"), std::initializer_list<std::size_t>{O, Cg, KH, KW}, w, row_stride, std::size_t{1});
    f(std::string_view("bias"), std::initializer_list<std::size_t>{O}, b, std::size_t{1}, std::size_t{0});
  }
  static constexpr std::size_t count() noexcept { return O * in_size + O; }
  friend constexpr bool operator==(const conv_parameters&, const conv_parameters&) = default;
};

namespace detail {

// ---- Shape checks: instantiated only to report a misuse; their arguments carry the numbers ----

template <std::size_t LayerIndex, class Conv, class InputShape>
struct conv_input_rank_mismatch {
  static_assert(InputShape::rank == Conv::spatial_rank + 1,
                "typegrad::conv: layer LayerIndex (Conv) needs an input of shape (C, L) for conv1d or (C, H, W) "
                "for conv2d, but InputShape has another rank; put unflatten<...> before it "
                "(see conv_input_rank_mismatch<LayerIndex, Conv, InputShape>)");
  static constexpr bool value = true;
};
template <std::size_t LayerIndex, class Conv, class InputShape, std::size_t InChannels, std::size_t OutChannels,
          std::size_t Groups>
struct conv_channels_not_divisible_by_groups {
  static_assert(
      InChannels % Groups == 0 && OutChannels % Groups == 0,
      "typegrad::conv: layer LayerIndex (Conv): its InChannels input channels (InputShape) and its "
      "OutChannels output channels must both be divisible by groups<Groups> "
      "(see conv_channels_not_divisible_by_groups<LayerIndex, Conv, InputShape, InChannels, OutChannels, Groups>)");
  static constexpr bool value = true;
};
template <class Small, class Large>
constexpr bool fits_within() noexcept {
  for (std::size_t i = 0; i < Small::rank; ++i)
    if (Small::dims[i] > Large::dims[i]) return false;
  return true;
}
/// DilatedKernel: the positions the kernel spans, (K−1)·D + 1 per axis; PaddedInput: the input's
/// spatial extents with the padding (as shapes: (L) for conv1d, (H, W) for conv2d).
template <std::size_t LayerIndex, class Conv, class InputShape, class DilatedKernel, class PaddedInput>
struct conv_kernel_larger_than_input {
  static_assert(fits_within<DilatedKernel, PaddedInput>(),
                "typegrad::conv: layer LayerIndex (Conv): the kernel, dilated, spans DilatedKernel positions, more "
                "than the input InputShape has with its padding (PaddedInput) "
                "(see conv_kernel_larger_than_input<LayerIndex, Conv, InputShape, DilatedKernel, PaddedInput>)");
  static constexpr bool value = true;
};
template <std::size_t LayerIndex, class Conv, std::size_t... Stride>
struct conv_padding_same_with_stride {
  static_assert(((Stride == 1) && ...),
                "typegrad::conv: layer LayerIndex (Conv): padding_same needs stride 1, not Stride... (PyTorch refuses "
                "padding='same' with a stride too; give padding<P>) "
                "(see conv_padding_same_with_stride<LayerIndex, Conv, Stride...>)");
  static constexpr bool value = true;
};
template <std::size_t LayerIndex, class Conv>
struct conv_causal_on_conv2d {
  static_assert(Conv::spatial_rank == 1,
                "typegrad::conv2d: layer LayerIndex (Conv): causal padding is for conv1d only; give conv2d "
                "padding<PH, PW> (see conv_causal_on_conv2d<LayerIndex, Conv>)");
  static constexpr bool value = true;
};

/// Whether a convolution can run one time step at a time: a conv1d with stride 1 whose padding
/// is all on the left, (K − 1)·D (causal): each output then reads only the present and the past.
template <class G, std::size_t Rank>
inline constexpr bool conv_is_causal = Rank == 1 && G::sw == 1 && G::pl == G::dw * (G::kw - 1) && G::wp == G::w + G::pl;

/// What a causal conv1d adds for typegrad::stream (nothing for other convolutions, which then
/// cannot stream). The state is a ring buffer of the last (K − 1)·D inputs of every channel; each
/// step gathers its taps into one im2col row, in the weights' own [C/G][K] order, so that the
/// step is one dense product with the weight rows as they are stored (groups: per output).
template <class T, class G, class Act, bool Causal>
struct conv_streaming {};
template <class T, class G, class Act>
struct conv_streaming<T, G, Act, true> {
  static constexpr stream_role streams_as = stream_role::channels;
  static constexpr bool stream_reads_unpadded_input = true;  // x_t only as scalars
  static constexpr std::size_t history = G::dw * (G::kw - 1);  // past inputs a step reads
  // One undilated input channel (a signal's first layer) and a kernel of at most one register:
  // the taps are the last K inputs, slid along in one register-wide slot (simd::slide_window),
  // which is then the im2col row as it is.
  static constexpr bool contiguous_taps = G::c == 1 && G::dw == 1 && G::kw <= lanes<T>;
  struct ring_state {
    T past[history > 0 ? history * G::c : 1] = {};  // slot-major: slot j holds C values
    std::size_t next = 0;                           // the slot the present input goes to
  };
  struct window_state {
    alignas(alignment) T taps[lanes<T>] = {};  // the last K inputs, oldest first, then zero
  };
  using stream_state = std::conditional_t<contiguous_taps, window_state, ring_state>;
  // Scratch: [this step's taps, [C][K] | the pre-activation].
  static constexpr std::size_t stream_scratch_size = padded<T>(G::c * G::kw) + padded<T>(G::o);

  static void stream_step(const conv_parameters<T, G::o, G::cg, 1, G::kw, 1>& p, stream_state& s, const T* x, T* y,
                          T* scratch) noexcept {
    constexpr std::size_t C = G::c, K = G::kw, D = G::dw;
    T* row = scratch;
    if constexpr (contiguous_taps) {
      simd::slide_window<T, K>(simd::batch<T>::load_aligned(s.taps), x[0]).store_aligned(s.taps);
      row = s.taps;
    } else {
      // Tap k reads the input (K − 1 − k)·D steps back: slot next − lag of the history, modulo
      // its length; the last tap reads the present input.
      std::size_t from[K];
      constexpr std::size_t ring = std::max(history, std::size_t{1});
      for (std::size_t k = 0; k + 1 < K; ++k) from[k] = (s.next + history - (K - 1 - k) * D) % ring;
      simd::assemble<T, C * K>(row, [&](std::size_t j) {
        const std::size_t c = j / K, k = j % K;
        return k + 1 == K ? x[c] : s.past[from[k] * C + c];
      });
      if constexpr (history > 0) {
        std::copy_n(x, C, s.past + s.next * C);
        s.next = s.next + 1 == history ? 0 : s.next + 1;
      }
    }
    T* z = Act::is_identity ? y : scratch + padded<T>(C * K);
    if constexpr (G::groups == 1) {
      simd::dense_forward<T, 1, C * K, G::o>(p.w_, p.b_, row, z);
    } else {
      // Output o of group g reads the row of its group's channels.
      constexpr std::size_t per_group = G::cg * K;
      for (std::size_t o = 0; o < G::o; ++o) {
        const T* w = p.w_ + o * G::weight_row;
        const T* r = row + o / G::og * per_group;
        T sum = p.b_[o];
        for (std::size_t j = 0; j < per_group; ++j) sum += w[j] * r[j];
        z[o] = sum;
      }
      std::fill(z + G::o, z + padded<T>(G::o), T(0));
    }
    if constexpr (!Act::is_identity) simd::activation_forward<Act, T, 1, G::o>(z, y);
  }
};

/// The bound convolution: Geometry is a simd::conv_geometry; Rank 1 (conv1d) or 2 (conv2d).
template <class T, class InShape, class Geometry, class Act, std::size_t Rank>
struct conv_layer : conv_streaming<T, Geometry, Act, conv_is_causal<Geometry, Rank>> {
  using G = Geometry;
  using value_type = T;
  using activation_type = Act;
  using in_shape = InShape;
  using out_shape = std::conditional_t<Rank == 1, shape<G::o, G::wo>, shape<G::o, G::ho, G::wo>>;
  using parameters = conv_parameters<T, G::o, G::cg, G::kh, G::kw, Rank>;
  static constexpr std::size_t in_size = in_shape::size, out_size = out_shape::size;
  static_assert(in_size == G::in_size && out_size == G::out_size);
  /// nn.Sequential modules: the convolution, and its activation unless it is the identity.
  static constexpr std::size_t modules = Act::is_identity ? 1 : 2;
  /// Its entry in a weight file's architecture string: padding as numbers when both sides are
  /// equal, else causal (1-D, none after) or same (PyTorch's uneven split).
  static std::string describe(std::string_view act) {
    constexpr std::size_t pb = G::hp - G::h - G::pt, pr = G::wp - G::w - G::pl;
    const auto n = [](std::size_t v) { return std::to_string(v); };
    const std::string pad = G::pt == pb && G::pl == pr ? (Rank == 1 ? n(G::pl) : n(G::pt) + "," + n(G::pl))
                            : Rank == 1 && pr == 0     ? "causal"
                                                       : "same";
    if constexpr (Rank == 1)
      return "conv1d<" + n(G::o) + "," + n(G::kw) + "," + std::string(act) + ",stride<" + n(G::sw) + ">,padding<" + pad +
             ">,dilation<" + n(G::dw) + ">,groups<" + n(G::groups) + ">>";
    else
      return "conv2d<" + n(G::o) + "," + n(G::kh) + "," + n(G::kw) + "," + std::string(act) + ",stride<" + n(G::sh) +
             "," + n(G::sw) + ">,padding<" + pad + ">,dilation<" + n(G::dh) + "," + n(G::dw) + ">,groups<" +
             n(G::groups) + ">>";
  }
  // As dense: the slope from y needs no pre-activation; the identity needs none either.
  static constexpr bool slope_from_output = Act::slope_from_output;
  static constexpr bool keeps_preactivation = !Act::is_identity && !slope_from_output;

  template <std::size_t B>
  static constexpr layout data_layout = layout::rows;
  template <std::size_t B>
  struct cache {
    cache() noexcept {}
    detail::buffer<T, keeps_preactivation ? B * padded<T>(out_size) : 1> pre;
  };
  /// Whether B samples go through the GEMM kernels (simd/conv_gemm.hpp) or the direct ones.
  template <std::size_t B>
  static constexpr bool uses_gemm = simd::conv_use_gemm<T, G, B>;
  template <std::size_t B>
  static constexpr std::size_t scratch_size = [] {
    if constexpr (uses_gemm<B>) {
      using plan = simd::conv_gemm_plan<T, G, B>;
      return std::max(plan::forward_scratch, plan::backward_scratch);
    } else {
      return std::max(G::forward_scratch, G::template backward_scratch<B>);
    }
  }();

  /// PyTorch's fans: fan_in = Cg·KH·KW, fan_out = O·KH·KW; weights in state_dict order, then biases.
  template <initializer Init>
  static void initialize(parameters& p, const Init& init, random_engine& rng) noexcept {
    const double fan_in = double(G::cg * G::taps), fan_out = double(G::o * G::taps);
    for (std::size_t o = 0; o < G::o; ++o)
      for (std::size_t i = 0; i < parameters::in_size; ++i)
        p.weight(o, i) = static_cast<T>(init.weight(rng, fan_in, fan_out));
    for (std::size_t o = 0; o < G::o; ++o) p.bias(o) = static_cast<T>(init.bias(rng, fan_in, fan_out));
  }

  /// y = f(conv(x) + b) for B samples in rows layout; the pre-activation is kept when needed.
  template <std::size_t B, pass Pass>
  static void forward(const parameters& p, const T* x, cache<B>& c, T* y, T* scratch) noexcept {
    if constexpr (keeps_preactivation) {
      conv_forward<B>(p, x, c.pre.data, scratch);
      simd::activation_forward<Act, T, B, out_size>(c.pre.data, y);
    } else {
      conv_forward<B>(p, x, y, scratch);
      if constexpr (!Act::is_identity) simd::activation_forward<Act, T, B, out_size>(y, y);
    }
  }

  /// dy (dL/dy) becomes dL/dz in place (unless ActivationDone); then dx with the old weights,
  /// and the weight and bias gradients through `update`.
  template <std::size_t B, bool NeedDx, bool ActivationDone, class Update>
  static void backward(parameters& p, const T* x, const cache<B>& c, const T* y, T* dy, T* dx, T* scratch,
                       Update& update) noexcept {
    if constexpr (ActivationDone) {
    } else if constexpr (slope_from_output) {
      simd::activation_backward<Act, T, B, out_size, true>(y, dy);
    } else if constexpr (!Act::is_identity) {
      simd::activation_backward<Act, T, B, out_size>(c.pre.data, dy);
    }
    if constexpr (uses_gemm<B>)
      simd::conv_gemm_backward<T, G, B, NeedDx>(p.w_, p.b_, x, dy, dx, scratch, update);
    else
      simd::conv_backward<T, G, B, NeedDx>(p.w_, p.b_, x, dy, dx, scratch, update);
  }

 private:
  template <std::size_t B>
  static void conv_forward(const parameters& p, const T* x, T* z, T* scratch) noexcept {
    if constexpr (uses_gemm<B>)
      simd::conv_gemm_forward<T, G, B>(p.w_, p.b_, x, z, scratch);
    else
      simd::conv_forward<T, G, B>(p.w_, p.b_, x, z, scratch);
  }
};

/// Checks a convolution spec against its input shape (in order, so that the first message is the
/// cause) and binds it. Rank 1: InShape (C, L); rank 2: (C, H, W).
template <class T, class InShape, std::size_t Index, class Spec>
struct conv_bind {
  static constexpr std::size_t R = Spec::spatial_rank;
  static constexpr conv_settings s = Spec::settings;
  static constexpr bool rank_ok = conv_input_rank_mismatch<Index, Spec, InShape>::value && InShape::rank == R + 1;
  static constexpr std::size_t C = rank_ok ? InShape::dims[0] : 1;
  static constexpr std::size_t H = rank_ok && R == 2 ? InShape::dims[1] : 1;
  static constexpr std::size_t W = rank_ok ? InShape::dims[R] : 1;
  static constexpr std::size_t O = Spec::out_channels, KH = Spec::kernel_h, KW = Spec::kernel_w;
  static constexpr bool groups_ok =
      rank_ok &&
      std::conditional_t<rank_ok, conv_channels_not_divisible_by_groups<Index, Spec, InShape, C, O, s.groups>,
                         std::true_type>::value;
  static constexpr bool causal_ok =
      std::conditional_t<s.causal, conv_causal_on_conv2d<Index, Spec>, std::true_type>::value && (!s.causal || R == 1);
  using same_check = std::conditional_t<R == 1, conv_padding_same_with_stride<Index, Spec, s.sw>,
                                        conv_padding_same_with_stride<Index, Spec, s.sh, s.sw>>;
  static constexpr bool same_ok =
      std::conditional_t<s.same, same_check, std::true_type>::value && (!s.same || (s.sh == 1 && s.sw == 1));
  // conv1d is a conv2d over one row: nothing happens along H.
  static constexpr std::size_t SH = R == 1 ? 1 : s.sh, DH = R == 1 ? 1 : s.dh, PH = R == 1 ? 0 : s.ph;
  // Padding before and after along H and W.
  static constexpr std::size_t total_h = DH * (KH - 1), total_w = s.dw * (KW - 1);
  static constexpr std::size_t PT = s.same ? total_h / 2 : s.causal ? 0 : PH;
  static constexpr std::size_t PB = s.same ? total_h - total_h / 2 : s.causal ? 0 : PH;
  static constexpr std::size_t PL = s.same ? total_w / 2 : s.causal ? total_w : s.pw;
  static constexpr std::size_t PR = s.same ? total_w - total_w / 2 : s.causal ? 0 : s.pw;
  static constexpr std::size_t G = groups_ok && C % s.groups == 0 && O % s.groups == 0 ? s.groups : 1;
  using geometry = simd::conv_geometry<T, C, H, W, O, KH, KW, SH, s.sw, PT, PB, PL, PR, DH, s.dw, G>;
  static constexpr bool kernel_ok =
      rank_ok &&
      std::conditional_t<
          rank_ok,
          std::conditional_t<
              R == 1, conv_kernel_larger_than_input<Index, Spec, InShape, shape<geometry::span_w>, shape<geometry::wp>>,
              conv_kernel_larger_than_input<Index, Spec, InShape, shape<geometry::span_h, geometry::span_w>,
                                            shape<geometry::hp, geometry::wp>>>,
          std::true_type>::value &&
      geometry::fits;
  static constexpr bool ok = rank_ok && groups_ok && causal_ok && same_ok && kernel_ok;
  using type =
      conv_layer<T, std::conditional_t<rank_ok, InShape, shape<C, W>>, geometry, typename Spec::activation_type, R>;
};

template <std::size_t R, class Act, class... Options>
constexpr bool check_conv_spec() {
  if constexpr (is_conv_option<Act>::value)
    return check_conv_spec<R, identity, Act, Options...>();
  else {
    static_assert(
        activation_function<Act> && requires { requires Act::is_elementwise; },
        "typegrad::conv: Act must be an element-wise activation (typegrad::relu, typegrad::activation<E>, ...)");
    static_assert((is_conv_option<Options>::value && ...),
                  "typegrad::conv: every option must be stride<...>, padding<...>, padding_same, causal, dilation<...> "
                  "or groups<G>");
    if constexpr ((is_conv_option<Options>::value && ...)) {
      constexpr conv_settings s = make_conv_settings<Options...>();
      static_assert(
          s.n_stride <= 1 && s.n_padding <= 1 && s.n_dilation <= 1 && s.n_groups <= 1,
          "typegrad::conv: give each option at most once (padding<P>, padding_same and causal exclude each other)");
      static_assert(R == 2 || (s.square_stride && s.square_padding && s.square_dilation),
                    "typegrad::conv1d: stride, padding and dilation take one value (stride<S>, not stride<SH, SW>)");
    }
    return true;
  }
}

}  // namespace detail

/// A 1-D convolution (PyTorch's nn.Conv1d): OutChannels filters of Kernel taps over an input of
/// shape (C, L), giving (OutChannels, L'); then the activation Act. Options (any order):
/// stride<S>, padding<P> | padding_same | causal, dilation<D>, groups<G>. An option may stand where
/// Act goes: `conv1d<8, 3, stride<2>>` has the identity activation.
template <std::size_t OutChannels, std::size_t Kernel, class Act = identity, class... Options>
struct conv1d {
  static_assert(OutChannels > 0 && Kernel > 0, "typegrad::conv1d<OutChannels, Kernel>: both must be at least 1");
  using activation_type = detail::conv_activation<Act>;
  static constexpr std::size_t out_channels = OutChannels, kernel_h = 1, kernel_w = Kernel, spatial_rank = 1;
  static constexpr bool spec_ok = detail::check_conv_spec<1, Act, Options...>();
  static constexpr detail::conv_settings settings = detail::conv_settings_of<Act, Options...>();
  /// The same convolution with activation A (batch-norm folding uses it).
  template <class A>
  using with_activation =
      typename detail::conv_with_activation<typegrad::conv1d, OutChannels, Kernel, A, Act, Options...>::type;
  template <class T, class InShape, std::size_t Index>
  using bind = std::enable_if_t<spec_ok && detail::conv_bind<T, InShape, Index, conv1d>::ok,
                                typename detail::conv_bind<T, InShape, Index, conv1d>::type>;
};

/// A 2-D convolution (PyTorch's nn.Conv2d): OutChannels filters of KernelH × KernelW taps over an
/// input of shape (C, H, W), giving (OutChannels, H', W'); then the activation Act. Options:
/// stride<S> | stride<SH, SW>, padding<P> | padding<PH, PW> | padding_same, dilation<D> |
/// dilation<DH, DW>, groups<G>.
template <std::size_t OutChannels, std::size_t KernelH, std::size_t KernelW, class Act = identity, class... Options>
struct conv2d {
  static_assert(OutChannels > 0 && KernelH > 0 && KernelW > 0,
                "typegrad::conv2d<OutChannels, KernelH, KernelW>: all must be at least 1");
  using activation_type = detail::conv_activation<Act>;
  static constexpr std::size_t out_channels = OutChannels, kernel_h = KernelH, kernel_w = KernelW, spatial_rank = 2;
  static constexpr bool spec_ok = detail::check_conv_spec<2, Act, Options...>();
  static constexpr detail::conv_settings settings = detail::conv_settings_of<Act, Options...>();
  /// The same convolution with activation A (batch-norm folding uses it).
  template <class A>
  using with_activation = typename detail::conv2d_with_activation<typegrad::conv2d, OutChannels, KernelH, KernelW, A,
                                                                  Act, Options...>::type;
  template <class T, class InShape, std::size_t Index>
  using bind = std::enable_if_t<spec_ok && detail::conv_bind<T, InShape, Index, conv2d>::ok,
                                typename detail::conv_bind<T, InShape, Index, conv2d>::type>;
};

}  // namespace typegrad

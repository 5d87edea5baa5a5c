// dense<Out, Act>: the fully connected layer y = f(W x + b).
#pragma once

#include <algorithm>
#include <cstddef>
#include <initializer_list>
#include <string_view>
#include <type_traits>

#include <typegrad/activations/activation.hpp>
#include <typegrad/activations/builtin.hpp>
#include <typegrad/core/config.hpp>
#include <typegrad/core/init.hpp>
#include <typegrad/core/shape.hpp>
#include <typegrad/layers/detail/activation_step.hpp>
#include <typegrad/layers/layer.hpp>
#include <typegrad/simd/kernels.hpp>
#include <typegrad/simd/kernels_fm.hpp>

namespace typegrad {

/// Parameters of a dense layer: W [Out, In] (PyTorch nn.Linear order) and b [Out]. The storage
/// is output-major (rows of W, padded to whole SIMD registers) or, with InputMajor, input-major
/// (columns of W, padded likewise): the layout the layer's kernels sweep contiguously. The
/// padding is always zero, and `weight(o, i)` hides the layout.
template <class T, std::size_t In, std::size_t Out, bool InputMajor = false>
struct dense_parameters {
  using value_type = T;
  static constexpr std::size_t in_size = In, out_size = Out;
  static constexpr bool input_major = InputMajor;
  /// Distance between consecutive rows of storage (a row is an output, or an input if InputMajor).
  static constexpr std::size_t row_stride = InputMajor ? padded<T>(Out) : padded<T>(In);
  /// Distance between W(o, i) and W(o + 1, i), and between W(o, i) and W(o, i + 1).
  static constexpr std::size_t o_stride = InputMajor ? 1 : row_stride, i_stride = InputMajor ? row_stride : 1;
  static constexpr std::size_t parameter_blocks = 2;  // weight, bias

  alignas(alignment) T w_[(InputMajor ? In : Out) * row_stride] = {};
  alignas(alignment) T b_[padded<T>(Out)] = {};

  constexpr T& weight(std::size_t o, std::size_t i) noexcept { return w_[index(o, i)]; }
  constexpr const T& weight(std::size_t o, std::size_t i) const noexcept { return w_[index(o, i)]; }
  constexpr T& bias(std::size_t o) noexcept { return b_[o]; }
  constexpr const T& bias(std::size_t o) const noexcept { return b_[o]; }

  /// Length of block P's padded storage (0 = weight, 1 = bias).
  static constexpr std::size_t padded_size(simd::param_c<0>) noexcept { return sizeof(w_) / sizeof(T); }
  static constexpr std::size_t padded_size(simd::param_c<1>) noexcept { return padded<T>(Out); }

  /// Raw padded storage of block P (0 = weight, 1 = bias), for optimizers and I/O.
  constexpr T* data(simd::param_c<0>) noexcept { return w_; }
  constexpr T* data(simd::param_c<1>) noexcept { return b_; }
  constexpr const T* data(simd::param_c<0>) const noexcept { return w_; }
  constexpr const T* data(simd::param_c<1>) const noexcept { return b_; }

  /// Calls f(block, o, i, value&) for every real (unpadded) parameter; bias entries have i = 0.
  template <class F>
  constexpr void for_each(F&& f) {
    for (std::size_t o = 0; o < Out; ++o)
      for (std::size_t i = 0; i < In; ++i) f(simd::weight_c, o, i, weight(o, i));
    for (std::size_t o = 0; o < Out; ++o) f(simd::bias_c, o, std::size_t{0}, bias(o));
  }
  template <class F>
  constexpr void for_each(F&& f) const {
    for (std::size_t o = 0; o < Out; ++o)
      for (std::size_t i = 0; i < In; ++i) f(simd::weight_c, o, i, weight(o, i));
    for (std::size_t o = 0; o < Out; ++o) f(simd::bias_c, o, std::size_t{0}, bias(o));
  }
  /// Calls f(name, pytorch_shape, data, row_stride, col_stride) for "weight" [Out, In] and "bias"
  /// [Out] (state_dict order): W(o, i) is data[o * row_stride + i * col_stride] in either storage.
  template <class F>
  constexpr void for_each_tensor(F&& f) {
    f(std::string_view("weight"), std::initializer_list<std::size_t>{Out, In}, w_, o_stride, i_stride);
    f(std::string_view("bias"), std::initializer_list<std::size_t>{Out}, b_, std::size_t{1}, std::size_t{0});
  }
  template <class F>
  constexpr void for_each_tensor(F&& f) const {
    const T* w = w_;
    const T* b = b_;
    f(std::string_view("weight"), std::initializer_list<std::size_t>{Out, In}, w, o_stride, i_stride);
    f(std::string_view("bias"), std::initializer_list<std::size_t>{Out}, b, std::size_t{1}, std::size_t{0});
  }
  static constexpr std::size_t count() noexcept { return Out * In + Out; }
  friend constexpr bool operator==(const dense_parameters&, const dense_parameters&) = default;

 private:
  static constexpr std::size_t index(std::size_t o, std::size_t i) noexcept {
    return InputMajor ? i * row_stride + o : o * row_stride + i;
  }
};

namespace detail {
// The first layer never propagates a gradient to its input, so it can store W input-major and
// run its forward pass as In register-wide axpys (no horizontal sums) whenever that is no more
// work than Out dot products plus their reductions (≈ 20 operations per register of outputs).
template <class T, std::size_t In, std::size_t Out>
constexpr bool prefer_input_major() noexcept {
  constexpr std::size_t L = lanes<T>;
  constexpr std::size_t out_regs = (Out + L - 1) / L, in_regs = (In + L - 1) / L;
  return In * out_regs <= Out * in_regs + 20 * out_regs;
}

// A hidden layer must also give dx. Input-major moves the horizontal sums from the forward pass
// (one transposing add per register of outputs) to dx (one per register of inputs), so it is
// chosen where that is no more of them (In ≤ Out) — and inference, which has no dx, then needs
// none. Measured at batch 1 (AVX-512): 64→64 and 32→32 hidden layers infer 10–20 % faster and
// train no slower; a 16→16 one (one register of outputs) trains ~15 % slower, so at least two
// registers of outputs are required. Not beyond L1 either (a batch's backward sweeps W twice).
template <class T, std::size_t In, std::size_t Out>
constexpr bool prefer_hidden_input_major() noexcept {
  return In <= Out && Out > lanes<T> && In * padded<T>(Out) * sizeof(T) <= 32 * 1024;
}
}  // namespace detail

namespace detail {

template <class T, class InShape, std::size_t Out, class Act, bool InputMajor, bool FirstLayer>
struct dense_layer;

/// Whether L is a bound dense layer (whatever its weight layout).
template <class L>
inline constexpr bool is_dense_layer = false;
template <class T, class S, std::size_t Out, class Act, bool InputMajor, bool FirstLayer>
inline constexpr bool is_dense_layer<dense_layer<T, S, Out, Act, InputMajor, FirstLayer>> = true;

/// dense<Out, Act> bound by the network to a scalar type and an input shape whose last axis has
/// In values; on a shaped input (Outer vectors of In) it acts on the last axis, as nn.Linear does.
/// InputMajor: the weights are stored input-major; FirstLayer: the layer is the network's first
/// (with InputMajor it then reads the caller's unpadded rows).
template <class T, class InShape, std::size_t Out, class Act, bool InputMajor, bool FirstLayer>
struct dense_layer {
  using value_type = T;
  using activation_type = Act;
  using in_shape = InShape;
  using out_shape = shape_with_last<InShape, Out>;
  static constexpr std::size_t In = InShape::last, Outer = InShape::outer;
  using parameters = dense_parameters<T, In, Out, InputMajor>;
  static constexpr bool input_major = InputMajor;
  static constexpr bool reads_unpadded_input = InputMajor && FirstLayer;
  /// Distance between the rows of X the row kernels read (a first input-major layer reads the
  /// caller's rows, In apart; every other layer padded ones).
  static constexpr std::size_t x_stride = reads_unpadded_input ? In : padded<T>(In);
  static constexpr std::size_t in_size = in_shape::size, out_size = out_shape::size;
  using step = activation_step<Act>;
  static constexpr bool slope_from_output = step::slope_from_output;
  static constexpr bool keeps_preactivation = step::keeps_preactivation;

  /// Batches of at least one register of samples run feature-major, so that every product is a
  /// register-blocked GEMM without horizontal sums; smaller batches (and softmax) run row by row;
  /// on a shaped input each vector along the last axis is a row (Outer rows per sample).
  template <std::size_t B>
  static constexpr layout data_layout = Outer > 1                               ? layout::vectors
                                        : B >= lanes<T> && Act::is_elementwise ? layout::features
                                                                                : layout::rows;
  /// The row kernels see every vector along the last axis as a sample.
  template <std::size_t B>
  static constexpr std::size_t rows = B * Outer;

  template <std::size_t B>
  struct cache {
    cache() noexcept {}
    detail::buffer<T, keeps_preactivation ? layout_size<T, B, out_shape, data_layout<B>> : 1> pre;
  };
  /// Feature-major backward: the input as rows (or, input-major, dL/dz as rows).
  template <std::size_t B>
  static constexpr std::size_t scratch_size = data_layout<B> == layout::features ? B * padded<T>(std::max(In, Out)) : 0;

  template <initializer Init>
  static void initialize(parameters& p, const Init& init, random_engine& rng) noexcept {
    for (std::size_t o = 0; o < Out; ++o)
      for (std::size_t i = 0; i < In; ++i) p.weight(o, i) = static_cast<T>(init.weight(rng, double(In), double(Out)));
    for (std::size_t o = 0; o < Out; ++o) p.bias(o) = static_cast<T>(init.bias(rng, double(In), double(Out)));
  }

  /// Y = f(X Wᵀ + b) in the layer's layout for B samples. Rows are padded, or, for input-major
  /// weights (a first layer), the caller's rows In apart; the pre-activation is kept when needed.
  template <std::size_t B, pass Pass>
  static void forward(const parameters& p, const T* X, cache<B>& c, T* Y, T*) noexcept {
    if constexpr (data_layout<B> == layout::features) forward_fm<B>(p, X, c.pre.data, Y);
    else forward_rows<rows<B>>(p, X, c.pre.data, Y);
  }

  /// dY (dL/dY on entry) becomes dL/dZ; then the fused sweep writes dX (when NeedDx) and updates.
  /// With ActivationDone, dY already is dL/dZ (the loss fused the activation's derivative).
  template <std::size_t B, bool NeedDx, bool ActivationDone, class Update>
  static void backward(parameters& p, const T* X, const cache<B>& c, const T* Y, T* dY, T* dX, T* scratch,
                       Update& update) noexcept {
    if constexpr (data_layout<B> == layout::features)
      backward_fm<B, NeedDx, Update, ActivationDone>(p, X, c.pre.data, Y, dY, dX, scratch, update);
    else
      backward_rows<rows<B>, NeedDx, Update, ActivationDone>(p, X, c.pre.data, Y, dY, dX, update);
  }

  // ---- One step at a time (typegrad::stream): one row, as the row forward runs each vector ----
  static constexpr stream_role streams_as = InShape::rank == 1 ? stream_role::whole : stream_role::sequence;
  static constexpr bool stream_reads_unpadded_input = reads_unpadded_input;  // x_t only as scalars
  struct stream_state {};
  static constexpr std::size_t stream_scratch_size = padded<T>(Out);  // the pre-activation
  static void stream_step(const parameters& p, stream_state&, const T* x, T* y, T* scratch) noexcept {
    forward_rows<1>(p, x, scratch, y);
  }

  // ---- Kernels by layout ----

  alignas(alignment) static constexpr T zero_bias[padded<T>(In)] = {};

  template <std::size_t R>
  static void linear_rows(const parameters& p, const T* X, T* Z) noexcept {
    if constexpr (InputMajor) simd::dense_forward_input_major<T, R, In, Out, x_stride>(p.w_, p.b_, X, Z);
    else simd::dense_forward<T, R, In, Out>(p.w_, p.b_, X, Z);
  }
  template <std::size_t B>
  static void linear_fm(const parameters& p, const T* Xt, T* Zt) noexcept {
    if constexpr (InputMajor) simd::dense_forward_fm_input_major<T, B, In, Out>(p.w_, p.b_, Xt, Zt);
    else simd::dense_forward_fm<T, B, In, Out>(p.w_, p.b_, Xt, Zt);
  }

  template <std::size_t R>
  static void forward_rows(const parameters& p, const T* X, T* Z, T* Y) noexcept {
    linear_rows<R>(p, X, step::linear_output(Z, Y));
    step::template forward<T, R, Out>(Z, Y);
  }

  /// The same for B ≥ lanes samples held feature-major ([feature][padded(B)]); element-wise
  /// activations only.
  template <std::size_t B>
  static void forward_fm(const parameters& p, const T* Xt, T* Zt, T* Yt) noexcept {
    static_assert(Act::is_elementwise);
    linear_fm<B>(p, Xt, step::linear_output(Zt, Yt));
    step::template forward<T, Out, B>(Zt, Yt);
  }
  /// Feature-major backward: dYt becomes dZt in place; Xt is the input feature-major; scratch
  /// has room for B padded rows of max(In, Out) (the input as rows, or dZ as rows).
  template <std::size_t B, bool NeedDx, class Update, bool ActivationDone = false>
  static void backward_fm(parameters& p, const T* Xt, const T* Zt, const T* Yt, T* dYt, T* dXt, T* scratch,
                          Update& update) noexcept {
    step::template backward<T, Out, B, ActivationDone>(Zt, Yt, dYt);
    if constexpr (InputMajor) {
      // Only an input gradient (tg::input_gradient) asks a first layer for dx: dXt = W dZt, a
      // forward product of the input-major W seen as an Out → In layer with zero bias.
      if constexpr (NeedDx) simd::dense_forward_fm<T, B, Out, In>(p.w_, zero_bias, dYt, dXt);
      simd::dense_backward_fm_input_major<T, B, In, Out>(p.w_, p.b_, Xt, dYt, scratch, update);
    } else {
      simd::features_to_rows<T, B, In>(Xt, scratch);
      simd::dense_backward_fm<T, B, In, Out, NeedDx>(p.w_, p.b_, scratch, dYt, dXt, update);
    }
  }

  /// Row backward over R rows: dY becomes dL/dZ; then the fused sweep writes dX and updates.
  template <std::size_t R, bool NeedDx, class Update, bool ActivationDone = false>
  static void backward_rows(parameters& p, const T* X, const T* Z, const T* Y, T* dY, T* dX, Update& update) noexcept {
    step::template backward<T, R, Out, ActivationDone>(Z, Y, dY);
    if constexpr (InputMajor && NeedDx && R == 1) {
      simd::dense_backward_input_major_dx<T, In, Out>(p.w_, p.b_, X, dY, dX, update);
    } else if constexpr (InputMajor) {
      if constexpr (NeedDx) simd::dense_forward<T, R, Out, In>(p.w_, zero_bias, dY, dX);  // as in backward_fm
      simd::dense_backward_input_major<T, R, In, Out, Update, x_stride>(p.w_, p.b_, X, dY, update);
    } else {
      simd::dense_backward<T, R, In, Out, NeedDx>(p.w_, p.b_, X, dY, dX, update);
    }
  }
};

}  // namespace detail

/// A fully connected layer with Out outputs and activation Act; its input size is the previous
/// layer's output size.
template <std::size_t Out, class Act = identity>
struct dense {
  static_assert(Out > 0, "typegrad::dense<Out, Act>: Out must be at least 1");
  static_assert(activation_function<Act>,
                "typegrad::dense<Out, Act>: Act must be an activation (typegrad::relu, typegrad::activation<E>, ...)");
  static constexpr std::size_t out_size = Out;
  /// The declared input size, or 0 when it is taken from the previous layer.
  static constexpr std::size_t declared_in_size = 0;
  /// The same layer with activation A (batch-norm folding uses it).
  template <class A>
  using with_activation = dense<Out, A>;
  /// The layer for scalar type T after a layer producing InShape, at position Index: W is stored
  /// input-major when that is less work (see prefer_input_major: a first layer never needs dx).
  template <class T, class InShape, std::size_t Index>
  using bind = detail::dense_layer<T, InShape, Out, Act,
                                   InShape::rank == 1 && (Index == 0 ? detail::prefer_input_major<T, InShape::size, Out>()
                                                                     : detail::prefer_hidden_input_major<T, InShape::size, Out>()),
                                   Index == 0>;
};

/// A dense layer that states its input size, like PyTorch's nn.Linear(In, Out): the network
/// checks at compile time that the previous layer really produces In values.
template <std::size_t In, std::size_t Out, class Act = identity>
struct linear : dense<Out, Act> {
  static_assert(In > 0, "typegrad::linear<In, Out, Act>: In must be at least 1");
  static constexpr std::size_t declared_in_size = In;
  template <class A>
  using with_activation = linear<In, Out, A>;
};

}  // namespace typegrad

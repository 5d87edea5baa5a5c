// Expression ops: each tag carries its evaluator (scalar and SIMD lane) and its derivative rule.
#pragma once

#include <cmath>
#include <ratio>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include <typegrad/expr/core.hpp>

namespace typegrad::expr {

namespace detail {
template <class V>
inline constexpr bool is_scalar = std::is_arithmetic_v<V>;

// One spelling for scalars and xsimd batches, so an op's evaluator is written once.
template <class V> V vexp(const V& v) noexcept { if constexpr (is_scalar<V>) return std::exp(v); else return xsimd::exp(v); }
template <class V> V vlog(const V& v) noexcept { if constexpr (is_scalar<V>) return std::log(v); else return xsimd::log(v); }
template <class V> V vlog1p(const V& v) noexcept { if constexpr (is_scalar<V>) return std::log1p(v); else return xsimd::log1p(v); }
template <class V> V vtanh(const V& v) noexcept;
template <class V> V vabs(const V& v) noexcept;
template <class V> V vmax(const V& a, const V& b) noexcept;
template <class C, class V> V vselect(const C& c, const V& a, const V& b) noexcept;

template <class V> V vmin(const V& a, const V& b) noexcept { if constexpr (is_scalar<V>) return a < b ? a : b; else return xsimd::min(a, b); }
template <class V> V vfma(const V& a, const V& b, const V& c) noexcept { if constexpr (is_scalar<V>) return a * b + c; else return xsimd::fma(a, b, c); }
// x·P(x²)/Q(x²) as its two factors P(x²) and x/Q(x²) (seven and four coefficients), for the
// caller to multiply (or multiply-add): both polynomials in Estrin form (powers x⁴ and x⁸), and
// x/Q divided while P is still being summed, about two thirds of the dependency chain of Horner's
// form and (P·x)/Q.
template <class V>
struct rational_factors {
  V num, ratio;
};
template <class V>
rational_factors<V> odd_rational_13_6(const V& x, const float (&p)[7], const float (&q)[4]) noexcept {
  const V x2 = x * x;
  const V x4 = x2 * x2;
  const V x8 = x4 * x4;
  const V p01 = vfma(x2, V(p[1]), V(p[0]));
  const V p23 = vfma(x2, V(p[3]), V(p[2]));
  const V p45 = vfma(x2, V(p[5]), V(p[4]));
  const V num = vfma(vfma(V(p[6]), x4, p45), x8, vfma(p23, x4, p01));
  const V den = vfma(vfma(x2, V(q[3]), V(q[2])), x4, vfma(x2, V(q[1]), V(q[0])));
  return {num, x / den};
}
inline constexpr float tanh_p[7] = {4.89352455891786e-03f,  6.37261928875436e-04f, 1.48572235717979e-05f,
                                    5.12229709037114e-08f,  -8.60467152213735e-11f, 2.00018790482477e-13f,
                                    -2.76076847742355e-16f};
inline constexpr float tanh_q[4] = {4.89352518554385e-03f, 2.26843463243900e-03f, 1.18534705686654e-04f,
                                    1.19825839466702e-06f};
// tanh in single precision as a [13/6] rational function clamped to ±7.9988 (where it reaches
// exactly ±1), with tanh x ≈ x below 4e-4: coefficients from Eigen's generic_fast_tanh_float
// (MPL-2.0), accurate to a few ulp (tests hold it to 5e-7 relative and absolute, against
// std::tanh). About half the latency of an exp-based tanh, which the batch-1 critical path feels.
// Scalars and SIMD lanes use the same formula, so they agree exactly.
template <class V>
V tanh_float(const V& a) noexcept {
  const V x = vmax(vmin(a, V(7.99881172180175781f)), V(-7.99881172180175781f));
  const auto r = odd_rational_13_6(x, tanh_p, tanh_q);
  return vselect(vabs(a) < V(0.0004f), a, r.num * r.ratio);
}
// σ(x) = 1/2 + tanh(x/2)/2 in single precision with the same rational function, its coefficients
// rescaled (p_i/4^(i+1), q_i/4^i) to take x and return the tanh term already halved; the clamp
// at twice tanh's: the latency of one tanh, not of an exp and a division. Within 2e-7 of σ in
// absolute terms, which is what matters where it scales values of order 1 (the recurrent gates).
inline constexpr float sigmoid_p[7] = {1.2233811430633068e-03f, 3.982887210440822e-05f, 2.3214411726257822e-07f,
                                       2.0008973644625172e-10f, -8.402999840005296e-14f, 4.8832713341186396e-17f,
                                       -1.6850392860741158e-20f};
inline constexpr float sigmoid_q[4] = {4.8935250379145145e-03f, 5.671086837537587e-04f, 7.4084191510337405e-06f,
                                       1.8722786876423925e-08f};
template <class V>
V sigmoid_float(const V& a) noexcept {
  const V x = vmax(vmin(a, V(15.9976234436035156f)), V(-15.9976234436035156f));
  const auto r = odd_rational_13_6(x, sigmoid_p, sigmoid_q);
  return vfma(r.num, r.ratio, V(0.5f));
}
template <class V> V vtanh(const V& v) noexcept {
  if constexpr (std::is_same_v<V, float> || std::is_same_v<V, xsimd::batch<float>>) return tanh_float(v);
  else if constexpr (is_scalar<V>) return std::tanh(v);
  else return xsimd::tanh(v);
}
template <class V> V vabs(const V& v) noexcept { if constexpr (is_scalar<V>) return std::abs(v); else return xsimd::abs(v); }
template <class V> V vsqrt(const V& v) noexcept { if constexpr (is_scalar<V>) return std::sqrt(v); else return xsimd::sqrt(v); }
template <class V> V vmax(const V& a, const V& b) noexcept { if constexpr (is_scalar<V>) return a > b ? a : b; else return xsimd::max(a, b); }
template <class C, class V> V vselect(const C& c, const V& a, const V& b) noexcept {
  if constexpr (is_scalar<V>) return c ? a : b; else return xsimd::select(c, a, b);
}
}  // namespace detail

// Forward declarations of the builders, so derivative rules can use them.
template <expression A, expression B> constexpr auto operator+(A, B) noexcept;
template <expression A, expression B> constexpr auto operator-(A, B) noexcept;
template <expression A, expression B> constexpr auto operator*(A, B) noexcept;
template <expression A, expression B> constexpr auto operator/(A, B) noexcept;
template <expression A> constexpr auto operator-(A) noexcept;
template <expression A, expression B> constexpr auto operator>(A, B) noexcept;
template <expression A, expression B> constexpr auto operator<(A, B) noexcept;
template <expression C, expression A, expression B> constexpr auto where(C, A, B) noexcept;
template <expression A> constexpr auto exp(A) noexcept;
template <expression A> constexpr auto log(A) noexcept;
template <expression A> constexpr auto log1p(A) noexcept;
template <expression A> constexpr auto tanh(A) noexcept;
template <expression A> constexpr auto sigmoid(A) noexcept;
template <expression A> constexpr auto softplus(A) noexcept;
template <expression A> constexpr auto abs(A) noexcept;
template <expression A> constexpr auto sign(A) noexcept;
template <expression A> constexpr auto sqrt(A) noexcept;
template <expression A, expression B> constexpr auto max(A, B) noexcept;
template <expression A, expression B> constexpr auto min(A, B) noexcept;

namespace ops {
// apply(values...) evaluates; derivative(args..., d_args...) returns the derivative expression.
struct add {
  template <class V> static V apply(const V& a, const V& b) noexcept { return a + b; }
  template <class A, class B, class DA, class DB> static constexpr auto derivative(A, B, DA da, DB db) noexcept { return da + db; }
};
struct subtract {
  template <class V> static V apply(const V& a, const V& b) noexcept { return a - b; }
  template <class A, class B, class DA, class DB> static constexpr auto derivative(A, B, DA da, DB db) noexcept { return da - db; }
};
struct multiply {
  template <class V> static V apply(const V& a, const V& b) noexcept { return a * b; }
  template <class A, class B, class DA, class DB> static constexpr auto derivative(A a, B b, DA da, DB db) noexcept { return da * b + a * db; }
};
struct divide {
  template <class V> static V apply(const V& a, const V& b) noexcept { return a / b; }
  // (a/b)' = a'/b - a b' / b^2
  template <class A, class B, class DA, class DB> static constexpr auto derivative(A a, B b, DA da, DB db) noexcept { return da / b - a * db / (b * b); }
};
struct negate {
  template <class V> static V apply(const V& a) noexcept { return -a; }
  template <class A, class DA> static constexpr auto derivative(A, DA da) noexcept { return -da; }
};
struct exp_op {
  template <class V> static V apply(const V& a) noexcept { return detail::vexp(a); }
  template <class A, class DA> static constexpr auto derivative(A a, DA da) noexcept { return exp(a) * da; }
};
struct log_op {
  template <class V> static V apply(const V& a) noexcept { return detail::vlog(a); }
  template <class A, class DA> static constexpr auto derivative(A a, DA da) noexcept { return da / a; }
};
struct log1p_op {
  template <class V> static V apply(const V& a) noexcept { return detail::vlog1p(a); }
  template <class A, class DA> static constexpr auto derivative(A a, DA da) noexcept { return da / (constant<1>{} + a); }
};
struct tanh_op {
  template <class V> static V apply(const V& a) noexcept { return detail::vtanh(a); }
  template <class A, class DA> static constexpr auto derivative(A a, DA da) noexcept { return (constant<1>{} - tanh(a) * tanh(a)) * da; }
};
struct sigmoid_op {
  // 1 / (1 + e^-a) overflows gracefully to 0 for large negative a and never produces NaN.
  template <class V> static V apply(const V& a) noexcept { return V(1) / (V(1) + detail::vexp(-a)); }
  template <class A, class DA> static constexpr auto derivative(A a, DA da) noexcept { return sigmoid(a) * (constant<1>{} - sigmoid(a)) * da; }
};
struct softplus_op {
  // log(1 + e^a) = max(a, 0) + log1p(e^-|a|): exact for large |a| in both directions.
  template <class V> static V apply(const V& a) noexcept { return detail::vmax(a, V(0)) + detail::vlog1p(detail::vexp(-detail::vabs(a))); }
  template <class A, class DA> static constexpr auto derivative(A a, DA da) noexcept { return sigmoid(a) * da; }
};
struct abs_op {
  template <class V> static V apply(const V& a) noexcept { return detail::vabs(a); }
  template <class A, class DA> static constexpr auto derivative(A a, DA da) noexcept { return sign(a) * da; }
};
struct sign_op {
  template <class V> static V apply(const V& a) noexcept {
    return detail::vselect(a > V(0), V(1), detail::vselect(a < V(0), V(-1), V(0)));
  }
  template <class A, class DA> static constexpr auto derivative(A, DA) noexcept { return constant<0>{}; }
};
struct sqrt_op {
  template <class V> static V apply(const V& a) noexcept { return detail::vsqrt(a); }
  template <class A, class DA> static constexpr auto derivative(A a, DA da) noexcept { return da / (constant<2>{} * sqrt(a)); }
};
struct max_op {
  template <class V> static V apply(const V& a, const V& b) noexcept { return detail::vmax(a, b); }
  template <class A, class B, class DA, class DB> static constexpr auto derivative(A a, B b, DA da, DB db) noexcept { return where(a > b, da, db); }
};
struct min_op {
  template <class V> static V apply(const V& a, const V& b) noexcept { return detail::vselect(a < b, a, b); }
  template <class A, class B, class DA, class DB> static constexpr auto derivative(A a, B b, DA da, DB db) noexcept { return where(a < b, da, db); }
};
// Comparisons yield a condition (bool or xsimd::batch_bool); their derivative is never used.
struct greater {
  template <class V> static auto apply(const V& a, const V& b) noexcept { return a > b; }
  template <class A, class B, class DA, class DB> static constexpr auto derivative(A, B, DA, DB) noexcept { return constant<0>{}; }
};
struct less {
  template <class V> static auto apply(const V& a, const V& b) noexcept { return a < b; }
  template <class A, class B, class DA, class DB> static constexpr auto derivative(A, B, DA, DB) noexcept { return constant<0>{}; }
};
struct select {
  template <class C, class V> static V apply(const C& c, const V& a, const V& b) noexcept { return detail::vselect(c, a, b); }
  // Piecewise functions differentiate piecewise; the kink itself takes the right-hand branch.
  template <class C, class A, class B, class DC, class DA, class DB>
  static constexpr auto derivative(C c, A, B, DC, DA da, DB db) noexcept { return where(c, da, db); }
};
}  // namespace ops

namespace detail {
template <class A, class B>
using ratio_sum = std::ratio_add<std::ratio<constant_traits<A>::num, constant_traits<A>::den>,
                                 std::ratio<constant_traits<B>::num, constant_traits<B>::den>>;
template <class A, class B>
using ratio_product = std::ratio_multiply<std::ratio<constant_traits<A>::num, constant_traits<A>::den>,
                                          std::ratio<constant_traits<B>::num, constant_traits<B>::den>>;
template <class R>
using constant_of = constant<R::num, R::den>;
}  // namespace detail

// Builders fold constants and drop zeros and ones, so derived expressions stay small.
template <expression A, expression B>
constexpr auto operator+(A a, B b) noexcept {
  if constexpr (is_constant<A> && is_constant<B>) return detail::constant_of<detail::ratio_sum<A, B>>{};
  else if constexpr (is_zero<A>) return b;
  else if constexpr (is_zero<B>) return a;
  else return node<ops::add, A, B>{};
}
template <expression A, expression B>
constexpr auto operator-(A a, B b) noexcept {
  if constexpr (is_constant<A> && is_constant<B>)
    return detail::constant_of<std::ratio_subtract<std::ratio<A::num, A::den>, std::ratio<B::num, B::den>>>{};
  else if constexpr (is_zero<B>) return a;
  else if constexpr (is_zero<A>) return -b;
  else return node<ops::subtract, A, B>{};
}
template <expression A, expression B>
constexpr auto operator*(A a, B b) noexcept {
  if constexpr (is_zero<A> || is_zero<B>) return constant<0>{};
  else if constexpr (is_constant<A> && is_constant<B>) return detail::constant_of<detail::ratio_product<A, B>>{};
  else if constexpr (is_one<A>) return b;
  else if constexpr (is_one<B>) return a;
  else return node<ops::multiply, A, B>{};
}
template <expression A, expression B>
constexpr auto operator/(A a, B) noexcept {
  static_assert(!is_zero<B>, "typegrad::expr: division by the constant 0");
  if constexpr (is_zero<A>) return constant<0>{};
  else if constexpr (is_one<B>) return a;
  else if constexpr (is_constant<A> && is_constant<B>)
    return detail::constant_of<std::ratio_divide<std::ratio<A::num, A::den>, std::ratio<B::num, B::den>>>{};
  else return node<ops::divide, A, B>{};
}
template <expression A>
constexpr auto operator-(A) noexcept {
  if constexpr (is_constant<A>) return constant<-A::num, A::den>{};
  else return node<ops::negate, A>{};
}
template <expression A, expression B> constexpr auto operator>(A, B) noexcept { return node<ops::greater, A, B>{}; }
template <expression A, expression B> constexpr auto operator<(A, B) noexcept { return node<ops::less, A, B>{}; }
/// `where(c, a, b)`: a where the condition holds, b elsewhere (piecewise functions such as ReLU).
template <expression C, expression A, expression B>
constexpr auto where(C, A a, B) noexcept {
  if constexpr (std::is_same_v<A, B>) return a;
  else return node<ops::select, C, A, B>{};
}
template <expression A> constexpr auto exp(A) noexcept { return node<ops::exp_op, A>{}; }
template <expression A> constexpr auto log(A) noexcept { return node<ops::log_op, A>{}; }
template <expression A> constexpr auto log1p(A) noexcept { return node<ops::log1p_op, A>{}; }
template <expression A> constexpr auto tanh(A) noexcept { return node<ops::tanh_op, A>{}; }
template <expression A> constexpr auto sigmoid(A) noexcept { return node<ops::sigmoid_op, A>{}; }
template <expression A> constexpr auto softplus(A) noexcept { return node<ops::softplus_op, A>{}; }
template <expression A> constexpr auto abs(A) noexcept { return node<ops::abs_op, A>{}; }
template <expression A> constexpr auto sign(A) noexcept { return node<ops::sign_op, A>{}; }
template <expression A> constexpr auto sqrt(A) noexcept { return node<ops::sqrt_op, A>{}; }
template <expression A, expression B> constexpr auto max(A, B) noexcept { return node<ops::max_op, A, B>{}; }
template <expression A, expression B> constexpr auto min(A, B) noexcept { return node<ops::min_op, A, B>{}; }

}  // namespace typegrad::expr

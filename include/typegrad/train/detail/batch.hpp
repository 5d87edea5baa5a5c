// fit's batch helpers: the target a loss takes for B dataset rows, and out-of-line forward and loss passes.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <type_traits>

#include <typegrad/core/tensor.hpp>
#include <typegrad/layers/layer.hpp>
#include <typegrad/network/network.hpp>

namespace typegrad::detail {

// The target a loss takes for B rows of a dataset: the dense matrix, or the class indices.
template <class Loss, class T, std::size_t B, std::size_t Out, std::size_t Targets>
constexpr bool uses_class_indices() {
  if constexpr (Loss::template accepts<matrix<T, B, Out>, T, B, Out> && Targets == Out) return false;
  else {
    static_assert(Targets == 1 && Loss::template accepts<std::array<int, B>, T, B, Out>,
                  "typegrad::fit: the dataset's targets fit neither the loss's dense target (Targets == the "
                  "network's outputs) nor a class index (Targets == 1 with softmax_cross_entropy)");
    return true;
  }
}

template <class Loss, class T, std::size_t B, std::size_t Out, std::size_t Targets>
struct batch_target {
  static constexpr bool indices = uses_class_indices<Loss, T, B, Out, Targets>();
  std::conditional_t<indices, std::array<int, B>, matrix<T, B, Out>> value{};
  void set(const matrix<T, B, Targets>& t) noexcept {
    if constexpr (indices)
      for (std::size_t b = 0; b < B; ++b) value[b] = static_cast<int>(std::lround(t(b, 0)));
    else
      value = t;
  }
};

// The forward pass of B rows for prediction, validation and the short batch: out of line, so
// those share one copy of the generated code (train_step keeps its own, inlined in the loop).
// Pass is the training pass unless the network has a layer that infers differently (batch
// norm's running statistics): then prediction and validation get their own inference copy.
// (The pass is settled before the out-of-line copy is chosen, so that prediction and training
// share one copy where they compute the same.)
template <std::size_t B, pass Pass, class Net>
[[gnu::noinline]] void forward_rows_in(const Net& net, typename Net::template workspace<B>& ws,
                                       const typename Net::value_type* x) noexcept {
  net.template forward<B, Pass>(ws, x);
}
template <std::size_t B, pass Pass = pass::training, class Net>
void forward_rows(const Net& net, typename Net::template workspace<B>& ws, const typename Net::value_type* x) noexcept {
  forward_rows_in<B, Net::inference_differs ? Pass : pass::training>(net, ws, x);
}

// The mean loss of rows [0, n) of padded network outputs `y` (B rows), one row at a time: the
// rows after n are padding. Only the loss is instantiated for one row, not the network.
template <class Net, class Loss, std::size_t B, std::size_t Targets>
double rows_loss(const typename Net::value_type* y, const matrix<typename Net::value_type, B, Targets>& t,
                 std::size_t n) noexcept {
  using T = typename Net::value_type;
  constexpr std::size_t out = Net::out_size, stride = padded<T>(out);
  matrix<T, 1, Targets> t1;
  batch_target<Loss, T, 1, out, Targets> target;
  double sum = 0;
  for (std::size_t r = 0; r < n; ++r) {
    std::copy_n(t.row(r), Targets, t1.data());
    target.set(t1);
    sum += Loss::template evaluate<T, 1, out>(y + r * stride, target.value, static_cast<T*>(nullptr));
  }
  return sum / double(n);
}

}  // namespace typegrad::detail

// The binary metrics of float and double vectors (train/metrics.hpp), built once into the typegrad
// library.
#include <typegrad/train/metrics.hpp>

namespace typegrad {

template binary_confusion_matrix binary_confusion(const std::vector<float>&, const std::vector<float>&, double);
template binary_confusion_matrix binary_confusion(const std::vector<double>&, const std::vector<double>&, double);
template double roc_auc(const std::vector<float>&, const std::vector<float>&);
template double roc_auc(const std::vector<double>&, const std::vector<double>&);

}  // namespace typegrad

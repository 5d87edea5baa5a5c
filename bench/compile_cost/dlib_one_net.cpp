// dlib's counterpart of one_net.cpp (issue 12's reference): the same 30 → 16 → 16 → 1 network
// (ReLU, ReLU, sigmoid via loss_binary_log), the same batch, loop and inference.
#include <dlib/dnn.h>

#include <cstddef>
#include <cstdio>
#include <random>
#include <vector>

using net_t = dlib::loss_binary_log<dlib::fc<1, dlib::relu<dlib::fc<16, dlib::relu<dlib::fc<16,
              dlib::input<dlib::matrix<float, 0, 1>>>>>>>>;
constexpr std::size_t batch = 16;

int main() {
  std::mt19937 rng(1);
  std::normal_distribution<float> noise;
  std::vector<dlib::matrix<float, 0, 1>> x(batch);
  std::vector<float> t(batch);
  for (std::size_t i = 0; i < batch; ++i) {
    x[i].set_size(30);
    float s = 0;
    for (long j = 0; j < 30; ++j) s += x[i](j) = noise(rng);
    t[i] = s > 0 ? 1.0f : -1.0f;  // loss_binary_log's labels are ±1
  }
  net_t net;
  dlib::dnn_trainer<net_t> trainer(net, dlib::sgd(0, 0.9));
  trainer.set_learning_rate(0.05);
  trainer.set_mini_batch_size(batch);
  for (int epoch = 0; epoch < 200; ++epoch) trainer.train_one_step(x, t);
  trainer.get_net();  // waits for the trainer's thread
  const std::vector<float> y = net(x);
  std::printf("loss %g, first output %g\n", double(trainer.get_average_loss()), double(y[0]));
  return 0;
}

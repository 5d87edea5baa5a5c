// A consumer program: trains a tiny network one step, checks that the loss went down, and saves
// and reloads its weights (the compiled part of typegrad, or its header-only variant).
#include <typegrad/typegrad.hpp>

#include <cstdio>

int main() {
  namespace tg = typegrad;
  using net_t = tg::network<tg::input<3>, tg::dense<4, tg::tanh>, tg::dense<1>>;
  net_t net{tg::init::glorot_uniform{7}};
  tg::vector<float, 3> x{0.5f, -1.0f, 2.0f};
  tg::vector<float, 1> t{0.25f};
  tg::sgd opt{0.05};
  const float before = tg::train_step(net, tg::mse{}, opt, x, t);
  const float after = tg::loss_value(net, tg::mse{}, x, t);
  net_t reloaded{tg::init::zeros{}};
  const auto meta = tg::load_weights_from_bytes(reloaded, tg::save_weights_to_bytes(net, {{"note", "consumer"}}));
  const bool same = reloaded == net && meta.at("note") == "consumer";
  std::printf("loss %g -> %g, weights %s\n", before, after, same ? "reloaded" : "DIFFER");
  return after < before && same ? 0 : 1;
}

// libFuzzer target: arbitrary bytes through the safetensors parser and load_weights_from_bytes.
// Any input must either load or throw typegrad::io_error, leaving the network bit-identical;
// anything else (another exception, a crash, a sanitizer report, a broken invariant) is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include <typegrad/io/weights.hpp>
#include <typegrad/typegrad.hpp>

namespace {

namespace tg = typegrad;

// Same shapes as the committed seeds (tests/data/weights_pytorch_reference*.safetensors).
template <class T>
using fuzz_net = tg::network<tg::input<5, T>, tg::dense<7, tg::tanh>, tg::dense<3, tg::relu>, tg::dense<2>>;

template <class Net>
std::vector<unsigned char> raw(const Net& net) {
  std::vector<unsigned char> bytes(sizeof(net.parameters()));
  std::memcpy(bytes.data(), &net.parameters(), bytes.size());
  return bytes;
}

void require(bool ok) {
  if (!ok) std::abort();
}

template <class T>
void try_load(std::span<const std::byte> input) {
  fuzz_net<T> net{tg::init::he_uniform{1}};
  const auto before = raw(net);
  try {
    const auto meta = tg::load_weights_from_bytes(net, input);
    // Whatever loads must save and load back to the same parameters.
    fuzz_net<T> again{tg::init::zeros{}};
    tg::load_weights_from_bytes(again, tg::save_weights_to_bytes(net, meta));
    require(again == net);
    require(net.is_finite());
  } catch (const tg::io_error&) {
    require(raw(net) == before);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> input(reinterpret_cast<const std::byte*>(data), size);
  try {
    const auto h = tg::safetensors::parse(input, "fuzz");
    // A parsed header tiles its data area exactly.
    std::uint64_t covered = 0;
    for (const auto& t : h.tensors) {
      require(t.begin == covered && t.begin <= t.end);
      covered = t.end;
    }
    require(covered == h.data_size && h.data_offset + h.data_size == size);
  } catch (const tg::io_error&) {
  }
  try_load<float>(input);
  try_load<double>(input);
  return 0;
}

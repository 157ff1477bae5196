// libFuzzer target: the IDX parser (MNIST / Fashion-MNIST files).
#include <cstdint>
#include <vector>

#include "scenelab/data/error.h"
#include "scenelab/data/readers.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<unsigned char> bytes(data, data + size);
  try {
    const auto a = scenelab::data::ParseIdx(bytes, "fuzz.idx");
    std::size_t total = 1;
    for (int d : a.dims) total *= static_cast<std::size_t>(d);
    if (total != a.data.size()) __builtin_trap();  // the parser promised exactly this many bytes
  } catch (const scenelab::Error&) {
  }
  return 0;
}

// libFuzzer target: CIFAR-10 and CIFAR-100 binary batches.
#include <cstdint>
#include <vector>

#include "scenelab/data/error.h"
#include "scenelab/data/readers.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<unsigned char> bytes(data, data + size);
  for (int label_bytes : {1, 2}) {
    std::vector<scenelab::data::Sample> out;
    try {
      scenelab::data::ParseCifarBatch(bytes, "fuzz.bin", label_bytes, label_bytes == 1 ? 10 : 100, &out);
      for (const auto& s : out) {
        if (s.image.rows != 32 || s.image.cols != 32 || s.label < 0) __builtin_trap();
      }
    } catch (const scenelab::Error&) {
    }
  }
  return 0;
}

// libFuzzer target: scenelab's own binary files read back from disk:
// matrix caches (features, encodings), dense-SIFT caches and vocabularies.
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <string>

#include "scenelab/data/error.h"
#include "scenelab/features/cache.h"
#include "scenelab/features/vocabulary.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = "/tmp/scenelab-fuzz-cache-" + std::to_string(::getpid()) + ".bin";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  std::string why;
  scenelab::features::LoadMatrixCache(path, "fuzz-key", &why);
  scenelab::features::LoadSiftCache(path, "fuzz-key", &why);
  try {
    scenelab::features::Vocabulary::Load(path);
  } catch (const scenelab::Error&) {
  }
  return 0;
}

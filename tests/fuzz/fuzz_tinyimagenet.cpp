// libFuzzer target: Tiny-ImageNet's wnids.txt, words.txt and val_annotations.txt.
#include <cstdint>
#include <string>

#include "scenelab/data/error.h"
#include "scenelab/data/readers.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    for (const auto& id : scenelab::data::ParseWnids(text, "wnids.txt")) {
      if (id.empty() || id.find('/') != std::string::npos) __builtin_trap();
    }
  } catch (const scenelab::Error&) {
  }
  try {
    scenelab::data::ParseWords(text, "words.txt");
  } catch (const scenelab::Error&) {
  }
  try {
    for (const auto& [file, wnid] : scenelab::data::ParseValAnnotations(text, "val_annotations.txt")) {
      if (file.find("..") != std::string::npos || file.find('/') != std::string::npos) __builtin_trap();
    }
  } catch (const scenelab::Error&) {
  }
  return 0;
}

#pragma once
// The small classical configuration the pipeline tests run on generated
// folder datasets: seconds per run, every stage exercised.
#include <filesystem>
#include <string>

#include "scenelab/pipelines/classic.h"

namespace scenelab::fixtures {

inline pipelines::ClassicConfig SmallClassicConfig(const std::filesystem::path& data, const std::string& features) {
  pipelines::ClassicConfig c;
  c.data.path = data.string();
  c.features = features;
  c.ks = {1, 2, 3, 4, 5};
  c.sift.step = 6;
  c.vocab.size = 12;
  c.vocab.descriptors_per_image = 20;
  c.seed = 3;
  return c;
}

}  // namespace scenelab::fixtures

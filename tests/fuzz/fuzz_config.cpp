// libFuzzer target: YAML/JSON configs (sweeps, classic pipelines, data
// sections) and checkpoint metadata (the training config in meta.json).
#include <cstdint>
#include <string>

#include "scenelab/cnn/trainer.h"
#include "scenelab/data/error.h"
#include "scenelab/pipelines/config.h"
#include "scenelab/pipelines/sweep.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  using namespace scenelab;
  nlohmann::json j;
  try {
    j = pipelines::ParseConfigText(text, "fuzz.yaml");
  } catch (const Error&) {
    return 0;
  }
  try {
    pipelines::ClassicConfig c;
    pipelines::SweepGrid g;
    if (j.is_object() && j.contains("data")) pipelines::ApplyDataJson(j["data"], &c.data, "data");
    if (j.is_object() && j.contains("sweep")) pipelines::ApplySweepJson(j["sweep"], &c, &g, "sweep");
    if (j.is_object()) {
      nlohmann::json rest = j;
      rest.erase("data");
      rest.erase("sweep");
      pipelines::ApplyClassicJson(rest, &c, "fuzz");
    }
  } catch (const Error&) {
  }
  try {
    cnn::TrainConfig::FromJson(j);
  } catch (const Error&) {
  }
  return 0;
}

// libFuzzer target: results and metrics read back: confusion CSV/JSON,
// predictions CSV/JSON, metrics.csv.
#include <cstdint>
#include <string>

#include "scenelab/cnn/trainer.h"
#include "scenelab/data/error.h"
#include "scenelab/eval/confusion.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  using namespace scenelab;
  try {
    const auto m = eval::ConfusionMatrix::FromCsv(text);
    if (eval::ConfusionMatrix::FromCsv(m.ToCsv()).total() != m.total()) __builtin_trap();
  } catch (const Error&) {
  }
  try {
    eval::ConfusionMatrix::FromJson(text);
  } catch (const Error&) {
  }
  try {
    eval::Predictions::FromCsv(text, {"a", "b", "c"});
  } catch (const Error&) {
  }
  try {
    eval::Predictions::FromJson(text);
  } catch (const Error&) {
  }
  try {
    cnn::ParseMetricsCsv(text, "metrics.csv");
  } catch (const Error&) {
  }
  return 0;
}

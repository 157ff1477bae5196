#pragma once
// The files every run writes, classical or CNN, so that `scenelab report`
// can rebuild a report from the run folder alone:
//   results.json                 the run's summary (see docs/RESULTS.md)
//   predictions.csv, .json       per test sample: source, true, predicted, score
//   confusion.csv, .json         counts (rows = true class) and metrics
//   figures/confusion.{png,svg}  heatmap, row-normalised, fixed 0..1 scale
//   figures/<name>.{png,svg}     line plots (accuracy vs k, learning curves)
//   figures/gallery/<class>.png  true positives, false positives, false negatives
// Every file is written atomically; paths derived from class names are made
// safe and stay inside the run folder.
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "scenelab/data/dataset.h"
#include "scenelab/eval/confusion.h"

namespace scenelab::pipelines {

class RunOutputs {
 public:
  explicit RunOutputs(std::string dir);
  void WriteEvaluation(const eval::Predictions& preds, const eval::ConfusionMatrix& cm) const;
  void WriteLinePlot(const std::string& name, const std::string& title, const std::string& x_label,
                     const std::string& y_label,
                     const std::map<std::string, std::vector<std::pair<double, double>>>& series,
                     bool log_x = false) const;
  // Up to `per_kind` thumbnails of each kind per class, the first in
  // prediction order; the images are decoded on `threads` threads (0 = all
  // cores).
  void WriteGalleries(const eval::Predictions& preds, const data::Dataset& test, int per_kind = 8,
                      int threads = 0) const;
  void WriteResults(const nlohmann::ordered_json& results) const;
  void WriteJson(const std::string& name, const nlohmann::ordered_json& j) const;

 private:
  std::string dir_;
};

}  // namespace scenelab::pipelines

#pragma once
// CNN runs end in the same evaluation layer as the classical ones: the same
// results.json fields, predictions, confusion matrix and figures, plus
// learning curves from metrics.csv.
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "scenelab/cnn/trainer.h"
#include "scenelab/data/log.h"
#include "scenelab/pipelines/classic.h"

namespace scenelab::pipelines {

struct CnnRunConfig {
  DataConfig data;
  cnn::TrainConfig train;
  bool resume = false;
  cnn::DistributedOptions dist;  // rank > 0 trains but writes no outputs
  // > 1: that many seeded random splits of the pooled dataset with
  // data.train_per_class training images per class, drawn as the classical
  // pipelines' repeats are (the same seed gives the same splits), one
  // training per split under <out>/repeats/rNN, each reused once finished.
  int repeats = 1;
};

nlohmann::ordered_json RunCnn(const CnnRunConfig& cfg, const std::string& out_dir, Logger* log);
// Evaluates a finished run's checkpoint on a dataset into out_dir.
nlohmann::ordered_json EvalCnn(const std::string& run_dir, const DataConfig& data, const std::string& out_dir,
                               Logger* log, std::optional<cnn::PrecisionMode> precision = std::nullopt);

}  // namespace scenelab::pipelines

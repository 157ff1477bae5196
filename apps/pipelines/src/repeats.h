#pragma once
// Repeated random splits (the Lazebnik protocol), shared by the classical
// pipelines and the CNNs: the pooled dataset the splits are drawn from,
// each split's run folder reused when finished, and one summary of the
// repeats, so that runs of either kind can be paired split by split.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "scenelab/data/dataset.h"
#include "scenelab/eval/confusion.h"
#include "scenelab/pipelines/classic.h"

namespace scenelab::pipelines {

// Every image of `cfg`'s dataset, train and test together, in that order.
struct Pool {
  LoadedData loaded;
  data::Dataset images;
};
Pool LoadPool(const DataConfig& cfg, std::uint64_t seed);

// A finished repeat's results.json when <dir>/done.json holds `key` (and
// not clobbering), else null.
nlohmann::json FinishedRepeat(const std::string& dir, const std::string& key, bool clobber);

// Gathers each repeat's results.json, then writes the summary: results.json
// with a `repeats` block (every split's accuracy, test fingerprint and run
// folder; mean, standard deviation, t-interval), the mean as `selected`,
// and the confusion summed over the splits.
class RepeatTally {
 public:
  explicit RepeatTally(const std::vector<std::string>& class_names);
  void Add(int repeat, const nlohmann::json& results, const std::string& dir);
  // `how` says how each split chose its point; `head` holds kind, pipeline,
  // params, seed, classes, train_size and test_size, written first.
  nlohmann::ordered_json Write(nlohmann::ordered_json head, const std::string& how, std::size_t train_per_class,
                               const std::string& out_dir, double total_s) const;
  const std::vector<double>& accuracy() const { return acc_; }

 private:
  std::vector<double> acc_, oracle_;
  nlohmann::ordered_json per_ = nlohmann::json::array();
  eval::ConfusionMatrix summed_;
};

}  // namespace scenelab::pipelines

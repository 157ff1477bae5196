#pragma once
// scenelab compare: one experiment folder holding several pipelines run on
// the same data, split, seed and class order, and one report across them.
//
//   <out>/config.resolved.json   the fully resolved config
//   <out>/log.txt
//   <out>/cache/                 shared stage cache of the classical pipelines
//   <out>/pipelines/<name>/      one run folder per pipeline (+ <name>-sweep/)
//   <out>/report/index.html, report.md
//   <out>/summary.json           accuracy / time / parameters per pipeline
//
// Rerunning the same command reuses every finished pipeline (marked by
// done.json with the hash of its resolved config), resumes a CNN from its
// last checkpoint and a sweep from its finished points.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "scenelab/data/log.h"
#include "scenelab/features/collective.h"
#include "scenelab/pipelines/classic.h"

namespace scenelab::pipelines {

struct PipelineSpec {
  std::string name;     // folder name under pipelines/
  std::string type;     // tiny | bow | cnn
  nlohmann::json body;  // the pipeline's own settings
};

struct CompareConfig {
  std::string name = "experiment";
  DataConfig data;
  std::uint64_t seed = 0;
  int threads = 0;
  std::vector<PipelineSpec> pipelines;
  std::string expected_time;  // documentation: how long it takes on 2 cores
  void Validate() const;      // validates every pipeline's settings too
  nlohmann::ordered_json ToJson() const;
};

CompareConfig ParseCompareConfig(const nlohmann::json& j, const std::string& what);
// The built-in experiment on Fashion-MNIST (/usr/share/datasets/fashion-mnist).
CompareConfig DefaultCompareConfig();

struct CompareResult {
  nlohmann::ordered_json summary;
  std::string report_path;
  std::vector<std::string> reused;    // pipelines taken from disk
  std::vector<std::string> computed;  // pipelines run now
};

CompareResult RunCompare(const CompareConfig& cfg, const std::string& out_dir, Logger* log);
// As an MPI job (docs/DISTRIBUTED.md; every rank calls it): each classical
// pipeline and its sweep run split over the ranks (RunClassic and RunSweep
// with `comm`), one after another; a CNN trains on rank 0 alone with
// `cnn_threads` threads (0: cfg.threads) while the other ranks wait asleep.
// Rank 0 decides what is reused and writes every file; the other ranks
// return an empty result.
CompareResult RunCompare(const CompareConfig& cfg, const std::string& out_dir, Logger* log,
                         const features::Collective& comm, int cnn_threads);

}  // namespace scenelab::pipelines

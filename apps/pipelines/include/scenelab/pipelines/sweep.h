#pragma once
// Parameter sweeps for the classical pipelines. A grid over feature
// parameters (tiny size and normalisation; SIFT step, bin size and
// vocabulary size) times kNN parameters (metric, k). Every stage comes from
// the shared cache: a k x metric sweep costs one neighbour search per metric
// and feature point, a vocabulary sweep reuses the descriptors, and feature
// points already finished (points/<id>.json) are not recomputed after an
// interruption.
//
// Writes sweep.csv (one row per point: every parameter, accuracy, seconds)
// and sweep.json, atomically after every feature point, plus figures.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "scenelab/data/option_table.h"  // the list parsers (ParseIntList, IntListFromJson)

#include "scenelab/features/collective.h"
#include "scenelab/pipelines/classic.h"

namespace scenelab::pipelines {

struct SweepGrid {
  std::vector<int> tiny_sizes;  // empty: the base config's value
  std::vector<std::string> norms;
  std::vector<int> steps;
  std::vector<int> bins;
  std::vector<int> vocab_sizes;
  void Validate() const;
};

struct SweepResult {
  nlohmann::ordered_json json;  // as written to sweep.json
  StageCounters computed;       // work actually done (not loaded)
  int points_reused = 0;        // feature points restored from points/*.json
};

// `base` holds every parameter not swept, including metrics and ks.
SweepResult RunSweep(const ClassicConfig& base, const SweepGrid& grid, const std::string& out_dir, Logger* log);
// Over the processes of `comm` (an MPI job): the plan is rank 0's, feature
// points are handed out one at a time (points sharing a descriptor set to
// the same rank where possible), each rank computes whole points with
// base.threads threads, and rank 0 writes every file. sweep.csv/json equal
// the one-process run's apart from the seconds; `computed` counts the work
// of every rank. Called by every rank; the others return counters only.
SweepResult RunSweep(const ClassicConfig& base, const SweepGrid& grid, const std::string& out_dir, Logger* log,
                     const features::Collective& comm);

// Over sweep.json rows: the first row with the highest test accuracy (the
// oracle), and the first with the highest cross-validated accuracy (the
// reported point; null when no row has one).
nlohmann::ordered_json BestRow(const nlohmann::ordered_json& rows);
nlohmann::ordered_json SelectedRow(const nlohmann::ordered_json& rows);

// Reads a grid from JSON/YAML-derived JSON: {"k": "1-10", "metric": [...], "step": [...], ...}.
void ApplySweepJson(const nlohmann::json& j, ClassicConfig* base, SweepGrid* grid, const std::string& what);

}  // namespace scenelab::pipelines

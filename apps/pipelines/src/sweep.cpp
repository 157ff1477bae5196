#include "scenelab/pipelines/sweep.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <limits>
#include <sstream>

#include <fmt/format.h>

#include "scenelab/data/config_key.h"
#include "scenelab/data/error.h"
#include "scenelab/data/folds.h"
#include "scenelab/data/io.h"
#include "scenelab/pipelines/outputs.h"

namespace fs = std::filesystem;

namespace scenelab::pipelines {

void SweepGrid::Validate() const {
  for (int s : tiny_sizes) {
    if (s < 1) throw Error("sweep: tiny size must be >= 1, got " + std::to_string(s));
  }
  for (const auto& n : norms) features::ParseNorm(n);
  for (int s : steps) {
    if (s < 1) throw Error("sweep: step must be >= 1, got " + std::to_string(s));
  }
  for (int b : bins) {
    if (b < 1) throw Error("sweep: bin size must be >= 1, got " + std::to_string(b));
  }
  for (int v : vocab_sizes) {
    if (v < 1) throw Error("sweep: vocabulary size must be >= 1, got " + std::to_string(v));
  }
}

namespace {
template <typename T>
std::vector<T> OrBase(const std::vector<T>& v, T base) {
  return v.empty() ? std::vector<T>{base} : v;
}

}  // namespace

namespace {

std::vector<std::string> StrListFromJson(const nlohmann::json& v, const std::string& what) {
  if (v.is_string()) return {v.get<std::string>()};
  if (!v.is_array())
    throw Error(what + ": expected a string or a list of strings, found " +
                v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  std::vector<std::string> out;
  for (const auto& x : v) {
    if (!x.is_string())
      throw Error(what + ": expected strings, found " +
                  x.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    out.push_back(x.get<std::string>());
  }
  return out;
}
}  // namespace

void ApplySweepJson(const nlohmann::json& j, ClassicConfig* base, SweepGrid* grid, const std::string& what) {
  if (!j.is_object()) throw Error(what + ": a sweep must be a mapping of parameter -> values");
  for (const auto& [key, v] : j.items()) {
    const std::string w = what + "." + key;
    if (key == "k")
      base->ks = IntListFromJson(v, w);
    else if (key == "metric" || key == "metrics") {
      base->metrics.clear();
      for (const auto& m : StrListFromJson(v, w)) base->metrics.push_back(classify::ParseMetric(m));
    } else if (key == "tiny_size")
      grid->tiny_sizes = IntListFromJson(v, w);
    else if (key == "norm")
      grid->norms = StrListFromJson(v, w);
    else if (key == "step")
      grid->steps = IntListFromJson(v, w);
    else if (key == "bin")
      grid->bins = IntListFromJson(v, w);
    else if (key == "vocab")
      grid->vocab_sizes = IntListFromJson(v, w);
    else
      throw Error(w + ": unknown sweep parameter (expected k, metric, tiny_size, norm, step, bin or vocab)");
  }
  grid->Validate();
}

namespace {
// The first row with the highest `key` (rows without one are skipped); null when none has it.
nlohmann::ordered_json HighestRow(const nlohmann::ordered_json& rows, const char* key) {
  std::vector<double> values;
  for (const auto& r : rows) {
    values.push_back(r.contains(key) && !r[key].is_null() ? r[key].get<double>()
                                                          : std::numeric_limits<double>::quiet_NaN());
  }
  const std::ptrdiff_t i = FirstArgMax(values);
  return i < 0 ? nlohmann::ordered_json() : rows[static_cast<std::size_t>(i)];
}
}  // namespace

nlohmann::ordered_json BestRow(const nlohmann::ordered_json& rows) { return HighestRow(rows, "accuracy"); }

nlohmann::ordered_json SelectedRow(const nlohmann::ordered_json& rows) { return HighestRow(rows, "cv_accuracy"); }

namespace {
// The feature points: the cartesian product of the feature-affecting values,
// each with its descriptor set (points sharing one share caches).
struct SweepPlan {
  std::vector<ClassicConfig> points;
  std::vector<std::size_t> group;
};

SweepPlan PlanSweep(const ClassicConfig& base, const SweepGrid& grid) {
  SweepPlan plan;
  if (base.features == "gist") {
    plan.points.push_back(base);  // one feature point: k and metric are swept on it
    plan.group.push_back(0);
  } else if (base.features == "tiny") {
    for (int s : OrBase(grid.tiny_sizes, base.tiny.size)) {
      for (const auto& n : OrBase(grid.norms, features::ToString(base.tiny.norm))) {
        ClassicConfig c = base;
        c.tiny.size = s;
        c.tiny.norm = features::ParseNorm(n);
        plan.group.push_back(plan.points.size());
        plan.points.push_back(c);
      }
    }
  } else {
    // Vocabulary innermost: consecutive points share descriptors in memory.
    std::size_t descriptor_set = 0;
    for (int st : OrBase(grid.steps, base.sift.step)) {
      for (int b : OrBase(grid.bins, base.sift.bin_sizes.front())) {
        for (int v : OrBase(grid.vocab_sizes, base.vocab.size)) {
          ClassicConfig c = base;
          c.sift.step = st;
          if (!grid.bins.empty()) c.sift.bin_sizes = {b};
          c.vocab.size = v;
          plan.points.push_back(c);
          plan.group.push_back(descriptor_set);
        }
        ++descriptor_set;
      }
    }
  }
  return plan;
}

std::string Dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

// One feature point's outcome: accuracy and cross-validated accuracy by
// metric and k (ascending), as stored in points/<id>.json.
nlohmann::json ComputePoint(ClassicRunner& runner, const ClassicConfig& c, const std::string& key) {
  const auto t0 = std::chrono::steady_clock::now();
  std::map<std::string, double> timings;
  const FeaturePair f = runner.Features(c, &timings);
  const auto knn = runner.Classify(c, f, &timings);
  nlohmann::json point = {{"key", key},
                          {"seconds", SecondsSince(t0)},
                          {"accuracy", nlohmann::json::object()},
                          {"cv_accuracy", nlohmann::json::object()}};
  for (const auto& [m, byk] : knn.accuracy) {
    for (const auto& [k, a] : byk) {
      point["accuracy"][m].push_back({k, a});
      const auto cm = knn.cv_accuracy.find(m);
      const bool has_cv = cm != knn.cv_accuracy.end() && cm->second.count(k);
      point["cv_accuracy"][m].push_back({k, has_cv ? nlohmann::json(cm->second.at(k)) : nlohmann::json(nullptr)});
    }
  }
  return point;
}

// sweep.csv's rows and sweep.json's for one finished point.
void AddRows(const ClassicConfig& c, const nlohmann::json& point, nlohmann::ordered_json* rows, std::string* csv) {
  for (const auto& [m, byk] : point.at("accuracy").items()) {
    for (std::size_t ki = 0; ki < byk.size(); ++ki) {
      const auto& ka = byk[ki];
      const int k = ka.at(0).get<int>();
      const auto& a = ka.at(1);
      const auto& cva = point.at("cv_accuracy").at(m).at(ki).at(1);
      nlohmann::ordered_json r;
      r["features"] = c.features;
      r["tiny_size"] = c.features == "tiny" ? nlohmann::json(c.tiny.size) : nlohmann::json(nullptr);
      r["norm"] = c.features == "tiny" ? nlohmann::json(features::ToString(c.tiny.norm)) : nlohmann::json(nullptr);
      const bool sift = c.features != "tiny" && c.features != "gist";
      r["step"] = sift ? nlohmann::json(c.sift.step) : nlohmann::json(nullptr);
      r["bin"] = sift ? nlohmann::json(c.sift.bin_sizes.front()) : nlohmann::json(nullptr);
      r["vocab"] = sift && c.features != "fisher" ? nlohmann::json(c.vocab.size) : nlohmann::json(nullptr);
      r["metric"] = m;
      r["k"] = m == "svm" ? nlohmann::json(nullptr) : nlohmann::json(k);
      r["cv_accuracy"] = cva;
      r["accuracy"] = a.get<double>();
      r["seconds"] = point.at("seconds").get<double>();
      rows->push_back(r);
      auto cell = [](const nlohmann::json& v) {
        return v.is_null() ? std::string() : (v.is_string() ? v.get<std::string>() : Dump(v));
      };
      *csv += fmt::format("{},{},{},{},{},{},{},{},{},{:.6f},{:.3f}\n", c.features, cell(r["tiny_size"]),
                          cell(r["norm"]), cell(r["step"]), cell(r["bin"]), cell(r["vocab"]), m, cell(r["k"]),
                          cva.is_null() ? std::string() : fmt::format("{:.6f}", cva.get<double>()), a.get<double>(),
                          point.at("seconds").get<double>());
    }
  }
}
}  // namespace

SweepResult RunSweep(const ClassicConfig& base, const SweepGrid& grid, const std::string& out_dir, Logger* log) {
  return RunSweep(base, grid, out_dir, log, features::SingleProcess());
}

SweepResult RunSweep(const ClassicConfig& base, const SweepGrid& grid, const std::string& out_dir, Logger* log,
                     const features::Collective& comm) {
  base.Validate();
  grid.Validate();
  const auto start = std::chrono::steady_clock::now();
  const bool root = comm.rank() == 0;
  const LoadedData data = LoadData(base.data, base.seed);
  const std::string cache = base.cache_dir.empty() ? out_dir + "/cache" : base.cache_dir;
  ClassicRunner runner(data, cache, base.threads, log);
  if (root) fs::create_directories(fs::path(out_dir) / "points");

  const SweepPlan plan = PlanSweep(base, grid);
  const std::size_t n = plan.points.size();
  std::vector<std::string> keys(n);
  for (std::size_t p = 0; p < n; ++p) {
    CacheKey key("sweep-point-v2");
    key.Add("cfg", Dump(plan.points[p].ToJson()))
        .Add("train", Hex64(data.train.Fingerprint()))
        .Add("test", Hex64(data.test.Fingerprint()));
    keys[p] = key.text();
  }
  // Rank 0's plan and the points it already has (points/<id>.json of an
  // earlier, interrupted run) go to every rank; a rank whose own plan
  // differs (another config, other data) stops the job.
  auto point_file = [&](std::size_t p) { return fs::path(out_dir) / "points" / (Hex64(Fnv1a64(keys[p])) + ".json"); };
  std::vector<nlohmann::json> finished(n);
  SweepResult result;
  nlohmann::json shared;
  if (root) {
    shared["keys"] = keys;
    shared["done"] = nlohmann::json::array();
    for (std::size_t p = 0; p < n; ++p) {
      if (base.clobber || !fs::exists(point_file(p))) continue;
      try {
        auto point = nlohmann::json::parse(ReadFileText(point_file(p)));
        if (point.at("key").get<std::string>() != keys[p]) continue;
        finished[p] = std::move(point);
        shared["done"].push_back(p);
      } catch (const std::exception&) {
        // half-written or foreign: recompute
      }
    }
  }
  std::string text = root ? Dump(shared) : std::string();
  comm.Broadcast(&text);
  shared = nlohmann::json::parse(text);
  if (shared["keys"].get<std::vector<std::string>>() != keys) {
    throw Error(
        fmt::format("sweep: rank {}'s plan differs from rank 0's (same config and data on every rank?)", comm.rank()));
  }
  std::vector<bool> done(n, false);
  for (const auto& p : shared["done"]) done[p.get<std::size_t>()] = true;
  std::vector<std::size_t> todo, todo_group;
  for (std::size_t p = 0; p < n; ++p) {
    if (done[p]) {
      ++result.points_reused;
      if (log) log->Info(fmt::format("sweep point {}/{} (reused)", p + 1, n));
      continue;
    }
    todo.push_back(p);
    todo_group.push_back(plan.group[p]);
  }
  // Rank 0 keeps every finished point on disk as it arrives, and sweep.csv
  // over those finished so far, in plan order: a killed job loses only the
  // points in flight.
  std::size_t completed = result.points_reused;
  auto write_csv = [&] {
    nlohmann::ordered_json rows = nlohmann::json::array();
    std::string csv = "features,tiny_size,norm,step,bin,vocab,metric,k,cv_accuracy,accuracy,seconds\n";
    for (std::size_t p = 0; p < n; ++p) {
      if (!finished[p].is_null()) AddRows(plan.points[p], finished[p], &rows, &csv);
    }
    WriteFileAtomic(fs::path(out_dir) / "sweep.csv", csv);
    return rows;
  };
  comm.HandOut(
      todo_group,
      [&](std::size_t t) {
        const std::size_t p = todo[t];
        return Dump(ComputePoint(runner, plan.points[p], keys[p]));
      },
      [&](std::size_t t, int rank, const std::string& bytes) {
        const std::size_t p = todo[t];
        finished[p] = nlohmann::json::parse(bytes);
        WriteFileAtomic(point_file(p), bytes);
        ++completed;
        if (log) {
          log->Info(fmt::format("sweep point {}/{} done{} ({}/{} finished)", p + 1, n,
                                comm.size() > 1 ? fmt::format(" by rank {}", rank) : std::string(), completed, n));
        }
        write_csv();
      });
  StageCounters computed = runner.counters();
  std::int64_t counts[5] = {computed.tiny_extractions, computed.sift_extractions, computed.vocabularies_built,
                            computed.encodings, computed.neighbour_searches};
  comm.Sum(counts, 5);  // the work of every rank
  result.computed = {static_cast<int>(counts[0]), static_cast<int>(counts[1]), static_cast<int>(counts[2]),
                     static_cast<int>(counts[3]), static_cast<int>(counts[4])};
  if (!root) return result;  // rank 0 alone writes the run folder
  RunOutputs outputs(out_dir);
  const nlohmann::ordered_json rows = write_csv();
  nlohmann::ordered_json j;
  j["kind"] = "sweep";
  j["base"] = base.ToJson();
  j["grid"] = {{"tiny_size", grid.tiny_sizes},
               {"norm", grid.norms},
               {"step", grid.steps},
               {"bin", grid.bins},
               {"vocab", grid.vocab_sizes}};
  j["points"] = rows;
  // The reported point is chosen by cross-validation on the training split;
  // the test-optimal one is kept as the oracle (docs/EVALUATION.md).
  const auto sel = SelectedRow(rows);
  if (!sel.is_null()) j["selected"] = sel;
  j["best"] = BestRow(rows);
  j["computed"] = {{"tiny_extractions", result.computed.tiny_extractions},
                   {"sift_extractions", result.computed.sift_extractions},
                   {"vocabularies_built", result.computed.vocabularies_built},
                   {"encodings", result.computed.encodings},
                   {"neighbour_searches", result.computed.neighbour_searches},
                   {"points_reused", result.points_reused}};
  j["seconds"] = SecondsSince(start);
  outputs.WriteJson("sweep.json", j);

  // Figures: accuracy vs k (best feature point), vs step and vs vocabulary (best k).
  std::map<std::string, std::vector<std::pair<double, double>>> vs_k, vs_step, vs_vocab, vs_size;
  std::map<std::string, std::map<double, double>> best_step, best_vocab, best_size;
  const nlohmann::ordered_json best_row = BestRow(rows);
  for (const auto& r : rows) {
    const std::string m = r["metric"];
    const double a = r["accuracy"];
    const bool same_features = r["tiny_size"] == best_row["tiny_size"] && r["norm"] == best_row["norm"] &&
                               r["step"] == best_row["step"] && r["bin"] == best_row["bin"] &&
                               r["vocab"] == best_row["vocab"];
    if (same_features && !r["k"].is_null()) vs_k[m].push_back({r["k"].get<double>(), a});
    if (!r["step"].is_null()) {
      auto& s = best_step[m][r["step"].get<double>()];
      s = std::max(s, a);
      if (!r["vocab"].is_null()) {
        auto& v = best_vocab[m][r["vocab"].get<double>()];
        v = std::max(v, a);
      }
    }
    if (!r["tiny_size"].is_null()) {
      auto& t = best_size[m][r["tiny_size"].get<double>()];
      t = std::max(t, a);
    }
  }
  if (!vs_k.empty())
    outputs.WriteLinePlot("sweep_accuracy_vs_k", "Accuracy vs k", "k", "accuracy", vs_k);  // SVM sweeps have no k
  auto flatten = [](const std::map<std::string, std::map<double, double>>& in) {
    std::map<std::string, std::vector<std::pair<double, double>>> out;
    for (const auto& [m, xs] : in) {
      for (const auto& [x, y] : xs) out[m].push_back({x, y});
    }
    return out;
  };
  if (grid.steps.size() > 1)
    outputs.WriteLinePlot("sweep_accuracy_vs_step", "Accuracy vs SIFT step (best k)", "step", "accuracy",
                          flatten(best_step));
  if (grid.vocab_sizes.size() > 1) {
    outputs.WriteLinePlot("sweep_accuracy_vs_vocab", "Accuracy vs vocabulary size (best k)", "words", "accuracy",
                          flatten(best_vocab), true);
  }
  if (grid.tiny_sizes.size() > 1)
    outputs.WriteLinePlot("sweep_accuracy_vs_size", "Accuracy vs tiny size (best k)", "side", "accuracy",
                          flatten(best_size));
  result.json = j;
  return result;
}

}  // namespace scenelab::pipelines

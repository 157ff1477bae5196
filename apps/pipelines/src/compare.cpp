#include "scenelab/pipelines/compare.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>

#include <fmt/format.h>

#include "scenelab/data/config_key.h"
#include "scenelab/data/error.h"
#include "scenelab/data/io.h"
#include "scenelab/eval/report.h"
#include "scenelab/eval/stats.h"
#include "scenelab/pipelines/cnn_run.h"
#include "scenelab/pipelines/config.h"
#include "scenelab/pipelines/options.h"
#include "scenelab/pipelines/sweep.h"

namespace fs = std::filesystem;

namespace scenelab::pipelines {

namespace {
ClassicConfig ClassicFrom(const CompareConfig& c, const PipelineSpec& p, SweepGrid* grid, bool* has_sweep) {
  ClassicConfig cc;
  cc.data = c.data;
  cc.seed = c.seed;
  cc.threads = c.threads;
  cc.features = p.type;
  ApplyClassicJson(p.body, &cc, "pipeline '" + p.name + "'");
  *has_sweep = p.body.contains("sweep");
  if (*has_sweep) ApplySweepJson(p.body["sweep"], &cc, grid, "pipeline '" + p.name + "'.sweep");
  cc.Validate();
  return cc;
}

cnn::TrainConfig CnnFrom(const CompareConfig& c, const PipelineSpec& p) {
  cnn::TrainConfig t;
  t.seed = c.seed;
  t.threads = c.threads;
  const std::string what = "pipeline '" + p.name + "'";
  // The training option table: the keys of checkpoint/meta.json and the
  // flags of `cnn train`, with the short aliases batch, opt and val.
  cnn::TrainOptions().Apply(cnn::TrainOptions().FromJson(p.body, what, {"type", "name", "repeats", "protocol"}), &t);
  t.Validate();
  NamedError(what + ".model", [&] { cnn::RequireModel(t.model); });
  return t;
}
// A CNN pipeline's run: its training config, and the evaluation protocol
// the classical pipelines take the same way (`protocol: lazebnik`, or
// `repeats` with the data's train_per_class), so that both kinds train on
// the same repeated splits and can be paired split by split.
CnnRunConfig CnnRunFrom(const CompareConfig& c, const PipelineSpec& p) {
  CnnRunConfig rc;
  rc.data = c.data;
  rc.train = CnnFrom(c, p);
  const std::string what = "pipeline '" + p.name + "'";
  if (p.body.contains("protocol")) {
    const nlohmann::json name = p.body["protocol"];
    const nlohmann::json preset =
        NamedError(what, [&] { return Preset("protocol", name.is_string() ? name.get<std::string>() : name.dump()); });
    // A protocol sets only the split: the repeats and the per-class sizes.
    for (const auto& [k, v] : preset.items()) {
      if (k == "repeats")
        rc.repeats = IntegerFromJson<int>(v, what + ": protocol");
      else if (k == "data.train_per_class")
        rc.data.train_per_class = IntegerFromJson<std::size_t>(v, what + ": protocol");
      else if (k == "data.test_per_class")
        rc.data.test_per_class = IntegerFromJson<std::size_t>(v, what + ": protocol");
      else
        throw Error(what + ": protocol sets '" + k + "', which a CNN pipeline does not take");
    }
  }
  if (p.body.contains("repeats")) rc.repeats = IntegerFromJson<int>(p.body["repeats"], what + ": repeats");
  if (rc.repeats < 1) throw Error(what + ": repeats: must be >= 1, got " + std::to_string(rc.repeats));
  if (rc.repeats > 1 && rc.data.train_per_class == 0) {
    throw Error(what + ": repeats needs data.train_per_class (the training images per class of each split)");
  }
  return rc;
}

// Between every two pipelines: McNemar on the shared test images, or, when
// every pipeline ran the same repeated splits, a paired t-test over the
// repeats; Holm-corrected across pairs either way.
nlohmann::ordered_json Significance(const CompareConfig& cfg, const nlohmann::ordered_json& rows) {
  std::vector<std::string> dirs, names;
  std::vector<nlohmann::json> results;
  for (std::size_t i = 0; i < cfg.pipelines.size(); ++i) {
    dirs.push_back(rows[i]["run"].get<std::string>());
    names.push_back(cfg.pipelines[i].name);
    results.push_back(nlohmann::json::parse(ReadFileText(fs::path(dirs.back()) / "results.json")));
  }
  nlohmann::ordered_json sig;
  sig["alpha"] = 0.05;
  sig["correction"] = "Holm";
  sig["pipelines"] = names;
  const std::size_t m = names.size();
  auto split_prints = [](const nlohmann::json& r) {
    std::vector<std::string> fps;
    for (const auto& s : r["repeats"]["splits"]) fps.push_back(s["test_fingerprint"].get<std::string>());
    return fps;
  };
  const bool all_repeats =
      std::all_of(results.begin(), results.end(), [](const nlohmann::json& r) { return r.contains("repeats"); });
  if (all_repeats) {
    for (std::size_t i = 1; i < m; ++i) {
      if (split_prints(results[i]) != split_prints(results[0])) {
        sig["skipped"] = "'" + names[0] + "' and '" + names[i] +
                         "' ran different repeated splits; a paired test needs the same splits";
        return sig;
      }
    }
    sig["test"] = "paired t-test over the repeated splits";
    std::vector<std::vector<double>> p(m, std::vector<double>(m, 1.0));
    std::vector<double> raw;
    std::vector<std::pair<std::size_t, std::size_t>> pairs;
    std::vector<eval::TTestResult> tests;
    for (std::size_t a = 0; a < m; ++a) {
      for (std::size_t b = a + 1; b < m; ++b) {
        const auto t = eval::PairedTTest(results[a]["repeats"]["accuracy"].get<std::vector<double>>(),
                                         results[b]["repeats"]["accuracy"].get<std::vector<double>>());
        p[a][b] = p[b][a] = t.p_value;
        raw.push_back(t.p_value);
        pairs.push_back({a, b});
        tests.push_back(t);
      }
    }
    const auto adj = eval::HolmAdjust(raw);
    std::vector<std::vector<double>> ph(m, std::vector<double>(m, 1.0));
    nlohmann::ordered_json list = nlohmann::json::array();
    for (std::size_t i = 0; i < pairs.size(); ++i) {
      const auto [a, b] = pairs[i];
      ph[a][b] = ph[b][a] = adj[i];
      const bool sig_ = adj[i] < 0.05;
      const std::string better = tests[i].mean_difference >= 0 ? names[a] : names[b];
      const std::string worse = tests[i].mean_difference >= 0 ? names[b] : names[a];
      list.push_back({{"a", names[a]},
                      {"b", names[b]},
                      {"mean_difference", tests[i].mean_difference},
                      {"t", tests[i].t},
                      {"df", tests[i].df},
                      {"p_value", tests[i].p_value},
                      {"p_holm", adj[i]},
                      {"significant", sig_},
                      {"statement",
                       fmt::format("{} vs {}: {} (mean difference {:+.4f} over {} repeats; paired t = {:.3g}, "
                                   "p = {:.3g}, Holm p = {:.3g})",
                                   names[a], names[b],
                                   sig_ ? better + " is significantly better than " + worse + " at 0.05"
                                        : std::string("no significant difference at 0.05"),
                                   tests[i].mean_difference, tests[i].df + 1, tests[i].t, tests[i].p_value, adj[i])}});
    }
    sig["p_values"] = p;
    sig["p_values_holm"] = ph;
    sig["pairs"] = list;
    return sig;
  }
  try {
    const auto t = eval::RunSignificance(dirs, names);
    sig["test"] = "McNemar (exact binomial below 25 discordant images, else chi-squared with continuity correction)";
    sig["p_values"] = t.p;
    sig["p_values_holm"] = t.p_holm;
    nlohmann::ordered_json pairs = nlohmann::json::array();
    const auto statements = t.Statements();
    for (std::size_t i = 0; i < t.pairs.size(); ++i) {
      const auto& pr = t.pairs[i];
      pairs.push_back({{"a", t.names[static_cast<std::size_t>(pr.a)]},
                       {"b", t.names[static_cast<std::size_t>(pr.b)]},
                       {"only_a_correct", pr.test.b},
                       {"only_b_correct", pr.test.c},
                       {"exact", pr.test.exact},
                       {"statistic", pr.test.statistic},
                       {"p_value", pr.test.p_value},
                       {"p_holm", pr.p_holm},
                       {"significant", pr.significant},
                       {"statement", statements[i]}});
    }
    sig["pairs"] = pairs;
  } catch (const Error& e) {
    sig["skipped"] = e.what();  // e.g. some pipelines ran repeats, others one split
  }
  return sig;
}
}  // namespace

void CompareConfig::Validate() const {
  data.Validate();
  if (pipelines.empty()) throw Error("config: 'pipelines' must list at least one pipeline");
  std::set<std::string> names;
  for (const auto& p : pipelines) {
    if (p.name.empty()) throw Error("config: every pipeline needs a 'name'");
    if (!names.insert(p.name).second) throw Error("config: pipeline name '" + p.name + "' is used twice");
    if (p.type == "tiny" || p.type == "bow" || p.type == "fisher" || p.type == "vlad" || p.type == "gist") {
      SweepGrid g;
      bool s;
      ClassicFrom(*this, p, &g, &s);
    } else if (p.type == "cnn") {
      CnnRunFrom(*this, p);
    } else {
      throw Error("config: pipeline '" + p.name + "' has type '" + p.type +
                  "' (expected tiny, bow, fisher, vlad, gist or cnn)");
    }
  }
}

nlohmann::ordered_json CompareConfig::ToJson() const {
  nlohmann::ordered_json j;
  j["name"] = name;
  j["data"] = DataOptions().Echo(data);
  j["seed"] = seed;
  j["threads"] = threads;
  if (!expected_time.empty()) j["expected_time"] = expected_time;
  nlohmann::ordered_json ps = nlohmann::json::array();
  for (const auto& p : pipelines) {
    nlohmann::ordered_json e;
    e["name"] = p.name;
    e["type"] = p.type;
    if (p.type == "cnn") {
      const CnnRunConfig rc = CnnRunFrom(*this, p);
      e["resolved"] = rc.train.ToJson();
      if (rc.repeats > 1) {
        e["resolved"]["repeats"] = rc.repeats;
        e["resolved"]["data"] = DataOptions().Echo(rc.data);
      }
    } else {
      SweepGrid g;
      bool s;
      e["resolved"] = ClassicFrom(*this, p, &g, &s).ToJson();
      if (s) e["sweep"] = p.body["sweep"];
    }
    ps.push_back(e);
  }
  j["pipelines"] = ps;
  return j;
}

CompareConfig ParseCompareConfig(const nlohmann::json& j, const std::string& what) {
  if (!j.is_object()) throw Error(what + ": expected a mapping at the top level");
  CompareConfig c;
  for (const auto& [k, v] : j.items()) {
    const std::string w = what + ": " + k;
    try {
      if (k == "name")
        c.name = v.get<std::string>();
      else if (k == "data")
        ApplyDataJson(v, &c.data, w);
      else if (k == "seed")
        c.seed = IntegerFromJson<std::uint64_t>(v, w);
      else if (k == "threads")
        c.threads = IntegerFromJson<int>(v, w);
      else if (k == "expected_time")
        c.expected_time = v.get<std::string>();
      else if (k == "pipelines") {
        if (!v.is_array()) throw Error(w + ": expected a list");
        for (const auto& p : v) {
          PipelineSpec s;
          s.name = p.value("name", "");
          s.type = p.value("type", "");
          s.body = p;
          c.pipelines.push_back(s);
        }
      } else {
        throw Error(w + ": unknown key (expected name, data, seed, threads, expected_time, pipelines)");
      }
    } catch (const nlohmann::json::exception&) {
      throw Error(w + ": wrong type, found " + v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
  }
  c.Validate();
  return c;
}

CompareConfig DefaultCompareConfig() {
  const std::string text = R"({
    "name": "fashion-mnist-default",
    "expected_time": "about 1.5 minutes on 2 cores",
    "data": {"path": "/usr/share/datasets/fashion-mnist", "train_per_class": 1000, "test_per_class": 300},
    "seed": 0,
    "pipelines": [
      {"name": "tiny-knn", "type": "tiny", "tiny": {"size": 14, "norm": "l2"},
       "knn": {"metrics": ["l1", "l2"], "k": "1-10"}},
      {"name": "bow-knn", "type": "bow", "sift": {"step": 2, "bins": [4]}, "vocab": {"size": 100, "descriptors_per_image": 30},
       "knn": {"metrics": ["l1", "l2", "chi2"], "k": "1-10"}},
      {"name": "resnet-lite", "type": "cnn", "model": "resnet-lite", "epochs": 5, "batch": 64, "opt": "sgd",
       "lr": 0.1, "schedule": "onecycle", "val": 0.0, "augment": ["crop", "flip"], "crop_padding": 2}
    ]
  })";
  return ParseCompareConfig(nlohmann::json::parse(text), "built-in config");
}

CompareResult RunCompare(const CompareConfig& cfg, const std::string& out_dir, Logger* log) {
  return RunCompare(cfg, out_dir, log, features::SingleProcess(), 0);
}

CompareResult RunCompare(const CompareConfig& cfg, const std::string& out_dir, Logger* log,
                         const features::Collective& comm, int cnn_threads) {
  cfg.Validate();
  const bool root = comm.rank() == 0;
  const auto start = std::chrono::steady_clock::now();
  const auto resolved = cfg.ToJson();
  if (root) {
    fs::create_directories(fs::path(out_dir) / "pipelines");
    WriteFileAtomic(fs::path(out_dir) / "config.resolved.json",
                    resolved.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  }
  CompareResult result;
  std::vector<std::string> run_dirs;
  nlohmann::ordered_json rows = nlohmann::json::array();
  for (std::size_t i = 0; i < cfg.pipelines.size(); ++i) {
    const auto& p = cfg.pipelines[i];
    const std::string dir = (fs::path(out_dir) / "pipelines" / SafeFileName(p.name)).string();
    CacheKey key("compare-pipeline-v1");
    key.Add("resolved", resolved["pipelines"][i].dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))
        .Add("data", resolved["data"].dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))
        .Add("seed", cfg.seed);
    const fs::path done = fs::path(dir) / "done.json";
    bool reuse = false;
    if (root && fs::exists(done) && fs::exists(fs::path(dir) / "results.json")) {
      try {
        reuse = nlohmann::json::parse(ReadFileText(done)).at("key").get<std::string>() == key.text();
      } catch (const std::exception&) {
        reuse = false;
      }
    }
    {
      std::string verdict = reuse ? "1" : "0";  // rank 0's: the others may not see its folder
      comm.Broadcast(&verdict);
      reuse = verdict == "1";
    }
    const auto t0 = std::chrono::steady_clock::now();
    bool has_sweep = false;
    if (reuse) {
      if (log)
        log->Info(
            fmt::format("[{}/{}] {}: finished earlier, reused from {}", i + 1, cfg.pipelines.size(), p.name, dir));
      result.reused.push_back(p.name);
      if (p.type != "cnn") {
        SweepGrid g;
        ClassicFrom(cfg, p, &g, &has_sweep);
      }
    } else {
      if (log) log->Info(fmt::format("[{}/{}] {} ({})", i + 1, cfg.pipelines.size(), p.name, p.type));
      if (root) fs::create_directories(dir);
      if (p.type == "cnn") {
        if (root) {
          CnnRunConfig rc = CnnRunFrom(cfg, p);
          if (cnn_threads > 0) rc.train.threads = cnn_threads;
          rc.resume = true;  // continues an interrupted run of this same config
          RunCnn(rc, dir, log);
        } else if (log) {
          log->Info(fmt::format("{}: the CNN trains on rank 0; waiting", p.name));
        }
        comm.Barrier();  // the others asleep, not spinning on rank 0's cores
      } else {
        SweepGrid grid;
        ClassicConfig cc = ClassicFrom(cfg, p, &grid, &has_sweep);
        cc.cache_dir = (fs::path(out_dir) / "cache").string();
        if (has_sweep) RunSweep(cc, grid, dir + "-sweep", log, comm);
        RunClassic(cc, dir, log, comm);
      }
      if (root) {
        WriteFileAtomic(done, nlohmann::json({{"key", key.text()}, {"seconds", SecondsSince(t0)}})
                                  .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      }
      result.computed.push_back(p.name);
    }
    if (!root) continue;  // rank 0 reads the results and writes the report
    run_dirs.push_back(dir);
    if (has_sweep) run_dirs.push_back(dir + "-sweep");
    const auto r = nlohmann::json::parse(ReadFileText(fs::path(dir) / "results.json"));
    nlohmann::ordered_json row;
    row["name"] = p.name;
    row["type"] = p.type;
    // The headline is the point chosen without the test labels.
    const auto& sel = r.contains("selected") ? r["selected"] : r["best"];
    row["accuracy"] = sel["accuracy"];
    row["accuracy_ci95"] = sel.contains("accuracy_ci95") ? sel["accuracy_ci95"] : nlohmann::json(nullptr);
    row["selected"] = sel;
    row["oracle"] = r["best"];
    row["best"] = r["best"];
    row["seconds"] = r["timings_s"]["total_s"];
    row["model_params"] = r.contains("model_params") ? r["model_params"] : nlohmann::json(nullptr);
    row["precision"] = r.contains("precision") ? r["precision"]["name"] : nlohmann::json(nullptr);
    row["reused"] = reuse;
    row["run"] = dir;
    rows.push_back(row);
  }
  if (!root) return result;
  eval::ReportOptions ro;
  ro.title = "scenelab compare: " + cfg.name;
  result.report_path = eval::BuildReport(run_dirs, (fs::path(out_dir) / "report").string(), ro);
  result.summary["name"] = cfg.name;
  result.summary["pipelines"] = rows;
  if (cfg.pipelines.size() > 1) result.summary["significance"] = Significance(cfg, rows);
  result.summary["seconds"] = SecondsSince(start);
  WriteFileAtomic(fs::path(out_dir) / "summary.json",
                  result.summary.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  return result;
}

}  // namespace scenelab::pipelines

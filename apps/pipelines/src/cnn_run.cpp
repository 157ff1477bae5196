#include "scenelab/pipelines/cnn_run.h"

#include <algorithm>
#include <chrono>
#include <filesystem>

#include <fmt/format.h>

#include "scenelab/cnn/zoo.h"
#include "scenelab/data/config_key.h"
#include "scenelab/data/error.h"
#include "scenelab/data/io.h"
#include "scenelab/eval/stats.h"
#include "scenelab/pipelines/options.h"
#include "scenelab/pipelines/outputs.h"

#include "repeats.h"

namespace fs = std::filesystem;

namespace scenelab::pipelines {

namespace {
nlohmann::ordered_json WriteCnnOutputs(const std::string& out_dir, const std::string& model, const data::Dataset& train,
                                       const data::Dataset& test, const cnn::TrainResult& r,
                                       nlohmann::ordered_json params, std::uint64_t seed, double total_s) {
  RunOutputs out(out_dir);
  eval::Predictions preds(test.class_names());
  for (std::size_t i = 0; i < test.size(); ++i) {
    preds.Add({test[i].source, test[i].label, r.test_predicted[i], r.test_score[i]});
  }
  const auto cm = preds.Confusion();
  out.WriteEvaluation(preds, cm);
  out.WriteGalleries(preds, test);
  if (!r.history.empty()) {
    std::map<std::string, std::vector<std::pair<double, double>>> loss, acc;
    for (const auto& m : r.history) {
      loss["train"].push_back({double(m.epoch), m.train_loss});
      if (m.has_val) loss["val"].push_back({double(m.epoch), m.val_loss});
      acc["train"].push_back({double(m.epoch), m.train_acc});
      if (m.has_val) acc["val"].push_back({double(m.epoch), m.val_acc});
    }
    out.WriteLinePlot("learning_curve_loss", model + ": loss", "epoch", "cross-entropy loss", loss);
    out.WriteLinePlot("learning_curve_accuracy", model + ": accuracy", "epoch", "accuracy", acc);
  }
  nlohmann::ordered_json j;
  j["kind"] = "cnn";
  j["pipeline"] = model;
  j["params"] = std::move(params);
  j["seed"] = seed;
  j["classes"] = test.class_names();
  j["train_size"] = train.size();
  j["test_size"] = test.size();
  j["accuracy"] = {{"test", cm.Accuracy()}};
  // One test evaluation, of the final model: the reported point is fixed by
  // the schedule (and early stopping on the validation loss), never by the test labels.
  std::int64_t correct = 0;
  for (int c = 0; c < cm.num_classes(); ++c) correct += cm.count(c, c);
  const auto ci = cm.total() > 0 ? eval::WilsonInterval(correct, cm.total()) : eval::Interval{};
  const int epochs_run = r.history.empty() ? 0 : r.history.back().epoch;
  const int selected = r.selected_epoch > 0 ? r.selected_epoch : epochs_run;
  std::string how = "last epoch (no validation split)";
  if (r.selected_on_validation) {
    double val_acc = 0;
    for (const auto& m : r.history) {
      if (m.epoch == selected) val_acc = m.val_acc;
    }
    how = fmt::format("epoch with the highest validation accuracy ({:.4f}), of {} run", val_acc, epochs_run);
  }
  j["selected"] = {{"metric", "test"},
                   {"k", nullptr},
                   {"epoch", selected},
                   {"accuracy", cm.Accuracy()},
                   {"correct", correct},
                   {"accuracy_ci95", {ci.lo, ci.hi}},
                   {"interval", "Wilson score, 95%"},
                   {"how", how}};
  j["best"] = {{"metric", "test"},
               {"k", nullptr},
               {"epoch", selected},
               {"accuracy", cm.Accuracy()},
               {"accuracy_ci95", {ci.lo, ci.hi}},
               {"oracle", false},
               {"how", "the only evaluated point (same as selected)"}};
  if (cm.num_classes() >= 10 && r.test_top5.size() == test.size() && !test.empty()) {
    std::int64_t c5 = 0;
    for (auto h : r.test_top5) c5 += h;
    const auto ci5 = eval::WilsonInterval(c5, static_cast<std::int64_t>(test.size()));
    for (auto* p : {&j["selected"], &j["best"]}) {
      (*p)["top5_accuracy"] = static_cast<double>(c5) / static_cast<double>(test.size());
      (*p)["top5_correct"] = c5;
      (*p)["top5_ci95"] = {ci5.lo, ci5.hi};
    }
  }
  j["test_fingerprint"] = eval::TestSetFingerprint(preds);
  j["confusion"] = nlohmann::json::parse(cm.ToJson())["counts"];
  j["mean_per_class_accuracy"] = cm.MeanPerClassAccuracy();
  j["model_params"] = r.params;
  j["epochs_run"] = r.history.empty() ? 0 : r.history.back().epoch;
  j["resumed_from_epoch"] = r.resumed_from_epoch;
  j["precision"] = {{"name", r.precision}, {"reason", r.precision_reason}};
  j["early_stopped"] = r.early_stopped;
  j["input"] = r.input.ToString();
  double ips = 0;
  for (const auto& m : r.history) ips += m.images_per_s;
  j["train_images_per_s"] = r.history.empty() ? 0.0 : ips / static_cast<double>(r.history.size());
  j["timings_s"] = {{"train_s", r.train_seconds}, {"eval_s", r.eval_seconds}, {"total_s", total_s}};
  out.WriteResults(j);
  return j;
}
}  // namespace

namespace {
// One training per repeated split; the CNN's point is fixed by its schedule
// (or its validation split), so `selected` and `best` of each split agree.
nlohmann::ordered_json RunCnnRepeats(const CnnRunConfig& cfg, const std::string& out_dir, Logger* log) {
  const auto start = std::chrono::steady_clock::now();
  if (cfg.dist.active()) throw Error("repeats: not with data-parallel training (--nproc); run the splits one by one");
  const Pool pool = LoadPool(cfg.data, cfg.train.seed);
  const auto splits =
      DrawRepeatSplits(pool.images, cfg.data.train_per_class, cfg.data.test_per_class, cfg.repeats, cfg.train.seed);
  if (log) {
    log->Info(fmt::format("{}: {} repeats of a seeded random split, {} training images per class, {} test images",
                          cfg.train.model, cfg.repeats, cfg.data.train_per_class, splits.front().test.size()));
  }
  RepeatTally tally(pool.images.class_names());
  std::string how;
  for (int r = 0; r < cfg.repeats; ++r) {
    const std::string dir = (fs::path(out_dir) / "repeats" / fmt::format("r{:02d}", r)).string();
    const data::Dataset train = pool.images.Select(splits[static_cast<std::size_t>(r)].train);
    const data::Dataset test = pool.images.Select(splits[static_cast<std::size_t>(r)].test);
    CacheKey key("cnn-repeat-v1");
    key.Add("train_config", cfg.train.ToJson().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))
        .Add("train", Hex64(train.Fingerprint()))
        .Add("test", Hex64(test.Fingerprint()));
    nlohmann::json res = FinishedRepeat(dir, key.text(), false);
    if (res.is_null()) {
      const auto t0 = std::chrono::steady_clock::now();
      // An interrupted split resumes from its own checkpoint.
      const auto tr = cnn::Train(cfg.train, train, test, dir, /*resume=*/true, log, {});
      nlohmann::ordered_json params;
      params["data"] = DataOptions().Echo(cfg.data);
      params["train"] = cfg.train.ToJson();
      params["train"]["input"] = tr.input.ToString();
      params["repeat"] = r;
      res = WriteCnnOutputs(dir, cfg.train.model, train, test, tr, params, cfg.train.seed, SecondsSince(t0));
      WriteFileAtomic(fs::path(dir) / "done.json", nlohmann::json({{"key", key.text()}}).dump());
    } else if (log) {
      log->Info(fmt::format("repeat {}/{}: finished earlier, reused", r + 1, cfg.repeats));
    }
    tally.Add(r, res, dir);
    if (how.empty()) how = res["selected"].value("how", std::string("the last epoch"));
    if (log) log->Info(fmt::format("repeat {}/{}: accuracy {:.4f}", r + 1, cfg.repeats, tally.accuracy().back()));
  }
  nlohmann::ordered_json head;
  head["kind"] = "cnn";
  head["pipeline"] = cfg.train.model;
  head["params"] = {{"data", DataOptions().Echo(cfg.data)}, {"train", cfg.train.ToJson()}, {"repeats", cfg.repeats}};
  head["seed"] = cfg.train.seed;
  head["classes"] = pool.images.class_names();
  head["train_size"] = splits.front().train.size();
  head["test_size"] = splits.front().test.size();
  return tally.Write(std::move(head), how, cfg.data.train_per_class, out_dir, SecondsSince(start));
}
}  // namespace

nlohmann::ordered_json RunCnn(const CnnRunConfig& cfg, const std::string& out_dir, Logger* log) {
  const auto start = std::chrono::steady_clock::now();
  cfg.train.Validate();
  // The model name too, before any image is decoded (train_config.cpp stays
  // free of the Torch-built registry: the fuzzers compile it alone).
  NamedError("--model", [&] { cnn::RequireModel(cfg.train.model); });
  if (cfg.repeats < 1) throw Error("repeats: must be >= 1, got " + std::to_string(cfg.repeats));
  if (cfg.repeats > 1) return RunCnnRepeats(cfg, out_dir, log);
  const LoadedData data = LoadData(cfg.data, cfg.train.seed);
  if (log) {
    log->Info(fmt::format("{}: {} classes, {} train / {} test images; model {}", cfg.data.path,
                          data.train.num_classes(), data.train.size(), data.test.size(), cfg.train.model));
  }
  const auto r = cnn::Train(cfg.train, data.train, data.test, out_dir, cfg.resume, log, cfg.dist);
  if (cfg.dist.rank != 0) return nlohmann::ordered_json{{"rank", cfg.dist.rank}};
  nlohmann::ordered_json params;
  params["data"] = DataOptions().Echo(cfg.data);
  params["train"] = cfg.train.ToJson();
  params["train"]["input"] = r.input.ToString();
  if (cfg.dist.active()) params["distributed"] = {{"world_size", cfg.dist.world_size}, {"backend", "gloo"}};
  auto j =
      WriteCnnOutputs(out_dir, cfg.train.model, data.train, data.test, r, params, cfg.train.seed, SecondsSince(start));
  if (cfg.dist.active()) {
    j["distributed"] = {{"world_size", cfg.dist.world_size},
                        {"allreduce_ms_per_step", r.allreduce_ms_per_step},
                        {"gradient_bytes", r.gradient_bytes},
                        {"step_ms", r.step_ms}};
    RunOutputs(out_dir).WriteResults(j);
  }
  return j;
}

nlohmann::ordered_json EvalCnn(const std::string& run_dir, const DataConfig& data_cfg, const std::string& out_dir,
                               Logger* log, std::optional<cnn::PrecisionMode> precision) {
  const auto start = std::chrono::steady_clock::now();
  const LoadedData data = LoadData(data_cfg, 0);
  const auto r = cnn::EvaluateCheckpoint(run_dir, data.test, log, precision);
  nlohmann::ordered_json params = {{"checkpoint", run_dir}, {"data", data_cfg.path}};
  return WriteCnnOutputs(out_dir, "checkpoint", data.train, data.test, r, params, 0, SecondsSince(start));
}

}  // namespace scenelab::pipelines

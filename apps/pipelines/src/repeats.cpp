#include "repeats.h"

#include <filesystem>

#include <fmt/format.h>

#include "scenelab/data/io.h"
#include "scenelab/eval/figures.h"
#include "scenelab/eval/stats.h"
#include "scenelab/pipelines/outputs.h"

namespace fs = std::filesystem;

namespace scenelab::pipelines {

Pool LoadPool(const DataConfig& cfg, std::uint64_t seed) {
  DataConfig whole = cfg;
  whole.train_per_class = 0;
  whole.test_per_class = 0;
  Pool p;
  p.loaded = LoadData(whole, seed);
  std::vector<data::Sample> all = p.loaded.train.samples();
  all.insert(all.end(), p.loaded.test.samples().begin(), p.loaded.test.samples().end());
  p.images = data::Dataset(p.loaded.train.class_names(), std::move(all));
  return p;
}

nlohmann::json FinishedRepeat(const std::string& dir, const std::string& key, bool clobber) {
  if (clobber) return nullptr;
  try {  // a finished repeat of this same config is reused: long runs resume
    const auto done = nlohmann::json::parse(ReadFileText(fs::path(dir) / "done.json"));
    if (done.at("key").get<std::string>() == key)
      return nlohmann::json::parse(ReadFileText(fs::path(dir) / "results.json"));
  } catch (const std::exception&) {
  }
  return nullptr;
}

RepeatTally::RepeatTally(const std::vector<std::string>& class_names) : summed_(class_names) {}

void RepeatTally::Add(int repeat, const nlohmann::json& res, const std::string& dir) {
  acc_.push_back(res["selected"]["accuracy"].get<double>());
  oracle_.push_back(res["best"]["accuracy"].get<double>());
  const auto& cm = res["confusion"];
  for (int t = 0; t < summed_.num_classes(); ++t) {
    for (int p = 0; p < summed_.num_classes(); ++p) summed_.Add(t, p, cm[t][p].get<std::int64_t>());
  }
  per_.push_back({{"repeat", repeat},
                  {"accuracy", acc_.back()},
                  {"oracle_accuracy", oracle_.back()},
                  {"selected", res["selected"]},
                  {"test_fingerprint", res["test_fingerprint"]},
                  {"run", dir}});
}

nlohmann::ordered_json RepeatTally::Write(nlohmann::ordered_json r, const std::string& how, std::size_t train_per_class,
                                          const std::string& out_dir, double total_s) const {
  const auto ci = eval::TInterval(acc_);
  const auto oci = eval::TInterval(oracle_);
  const auto count = acc_.size();
  r["repeats"] = {{"count", count},
                  {"train_per_class", train_per_class},
                  {"accuracy", acc_},
                  {"mean", eval::Mean(acc_)},
                  {"std", eval::StdDev(acc_)},
                  {"ci95", {ci.lo, ci.hi}},
                  {"oracle_accuracy", oracle_},
                  {"splits", per_}};
  r["selected"] = {{"metric", "per repeat"},
                   {"k", nullptr},
                   {"accuracy", eval::Mean(acc_)},
                   {"accuracy_std", eval::StdDev(acc_)},
                   {"accuracy_ci95", {ci.lo, ci.hi}},
                   {"interval", "Student t over repeats, 95%"},
                   {"how", fmt::format("mean over {} seeded random splits ({} training images per class); in each, {}",
                                       count, train_per_class, how)}};
  r["best"] = {{"metric", "per repeat"},
               {"k", nullptr},
               {"accuracy", eval::Mean(oracle_)},
               {"accuracy_ci95", {oci.lo, oci.hi}},
               {"oracle", true},
               {"how", "mean of each split's point chosen on its test labels (optimistic)"}};
  r["confusion"] = nlohmann::json::parse(summed_.ToJson())["counts"];
  r["mean_per_class_accuracy"] = summed_.MeanPerClassAccuracy();
  r["timings_s"] = {{"total_s", total_s}};
  eval::DrawConfusion(summed_, (fs::path(out_dir) / "figures" / "confusion").string(),
                      fmt::format("Confusion summed over {} repeats (row-normalised)", count));
  WriteFileAtomic(fs::path(out_dir) / "confusion.csv", summed_.ToCsv());
  WriteFileAtomic(fs::path(out_dir) / "confusion.json", summed_.ToJson());
  RunOutputs(out_dir).WriteResults(r);
  return r;
}

}  // namespace scenelab::pipelines

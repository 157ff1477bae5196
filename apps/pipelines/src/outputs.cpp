#include "scenelab/pipelines/outputs.h"

#include <filesystem>
#include <unordered_map>

#include "scenelab/data/error.h"
#include "scenelab/data/io.h"
#include "scenelab/eval/figures.h"

namespace fs = std::filesystem;

namespace scenelab::pipelines {

RunOutputs::RunOutputs(std::string dir) : dir_(std::move(dir)) {
  std::error_code ec;
  fs::create_directories(fs::path(dir_) / "figures", ec);
  if (ec) throw Error(dir_ + ": cannot create output folder (" + ec.message() + ")");
}

void RunOutputs::WriteEvaluation(const eval::Predictions& preds, const eval::ConfusionMatrix& cm) const {
  WriteFileAtomic(fs::path(dir_) / "predictions.csv", preds.ToCsv());
  WriteFileAtomic(fs::path(dir_) / "confusion.csv", cm.ToCsv());
  WriteFileAtomic(fs::path(dir_) / "confusion.json", cm.ToJson());
  eval::DrawConfusion(cm, (fs::path(dir_) / "figures" / "confusion").string(),
                      "Confusion (row-normalised), accuracy " + std::to_string(cm.Accuracy()).substr(0, 6));
}

void RunOutputs::WriteLinePlot(const std::string& name, const std::string& title, const std::string& x_label,
                               const std::string& y_label,
                               const std::map<std::string, std::vector<std::pair<double, double>>>& series,
                               bool log_x) const {
  eval::LinePlot plot;
  plot.title = title;
  plot.x_label = x_label;
  plot.y_label = y_label;
  plot.log_x = log_x;
  for (const auto& [n, pts] : series) plot.series.push_back({n, pts});
  eval::DrawLinePlot(plot, (fs::path(dir_) / "figures" / SafeFileName(name)).string());
}

void RunOutputs::WriteGalleries(const eval::Predictions& preds, const data::Dataset& test, int per_kind) const {
  std::unordered_map<std::string, std::size_t> index_of;
  for (std::size_t i = 0; i < test.size(); ++i) index_of.emplace(test[i].source, i);
  const auto& names = preds.class_names();
  for (int c = 0; c < static_cast<int>(names.size()); ++c) {
    std::vector<eval::Thumb> tp, fp, fn;
    std::size_t n_tp = 0, n_fp = 0, n_fn = 0;
    for (const auto& r : preds.rows()) {
      std::vector<eval::Thumb>* dst = nullptr;
      std::string caption;
      if (r.truth == c && r.predicted == c)
        dst = &tp, caption = "correct", ++n_tp;
      else if (r.predicted == c)
        dst = &fp, caption = "was " + names[static_cast<std::size_t>(r.truth)], ++n_fp;
      else if (r.truth == c)
        dst = &fn, caption = "as " + names[static_cast<std::size_t>(r.predicted)], ++n_fn;
      if (!dst || static_cast<int>(dst->size()) >= per_kind) continue;
      auto it = index_of.find(r.source);
      if (it == index_of.end()) continue;
      cv::Mat img;
      try {
        img = test.LoadImage(it->second, {data::ColorMode::kColor});
      } catch (const Error&) {
        continue;  // a thumbnail is not worth failing a finished run
      }
      dst->push_back({img, caption});
    }
    std::vector<eval::Thumb> all;
    for (auto* v : {&tp, &fp, &fn}) {
      v->resize(static_cast<std::size_t>(per_kind));  // empty slots keep one kind per row
      all.insert(all.end(), v->begin(), v->end());
    }
    const std::string title = names[static_cast<std::size_t>(c)] + ": " + std::to_string(n_tp) + " true positives, " +
                              std::to_string(n_fp) + " false positives, " + std::to_string(n_fn) +
                              " false negatives (rows: up to " + std::to_string(per_kind) + " of each)";
    eval::DrawGallery(
        all, title,
        (fs::path(dir_) / "figures" / "gallery" / (SafeFileName(names[static_cast<std::size_t>(c)]) + ".png")).string(),
        96, per_kind);
  }
}

void RunOutputs::WriteResults(const nlohmann::ordered_json& results) const { WriteJson("results.json", results); }

void RunOutputs::WriteJson(const std::string& name, const nlohmann::ordered_json& j) const {
  WriteFileAtomic(fs::path(dir_) / name, j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

}  // namespace scenelab::pipelines

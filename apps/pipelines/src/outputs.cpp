#include "scenelab/pipelines/outputs.h"

#include <array>
#include <filesystem>
#include <unordered_map>

#include "scenelab/data/error.h"
#include "scenelab/data/io.h"
#include "scenelab/data/parallel.h"
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

void RunOutputs::WriteGalleries(const eval::Predictions& preds, const data::Dataset& test, int per_kind,
                                int threads) const {
  std::unordered_map<std::string, std::size_t> index_of;
  for (std::size_t i = 0; i < test.size(); ++i) index_of.emplace(test[i].source, i);
  const auto& names = preds.class_names();
  const auto k = static_cast<std::size_t>(per_kind);
  // Per class, three rows (true positives, false positives, false negatives)
  // of up to `per_kind` test images, chosen in prediction order.
  struct Slot {
    std::size_t image;
    std::string caption;
    eval::Thumb* thumb = nullptr;
  };
  std::vector<std::vector<eval::Thumb>> thumbs(names.size(), std::vector<eval::Thumb>(3 * k));
  std::vector<std::array<std::size_t, 3>> counts(names.size(), {0, 0, 0});
  std::vector<std::array<std::size_t, 3>> filled(names.size(), {0, 0, 0});
  std::vector<Slot> slots;
  auto add = [&](int c, std::size_t kind, std::string caption, const std::string& source) {
    if (c < 0 || static_cast<std::size_t>(c) >= names.size()) return;
    const auto cls = static_cast<std::size_t>(c);
    ++counts[cls][kind];
    const auto it = index_of.find(source);
    if (filled[cls][kind] >= k || it == index_of.end()) return;
    slots.push_back({it->second, std::move(caption), &thumbs[cls][kind * k + filled[cls][kind]++]});
  };
  auto name = [&](int c) {
    return c >= 0 && static_cast<std::size_t>(c) < names.size() ? names[static_cast<std::size_t>(c)]
                                                                : std::to_string(c);
  };
  for (const auto& r : preds.rows()) {
    if (r.truth == r.predicted) {
      add(r.truth, 0, "correct", r.source);
    } else {
      add(r.predicted, 1, "was " + name(r.truth), r.source);
      add(r.truth, 2, "as " + name(r.predicted), r.source);
    }
  }
  // Decoding is the cost: in parallel (each slot is its own thumbnail).
  ParallelForRange(slots.size(), threads, 4, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t i = lo; i < hi; ++i) {
      try {
        slots[i].thumb->image = test.LoadImage(slots[i].image, {data::ColorMode::kColor});
        slots[i].thumb->caption = slots[i].caption;
      } catch (const Error&) {
        // a thumbnail is not worth failing a finished run: the slot stays empty
      }
    }
  });
  for (std::size_t c = 0; c < names.size(); ++c) {
    const auto& n = counts[c];
    const std::string title = names[c] + ": " + std::to_string(n[0]) + " true positives, " + std::to_string(n[1]) +
                              " false positives, " + std::to_string(n[2]) + " false negatives (rows: up to " +
                              std::to_string(per_kind) + " of each)";
    eval::DrawGallery(thumbs[c], title,
                      (fs::path(dir_) / "figures" / "gallery" / (SafeFileName(names[c]) + ".png")).string(), 96,
                      per_kind);
  }
}

void RunOutputs::WriteResults(const nlohmann::ordered_json& results) const { WriteJson("results.json", results); }

void RunOutputs::WriteJson(const std::string& name, const nlohmann::ordered_json& j) const {
  WriteFileAtomic(fs::path(dir_) / name, j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

}  // namespace scenelab::pipelines

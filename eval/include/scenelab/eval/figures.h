#pragma once
// Report figures drawn with cairo, each written as PNG, vector SVG and PDF
// (atomically; the PDF is what LaTeX papers \includegraphics). Colour scales are fixed (0..1 for normalised matrices),
// so two figures can be compared side by side.
#include <string>
#include <utility>
#include <vector>

#include <opencv2/core.hpp>

#include "scenelab/eval/confusion.h"

namespace scenelab::eval {

struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y), drawn in order
};

struct LinePlot {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<Series> series;
  bool y_from_zero = false;  // otherwise the y range fits the data
  bool log_x = false;
};

// Writes `<base>.png`, `<base>.svg` and `<base>.pdf`.
void DrawConfusion(const ConfusionMatrix& m, const std::string& base, const std::string& title,
                   Normalization norm = Normalization::kTrue);
void DrawLinePlot(const LinePlot& plot, const std::string& base);

// One row per entry: a dot at `value` with a bar over [lo, hi] (accuracy
// with its confidence interval, per pipeline).
struct IntervalPoint {
  std::string name;
  double value = 0, lo = 0, hi = 0;
};
void DrawIntervalChart(const std::vector<IntervalPoint>& points, const std::string& title, const std::string& x_label,
                       const std::string& base);
// Bars grouped by `groups` (classes, in order), one colour per series (run);
// series[i].points[g].second is the value in [0, 1] for group g.
void DrawGroupedBars(const std::vector<std::string>& groups, const std::vector<Series>& series,
                     const std::string& title, const std::string& y_label, const std::string& base);

// A grid of labelled thumbnails (e.g. a class's false positives), PNG only.
struct Thumb {
  cv::Mat image;
  std::string caption;
};
void DrawGallery(const std::vector<Thumb>& thumbs, const std::string& title, const std::string& png_path,
                 int thumb_size = 96, int columns = 8);

}  // namespace scenelab::eval

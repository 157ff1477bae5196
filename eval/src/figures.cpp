#include "scenelab/eval/figures.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <mutex>

#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <cairo.h>
#include <fmt/format.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "scenelab/data/error.h"
#include "scenelab/data/io.h"

namespace scenelab::eval {

namespace {
using DrawFn = std::function<void(cairo_t*)>;

// cairo's font, glyph and surface bookkeeping is shared by every surface of
// the process and is not safe to use from two threads at once (repeated
// splits write their figures side by side): figures take turns.
std::mutex& CairoMutex() {
  static std::mutex mu;
  return mu;
}

void Rename(const std::string& tmp, const std::string& path) {
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error(path + ": cannot move figure into place");
  }
}

// An image surface as PNG, written atomically. Through OpenCV at zlib level
// 1 rather than cairo_surface_write_to_png (libpng's default level 6): about
// 4x faster to encode, a little larger, the same pixels; the galleries of
// every repeated split made the default level the cost of a run's outputs.
// ARGB32 is premultiplied, native-endian B, G, R, A bytes here; every figure
// paints an opaque white background first, so the bytes are straight BGRA.
void WritePng(cairo_surface_t* s, const std::string& path) {
  cairo_surface_flush(s);
  const cv::Mat bgra(cairo_image_surface_get_height(s), cairo_image_surface_get_width(s), CV_8UC4,
                     cairo_image_surface_get_data(s), static_cast<std::size_t>(cairo_image_surface_get_stride(s)));
  std::vector<unsigned char> bytes;
  if (!cv::imencode(".png", bgra, bytes, {cv::IMWRITE_PNG_COMPRESSION, 1})) {
    throw Error(path + ": PNG encoding failed");
  }
  WriteFileAtomic(path, std::string(bytes.begin(), bytes.end()));
}

// Renders `draw` to <base>.svg, <base>.pdf (what LaTeX papers include) and
// <base>.png through temporary files.
void RenderBoth(const std::string& base, int w, int h, const DrawFn& draw) {
  const std::lock_guard<std::mutex> lock(CairoMutex());
  std::error_code ec;
  const std::filesystem::path p(base);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ec);
  const std::string sfx = ".tmp." + std::to_string(::getpid());
  for (const char* ext : {".svg", ".pdf"}) {
    const std::string tmp = base + ext + sfx;
    cairo_surface_t* s = std::string(ext) == ".svg" ? cairo_svg_surface_create(tmp.c_str(), w, h)
                                                    : cairo_pdf_surface_create(tmp.c_str(), w, h);
    cairo_t* cr = cairo_create(s);
    draw(cr);
    cairo_destroy(cr);
    cairo_surface_finish(s);
    const auto status = cairo_surface_status(s);
    cairo_surface_destroy(s);
    if (status != CAIRO_STATUS_SUCCESS) {
      std::remove(tmp.c_str());
      throw Error(base + ext + ": cairo failed: " + cairo_status_to_string(status));
    }
    Rename(tmp, base + ext);
  }
  {
    cairo_surface_t* s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, h);
    cairo_t* cr = cairo_create(s);
    draw(cr);
    cairo_destroy(cr);
    try {
      WritePng(s, base + ".png");
    } catch (...) {
      cairo_surface_destroy(s);
      throw;
    }
    cairo_surface_destroy(s);
  }
}

void Text(cairo_t* cr, double x, double y, const std::string& s, double size, double align_x = 0.0,
          double align_y = 0.5, double angle = 0.0, bool bold = false) {
  cairo_save(cr);
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                         bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
  cairo_text_extents_t ext;
  cairo_text_extents(cr, s.c_str(), &ext);
  cairo_translate(cr, x, y);
  cairo_rotate(cr, angle);
  cairo_move_to(cr, -ext.x_advance * align_x, ext.height * align_y);
  cairo_show_text(cr, s.c_str());
  cairo_restore(cr);
}

// Perceptually ordered blue scale for v in [0, 1].
void Blues(cairo_t* cr, double v) {
  v = std::clamp(v, 0.0, 1.0);
  const double r = 0.97 - 0.90 * v, g = 0.98 - 0.66 * v, b = 1.0 - 0.45 * v;
  cairo_set_source_rgb(cr, r, g, b);
}

const double kPalette[][3] = {{0.12, 0.47, 0.71}, {1.0, 0.50, 0.05},  {0.17, 0.63, 0.17}, {0.84, 0.15, 0.16},
                              {0.58, 0.40, 0.74}, {0.55, 0.34, 0.29}, {0.89, 0.47, 0.76}, {0.50, 0.50, 0.50}};

std::string Nice(double v) {
  if (std::fabs(v) >= 100 || v == std::floor(v)) return fmt::format("{:g}", v);
  return fmt::format("{:.3g}", v);
}
}  // namespace

void DrawConfusion(const ConfusionMatrix& m, const std::string& base, const std::string& title, Normalization norm) {
  const int n = m.num_classes();
  if (n == 0) throw Error(base + ": confusion matrix has no classes");
  const int cell = std::clamp(600 / n, 22, 60);
  std::size_t longest = 0;
  for (const auto& c : m.class_names()) longest = std::max(longest, c.size());
  const int label_w = static_cast<int>(std::min<std::size_t>(longest, 24) * 7 + 20);
  const int left = label_w + 30, top = 50, bottom = label_w + 30;
  const int W = left + n * cell + 90, H = top + n * cell + bottom;
  const auto values = m.Normalized(norm);
  RenderBoth(base, W, H, [&](cairo_t* cr) {
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    Text(cr, W / 2.0, 20, title, 15, 0.5, 0.5, 0, true);
    const double font = std::clamp(cell * 0.32, 7.0, 12.0);
    for (int t = 0; t < n; ++t) {
      for (int p = 0; p < n; ++p) {
        // Colour by the row-normalised value so the scale is always 0..1.
        const double v = norm == Normalization::kNone ? (m.row_total(t) ? double(m.count(t, p)) / m.row_total(t) : 0.0)
                                                      : values[t][p];
        Blues(cr, v);
        cairo_rectangle(cr, left + p * cell, top + t * cell, cell, cell);
        cairo_fill(cr);
        const double shown = values[t][p];
        const std::string s =
            norm == Normalization::kNone ? std::to_string(m.count(t, p)) : fmt::format("{:.2f}", shown);
        cairo_set_source_rgb(cr, v > 0.5 ? 1 : 0.1, v > 0.5 ? 1 : 0.1, v > 0.5 ? 1 : 0.1);
        Text(cr, left + p * cell + cell / 2.0, top + t * cell + cell / 2.0, s, font, 0.5, 0.4);
      }
    }
    cairo_set_source_rgb(cr, 0, 0, 0);
    for (int c = 0; c < n; ++c) {
      std::string name = m.class_names()[c];
      if (name.size() > 24) name = name.substr(0, 23) + "~";
      Text(cr, left - 6, top + c * cell + cell / 2.0, name, 11, 1.0, 0.4);
      Text(cr, left + c * cell + cell / 2.0, top + n * cell + 6, name, 11, 1.0, 0.4, -M_PI / 2);
    }
    Text(cr, 12, top + n * cell / 2.0, "true class", 12, 0.5, 0.4, -M_PI / 2, true);
    Text(cr, left + n * cell / 2.0, H - 12, "predicted class", 12, 0.5, 0.4, 0, true);
    // Colour bar, fixed 0..1.
    const int bx = left + n * cell + 25, bh = n * cell;
    for (int i = 0; i < bh; ++i) {
      Blues(cr, 1.0 - static_cast<double>(i) / bh);
      cairo_rectangle(cr, bx, top + i, 16, 1.5);
      cairo_fill(cr);
    }
    cairo_set_source_rgb(cr, 0, 0, 0);
    Text(cr, bx + 20, top, "1.0", 10);
    Text(cr, bx + 20, top + bh, "0.0", 10);
  });
}

void DrawLinePlot(const LinePlot& plot, const std::string& base) {
  const int W = 640, H = 420, left = 70, right = 150, top = 45, bottom = 55;
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  auto fx = [&](double x) { return plot.log_x ? std::log10(std::max(x, 1e-12)) : x; };
  for (const auto& s : plot.series) {
    for (const auto& [x, y] : s.points) {
      x0 = std::min(x0, fx(x));
      x1 = std::max(x1, fx(x));
      y0 = std::min(y0, y);
      y1 = std::max(y1, y);
    }
  }
  if (!std::isfinite(x0)) {
    x0 = 0;
    x1 = 1;
    y0 = 0;
    y1 = 1;
  }
  if (plot.y_from_zero) y0 = std::min(0.0, y0);
  if (x1 == x0) x1 = x0 + 1;
  if (y1 == y0) {
    y1 = y0 + 0.05;
    y0 -= 0.05;
  }
  const double pad = (y1 - y0) * 0.06;
  y1 += pad;
  if (!plot.y_from_zero) y0 -= pad;
  const double pw = W - left - right, ph = H - top - bottom;
  auto X = [&](double x) { return left + (fx(x) - x0) / (x1 - x0) * pw; };
  auto Y = [&](double y) { return top + ph - (y - y0) / (y1 - y0) * ph; };
  RenderBoth(base, W, H, [&](cairo_t* cr) {
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    Text(cr, left + pw / 2, 20, plot.title, 15, 0.5, 0.5, 0, true);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, left, top, pw, ph);
    cairo_stroke(cr);
    for (int i = 0; i <= 5; ++i) {
      const double yv = y0 + (y1 - y0) * i / 5.0;
      cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
      cairo_move_to(cr, left, Y(yv));
      cairo_line_to(cr, left + pw, Y(yv));
      cairo_stroke(cr);
      cairo_set_source_rgb(cr, 0, 0, 0);
      Text(cr, left - 6, Y(yv), fmt::format("{:.3g}", yv), 10, 1.0, 0.4);
    }
    // x ticks at the data's x values when few, else 6 even ticks.
    std::vector<double> xs;
    for (const auto& s : plot.series) {
      for (const auto& pt : s.points) {
        if (std::find(xs.begin(), xs.end(), pt.first) == xs.end()) xs.push_back(pt.first);
      }
    }
    if (xs.size() > 12) {
      xs.clear();
      for (int i = 0; i <= 6; ++i) xs.push_back(x0 + (x1 - x0) * i / 6.0);
    }
    for (double xv : xs) Text(cr, X(xv), top + ph + 12, Nice(xv), 10, 0.5, 0.4);
    Text(cr, left + pw / 2, H - 14, plot.x_label, 12, 0.5, 0.4);
    Text(cr, 16, top + ph / 2, plot.y_label, 12, 0.5, 0.4, -M_PI / 2);
    for (std::size_t i = 0; i < plot.series.size(); ++i) {
      const auto& c = kPalette[i % 8];
      cairo_set_source_rgb(cr, c[0], c[1], c[2]);
      cairo_set_line_width(cr, 2);
      const auto& pts = plot.series[i].points;
      for (std::size_t j = 0; j < pts.size(); ++j) {
        if (j == 0)
          cairo_move_to(cr, X(pts[j].first), Y(pts[j].second));
        else
          cairo_line_to(cr, X(pts[j].first), Y(pts[j].second));
      }
      cairo_stroke(cr);
      for (const auto& pt : pts) {
        cairo_arc(cr, X(pt.first), Y(pt.second), 3, 0, 2 * M_PI);
        cairo_fill(cr);
      }
      const double ly = top + 12 + 20.0 * static_cast<double>(i);
      cairo_rectangle(cr, left + pw + 12, ly - 5, 14, 10);
      cairo_fill(cr);
      cairo_set_source_rgb(cr, 0, 0, 0);
      Text(cr, left + pw + 32, ly, plot.series[i].name, 11, 0.0, 0.4);
    }
  });
}

void DrawIntervalChart(const std::vector<IntervalPoint>& points, const std::string& title, const std::string& x_label,
                       const std::string& base) {
  if (points.empty()) throw Error(base + ": no points to draw");
  std::size_t longest = 0;
  for (const auto& pt : points) longest = std::max(longest, pt.name.size());
  const int row = 34, left = static_cast<int>(std::min<std::size_t>(longest, 28) * 7 + 24), right = 40, top = 50,
            bottom = 50;
  const int W = std::max(560, left + 420 + right), H = top + row * static_cast<int>(points.size()) + bottom;
  double x0 = 1, x1 = 0;
  for (const auto& pt : points) {
    x0 = std::min({x0, pt.lo, pt.value});
    x1 = std::max({x1, pt.hi, pt.value});
  }
  const double pad = std::max(0.02, (x1 - x0) * 0.08);
  x0 = std::max(0.0, x0 - pad);
  x1 = std::min(1.0, x1 + pad);
  const double pw = W - left - right;
  auto X = [&](double x) { return left + (x - x0) / (x1 - x0) * pw; };
  RenderBoth(base, W, H, [&](cairo_t* cr) {
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    Text(cr, W / 2.0, 20, title, 15, 0.5, 0.5, 0, true);
    const double ph = row * static_cast<double>(points.size());
    cairo_set_line_width(cr, 1);
    for (int i = 0; i <= 5; ++i) {
      const double xv = x0 + (x1 - x0) * i / 5.0;
      cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
      cairo_move_to(cr, X(xv), top);
      cairo_line_to(cr, X(xv), top + ph);
      cairo_stroke(cr);
      cairo_set_source_rgb(cr, 0, 0, 0);
      Text(cr, X(xv), top + ph + 12, fmt::format("{:.3f}", xv), 10, 0.5, 0.4);
    }
    Text(cr, left + pw / 2, H - 14, x_label, 12, 0.5, 0.4);
    for (std::size_t i = 0; i < points.size(); ++i) {
      const auto& pt = points[i];
      const double y = top + row * (static_cast<double>(i) + 0.5);
      const auto& c = kPalette[i % 8];
      cairo_set_source_rgb(cr, 0, 0, 0);
      std::string name = pt.name.size() > 28 ? pt.name.substr(0, 27) + "~" : pt.name;
      Text(cr, left - 8, y, name, 11, 1.0, 0.4);
      cairo_set_source_rgb(cr, c[0], c[1], c[2]);
      cairo_set_line_width(cr, 2);
      cairo_move_to(cr, X(pt.lo), y);
      cairo_line_to(cr, X(pt.hi), y);
      for (double e : {pt.lo, pt.hi}) {
        cairo_move_to(cr, X(e), y - 6);
        cairo_line_to(cr, X(e), y + 6);
      }
      cairo_stroke(cr);
      cairo_arc(cr, X(pt.value), y, 4.5, 0, 2 * M_PI);
      cairo_fill(cr);
      cairo_set_source_rgb(cr, 0, 0, 0);
      Text(cr, X(pt.hi) + 6, y - 9, fmt::format("{:.4f}", pt.value), 10, 0.0, 0.4);
    }
  });
}

void DrawGroupedBars(const std::vector<std::string>& groups, const std::vector<Series>& series,
                     const std::string& title, const std::string& y_label, const std::string& base) {
  if (groups.empty() || series.empty()) throw Error(base + ": no bars to draw");
  const int n = static_cast<int>(groups.size()), m = static_cast<int>(series.size());
  const int group_w = std::max(18 * m + 10, 36), left = 70, right = 170, top = 45;
  std::size_t longest = 0;
  for (const auto& g : groups) longest = std::max(longest, g.size());
  const int bottom = static_cast<int>(std::min<std::size_t>(longest, 24) * 7 + 30);
  const int W = left + n * group_w + right, H = top + 300 + bottom;
  const double ph = 300, bar = (group_w - 10.0) / m;
  auto Y = [&](double y) { return top + ph - std::clamp(y, 0.0, 1.0) * ph; };
  RenderBoth(base, W, H, [&](cairo_t* cr) {
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    Text(cr, (left + n * group_w) / 2.0, 20, title, 15, 0.5, 0.5, 0, true);
    cairo_set_line_width(cr, 1);
    for (int i = 0; i <= 5; ++i) {
      const double yv = i / 5.0;
      cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
      cairo_move_to(cr, left, Y(yv));
      cairo_line_to(cr, left + n * group_w, Y(yv));
      cairo_stroke(cr);
      cairo_set_source_rgb(cr, 0, 0, 0);
      Text(cr, left - 6, Y(yv), fmt::format("{:.1f}", yv), 10, 1.0, 0.4);
    }
    Text(cr, 16, top + ph / 2, y_label, 12, 0.5, 0.4, -M_PI / 2);
    for (int g = 0; g < n; ++g) {
      for (int s = 0; s < m; ++s) {
        const auto& pts = series[static_cast<std::size_t>(s)].points;
        if (static_cast<std::size_t>(g) >= pts.size()) continue;
        const auto& c = kPalette[s % 8];
        cairo_set_source_rgb(cr, c[0], c[1], c[2]);
        const double x = left + g * group_w + 5 + s * bar, v = pts[static_cast<std::size_t>(g)].second;
        cairo_rectangle(cr, x, Y(v), bar - 1, Y(0) - Y(v));
        cairo_fill(cr);
      }
      cairo_set_source_rgb(cr, 0, 0, 0);
      std::string name = groups[static_cast<std::size_t>(g)];
      if (name.size() > 24) name = name.substr(0, 23) + "~";
      Text(cr, left + g * group_w + group_w / 2.0, top + ph + 6, name, 11, 1.0, 0.4, -M_PI / 2);
    }
    for (int s = 0; s < m; ++s) {
      const auto& c = kPalette[s % 8];
      const double ly = top + 12 + 20.0 * s;
      cairo_set_source_rgb(cr, c[0], c[1], c[2]);
      cairo_rectangle(cr, left + n * group_w + 12, ly - 5, 14, 10);
      cairo_fill(cr);
      cairo_set_source_rgb(cr, 0, 0, 0);
      Text(cr, left + n * group_w + 32, ly, series[static_cast<std::size_t>(s)].name, 11, 0.0, 0.4);
    }
  });
}

void DrawGallery(const std::vector<Thumb>& thumbs, const std::string& title, const std::string& png_path, int ts,
                 int columns) {
  const int n = static_cast<int>(thumbs.size());
  const int cols = std::max(1, std::min(columns, std::max(n, 1)));
  const int rows = std::max(1, (n + cols - 1) / cols);
  const int cw = ts + 12, ch = ts + 30;
  const int W = cols * cw + 12, H = rows * ch + 40;
  const std::lock_guard<std::mutex> lock(CairoMutex());
  cairo_surface_t* s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, W, H);
  cairo_t* cr = cairo_create(s);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  cairo_set_source_rgb(cr, 0, 0, 0);
  Text(cr, 8, 16, title, 13, 0.0, 0.4, 0, true);
  if (n == 0) Text(cr, 8, 32, "(none)", 11, 0.0, 0.4);
  for (int i = 0; i < n; ++i) {
    cv::Mat img = thumbs[i].image;
    if (img.empty()) continue;
    cv::Mat bgra;
    if (img.channels() == 1)
      cv::cvtColor(img, bgra, cv::COLOR_GRAY2BGRA);
    else if (img.channels() == 3)
      cv::cvtColor(img, bgra, cv::COLOR_BGR2BGRA);
    else
      bgra = img.clone();
    const double scale = static_cast<double>(ts) / std::max(bgra.cols, bgra.rows);
    cv::Mat small;
    cv::resize(bgra, small, cv::Size(std::max(1, int(bgra.cols * scale)), std::max(1, int(bgra.rows * scale))), 0, 0,
               scale < 1 ? cv::INTER_AREA : cv::INTER_NEAREST);
    cairo_surface_t* is = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, small.cols, small.rows);
    cairo_surface_flush(is);
    unsigned char* dst = cairo_image_surface_get_data(is);
    const int stride = cairo_image_surface_get_stride(is);
    for (int y = 0; y < small.rows; ++y) std::copy(small.ptr(y), small.ptr(y) + small.cols * 4, dst + y * stride);
    cairo_surface_mark_dirty(is);
    const int x = 8 + (i % cols) * cw, y = 28 + (i / cols) * ch;
    cairo_set_source_surface(cr, is, x + (ts - small.cols) / 2.0, y + (ts - small.rows) / 2.0);
    cairo_paint(cr);
    cairo_surface_destroy(is);
    cairo_set_source_rgb(cr, 0, 0, 0);
    std::string cap = thumbs[i].caption;
    if (cap.size() > 16) cap = cap.substr(0, 15) + "~";
    Text(cr, x + ts / 2.0, y + ts + 10, cap, 10, 0.5, 0.4);
  }
  cairo_destroy(cr);
  std::error_code ec;
  const std::filesystem::path p(png_path);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ec);
  try {
    WritePng(s, png_path);
  } catch (...) {
    cairo_surface_destroy(s);
    throw;
  }
  cairo_surface_destroy(s);
}

}  // namespace scenelab::eval

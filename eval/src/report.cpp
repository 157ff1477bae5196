#include "scenelab/eval/report.h"

#include <ctime>
#include <filesystem>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "scenelab/data/error.h"
#include "scenelab/data/io.h"

namespace fs = std::filesystem;

namespace scenelab::eval {

std::string HtmlEscape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&#39;"; break;
      default: o += c;
    }
  }
  return o;
}

std::string Base64(const std::vector<unsigned char>& b) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string o;
  o.reserve((b.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < b.size(); i += 3) {
    const unsigned v = (b[i] << 16) | ((i + 1 < b.size() ? b[i + 1] : 0) << 8) | (i + 2 < b.size() ? b[i + 2] : 0);
    o += t[(v >> 18) & 63];
    o += t[(v >> 12) & 63];
    o += i + 1 < b.size() ? t[(v >> 6) & 63] : '=';
    o += i + 2 < b.size() ? t[v & 63] : '=';
  }
  return o;
}

namespace {
struct Run {
  std::string dir, name, safe;
  nlohmann::json results;  // may be null for sweep-only folders
  nlohmann::json sweep;
};

nlohmann::json ReadJson(const fs::path& p) {
  try {
    return nlohmann::json::parse(ReadFileText(p));
  } catch (const nlohmann::json::exception& e) {
    throw Error(p.string() + ": not valid JSON: " + e.what());
  }
}

std::string Acc(const nlohmann::json& v) { return v.is_number() ? fmt::format("{:.4f}", v.get<double>()) : "-"; }

class Figures {
 public:
  Figures(fs::path out) : out_(std::move(out)) {}
  // HTML <img> with the PNG embedded; Markdown link to a copy.
  void Add(const Run& r, const fs::path& png, const std::string& caption, std::ostringstream& html, std::ostringstream& md) {
    if (!fs::exists(png)) return;
    const auto bytes = ReadFileBytes(png);
    html << "<figure><img alt=\"" << HtmlEscape(caption) << "\" src=\"data:image/png;base64," << Base64(bytes)
         << "\"><figcaption>" << HtmlEscape(caption) << "</figcaption></figure>\n";
    const fs::path rel = fs::path("figures") / r.safe / png.filename();
    WriteFileAtomic(out_ / rel, std::string(bytes.begin(), bytes.end()));
    md << "![" << caption << "](" << rel.string() << ")\n\n";
  }

 private:
  fs::path out_;
};
}  // namespace

std::string BuildReport(const std::vector<std::string>& run_dirs, const std::string& out_dir, const ReportOptions& opts) {
  if (run_dirs.empty()) throw Error("report: no run folders given (--runs DIR...)");
  std::vector<Run> runs;
  for (const auto& d : run_dirs) {
    Run r;
    r.dir = d;
    r.name = fs::path(d).lexically_normal().filename().string();
    if (r.name.empty() || r.name == ".") r.name = fs::absolute(d).lexically_normal().parent_path().filename().string();
    r.safe = SafeFileName(r.name + "-" + std::to_string(runs.size()));
    const fs::path res = fs::path(d) / "results.json", sw = fs::path(d) / "sweep.json";
    if (fs::exists(res)) r.results = ReadJson(res);
    if (fs::exists(sw)) r.sweep = ReadJson(sw);
    if (r.results.is_null() && r.sweep.is_null()) {
      throw Error(d + ": not a run folder (no results.json or sweep.json)");
    }
    runs.push_back(std::move(r));
  }
  fs::create_directories(out_dir);
  Figures figs(out_dir);
  std::ostringstream html, md;
  std::time_t now = std::time(nullptr);
  char when[64];
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&now));
  html << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" << HtmlEscape(opts.title)
       << "</title>\n<style>body{font-family:sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse}"
          "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#eef}td.name{text-align:left}"
          "figure{display:inline-block;margin:6px;vertical-align:top}figure img{max-width:640px}"
          ".row{display:flex;flex-wrap:wrap}pre{background:#f6f6f6;padding:8px;overflow:auto}</style></head><body>\n";
  html << "<h1>" << HtmlEscape(opts.title) << "</h1>\n<p>Generated " << when << " from " << runs.size()
       << " run folder(s). Every number below is read from the runs' own files.</p>\n";
  md << "# " << opts.title << "\n\nGenerated " << when << " from " << runs.size() << " run folder(s).\n\n";

  // Accuracy / time / parameters table.
  html << "<h2>Accuracy</h2>\n<table id=\"accuracy\"><tr><th>run</th><th>pipeline</th><th>accuracy</th>"
          "<th>mean per-class</th><th>best setting</th><th>train / test</th><th>time (s)</th><th>parameters</th></tr>\n";
  md << "## Accuracy\n\n| run | pipeline | accuracy | mean per-class | best setting | train / test | time (s) | parameters |\n"
        "|---|---|---|---|---|---|---|---|\n";
  for (const auto& r : runs) {
    if (r.results.is_null()) continue;
    const auto& j = r.results;
    const auto& best = j.value("best", nlohmann::json::object());
    std::string setting = "-";
    if (best.contains("k") && !best["k"].is_null()) setting = fmt::format("{} k={}", best.value("metric", ""), best["k"].dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    std::string params = "-";
    if (j.contains("model_params")) params = fmt::format("{}", j["model_params"].get<long long>());
    const double total = j.contains("timings_s") ? j["timings_s"].value("total_s", 0.0) : 0.0;
    const std::string acc = Acc(best.value("accuracy", nlohmann::json()));
    html << "<tr><td class=\"name\">" << HtmlEscape(r.name) << "</td><td class=\"name\">"
         << HtmlEscape(j.value("pipeline", "")) << "</td><td class=\"acc\" data-run=\"" << HtmlEscape(r.name)
         << "\" data-value=\"" << best.value("accuracy", 0.0) << "\">" << acc << "</td><td>"
         << Acc(j.value("mean_per_class_accuracy", nlohmann::json())) << "</td><td>" << HtmlEscape(setting) << "</td><td>"
         << j.value("train_size", 0) << " / " << j.value("test_size", 0) << "</td><td>" << fmt::format("{:.1f}", total)
         << "</td><td>" << params << "</td></tr>\n";
    md << "| " << r.name << " | " << j.value("pipeline", "") << " | " << acc << " | "
       << Acc(j.value("mean_per_class_accuracy", nlohmann::json())) << " | " << setting << " | " << j.value("train_size", 0)
       << " / " << j.value("test_size", 0) << " | " << fmt::format("{:.1f}", total) << " | " << params << " |\n";
  }
  html << "</table>\n";
  md << "\n";

  // Per-k accuracy tables for kNN runs.
  for (const auto& r : runs) {
    if (r.results.is_null() || r.results.value("kind", "") != "classic") continue;
    const auto& acc = r.results["accuracy"];
    html << "<h3>" << HtmlEscape(r.name) << ": accuracy by k</h3>\n<table class=\"byk\"><tr><th>k</th>";
    md << "### " << r.name << ": accuracy by k\n\n| k |";
    std::vector<std::string> metrics;
    for (const auto& [m, _] : acc.items()) metrics.push_back(m);
    for (const auto& m : metrics) {
      html << "<th>" << HtmlEscape(m) << "</th>";
      md << " " << m << " |";
    }
    html << "</tr>\n";
    md << "\n|---|" << std::string(metrics.size() * 4, '-') << "\n";
    for (const auto& [k, _] : acc[metrics.front()].items()) {
      html << "<tr><td>" << k << "</td>";
      md << "| " << k << " |";
      for (const auto& m : metrics) {
        html << "<td>" << Acc(acc[m][k]) << "</td>";
        md << " " << Acc(acc[m][k]) << " |";
      }
      html << "</tr>\n";
      md << "\n";
    }
    html << "</table>\n";
    md << "\n";
  }

  html << "<h2>Confusion matrices</h2>\n<p>Rows are true classes, columns predicted, in the dataset's class order; "
          "colours are row-normalised on one fixed 0..1 scale.</p>\n<div class=\"row\">\n";
  md << "## Confusion matrices\n\nRows are true classes, columns predicted; colours are row-normalised on a fixed 0..1 scale.\n\n";
  for (const auto& r : runs) figs.Add(r, fs::path(r.dir) / "figures" / "confusion.png", r.name + ": confusion", html, md);
  html << "</div>\n";

  html << "<h2>Sweeps and curves</h2>\n<div class=\"row\">\n";
  md << "## Sweeps and curves\n\n";
  for (const auto& r : runs) {
    for (const char* f : {"accuracy_vs_k", "sweep_accuracy_vs_k", "sweep_accuracy_vs_step", "sweep_accuracy_vs_vocab",
                          "sweep_accuracy_vs_size", "learning_curve_loss", "learning_curve_accuracy"}) {
      figs.Add(r, fs::path(r.dir) / "figures" / (std::string(f) + ".png"), r.name + ": " + f, html, md);
    }
  }
  html << "</div>\n";
  for (const auto& r : runs) {
    if (r.sweep.is_null()) continue;
    double best = -1;
    nlohmann::json row;
    for (const auto& p : r.sweep["points"]) {
      if (p["accuracy"].get<double>() > best) {
        best = p["accuracy"].get<double>();
        row = p;
      }
    }
    html << "<p>" << HtmlEscape(r.name) << ": " << r.sweep["points"].size() << " sweep points; best "
         << "<span class=\"sweep-best\" data-value=\"" << best << "\">" << Acc(best) << "</span> at <code>"
         << HtmlEscape(row.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)) << "</code></p>\n";
    md << r.name << ": " << r.sweep["points"].size() << " sweep points; best " << Acc(best) << " at `" << row.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "`\n\n";
  }

  html << "<h2>Galleries</h2>\n";
  md << "## Galleries\n\n";
  for (const auto& r : runs) {
    const fs::path gdir = fs::path(r.dir) / "figures" / "gallery";
    if (!fs::is_directory(gdir)) continue;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(gdir)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    html << "<details><summary>" << HtmlEscape(r.name) << ": true positives, false positives, false negatives</summary>\n";
    int shown = 0;
    for (const auto& f : files) {
      if (shown++ >= opts.gallery_classes) break;
      figs.Add(r, f, r.name + ": " + f.stem().string(), html, md);
    }
    html << "</details>\n";
  }

  html << "<h2>Parameters</h2>\n";
  md << "## Parameters\n\n";
  for (const auto& r : runs) {
    const auto& p = !r.results.is_null() ? r.results["params"] : r.sweep["base"];
    html << "<details><summary>" << HtmlEscape(r.name) << "</summary><pre>" << HtmlEscape(p.dump(2, ' ', false, nlohmann::json::error_handler_t::replace)) << "</pre></details>\n";
    md << "### " << r.name << "\n\n```json\n" << p.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n```\n\n";
  }
  // Marks how many figures decoded, for readers and for the browser test.
  html << "<script>window.addEventListener('load',function(){var m=document.images,ok=0;"
          "for(var i=0;i<m.length;++i)if(m[i].complete&&m[i].naturalWidth>0)++ok;"
          "document.body.setAttribute('data-images',ok+'/'+m.length);});</script>\n";
  html << "</body></html>\n";
  const fs::path index = fs::path(out_dir) / "index.html";
  WriteFileAtomic(index, html.str());
  WriteFileAtomic(fs::path(out_dir) / "report.md", md.str());
  return index.string();
}

}  // namespace scenelab::eval

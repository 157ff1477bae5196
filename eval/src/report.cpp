#include "scenelab/eval/report.h"

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "scenelab/data/dataset.h"
#include "scenelab/data/error.h"
#include "scenelab/data/io.h"
#include "scenelab/eval/confusion.h"
#include "scenelab/eval/figures.h"
#include "scenelab/eval/stats.h"

namespace fs = std::filesystem;

namespace scenelab::eval {

std::string HtmlEscape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&':
        o += "&amp;";
        break;
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '"':
        o += "&quot;";
        break;
      case '\'':
        o += "&#39;";
        break;
      default:
        o += c;
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

std::string Ci(const nlohmann::json& v) {
  if (!v.is_array() || v.size() != 2 || !v[0].is_number()) return "-";
  return fmt::format("[{:.4f}, {:.4f}]", v[0].get<double>(), v[1].get<double>());
}

// One "|---|" per column: GitHub-flavoured Markdown needs exactly that many.
std::string MarkdownSeparator(std::size_t columns) {
  std::string s = "|";
  for (std::size_t i = 0; i < columns; ++i) s += "---|";
  return s + "\n";
}

// A table cell: pipes and newlines would break the row.
std::string MdCell(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '|')
      o += "\\|";
    else if (c == '\n')
      o += ' ';
    else
      o += c;
  }
  return o;
}

// LaTeX text: the ten special characters escaped.
std::string Tex(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&':
      case '%':
      case '$':
      case '#':
      case '_':
      case '{':
      case '}':
        o += '\\';
        o += c;
        break;
      case '~':
        o += "\\textasciitilde{}";
        break;
      case '^':
        o += "\\textasciicircum{}";
        break;
      case '\\':
        o += "\\textbackslash{}";
        break;
      default:
        o += c;
    }
  }
  return o;
}

// A booktabs table (\toprule, \midrule, \bottomrule), ready to \input.
std::string BooktabsTable(const std::string& caption, const std::vector<std::string>& header,
                          const std::vector<std::vector<std::string>>& rows, const std::string& align) {
  std::ostringstream t;
  t << "% Written by scenelab report; needs \\usepackage{booktabs}.\n\\begin{table}[t]\n\\centering\n\\caption{"
    << Tex(caption) << "}\n\\begin{tabular}{" << align << "}\n\\toprule\n";
  for (std::size_t i = 0; i < header.size(); ++i) t << (i ? " & " : "") << Tex(header[i]);
  t << " \\\\\n\\midrule\n";
  for (const auto& r : rows) {
    for (std::size_t i = 0; i < r.size(); ++i) t << (i ? " & " : "") << Tex(r[i]);
    t << " \\\\\n";
  }
  t << "\\bottomrule\n\\end{tabular}\n\\end{table}\n";
  return t.str();
}

// The headline point of a results.json: `selected` where present (older runs
// and CNNs without it fall back to `best`).
const nlohmann::json& Headline(const nlohmann::json& j) {
  static const nlohmann::json kEmpty = nlohmann::json::object();
  if (j.contains("selected")) return j["selected"];
  if (j.contains("best")) return j["best"];
  return kEmpty;
}

std::string Setting(const nlohmann::json& p) {
  if (p.contains("k") && !p["k"].is_null()) return fmt::format("{} k={}", p.value("metric", ""), p["k"].get<int>());
  if (p.contains("c") && !p["c"].is_null()) return fmt::format("C={}", p["c"].get<double>());
  if (p.contains("epoch") && !p["epoch"].is_null()) return fmt::format("epoch {}", p["epoch"].get<int>());
  return "-";
}

class Figures {
 public:
  Figures(fs::path out) : out_(std::move(out)) {}
  // HTML <img> with the PNG embedded; Markdown link to a copy.
  void Add(const Run& r, const fs::path& png, const std::string& caption, std::ostringstream& html,
           std::ostringstream& md) {
    if (!fs::exists(png)) return;
    const auto bytes = ReadFileBytes(png);
    html << "<figure><img alt=\"" << HtmlEscape(caption) << "\" src=\"data:image/png;base64," << Base64(bytes)
         << "\"><figcaption>" << HtmlEscape(caption) << "</figcaption></figure>\n";
    const fs::path rel = fs::path("figures") / r.safe / png.filename();
    WriteFileAtomic(out_ / rel, std::string(bytes.begin(), bytes.end()));
    md << "![" << caption << "](" << rel.string() << ")\n\n";
  }
  // A figure the report drew itself under out/figures/report/.
  void Embed(const std::string& name, const std::string& caption, std::ostringstream& html, std::ostringstream& md) {
    const fs::path rel = fs::path("figures") / "report" / (name + ".png");
    const auto bytes = ReadFileBytes(out_ / rel);
    html << "<figure><img alt=\"" << HtmlEscape(caption) << "\" src=\"data:image/png;base64," << Base64(bytes)
         << "\"><figcaption>" << HtmlEscape(caption) << " (also <code>"
         << HtmlEscape((fs::path("figures") / "report" / (name + ".pdf")).string())
         << "</code>)</figcaption></figure>\n";
    md << "![" << caption << "](" << rel.string() << ") ([PDF](figures/report/" << name << ".pdf))\n\n";
  }

 private:
  fs::path out_;
};

Predictions ReadRunPredictions(const std::string& dir, const nlohmann::json& results) {
  const fs::path csv = fs::path(dir) / "predictions.csv";
  if (!fs::exists(csv)) throw Error(dir + ": no predictions.csv (needed for a significance test)");
  std::vector<std::string> classes;
  if (results.contains("classes")) classes = results["classes"].get<std::vector<std::string>>();
  return Predictions::FromCsv(ReadFileText(csv), classes, csv.string());
}

std::string PValue(double p) { return p < 1e-4 ? fmt::format("{:.1e}", p) : fmt::format("{:.4f}", p); }

// Runs made with repeated random splits: every split's accuracy, and a
// paired t-test (Holm-corrected) between runs that used the same splits.
void RepeatsSection(const std::vector<Run>& runs, const fs::path& out_dir, std::ostringstream& html,
                    std::ostringstream& md) {
  std::vector<std::size_t> idx;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    if (!runs[i].results.is_null() && runs[i].results.contains("repeats")) idx.push_back(i);
  }
  if (idx.empty()) return;
  html << "<h2>Repeated splits</h2>\n<table class=\"repeats\"><tr><th>run</th><th>splits</th><th>mean</th><th>std</th>"
          "<th>95% t-interval</th><th>every split</th></tr>\n";
  md << "## Repeated splits\n\n| run | splits | mean | std | 95% t-interval | every split |\n" << MarkdownSeparator(6);
  for (auto i : idx) {
    const auto& r = runs[i].results["repeats"];
    std::string values;
    for (const auto& v : r["accuracy"]) values += (values.empty() ? "" : ", ") + fmt::format("{:.4f}", v.get<double>());
    html << "<tr><td class=\"name\">" << HtmlEscape(runs[i].name) << "</td><td>" << r["count"].get<int>() << "</td><td>"
         << Acc(r["mean"]) << "</td><td>" << Acc(r["std"]) << "</td><td>" << Ci(r["ci95"]) << "</td><td class=\"name\">"
         << values << "</td></tr>\n";
    md << "| " << MdCell(runs[i].name) << " | " << r["count"].get<int>() << " | " << Acc(r["mean"]) << " | "
       << Acc(r["std"]) << " | " << Ci(r["ci95"]) << " | " << values << " |\n";
  }
  html << "</table>\n";
  md << "\n";
  // Pairs on the same splits (equal per-split test fingerprints).
  auto prints = [&](std::size_t i) {
    std::vector<std::string> f;
    for (const auto& s : runs[i].results["repeats"]["splits"]) f.push_back(s.value("test_fingerprint", std::string()));
    return f;
  };
  std::vector<std::pair<std::size_t, std::size_t>> pairs;
  std::vector<TTestResult> tests;
  std::vector<double> raw;
  for (std::size_t a = 0; a < idx.size(); ++a) {
    for (std::size_t b = a + 1; b < idx.size(); ++b) {
      if (prints(idx[a]) != prints(idx[b])) continue;
      tests.push_back(PairedTTest(runs[idx[a]].results["repeats"]["accuracy"].get<std::vector<double>>(),
                                  runs[idx[b]].results["repeats"]["accuracy"].get<std::vector<double>>()));
      raw.push_back(tests.back().p_value);
      pairs.push_back({idx[a], idx[b]});
    }
  }
  if (pairs.empty()) return;
  const auto adj = HolmAdjust(raw);
  html << "<p>Paired t-test over the splits, Holm-corrected:</p>\n<ul>\n";
  md << "Paired t-test over the splits, Holm-corrected:\n\n";
  std::vector<std::vector<std::string>> rows;
  for (std::size_t k = 0; k < pairs.size(); ++k) {
    const auto& [a, b] = pairs[k];
    const auto& t = tests[k];
    const bool sig = adj[k] < 0.05;
    const std::string better = t.mean_difference >= 0 ? runs[a].name : runs[b].name;
    const std::string worse = t.mean_difference >= 0 ? runs[b].name : runs[a].name;
    const std::string line = fmt::format(
        "{} vs {}: {} (mean difference {:+.4f}; t = {:.3g}, {} degrees of freedom, p = {:.3g}, Holm p = {:.3g})",
        runs[a].name, runs[b].name,
        sig ? better + " is significantly better than " + worse + " at 0.05"
            : std::string("no significant difference at 0.05"),
        t.mean_difference, t.t, t.df, t.p_value, adj[k]);
    html << "<li>" << HtmlEscape(line) << "</li>\n";
    md << "- " << line << "\n";
    rows.push_back({runs[a].name, runs[b].name, fmt::format("{:+.4f}", t.mean_difference), fmt::format("{:.3g}", t.t),
                    PValue(t.p_value), PValue(adj[k]) + (sig ? "*" : "")});
  }
  html << "</ul>\n";
  md << "\n";
  WriteFileAtomic(out_dir / "tables" / "paired_t.tex",
                  BooktabsTable("Paired t-tests over repeated random splits, Holm-corrected; * significant at 0.05",
                                {"A", "B", "mean difference", "t", "p", "Holm p"}, rows, "llrrrr"));
}

// Accuracy with its interval per run (figure + LaTeX), and per-class recall
// for runs that share a class list (grouped bars + LaTeX).
void AccuracyFiguresAndTables(const std::vector<Run>& runs, const fs::path& out_dir, Figures& figs,
                              std::ostringstream& html, std::ostringstream& md) {
  std::vector<IntervalPoint> points;
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : runs) {
    if (r.results.is_null()) continue;
    const auto& sel = Headline(r.results);
    const auto& ci = sel.value("accuracy_ci95", nlohmann::json());
    const double acc = sel.value("accuracy", 0.0);
    IntervalPoint pt{r.name, acc, acc, acc};
    if (ci.is_array() && ci.size() == 2) {
      pt.lo = ci[0].get<double>();
      pt.hi = ci[1].get<double>();
    }
    points.push_back(pt);
    rows.push_back({r.name, r.results.value("pipeline", ""), fmt::format("{:.4f}", acc), Ci(ci),
                    sel.contains("top5_accuracy") ? Acc(sel["top5_accuracy"]) : "--", Setting(sel),
                    Acc(r.results.value("best", nlohmann::json::object()).value("accuracy", nlohmann::json()))});
  }
  if (points.empty()) return;
  fs::create_directories(out_dir / "tables");
  WriteFileAtomic(
      out_dir / "tables" / "accuracy.tex",
      BooktabsTable("Test accuracy of the point selected without the test labels, with its 95% Wilson "
                    "interval; the oracle is the best point chosen on the test labels",
                    {"run", "pipeline", "accuracy", "95% interval", "top-5", "selected", "oracle"}, rows, "llrrrlr"));
  DrawIntervalChart(points, "Accuracy with 95% interval", "test accuracy (selected point)",
                    (out_dir / "figures" / "report" / "accuracy_intervals").string());
  html << "<div class=\"row\">\n";
  figs.Embed("accuracy_intervals", "Accuracy of each run with its 95% interval", html, md);

  // Per-class recall, grouped by class, for the runs sharing the first run's classes.
  std::vector<std::string> classes;
  std::vector<Series> series;
  for (const auto& r : runs) {
    if (r.results.is_null() || !r.results.contains("classes") || !r.results.contains("confusion")) continue;
    const auto cls = r.results["classes"].get<std::vector<std::string>>();
    if (classes.empty()) classes = cls;
    if (cls != classes) continue;
    Series s{r.name, {}};
    const auto& cm = r.results["confusion"];
    for (std::size_t c = 0; c < cls.size(); ++c) {
      double row = 0;
      for (const auto& v : cm[c]) row += v.get<double>();
      s.points.push_back({static_cast<double>(c), row > 0 ? cm[c][c].get<double>() / row : 0.0});
    }
    series.push_back(std::move(s));
  }
  if (!series.empty()) {
    DrawGroupedBars(classes, series, "Per-class recall", "recall",
                    (out_dir / "figures" / "report" / "per_class_recall").string());
    figs.Embed("per_class_recall", "Per-class recall of each run, in class order", html, md);
    std::vector<std::vector<std::string>> pc;
    for (std::size_t c = 0; c < classes.size(); ++c) {
      std::vector<std::string> row{classes[c]};
      for (const auto& s : series) row.push_back(fmt::format("{:.3f}", s.points[c].second));
      pc.push_back(row);
    }
    std::vector<std::string> header{"class"};
    for (const auto& s : series) header.push_back(s.name);
    WriteFileAtomic(out_dir / "tables" / "per_class.tex",
                    BooktabsTable("Per-class recall of each run", header, pc, "l" + std::string(series.size(), 'r')));
  }
  html << "</div>\n";
}

// Where two pipelines disagree: test images one gets right and the other
// wrong, both ways, for the first pairs of a test set. Needs image files
// (folder datasets); in-memory sources (IDX, CIFAR) are said to be absent.
void DisagreementGalleries(const SignificanceTable& t, const std::vector<Predictions>& ps, const fs::path& out_dir,
                           Figures& figs, std::ostringstream& html, std::ostringstream& md) {
  constexpr std::size_t kPairs = 3, kPerSide = 8;
  if (!ps.empty() && !ps[0].rows().empty() && ps[0].rows()[0].source.find('#') != std::string::npos) {
    html << "<p>Disagreement galleries need image files; these test images live inside dataset files.</p>\n";
    md << "Disagreement galleries need image files; these test images live inside dataset files.\n\n";
    return;
  }
  html << "<h3>Where they disagree</h3>\n<div class=\"row\">\n";
  md << "### Where they disagree\n\n";
  for (std::size_t p = 0; p < t.pairs.size() && p < kPairs; ++p) {
    const auto a = static_cast<std::size_t>(t.pairs[p].a), b = static_cast<std::size_t>(t.pairs[p].b);
    for (int side = 0; side < 2; ++side) {
      const std::size_t right = side == 0 ? a : b, wrong = side == 0 ? b : a;
      std::vector<Thumb> thumbs;
      const auto& rr = ps[right].rows();
      const auto& rw = ps[wrong].rows();
      const auto& names = ps[wrong].class_names();
      // Candidates per true class, then taken round robin so the gallery spans the classes.
      std::map<int, std::vector<std::size_t>> by_class;
      for (std::size_t i = 0; i < rr.size(); ++i) {
        if (rr[i].predicted == rr[i].truth && rw[i].predicted != rw[i].truth) by_class[rr[i].truth].push_back(i);
      }
      std::vector<std::size_t> chosen;
      for (std::size_t round = 0; chosen.size() < kPerSide; ++round) {
        bool any = false;
        for (const auto& [c, idx] : by_class) {
          if (round < idx.size() && chosen.size() < kPerSide) {
            chosen.push_back(idx[round]);
            any = true;
          }
        }
        if (!any) break;
      }
      auto name = [&](int c) {
        return c >= 0 && static_cast<std::size_t>(c) < names.size() ? names[static_cast<std::size_t>(c)]
                                                                    : std::to_string(c);
      };
      for (std::size_t i : chosen) {
        Thumb th;
        try {
          th.image = data::DecodeImageFile(rr[i].source);
        } catch (const Error&) {
          continue;  // moved or unreadable since the run: leave it out
        }
        th.caption = name(rr[i].truth) + " / " + name(rw[i].predicted);
        thumbs.push_back(std::move(th));
      }
      if (thumbs.empty()) continue;
      const std::string file = SafeFileName("disagree-" + t.names[right] + "-right-" + t.names[wrong] + "-wrong");
      const std::string title =
          t.names[right] + " right, " + t.names[wrong] + " wrong (true / " + t.names[wrong] + "'s guess)";
      DrawGallery(thumbs, title, (out_dir / "figures" / "report" / (file + ".png")).string());
      figs.Embed(file, title, html, md);
    }
  }
  html << "</div>\n";
}

// McNemar p-values between every two runs scored on the same test images;
// runs on other test sets are named, not compared.
void SignificanceSection(const std::vector<Run>& runs, const fs::path& out_dir, Figures& figs, std::ostringstream& html,
                         std::ostringstream& md) {
  std::map<std::string, std::vector<std::size_t>> groups;  // test-set fingerprint -> runs
  std::vector<Predictions> preds(runs.size());
  for (std::size_t i = 0; i < runs.size(); ++i) {
    if (runs[i].results.is_null() || !fs::exists(fs::path(runs[i].dir) / "predictions.csv")) continue;
    preds[i] = ReadRunPredictions(runs[i].dir, runs[i].results);
    groups[TestSetFingerprint(preds[i])].push_back(i);
  }
  bool any = false;
  std::size_t with_predictions = 0;
  for (const auto& [fp, idx] : groups) {
    any = any || idx.size() > 1;
    with_predictions += idx.size();
  }
  if (with_predictions < 2) return;
  if (!any) {
    html << "<h2>Significance</h2>\n<p class=\"no-significance\">These runs were scored on " << groups.size()
         << " different test sets (test-set fingerprints differ), so no two can be compared image by image; no "
            "significance test is reported.</p>\n";
    md << "## Significance\n\nThese runs were scored on " << groups.size()
       << " different test sets (test-set fingerprints differ), so no two can be compared image by image; no "
          "significance test is reported.\n\n";
    return;
  }
  html << "<h2>Significance</h2>\n<p>McNemar's test on the test images both runs classified (exact binomial below 25 "
          "discordant images, chi-squared with continuity correction above), Holm-corrected across the pairs of each "
          "test set. Cells are Holm-adjusted p-values; significant at 0.05 in bold.</p>\n";
  md << "## Significance\n\nMcNemar's test on the same test images (exact binomial below 25 discordant images, "
        "chi-squared with continuity correction above), Holm-corrected across pairs. Cells are Holm-adjusted p-values; "
        "**bold** is significant at 0.05.\n\n";
  if (groups.size() > 1) {
    html << "<p>These runs use " << groups.size()
         << " different test sets; only runs on the same test set are compared.</p>\n";
    md << "These runs use " << groups.size()
       << " different test sets; only runs on the same test set are compared.\n\n";
  }
  for (const auto& [fp, idx] : groups) {
    if (idx.size() < 2) continue;
    std::vector<std::string> names;
    std::vector<Predictions> ps;
    for (auto i : idx) {
      names.push_back(runs[i].name);
      ps.push_back(preds[i]);
    }
    const auto t = CompareOnSameImages(names, ps);
    html << "<table class=\"pvalues\" data-testset=\"" << fp << "\"><tr><th>test set " << fp << "</th>";
    md << "| test set " << fp << " |";
    for (const auto& n : names) {
      html << "<th>" << HtmlEscape(n) << "</th>";
      md << " " << MdCell(n) << " |";
    }
    html << "</tr>\n";
    md << "\n" << MarkdownSeparator(1 + names.size());
    for (std::size_t a = 0; a < names.size(); ++a) {
      html << "<tr><td class=\"name\">" << HtmlEscape(names[a]) << "</td>";
      md << "| " << MdCell(names[a]) << " |";
      for (std::size_t b = 0; b < names.size(); ++b) {
        const double p = t.p_holm[a][b];
        const bool sig = a != b && p < t.alpha;
        html << "<td data-p=\"" << fmt::format("{}", p) << "\">" << (sig ? "<b>" : "") << (a == b ? "-" : PValue(p))
             << (sig ? "</b>" : "") << "</td>";
        md << " " << (sig ? "**" : "") << (a == b ? "-" : PValue(p)) << (sig ? "**" : "") << " |";
      }
      html << "</tr>\n";
      md << "\n";
    }
    html << "</table>\n<ul>\n";
    md << "\n";
    for (const auto& st : t.Statements()) {
      html << "<li>" << HtmlEscape(st) << "</li>\n";
      md << "- " << st << "\n";
    }
    html << "</ul>\n";
    md << "\n";
    std::vector<std::vector<std::string>> rows;
    for (std::size_t a = 0; a < names.size(); ++a) {
      std::vector<std::string> row{names[a]};
      for (std::size_t b = 0; b < names.size(); ++b) {
        row.push_back(a == b ? "--" : PValue(t.p_holm[a][b]) + (t.p_holm[a][b] < t.alpha ? "*" : ""));
      }
      rows.push_back(row);
    }
    std::vector<std::string> header{"Holm-adjusted McNemar p"};
    header.insert(header.end(), names.begin(), names.end());
    WriteFileAtomic(
        out_dir / "tables" / ("pvalues-" + fp + ".tex"),
        BooktabsTable(
            "McNemar p-values between pipelines on the same test images, Holm-corrected; * significant at 0.05", header,
            rows, "l" + std::string(names.size(), 'r')));
    DisagreementGalleries(t, ps, out_dir, figs, html, md);
  }
}
}  // namespace

SignificanceTable RunSignificance(const std::vector<std::string>& run_dirs, const std::vector<std::string>& names,
                                  double alpha) {
  std::vector<Predictions> ps;
  for (const auto& d : run_dirs) {
    const fs::path res = fs::path(d) / "results.json";
    if (!fs::exists(res)) throw Error(d + ": no results.json");
    ps.push_back(ReadRunPredictions(d, ReadJson(res)));
  }
  return CompareOnSameImages(names, ps, alpha);
}

std::string BuildReport(const std::vector<std::string>& run_dirs, const std::string& out_dir,
                        const ReportOptions& opts) {
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

  // Accuracy / time / parameters table. The headline is the point selected
  // without the test labels; the test-optimal one is shown as the oracle.
  html << "<h2>Accuracy</h2>\n<p>Accuracy is the point chosen on training data alone (cross-validation or the "
          "validation split), with its 95% Wilson interval. The oracle column is the best point chosen on the test "
          "labels: optimistic, shown only for reference.</p>\n"
          "<table id=\"accuracy\"><tr><th>run</th><th>pipeline</th><th>accuracy</th><th>95% interval</th><th>top-5 "
          "[95%]</th>"
          "<th>selected setting</th><th>how selected</th><th>oracle (chosen on test)</th>"
          "<th>mean per-class</th><th>train / test</th><th>time (s)</th><th>parameters</th></tr>\n";
  md << "## Accuracy\n\nAccuracy is the point chosen on training data alone, with its 95% Wilson interval; the oracle "
        "column is the best point chosen on the test labels (optimistic, for reference only).\n\n"
        "| run | pipeline | accuracy | 95% interval | top-5 [95%] | selected setting | how selected | oracle (chosen "
        "on test) | "
        "mean per-class | train / test | time (s) | parameters |\n"
     << MarkdownSeparator(12);
  for (const auto& r : runs) {
    if (r.results.is_null()) continue;
    const auto& j = r.results;
    const auto& best = j.value("best", nlohmann::json::object());
    const auto& sel = Headline(j);
    std::string params = "-";
    if (j.contains("model_params")) params = fmt::format("{}", j["model_params"].get<long long>());
    const double total = j.contains("timings_s") ? j["timings_s"].value("total_s", 0.0) : 0.0;
    const std::string acc = Acc(sel.value("accuracy", nlohmann::json()));
    const std::string ci = Ci(sel.value("accuracy_ci95", nlohmann::json()));
    const std::string how = sel.value("how", std::string("-"));
    const std::string top5 = sel.contains("top5_accuracy")
                                 ? Acc(sel["top5_accuracy"]) + " " + Ci(sel.value("top5_ci95", nlohmann::json()))
                                 : "-";
    const std::string oracle = Acc(best.value("accuracy", nlohmann::json())) + " (" + Setting(best) + ")";
    html << "<tr><td class=\"name\">" << HtmlEscape(r.name) << "</td><td class=\"name\">"
         << HtmlEscape(j.value("pipeline", "")) << "</td><td class=\"acc\" data-run=\"" << HtmlEscape(r.name)
         << "\" data-value=\"" << fmt::format("{}", sel.value("accuracy", 0.0)) << "\">" << acc << "</td><td>" << ci
         << "</td><td>" << top5 << "</td><td>" << HtmlEscape(Setting(sel)) << "</td><td class=\"name\">"
         << HtmlEscape(how) << "</td><td class=\"oracle\">" << HtmlEscape(oracle) << "</td><td>"
         << Acc(j.value("mean_per_class_accuracy", nlohmann::json())) << "</td><td>" << j.value("train_size", 0)
         << " / " << j.value("test_size", 0) << "</td><td>" << fmt::format("{:.1f}", total) << "</td><td>" << params
         << "</td></tr>\n";
    md << "| " << MdCell(r.name) << " | " << MdCell(j.value("pipeline", "")) << " | " << acc << " | " << ci << " | "
       << top5 << " | " << MdCell(Setting(sel)) << " | " << MdCell(how) << " | " << MdCell(oracle) << " | "
       << Acc(j.value("mean_per_class_accuracy", nlohmann::json())) << " | " << j.value("train_size", 0) << " / "
       << j.value("test_size", 0) << " | " << fmt::format("{:.1f}", total) << " | " << params << " |\n";
  }
  html << "</table>\n";
  md << "\n";

  AccuracyFiguresAndTables(runs, out_dir, figs, html, md);
  RepeatsSection(runs, out_dir, html, md);
  SignificanceSection(runs, out_dir, figs, html, md);

  // Per-k accuracy tables for kNN runs, k in numeric order.
  for (const auto& r : runs) {
    if (r.results.is_null() || r.results.value("kind", "") != "classic" || !r.results.contains("accuracy")) continue;
    const auto& acc = r.results["accuracy"];
    const auto& cv = r.results.value("cv_accuracy", nlohmann::json::object());
    std::vector<std::string> metrics;
    for (const auto& [m, _] : acc.items()) metrics.push_back(m);
    if (metrics.empty() || !acc[metrics.front()].is_object()) continue;  // SVM runs have no k
    std::vector<std::string> cols;
    for (const auto& m : metrics) {
      if (cv.contains(m)) cols.push_back(m + " cv");
      cols.push_back(m + " test");
    }
    html << "<h3>" << HtmlEscape(r.name) << ": accuracy by k</h3>\n<table class=\"byk\"><tr><th>k</th>";
    md << "### " << MdCell(r.name) << ": accuracy by k\n\n| k |";
    for (const auto& c : cols) {
      html << "<th>" << HtmlEscape(c) << "</th>";
      md << " " << c << " |";
    }
    html << "</tr>\n";
    md << "\n" << MarkdownSeparator(1 + cols.size());
    std::vector<std::string> ks;
    for (const auto& [k, _] : acc[metrics.front()].items()) ks.push_back(k);
    std::sort(ks.begin(), ks.end(),
              [](const std::string& a, const std::string& b) { return std::stoi(a) < std::stoi(b); });
    for (const auto& k : ks) {
      html << "<tr><td>" << k << "</td>";
      md << "| " << k << " |";
      for (const auto& m : metrics) {
        if (cv.contains(m)) {
          html << "<td>" << Acc(cv[m].value(k, nlohmann::json())) << "</td>";
          md << " " << Acc(cv[m].value(k, nlohmann::json())) << " |";
        }
        html << "<td>" << Acc(acc[m].value(k, nlohmann::json())) << "</td>";
        md << " " << Acc(acc[m].value(k, nlohmann::json())) << " |";
      }
      html << "</tr>\n";
      md << "\n";
    }
    html << "</table>\n";
    md << "\n";
  }

  html << "<h2>Confusion matrices</h2>\n<p>Rows are true classes, columns predicted, in the dataset's class order; "
          "colours are row-normalised on one fixed 0..1 scale.</p>\n<div class=\"row\">\n";
  md << "## Confusion matrices\n\nRows are true classes, columns predicted; colours are row-normalised on a fixed 0..1 "
        "scale.\n\n";
  for (const auto& r : runs)
    figs.Add(r, fs::path(r.dir) / "figures" / "confusion.png", r.name + ": confusion", html, md);
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
    const auto dump = [](const nlohmann::json& v) {
      return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    };
    const nlohmann::json best = r.sweep.value("best", nlohmann::json());
    const nlohmann::json sel = r.sweep.value("selected", nlohmann::json());
    html << "<p>" << HtmlEscape(r.name) << ": " << r.sweep["points"].size() << " sweep points";
    md << r.name << ": " << r.sweep["points"].size() << " sweep points";
    if (!sel.is_null()) {
      html << "; selected by cross-validation on train <span class=\"sweep-selected\" data-value=\""
           << fmt::format("{}", sel.value("accuracy", 0.0)) << "\">" << Acc(sel["accuracy"]) << "</span> at <code>"
           << HtmlEscape(dump(sel)) << "</code>";
      md << "; selected by cross-validation on train " << Acc(sel["accuracy"]) << " at `" << dump(sel) << "`";
    }
    if (!best.is_null()) {
      html << "; oracle (chosen on test) <span class=\"sweep-best\" data-value=\""
           << fmt::format("{}", best.value("accuracy", 0.0)) << "\">" << Acc(best["accuracy"]) << "</span> at <code>"
           << HtmlEscape(dump(best)) << "</code>";
      md << "; oracle (chosen on test) " << Acc(best["accuracy"]) << " at `" << dump(best) << "`";
    }
    html << "</p>\n";
    md << "\n\n";
  }

  html << "<h2>Galleries</h2>\n";
  md << "## Galleries\n\n";
  for (const auto& r : runs) {
    const fs::path gdir = fs::path(r.dir) / "figures" / "gallery";
    if (!fs::is_directory(gdir)) continue;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(gdir)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    html << "<details><summary>" << HtmlEscape(r.name)
         << ": true positives, false positives, false negatives</summary>\n";
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
    html << "<details><summary>" << HtmlEscape(r.name) << "</summary><pre>"
         << HtmlEscape(p.dump(2, ' ', false, nlohmann::json::error_handler_t::replace)) << "</pre></details>\n";
    md << "### " << r.name << "\n\n```json\n"
       << p.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n```\n\n";
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

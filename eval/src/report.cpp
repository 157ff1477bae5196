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

#include "report_doc.h"

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

// Figures of the runs (copied beside report.md) and figures the report drew
// itself under out/figures/report/ (PNG and PDF).
class Figures {
 public:
  explicit Figures(fs::path out) : out_(std::move(out)) {}
  // A run's PNG, when it has one.
  void Add(const Run& r, const fs::path& png, const std::string& caption, report::Document* doc) const {
    if (!fs::exists(png)) return;
    report::Figure f;
    f.caption = caption;
    f.png = ReadFileBytes(png);
    const fs::path rel = fs::path("figures") / r.safe / png.filename();
    WriteFileAtomic(out_ / rel, std::string(f.png.begin(), f.png.end()));
    f.link = rel.string();
    doc->Add(std::move(f));
  }
  void Embed(const std::string& name, const std::string& caption, report::Document* doc) const {
    report::Figure f;
    f.caption = caption;
    const fs::path rel = fs::path("figures") / "report" / (name + ".png");
    f.png = ReadFileBytes(out_ / rel);
    f.link = rel.string();
    f.pdf = (fs::path("figures") / "report" / (name + ".pdf")).string();
    doc->Add(std::move(f));
  }

 private:
  fs::path out_;
};

report::Cell NameCell(const std::string& s) { return {report::Plain(s), true, {}}; }
report::Cell NumberCell(const std::string& s) { return {report::Plain(s), false, {}}; }

std::vector<report::Text> Header(const std::vector<std::string>& names) {
  std::vector<report::Text> h;
  h.reserve(names.size());
  for (const auto& n : names) h.push_back(report::Plain(n));
  return h;
}

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
void RepeatsSection(const std::vector<Run>& runs, const fs::path& out_dir, report::Document* doc) {
  std::vector<std::size_t> idx;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    if (!runs[i].results.is_null() && runs[i].results.contains("repeats")) idx.push_back(i);
  }
  if (idx.empty()) return;
  doc->Heading(2, "Repeated splits");
  report::Table table;
  table.attrs = {{"class", "repeats"}};
  table.header = Header({"run", "splits", "mean", "std", "95% t-interval", "every split"});
  for (auto i : idx) {
    const auto& r = runs[i].results["repeats"];
    std::string values;
    for (const auto& v : r["accuracy"]) values += (values.empty() ? "" : ", ") + fmt::format("{:.4f}", v.get<double>());
    table.rows.push_back({NameCell(runs[i].name), NumberCell(std::to_string(r["count"].get<int>())),
                          NumberCell(Acc(r["mean"])), NumberCell(Acc(r["std"])), NumberCell(Ci(r["ci95"])),
                          NameCell(values)});
  }
  doc->Add(std::move(table));
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
  doc->Paragraph(report::Plain("Paired t-test over the splits, Holm-corrected:"));
  std::vector<report::Text> lines;
  std::vector<std::vector<std::string>> rows;
  for (std::size_t k = 0; k < pairs.size(); ++k) {
    const auto& [a, b] = pairs[k];
    const auto& t = tests[k];
    const bool sig = adj[k] < 0.05;
    const std::string better = t.mean_difference >= 0 ? runs[a].name : runs[b].name;
    const std::string worse = t.mean_difference >= 0 ? runs[b].name : runs[a].name;
    lines.push_back(report::Plain(fmt::format(
        "{} vs {}: {} (mean difference {:+.4f}; t = {:.3g}, {} degrees of freedom, p = {:.3g}, Holm p = {:.3g})",
        runs[a].name, runs[b].name,
        sig ? better + " is significantly better than " + worse + " at 0.05"
            : std::string("no significant difference at 0.05"),
        t.mean_difference, t.t, t.df, t.p_value, adj[k])));
    rows.push_back({runs[a].name, runs[b].name, fmt::format("{:+.4f}", t.mean_difference), fmt::format("{:.3g}", t.t),
                    PValue(t.p_value), PValue(adj[k]) + (sig ? "*" : "")});
  }
  doc->List(std::move(lines));
  WriteFileAtomic(out_dir / "tables" / "paired_t.tex",
                  BooktabsTable("Paired t-tests over repeated random splits, Holm-corrected; * significant at 0.05",
                                {"A", "B", "mean difference", "t", "p", "Holm p"}, rows, "llrrrr"));
}

// Accuracy with its interval per run (figure + LaTeX), and per-class recall
// for runs that share a class list (grouped bars + LaTeX).
void AccuracyFiguresAndTables(const std::vector<Run>& runs, const fs::path& out_dir, const Figures& figs,
                              report::Document* doc) {
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
  doc->BeginRow();
  figs.Embed("accuracy_intervals", "Accuracy of each run with its 95% interval", doc);

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
    figs.Embed("per_class_recall", "Per-class recall of each run, in class order", doc);
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
  doc->EndRow();
}

// Where two pipelines disagree: test images one gets right and the other
// wrong, both ways, for the first pairs of a test set. Needs image files
// (folder datasets); in-memory sources (IDX, CIFAR) are said to be absent.
void DisagreementGalleries(const SignificanceTable& t, const std::vector<Predictions>& ps, const fs::path& out_dir,
                           const Figures& figs, report::Document* doc) {
  constexpr std::size_t kPairs = 3, kPerSide = 8;
  if (!ps.empty() && !ps[0].rows().empty() && ps[0].rows()[0].source.find('#') != std::string::npos) {
    doc->Paragraph(
        report::Plain("Disagreement galleries need image files; these test images live inside dataset files."));
    return;
  }
  doc->Heading(3, "Where they disagree");
  doc->BeginRow();
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
      figs.Embed(file, title, doc);
    }
  }
  doc->EndRow();
}

// McNemar p-values between every two runs scored on the same test images;
// runs on other test sets are named, not compared.
void SignificanceSection(const std::vector<Run>& runs, const fs::path& out_dir, const Figures& figs,
                         report::Document* doc) {
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
  doc->Heading(2, "Significance");
  if (!any) {
    doc->Paragraph(report::Plain(fmt::format("These runs were scored on {} different test sets (test-set "
                                             "fingerprints differ), so no two can be compared image by image; no "
                                             "significance test is reported.",
                                             groups.size())),
                   "no-significance");
    return;
  }
  doc->Paragraph(
      {report::Words(
           "McNemar's test on the test images both runs classified (exact binomial below 25 discordant images, "
           "chi-squared with continuity correction above), Holm-corrected across the pairs of each test set. Cells are "
           "Holm-adjusted p-values; significant at 0.05 in "),
       report::BoldWords("bold"), report::Words(".")});
  if (groups.size() > 1) {
    doc->Paragraph(report::Plain(fmt::format(
        "These runs use {} different test sets; only runs on the same test set are compared.", groups.size())));
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
    report::Table table;
    table.attrs = {{"class", "pvalues"}, {"data-testset", fp}};
    table.header.push_back(report::Plain("test set " + fp));
    for (const auto& n : names) table.header.push_back(report::Plain(n));
    for (std::size_t a = 0; a < names.size(); ++a) {
      std::vector<report::Cell> row{NameCell(names[a])};
      for (std::size_t b = 0; b < names.size(); ++b) {
        const double p = t.p_holm[a][b];
        const bool sig = a != b && p < t.alpha;
        report::Span v = report::Words(a == b ? "-" : PValue(p));
        v.bold = sig;
        row.push_back({{v}, false, {{"data-p", fmt::format("{}", p)}}});
      }
      table.rows.push_back(std::move(row));
    }
    doc->Add(std::move(table));
    std::vector<report::Text> statements;
    for (const auto& st : t.Statements()) statements.push_back(report::Plain(st));
    doc->List(std::move(statements));
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
    DisagreementGalleries(t, ps, out_dir, figs, doc);
  }
}
// The headline table: the point selected without the test labels, the oracle beside it.
void AccuracySection(const std::vector<Run>& runs, report::Document* doc) {
  // Accuracy / time / parameters table. The headline is the point selected
  // without the test labels; the test-optimal one is shown as the oracle.
  doc->Heading(2, "Accuracy");
  doc->Paragraph(report::Plain(
      "Accuracy is the point chosen on training data alone (cross-validation or the validation split), with its 95% "
      "Wilson interval. The oracle column is the best point chosen on the test labels: optimistic, shown only for "
      "reference."));
  report::Table accuracy;
  accuracy.attrs = {{"id", "accuracy"}};
  accuracy.header =
      Header({"run", "pipeline", "accuracy", "95% interval", "top-5 [95%]", "selected setting", "how selected",
              "oracle (chosen on test)", "mean per-class", "train / test", "time (s)", "parameters"});
  for (const auto& r : runs) {
    if (r.results.is_null()) continue;
    const auto& j = r.results;
    const auto& best = j.value("best", nlohmann::json::object());
    const auto& sel = Headline(j);
    std::string params = "-";
    if (j.contains("model_params")) params = fmt::format("{}", j["model_params"].get<long long>());
    const double total = j.contains("timings_s") ? j["timings_s"].value("total_s", 0.0) : 0.0;
    const std::string top5 = sel.contains("top5_accuracy")
                                 ? Acc(sel["top5_accuracy"]) + " " + Ci(sel.value("top5_ci95", nlohmann::json()))
                                 : "-";
    report::Cell acc = NumberCell(Acc(sel.value("accuracy", nlohmann::json())));
    acc.attrs = {{"class", "acc"}, {"data-run", r.name}, {"data-value", fmt::format("{}", sel.value("accuracy", 0.0))}};
    report::Cell oracle = NumberCell(Acc(best.value("accuracy", nlohmann::json())) + " (" + Setting(best) + ")");
    oracle.attrs = {{"class", "oracle"}};
    accuracy.rows.push_back({NameCell(r.name), NameCell(j.value("pipeline", "")), acc,
                             NumberCell(Ci(sel.value("accuracy_ci95", nlohmann::json()))), NumberCell(top5),
                             NumberCell(Setting(sel)), NameCell(sel.value("how", std::string("-"))), oracle,
                             NumberCell(Acc(j.value("mean_per_class_accuracy", nlohmann::json()))),
                             NumberCell(fmt::format("{} / {}", j.value("train_size", 0), j.value("test_size", 0))),
                             NumberCell(fmt::format("{:.1f}", total)), NumberCell(params)});
  }
  doc->Add(std::move(accuracy));
}

// Accuracy by k for kNN runs, k in numeric order.
void AccuracyByKSection(const std::vector<Run>& runs, report::Document* doc) {
  // Per-k accuracy tables for kNN runs, k in numeric order.
  for (const auto& r : runs) {
    if (r.results.is_null() || r.results.value("kind", "") != "classic" || !r.results.contains("accuracy")) continue;
    const auto& acc = r.results["accuracy"];
    const auto& cv = r.results.value("cv_accuracy", nlohmann::json::object());
    std::vector<std::string> metrics;
    for (const auto& [m, _] : acc.items()) metrics.push_back(m);
    if (metrics.empty() || !acc[metrics.front()].is_object()) continue;  // SVM runs have no k
    report::Table byk;
    byk.attrs = {{"class", "byk"}};
    byk.header.push_back(report::Plain("k"));
    for (const auto& m : metrics) {
      if (cv.contains(m)) byk.header.push_back(report::Plain(m + " cv"));
      byk.header.push_back(report::Plain(m + " test"));
    }
    std::vector<std::string> ks;
    for (const auto& [k, _] : acc[metrics.front()].items()) ks.push_back(k);
    std::sort(ks.begin(), ks.end(),
              [](const std::string& a, const std::string& b) { return std::stoi(a) < std::stoi(b); });
    for (const auto& k : ks) {
      std::vector<report::Cell> row{NumberCell(k)};
      for (const auto& m : metrics) {
        if (cv.contains(m)) row.push_back(NumberCell(Acc(cv[m].value(k, nlohmann::json()))));
        row.push_back(NumberCell(Acc(acc[m].value(k, nlohmann::json()))));
      }
      byk.rows.push_back(std::move(row));
    }
    doc->Heading(3, r.name + ": accuracy by k");
    doc->Add(std::move(byk));
  }
}

// The runs' own figures (confusion matrices, sweeps, learning curves) and sweep summaries.
void RunFiguresSection(const std::vector<Run>& runs, const Figures& figs, report::Document* doc) {
  doc->Heading(2, "Confusion matrices");
  doc->Paragraph(report::Plain(
      "Rows are true classes, columns predicted, in the dataset's class order; colours are row-normalised on one "
      "fixed 0..1 scale."));
  doc->BeginRow();
  for (const auto& r : runs) figs.Add(r, fs::path(r.dir) / "figures" / "confusion.png", r.name + ": confusion", doc);
  doc->EndRow();

  doc->Heading(2, "Sweeps and curves");
  doc->BeginRow();
  for (const auto& r : runs) {
    for (const char* f : {"accuracy_vs_k", "sweep_accuracy_vs_k", "sweep_accuracy_vs_step", "sweep_accuracy_vs_vocab",
                          "sweep_accuracy_vs_size", "learning_curve_loss", "learning_curve_accuracy"}) {
      figs.Add(r, fs::path(r.dir) / "figures" / (std::string(f) + ".png"), r.name + ": " + f, doc);
    }
  }
  doc->EndRow();
  for (const auto& r : runs) {
    if (r.sweep.is_null()) continue;
    const auto dump = [](const nlohmann::json& v) {
      return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    };
    const nlohmann::json best = r.sweep.value("best", nlohmann::json());
    const nlohmann::json sel = r.sweep.value("selected", nlohmann::json());
    report::Text line = report::Plain(fmt::format("{}: {} sweep points", r.name, r.sweep["points"].size()));
    if (!sel.is_null()) {
      line.push_back(report::Words("; selected by cross-validation on train "));
      line.push_back(
          report::Marked(Acc(sel["accuracy"]), "sweep-selected", fmt::format("{}", sel.value("accuracy", 0.0))));
      line.push_back(report::Words(" at "));
      line.push_back(report::CodeWords(dump(sel)));
    }
    if (!best.is_null()) {
      line.push_back(report::Words("; oracle (chosen on test) "));
      line.push_back(
          report::Marked(Acc(best["accuracy"]), "sweep-best", fmt::format("{}", best.value("accuracy", 0.0))));
      line.push_back(report::Words(" at "));
      line.push_back(report::CodeWords(dump(best)));
    }
    doc->Paragraph(std::move(line));
  }
}

// Per-class galleries and every run's parameters, collapsed.
void GalleriesAndParameters(const std::vector<Run>& runs, const Figures& figs, const ReportOptions& opts,
                            report::Document* doc) {
  doc->Heading(2, "Galleries");
  for (const auto& r : runs) {
    const fs::path gdir = fs::path(r.dir) / "figures" / "gallery";
    if (!fs::is_directory(gdir)) continue;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(gdir)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    doc->BeginDetails(r.name + ": true positives, false positives, false negatives");
    int shown = 0;
    for (const auto& f : files) {
      if (shown++ >= opts.gallery_classes) break;
      figs.Add(r, f, r.name + ": " + f.stem().string(), doc);
    }
    doc->EndDetails();
  }

  doc->Heading(2, "Parameters");
  for (const auto& r : runs) {
    const auto& p = !r.results.is_null() ? r.results["params"] : r.sweep["base"];
    doc->BeginDetails(r.name);
    doc->Code(p.dump(2, ' ', false, nlohmann::json::error_handler_t::replace), "json");
    doc->EndDetails();
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
  const Figures figs(out_dir);
  report::Document doc;
  std::time_t now = std::time(nullptr);
  char when[64];
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&now));
  doc.Paragraph(report::Plain(fmt::format(
      "Generated {} from {} run folder(s). Every number below is read from the runs' own files.", when, runs.size())));

  AccuracySection(runs, &doc);
  AccuracyFiguresAndTables(runs, out_dir, figs, &doc);
  RepeatsSection(runs, out_dir, &doc);
  SignificanceSection(runs, out_dir, figs, &doc);

  AccuracyByKSection(runs, &doc);
  RunFiguresSection(runs, figs, &doc);
  GalleriesAndParameters(runs, figs, opts, &doc);
  const fs::path index = fs::path(out_dir) / "index.html";
  WriteFileAtomic(index, doc.Html(opts.title));
  WriteFileAtomic(fs::path(out_dir) / "report.md", doc.Markdown(opts.title));
  return index.string();
}

}  // namespace scenelab::eval

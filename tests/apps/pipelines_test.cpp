// The pipelines behind the CLI, on generated folder datasets.
#include <gtest/gtest.h>

#include "expect_error.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <regex>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "fixtures.h"
#include "scenelab/data/cpu.h"
#include "scenelab/data/error.h"
#include "scenelab/data/io.h"
#include "scenelab/data/rng.h"
#include "scenelab/eval/report.h"
#include "scenelab/pipelines/classic.h"
#include "scenelab/pipelines/config.h"
#include "scenelab/pipelines/sweep.h"
#include "small_config.h"

namespace fs = std::filesystem;
using namespace scenelab;
using namespace scenelab::pipelines;
using scenelab::fixtures::TempDir;

namespace {
ClassicConfig BaseConfig(const fs::path& data, const std::string& features) {
  return fixtures::SmallClassicConfig(data, features);
}

nlohmann::json ReadJson(const fs::path& p) { return nlohmann::json::parse(ReadFileText(p)); }
}  // namespace

TEST(Pipelines_Classic, WritesResultsWithEveryDocumentedField) {
  TempDir dir;
  fixtures::WriteFolderDataset(dir / "data", {"stripes_a", "stripes_b", "stripes_c"}, 8, 4);
  for (const std::string features : {"tiny", "bow"}) {
    const fs::path out = dir / ("run-" + features);
    RunClassic(BaseConfig(dir / "data", features), out.string(), nullptr);
    const auto r = ReadJson(out / "results.json");
    for (const char* f : {"params", "seed", "classes", "accuracy", "cv_accuracy", "selected", "best", "confusion",
                          "bootstrap", "macro_f1", "test_fingerprint", "timings_s"}) {
      EXPECT_TRUE(r.contains(f)) << features << " lacks " << f;
    }
    EXPECT_EQ(r["classes"].size(), 3u);
    EXPECT_EQ(r["accuracy"]["l1"].size(), 5u);
    const double best = r["best"]["accuracy"];
    EXPECT_DOUBLE_EQ(
        best,
        r["accuracy"][r["best"]["metric"].get<std::string>()][std::to_string(r["best"]["k"].get<int>())].get<double>());
    // The generated classes are separable: far above chance (1/3).
    EXPECT_GT(best, 0.6) << features;
    long diag = 0, total = 0;
    for (int t = 0; t < 3; ++t) {
      for (int p = 0; p < 3; ++p) {
        total += r["confusion"][t][p].get<long>();
        if (t == p) diag += r["confusion"][t][p].get<long>();
      }
    }
    EXPECT_EQ(total, 12);
    // The confusion matrix is the headline's: the point selected by cross-validation.
    EXPECT_DOUBLE_EQ(static_cast<double>(diag) / total, r["selected"]["accuracy"].get<double>());
    for (const char* f : {"predictions.csv", "confusion.csv", "confusion.json", "figures/confusion.png",
                          "figures/confusion.svg", "figures/confusion.pdf", "figures/accuracy_vs_k.png",
                          "figures/accuracy_vs_k.pdf", "figures/gallery/stripes_a.png"}) {
      EXPECT_TRUE(fs::exists(out / f)) << f;
    }
  }
}

TEST(Pipelines_Classic, SameResultsForOneAndTwoThreadsAndFromCache) {
  TempDir dir;
  fixtures::WriteFolderDataset(dir / "data", {"a", "b"}, 6, 3);
  auto c1 = BaseConfig(dir / "data", "bow");
  c1.threads = 1;
  auto c2 = c1;
  c2.threads = 2;
  const auto r1 = RunClassic(c1, (dir / "t1").string(), nullptr);
  const auto r2 = RunClassic(c2, (dir / "t2").string(), nullptr);
  EXPECT_EQ(r1["accuracy"], r2["accuracy"]);
  EXPECT_EQ(r1["confusion"], r2["confusion"]);
  EXPECT_EQ(ReadFileText(dir / "t1" / "predictions.csv"), ReadFileText(dir / "t2" / "predictions.csv"));
  // Rerun into t1: everything comes from the cache.
  const auto r3 = RunClassic(c1, (dir / "t1").string(), nullptr);
  EXPECT_EQ(r3["computed"]["sift_extractions"], 0);
  EXPECT_EQ(r3["computed"]["vocabularies_built"], 0);
  EXPECT_EQ(r3["accuracy"], r1["accuracy"]);
}

TEST(Pipelines_Classic, StreamedDescriptorsGiveTheSameResults) {
  fixtures::TempDir dir;
  fixtures::WriteFolderDataset(dir / "data", {"a", "b", "c"}, 6, 3);
  auto c = BaseConfig(dir / "data", "bow");
  const auto kept = RunClassic(c, (dir / "kept").string(), nullptr);
  c.max_descriptor_memory = 0;  // force streaming
  const auto streamed = RunClassic(c, (dir / "streamed").string(), nullptr);
  EXPECT_EQ(kept["accuracy"], streamed["accuracy"]);
  EXPECT_EQ(kept["confusion"], streamed["confusion"]);
  EXPECT_EQ(ReadFileText(dir / "kept" / "predictions.csv"), ReadFileText(dir / "streamed" / "predictions.csv"));
  EXPECT_TRUE(streamed["timings_s"].contains("dsift_encode_s"));
  for (const auto& e : fs::directory_iterator(dir / "streamed" / "cache")) {
    EXPECT_EQ(e.path().filename().string().rfind("dsift-", 0), std::string::npos)
        << "streaming keeps no descriptor cache";
  }
}

TEST(Pipelines_Classic, SvmAndEncodingsWriteTheSameResultsLayout) {
  TempDir dir;
  fixtures::WriteFolderDataset(dir / "data", {"stripes_a", "stripes_b", "stripes_c"}, 8, 4);
  struct Case {
    std::string features, homkermap;
    std::vector<int> grids;
  };
  for (const Case& k : {Case{"bow", "chi2", {1, 2}}, Case{"fisher", "none", {}}, Case{"vlad", "none", {1, 2}}}) {
    auto c = BaseConfig(dir / "data", k.features);
    c.classifier = Classifier::kSvm;
    c.homkermap = KernelMapNames().Parse(k.homkermap);
    c.bow.grids = k.grids;
    c.pca_dim = 16;
    c.gmm.components = 4;
    c.vocab.size = 6;
    c.svm.c_grid = {1, 10};
    c.svm.cv_folds = 2;
    const fs::path out = dir / ("svm-" + k.features);
    const auto r = RunClassic(c, out.string(), nullptr);
    EXPECT_EQ(r["pipeline"], k.features + (k.homkermap == "none" ? "" : "+chi2map") + "+svm");
    EXPECT_EQ(r["best"]["metric"], "svm");
    EXPECT_TRUE(r["best"]["k"].is_null());
    EXPECT_DOUBLE_EQ(r["best"]["accuracy"].get<double>(), r["accuracy"]["svm"].get<double>());
    EXPECT_GT(r["best"]["accuracy"].get<double>(), 0.6) << k.features;  // separable classes, chance 1/3
    EXPECT_EQ(r["svm"]["cross_validation"].size(), 2u);
    const double chosen = r["best"]["c"];
    EXPECT_TRUE(chosen == 1 || chosen == 10);
    EXPECT_TRUE(fs::exists(out / "figures/confusion.png"));
    EXPECT_TRUE(r["timings_s"].contains("svm_s"));
    // A rerun loads the model and encodings from the cache.
    const auto again = RunClassic(c, out.string(), nullptr);
    EXPECT_EQ(again["computed"]["vocabularies_built"], 0);
    EXPECT_EQ(again["computed"]["encodings"], 0);
    EXPECT_EQ(again["accuracy"], r["accuracy"]);
  }
  // The kernel map refuses signed features.
  auto bad = BaseConfig(dir / "data", "fisher");
  bad.homkermap = KernelMap::kChi2;
  EXPECT_THROW(RunClassic(bad, (dir / "bad").string(), nullptr), Error);
  EXPECT_MESSAGE(bad.Validate(), "--homkermap needs non-negative features; fisher vectors are signed");
  EXPECT_MESSAGE(ClassifierNames().Parse("forest"), "unknown value 'forest' (expected knn or svm)");
  // Each encoder says whether its vectors can be negative: chi2 refuses
  // signed Fisher vectors as it refuses zero-mean tiny images.
  bad = BaseConfig(dir / "data", "fisher");
  bad.metrics = {classify::Metric::kChi2};
  EXPECT_MESSAGE(bad.Validate(), "--metric chi2 needs non-negative features; fisher vectors are signed (use l1 or l2)");
  bad = BaseConfig(dir / "data", "lbp");
  EXPECT_MESSAGE(bad.Validate(), "--features: unknown value 'lbp' (expected tiny, bow, fisher, vlad, gist)");
}

TEST(Pipelines_Classic, CorruptCacheIsRebuiltNotTrusted) {
  TempDir dir;
  fixtures::WriteFolderDataset(dir / "data", {"a", "b"}, 5, 3);
  auto c = BaseConfig(dir / "data", "tiny");
  const auto r1 = RunClassic(c, (dir / "run").string(), nullptr);
  int flipped = 0;
  for (const auto& e : fs::directory_iterator(dir / "run" / "cache")) {
    auto bytes = ReadFileBytes(e.path());
    bytes[bytes.size() / 2] ^= 0x04;
    fixtures::WriteBytes(e.path(), bytes);
    ++flipped;
  }
  ASSERT_GT(flipped, 0);
  const auto r2 = RunClassic(c, (dir / "run").string(), nullptr);
  EXPECT_EQ(r2["computed"]["tiny_extractions"], 2);  // train and test recomputed
  EXPECT_EQ(r2["accuracy"], r1["accuracy"]);
}

TEST(Pipelines_Classic, KLargerThanTrainingSetIsAClearError) {
  TempDir dir;
  fixtures::WriteFolderDataset(dir / "data", {"a", "b"}, 2, 2);
  auto c = BaseConfig(dir / "data", "tiny");
  c.ks = {1, 5};
  try {
    RunClassic(c, (dir / "run").string(), nullptr);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("k = 5 is larger than the training set (4 images)"), std::string::npos)
        << e.what();
  }
}

TEST(Pipelines_Sweep, ReusesSearchesAndDescriptorsAndFinishedPoints) {
  TempDir dir;
  fixtures::WriteFolderDataset(dir / "data", {"a", "b", "c"}, 6, 3);
  auto base = BaseConfig(dir / "data", "bow");
  base.ks = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  SweepGrid grid;
  grid.vocab_sizes = {5, 10, 15};
  const auto r = RunSweep(base, grid, (dir / "sweep").string(), nullptr);
  // 3 vocabularies x 2 metrics x 10 k = 60 rows from 6 neighbour searches and
  // one descriptor extraction per split.
  EXPECT_EQ(r.json["points"].size(), 60u);
  EXPECT_EQ(r.computed.neighbour_searches, 6);
  EXPECT_EQ(r.computed.sift_extractions, 2);
  EXPECT_EQ(r.computed.vocabularies_built, 3);
  const std::string csv = ReadFileText(dir / "sweep" / "sweep.csv");
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "features,tiny_size,norm,step,bin,vocab,metric,k,cv_accuracy,accuracy,seconds");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 61);
  // Interrupted after the first point: only the rest is recomputed.
  int removed = 0;
  for (const auto& e : fs::directory_iterator(dir / "sweep" / "points")) {
    if (removed++ < 2) fs::remove(e.path());
  }
  const auto again = RunSweep(base, grid, (dir / "sweep").string(), nullptr);
  EXPECT_EQ(again.points_reused, 1);
  EXPECT_EQ(again.computed.neighbour_searches, 4);
  EXPECT_EQ(again.computed.vocabularies_built, 0);  // cached on disk
  ASSERT_EQ(again.json["points"].size(), r.json["points"].size());
  for (std::size_t i = 0; i < r.json["points"].size(); ++i) {
    auto a = again.json["points"][i], b = r.json["points"][i];
    a.erase("seconds");
    b.erase("seconds");
    EXPECT_EQ(a, b) << i;
  }
  EXPECT_EQ(r.json["points"][1]["k"], 2);  // rows in k order
}

TEST(Pipelines_Sweep, TinyGridOverSizeAndNorm) {
  TempDir dir;
  fixtures::WriteFolderDataset(dir / "data", {"a", "b"}, 5, 3);
  auto base = BaseConfig(dir / "data", "tiny");
  SweepGrid grid;
  grid.tiny_sizes = {4, 8};
  grid.norms = {"l1", "l2"};
  const auto r = RunSweep(base, grid, (dir / "sweep").string(), nullptr);
  EXPECT_EQ(r.json["points"].size(), 2u * 2u * 2u * 5u);
  EXPECT_EQ(r.computed.tiny_extractions, 8);  // 4 feature points x 2 splits
  EXPECT_TRUE(fs::exists(dir / "sweep" / "figures" / "sweep_accuracy_vs_size.png"));
}

TEST(Pipelines_Config, YamlAndJsonConfigsWithClearErrors) {
  const auto j = ParseConfigText("k: 1-10\nmetric: [l1, l2]\nvocab: [50, 100]\n", "s.yaml");
  ClassicConfig c;
  SweepGrid g;
  ApplySweepJson(j, &c, &g, "s.yaml");
  EXPECT_EQ(c.ks.size(), 10u);
  EXPECT_EQ(g.vocab_sizes, (std::vector<int>{50, 100}));
  try {
    ApplySweepJson(ParseConfigText("{\"stepp\": [3]}", "s.json"), &c, &g, "s.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("s.json.stepp: unknown sweep parameter"), std::string::npos) << e.what();
  }
  try {
    ParseConfigText("a: [1, 2\nb: 3\n", "bad.yaml");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.yaml:"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ApplyClassicJson(ParseConfigText("{\"sift\": {\"step\": \"five\"}}", "x"), &c, "x"), Error);
}

TEST(Pipelines_Report, HtmlAndMarkdownShowTheRunsNumbers) {
  TempDir dir;
  fixtures::WriteFolderDataset(dir / "data", {"a", "b"}, 5, 3);
  RunClassic(BaseConfig(dir / "data", "tiny"), (dir / "tiny").string(), nullptr);
  const auto r = ReadJson(dir / "tiny" / "results.json");
  const std::string index = eval::BuildReport({(dir / "tiny").string()}, (dir / "report").string());
  const std::string html = ReadFileText(index);
  char acc[32];
  std::snprintf(acc, sizeof acc, "%.4f", r["best"]["accuracy"].get<double>());
  EXPECT_NE(html.find(std::string(">") + acc + "</td>"), std::string::npos);
  EXPECT_NE(html.find("data:image/png;base64,"), std::string::npos);
  const std::string md = ReadFileText(dir / "report" / "report.md");
  EXPECT_NE(md.find(acc), std::string::npos);
  EXPECT_TRUE(fs::exists(dir / "report" / "figures"));
  EXPECT_THROW(eval::BuildReport({(dir / "data").string()}, (dir / "r2").string()), Error);
}

TEST(Pipelines_Classic, ResultsCarrySelectedOracleIntervalsAndCrossValidation) {
  TempDir dir;
  fixtures::WriteFolderDataset(dir / "data", {"a", "b", "c"}, 10, 6);
  const auto r = RunClassic(BaseConfig(dir / "data", "tiny"), (dir / "run").string(), nullptr);
  const auto& sel = r["selected"];
  const std::string m = sel["metric"];
  const std::string k = std::to_string(sel["k"].get<int>());
  // The selected point maximises the cross-validated accuracy, not the test accuracy.
  double best_cv = -1;
  for (const auto& [mm, byk] : r["cv_accuracy"].items()) {
    for (const auto& [kk, a] : byk.items()) best_cv = std::max(best_cv, a.get<double>());
  }
  EXPECT_DOUBLE_EQ(sel["cv_accuracy"].get<double>(), best_cv);
  EXPECT_DOUBLE_EQ(r["cv_accuracy"][m][k].get<double>(), best_cv);
  EXPECT_DOUBLE_EQ(sel["accuracy"].get<double>(), r["accuracy"][m][k].get<double>());
  EXPECT_NE(sel["how"].get<std::string>().find("5-fold stratified cross-validation"), std::string::npos);
  EXPECT_EQ(sel["correct"].get<int>(), static_cast<int>(std::lround(sel["accuracy"].get<double>() * 18)));
  EXPECT_LE(sel["accuracy_ci95"][0].get<double>(), sel["accuracy"].get<double>());
  EXPECT_GE(sel["accuracy_ci95"][1].get<double>(), sel["accuracy"].get<double>());
  EXPECT_TRUE(r["best"]["oracle"].get<bool>());
  EXPECT_GE(r["best"]["accuracy"].get<double>(), sel["accuracy"].get<double>());
  // The predictions and the confusion matrix are the selected point's.
  long diag = 0;
  for (int c = 0; c < 3; ++c) diag += r["confusion"][c][c].get<long>();
  EXPECT_EQ(diag, sel["correct"].get<long>());
  EXPECT_EQ(r["bootstrap"]["resamples"], 1000);
  EXPECT_FALSE(r["test_fingerprint"].get<std::string>().empty());
  EXPECT_FALSE(sel.contains("top5_accuracy")) << "top-5 is for 10 classes or more";
}

TEST(Pipelines_Classic, TopFiveAccuracyFromTenClassesUp) {
  TempDir dir;
  std::vector<std::string> classes;
  for (int c = 0; c < 10; ++c) classes.push_back("c" + std::to_string(c));
  fixtures::WriteFolderDataset(dir / "data", classes, 5, 3, 32);
  for (const std::string classifier : {"knn", "svm"}) {
    auto cfg = BaseConfig(dir / "data", "tiny");
    cfg.classifier = ClassifierNames().Parse(classifier);
    cfg.tiny.zero_mean = classifier == "knn";
    const auto r = RunClassic(cfg, (dir / classifier).string(), nullptr);
    const auto& sel = r["selected"];
    ASSERT_TRUE(sel.contains("top5_accuracy")) << classifier;
    EXPECT_GE(sel["top5_accuracy"].get<double>(), sel["accuracy"].get<double>()) << classifier;
    EXPECT_LE(sel["top5_accuracy"].get<double>(), 1.0);
    EXPECT_EQ(sel["top5_correct"].get<int>(), static_cast<int>(std::lround(sel["top5_accuracy"].get<double>() * 30)));
    EXPECT_LE(sel["top5_ci95"][0].get<double>(), sel["top5_accuracy"].get<double>());
  }
}

TEST(Pipelines_Classic, SelectionNeverReadsTheTestLabels) {
  TempDir dir;
  fixtures::WriteFolderDataset(dir / "data", {"a", "b", "c", "d"}, 10, 8);
  for (const std::string features : {"tiny", "bow"}) {
    auto cfg = BaseConfig(dir / "data", features);
    cfg.ks = {1, 2, 3, 4, 5, 6, 7};
    LoadedData data = LoadData(cfg.data, cfg.seed);
    ClassicRunner runner(data, (dir / ("cache-" + features)).string(), 1, nullptr);
    std::map<std::string, double> t;
    const auto f = runner.Features(cfg, &t);
    const auto a = runner.Classify(cfg, f, &t);
    // The same test images with their labels shuffled.
    std::vector<data::Sample> samples = data.test.samples();
    std::vector<int> labels;
    for (const auto& s : samples) labels.push_back(s.label);
    Rng(5).Shuffle(labels);
    for (std::size_t i = 0; i < samples.size(); ++i) samples[i].label = labels[i];
    data.test = data::Dataset(data.test.class_names(), samples);
    const auto b = runner.Classify(cfg, f, &t);
    EXPECT_EQ(a.selected_metric, b.selected_metric) << features;
    EXPECT_EQ(a.selected_k, b.selected_k) << features;
    EXPECT_EQ(a.cv_accuracy, b.cv_accuracy) << features;
    EXPECT_NE(a.accuracy, b.accuracy) << features << ": the test accuracies did see the shuffle";
  }
}

TEST(Pipelines_Classic, MoreFoldsThanTheSmallestClassIsAClearError) {
  TempDir dir;
  fixtures::WriteFolderDataset(dir / "data", {"a", "b"}, 3, 2);
  auto c = BaseConfig(dir / "data", "tiny");
  c.ks = {1};
  EXPECT_MESSAGE(RunClassic(c, (dir / "run").string(), nullptr), "5 folds but class 'a' has only 3 training images");
  c.cv_folds = 1;
  EXPECT_MESSAGE(RunClassic(c, (dir / "run").string(), nullptr), "--cv-folds: must be >= 2, got 1");
}

TEST(Pipelines_Sweep, SelectedPointComesFromCrossValidation) {
  TempDir dir;
  fixtures::WriteFolderDataset(dir / "data", {"a", "b", "c"}, 8, 4);
  auto base = BaseConfig(dir / "data", "tiny");
  SweepGrid grid;
  grid.tiny_sizes = {4, 8};
  const auto r = RunSweep(base, grid, (dir / "sweep").string(), nullptr);
  ASSERT_TRUE(r.json.contains("selected"));
  double best_cv = -1, best_test = -1;
  for (const auto& p : r.json["points"]) {
    best_cv = std::max(best_cv, p["cv_accuracy"].get<double>());
    best_test = std::max(best_test, p["accuracy"].get<double>());
  }
  EXPECT_DOUBLE_EQ(r.json["selected"]["cv_accuracy"].get<double>(), best_cv);
  EXPECT_DOUBLE_EQ(r.json["best"]["accuracy"].get<double>(), best_test);
  const std::string csv = ReadFileText(dir / "sweep" / "sweep.csv");
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "features,tiny_size,norm,step,bin,vocab,metric,k,cv_accuracy,accuracy,seconds");
}

// report.md through a real GitHub-flavoured Markdown parser: every table in
// the Markdown must come out as an HTML table with the same number of cells
// in every row (a malformed separator row gives no table at all).
TEST(Pipelines_Report, MarkdownTablesParseAsGithubTables) {
  if (!fs::exists("/usr/bin/cmark-gfm"))
    SCENELAB_SKIP_OR_FAIL("cmark-gfm not installed at /usr/bin/cmark-gfm (scripts/setup.sh installs it)");
  TempDir dir;
  fixtures::WriteFolderDataset(dir / "data", {"a", "b", "c"}, 8, 4);
  auto tiny = BaseConfig(dir / "data", "tiny");
  tiny.ks = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};  // k = 10 must sort after 9
  RunClassic(tiny, (dir / "tiny").string(), nullptr);
  RunClassic(BaseConfig(dir / "data", "bow"), (dir / "bow").string(), nullptr);
  eval::BuildReport({(dir / "tiny").string(), (dir / "bow").string()}, (dir / "report").string());
  const std::string md = ReadFileText(dir / "report" / "report.md");
  std::size_t md_tables = 0;
  for (std::size_t pos = 0; (pos = md.find("\n|---|", pos)) != std::string::npos; ++pos) ++md_tables;
  EXPECT_GE(md_tables, 4u);  // accuracy, significance, two accuracy-by-k
  const std::string html = fixtures::CaptureCommand("cmark-gfm -e table " + (dir / "report" / "report.md").string());
  std::size_t html_tables = 0;
  for (std::size_t pos = 0; (pos = html.find("<table>", pos)) != std::string::npos; ++pos) ++html_tables;
  EXPECT_EQ(html_tables, md_tables) << html.substr(0, 3000);
  // Every row of a table has as many cells as its header.
  for (std::size_t t = html.find("<table>"); t != std::string::npos; t = html.find("<table>", t + 1)) {
    const std::size_t end = html.find("</table>", t);
    const std::string table = html.substr(t, end - t);
    int header = -1;
    for (std::size_t r = table.find("<tr>"); r != std::string::npos; r = table.find("<tr>", r + 1)) {
      const std::string row = table.substr(r, table.find("</tr>", r) - r);
      int cells = 0;
      for (std::size_t c = row.find("<t"); c != std::string::npos; c = row.find("<t", c + 1)) {
        cells += row.compare(c, 4, "<td>") == 0 || row.compare(c, 4, "<th>") == 0 || row.compare(c, 4, "<td ") == 0 ||
                 row.compare(c, 4, "<th ") == 0;
      }
      if (header < 0) header = cells;
      EXPECT_EQ(cells, header) << row;
    }
  }
  // Accuracy by k in numeric order: the row for 10 comes after the row for 9.
  const std::size_t k9 = md.find("\n| 9 |"), k10 = md.find("\n| 10 |"), k2 = md.find("\n| 2 |");
  ASSERT_NE(k10, std::string::npos);
  EXPECT_LT(k2, k9);
  EXPECT_LT(k9, k10);
}

namespace {
// The text of an HTML fragment: tags dropped, the five escapes undone.
std::string HtmlText(std::string s) {
  std::string o;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '<') {
      i = s.find('>', i);
      continue;
    }
    o += s[i];
  }
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&#39;", "'"}, {"&amp;", "&"}}) {
    for (std::size_t p = o.find(from); p != std::string::npos; p = o.find(from, p + to.size()))
      o.replace(p, from.size(), to);
  }
  return o;
}
}  // namespace

// The report is one model rendered twice: index.html and report.md have the
// same headings in the same order and the same table cells, cell by cell.
TEST(Pipelines_Report, HtmlAndMarkdownAreTheSameDocument) {
  TempDir dir;
  fixtures::WriteFolderDataset(dir / "data", {"a", "b", "c"}, 8, 4);
  RunClassic(BaseConfig(dir / "data", "tiny"), (dir / "tiny").string(), nullptr);
  RunClassic(BaseConfig(dir / "data", "bow"), (dir / "bow").string(), nullptr);
  const std::string html =
      ReadFileText(eval::BuildReport({(dir / "tiny").string(), (dir / "bow").string()}, (dir / "report").string()));
  const std::string md = ReadFileText(dir / "report" / "report.md");
  std::vector<std::string> html_headings, md_headings, html_cells, md_cells;
  const std::regex heading("<h([1-6])>(.*?)</h[1-6]>"), cell("<t[dh][^>]*>(.*?)</t[dh]>");
  for (std::sregex_iterator it(html.begin(), html.end(), heading), end; it != end; ++it)
    html_headings.push_back(std::string(std::stoul((*it)[1]), '#') + " " + HtmlText((*it)[2]));
  for (std::sregex_iterator it(html.begin(), html.end(), cell), end; it != end; ++it)
    html_cells.push_back(HtmlText((*it)[1]));
  std::istringstream lines(md);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("#", 0) == 0) md_headings.push_back(line);
    if (line.rfind("|", 0) != 0 || line.rfind("|---", 0) == 0) continue;
    // "| a | b\\|c |": cells between unescaped pipes; bold and code marks are Markdown's own.
    std::string cur;
    for (std::size_t i = 1; i < line.size(); ++i) {
      if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == '|') {
        cur += '|';
        ++i;
      } else if (line[i] == '|') {
        const auto b = cur.find_first_not_of(' '), e = cur.find_last_not_of(' ');
        std::string c = b == std::string::npos ? "" : cur.substr(b, e - b + 1);
        if (c.size() > 4 && c.rfind("**", 0) == 0) c = c.substr(2, c.size() - 4);
        md_cells.push_back(c);
        cur.clear();
      } else {
        cur += line[i];
      }
    }
  }
  EXPECT_EQ(html_headings, md_headings);
  EXPECT_GE(html_headings.size(), 6u);
  EXPECT_EQ(html_cells, md_cells);
  EXPECT_GE(html_cells.size(), 60u);
}

#ifdef SCENELAB_HAVE_COMPARE
#include "scenelab/pipelines/compare.h"

// A CNN pipeline of a compare config is read by the training option table
// and checked against the model zoo like `cnn train`'s flags.
TEST(Pipelines_Compare, CnnPipelinesAreCheckedByTheTrainingTable) {
  auto config = [](const std::string& cnn) {
    return nlohmann::json::parse(
        R"({"name": "t", "data": {"path": "/d"}, "pipelines": [{"name": "net", "type": "cnn", )" + cnn + "}]}");
  };
  EXPECT_MESSAGE(ParseCompareConfig(config(R"("model": "resnet9000")"), "c.yaml"),
                 "pipeline 'net'.model: unknown model 'resnet9000' (known: ");
  EXPECT_MESSAGE(ParseCompareConfig(config(R"("model": "resnet-lite", "milestones": "20,3x")"), "c.yaml"),
                 "pipeline 'net': milestones: expected an integer, a range a-b or a list, found '3x' in '20,3x'");
  EXPECT_MESSAGE(ParseCompareConfig(config(R"("model": "resnet-lite", "bacth": 8)"), "c.yaml"),
                 "pipeline 'net': bacth: unknown key (expected augment, batch, batch_size,");
  const auto ok = ParseCompareConfig(config(R"("model": "resnet-lite", "batch": 8, "opt": "adam")"), "c.yaml");
  const auto resolved = ok.ToJson()["pipelines"][0]["resolved"];
  EXPECT_EQ(resolved["batch_size"], 8);
  EXPECT_EQ(resolved["optimizer"], "adam");
}

// A CNN pipeline takes `repeats` (or `protocol`) as the classical ones do:
// it trains once per split, on the same seeded splits, so that compare pairs
// the two kinds split by split with the paired t-test; finished splits are
// reused.
TEST(Pipelines_Compare, CnnRepeatsRunTheClassicalSplitsAndArePaired) {
  TempDir dir;
  fixtures::WriteFolderDataset(dir / "data", {"a", "b", "c"}, 8, 4, 32);
  auto config = [&](const std::string& data_extra) {
    return nlohmann::json::parse(R"({"name": "t", "seed": 2, "data": {"path": ")" + (dir / "data").string() + "\"" +
                                 data_extra + R"(},
      "pipelines": [
        {"name": "tiny", "type": "tiny", "tiny": {"size": 8}, "knn": {"metrics": ["l1"], "k": "1-3"}, "repeats": 3},
        {"name": "net", "type": "cnn", "model": "resnet-lite", "epochs": 1, "batch": 8, "val": 0.0, "threads": 1,
         "repeats": 3}]})");
  };
  const auto cfg = ParseCompareConfig(config(R"(, "train_per_class": 6)"), "test config");
  const auto r = RunCompare(cfg, (dir / "out").string(), nullptr);
  const auto tiny = nlohmann::json::parse(ReadFileText(dir / "out/pipelines/tiny/results.json"));
  const auto net = nlohmann::json::parse(ReadFileText(dir / "out/pipelines/net/results.json"));
  ASSERT_EQ(net["repeats"]["count"], 3);
  EXPECT_EQ(net["kind"], "cnn");
  EXPECT_EQ(net["train_size"], 18);  // 6 per class
  EXPECT_EQ(net["test_size"], 18);   // the other 6 of each class's 12
  for (int s = 0; s < 3; ++s) {
    EXPECT_EQ(net["repeats"]["splits"][s]["test_fingerprint"], tiny["repeats"]["splits"][s]["test_fingerprint"]) << s;
    EXPECT_TRUE(fs::exists(dir / fmt::format("out/pipelines/net/repeats/r{:02d}/done.json", s)));
  }
  EXPECT_NE(net["repeats"]["splits"][0]["test_fingerprint"], net["repeats"]["splits"][1]["test_fingerprint"]);
  EXPECT_DOUBLE_EQ(net["selected"]["accuracy"].get<double>(), net["repeats"]["mean"].get<double>());
  EXPECT_EQ(r.summary["significance"]["test"], "paired t-test over the repeated splits");
  ASSERT_EQ(r.summary["significance"]["pairs"].size(), 1u);
  // A rerun reuses both pipelines.
  const auto again = RunCompare(cfg, (dir / "out").string(), nullptr);
  EXPECT_EQ(again.reused.size(), 2u);
  // Repeats need the split size.
  auto unsized = config("");
  unsized["pipelines"][0].erase("repeats");
  EXPECT_MESSAGE(ParseCompareConfig(unsized, "c.yaml"), "pipeline 'net': repeats needs data.train_per_class");
  auto bad = config(R"(, "train_per_class": 6)");
  bad["pipelines"][1]["protocol"] = "lazebnk";
  EXPECT_MESSAGE(ParseCompareConfig(bad, "c.yaml"), "pipeline 'net': protocol: unknown value 'lazebnk'");
}

TEST(Pipelines_Compare, PValueMatrixIsSymmetricWithOnesOnTheDiagonal) {
  TempDir dir;
  fixtures::WriteFolderDataset(dir / "data", {"a", "b", "c"}, 10, 8);
  const auto j = nlohmann::json::parse(R"({"name": "t", "data": {"path": ")" + (dir / "data").string() + R"("},
    "pipelines": [
      {"name": "tiny4", "type": "tiny", "tiny": {"size": 4}, "knn": {"metrics": ["l1"], "k": "1-5"}},
      {"name": "tiny8", "type": "tiny", "tiny": {"size": 8}, "knn": {"metrics": ["l2"], "k": "1-5"}},
      {"name": "bow", "type": "bow", "sift": {"step": 6}, "vocab": {"size": 12, "descriptors_per_image": 20},
       "knn": {"metrics": ["l1"], "k": "1-5"}}]})");
  const auto r = RunCompare(ParseCompareConfig(j, "test config"), (dir / "out").string(), nullptr);
  const auto& sig = r.summary["significance"];
  ASSERT_EQ(sig["pipelines"].size(), 3u);
  for (const char* key : {"p_values", "p_values_holm"}) {
    const auto& p = sig[key];
    for (std::size_t a = 0; a < 3; ++a) {
      EXPECT_EQ(p[a][a].get<double>(), 1.0) << key;
      for (std::size_t b = 0; b < 3; ++b) {
        EXPECT_EQ(p[a][b], p[b][a]) << key;
        EXPECT_GE(p[a][b].get<double>(), 0.0);
        EXPECT_LE(p[a][b].get<double>(), 1.0);
        EXPECT_GE(sig["p_values_holm"][a][b].get<double>(), sig["p_values"][a][b].get<double>());
      }
    }
  }
  EXPECT_EQ(sig["pairs"].size(), 3u);
  // The headline accuracy is the selected point's, with its interval.
  for (const auto& p : r.summary["pipelines"]) {
    EXPECT_EQ(p["accuracy"], p["selected"]["accuracy"]);
    EXPECT_TRUE(p["accuracy_ci95"].is_array());
  }
  const std::string md = ReadFileText(dir / "out" / "report" / "report.md");
  EXPECT_NE(md.find("## Significance"), std::string::npos);
}
#endif

TEST(Pipelines_Report, SignificanceRefusesRunsOnDifferentTestImages) {
  TempDir dir;
  fixtures::WriteFolderDataset(dir / "data", {"a", "b"}, 6, 4);
  auto c = BaseConfig(dir / "data", "tiny");
  RunClassic(c, (dir / "all").string(), nullptr);
  c.data.test_per_class = 3;
  RunClassic(c, (dir / "fewer").string(), nullptr);
  EXPECT_MESSAGE(eval::RunSignificance({(dir / "all").string(), (dir / "fewer").string()}, {"all", "fewer"}),
                 "'all' has 8 test images and 'fewer' 6; McNemar needs the same test set");
  // The report itself still builds, and says the test sets differ instead of comparing them.
  eval::BuildReport({(dir / "all").string(), (dir / "fewer").string()}, (dir / "report").string());
  const std::string md = ReadFileText(dir / "report" / "report.md");
  EXPECT_NE(md.find("2 different test sets"), std::string::npos);
  EXPECT_EQ(md.find("| test set "), std::string::npos);
}

TEST(Pipelines_Repeats, SplitsAreDistinctDisjointAndStratified) {
  TempDir dir;
  fixtures::WriteFolderDataset(dir / "data", {"a", "b", "c"}, 6, 4);
  const auto d = LoadData(BaseConfig(dir / "data", "tiny").data, 0);
  std::vector<data::Sample> all = d.train.samples();
  all.insert(all.end(), d.test.samples().begin(), d.test.samples().end());
  const data::Dataset pool(d.train.class_names(), all);
  const auto splits = DrawRepeatSplits(pool, 4, 0, 5, 9);
  ASSERT_EQ(splits.size(), 5u);
  std::set<std::vector<std::size_t>> distinct;
  for (const auto& s : splits) {
    distinct.insert(s.train);
    std::set<std::size_t> train(s.train.begin(), s.train.end());
    for (auto i : s.test) EXPECT_EQ(train.count(i), 0u) << "an image in both train and test";
    EXPECT_EQ(s.train.size() + s.test.size(), pool.size());
    EXPECT_EQ(pool.Select(s.train).CountPerClass(), (std::vector<std::size_t>{4, 4, 4}));
    EXPECT_EQ(pool.Select(s.test).CountPerClass(), (std::vector<std::size_t>{6, 6, 6}));
  }
  EXPECT_EQ(distinct.size(), 5u) << "repeats must draw different splits";
  const auto again = DrawRepeatSplits(pool, 4, 0, 5, 9);
  EXPECT_EQ(again[3].train, splits[3].train);                        // seeded
  EXPECT_EQ(DrawRepeatSplits(pool, 4, 2, 2, 9)[0].test.size(), 6u);  // test_per_class caps the test side
  EXPECT_MESSAGE(DrawRepeatSplits(pool, 10, 0, 2, 9), "class 'a' has 10 images, which leaves none for testing");
  EXPECT_MESSAGE(DrawRepeatSplits(pool, 4, 0, 0, 9), "--repeats: must be >= 1, got 0");
}

TEST(Pipelines_Repeats, RunsEverySplitReusingDescriptorsAndResumes) {
  TempDir dir;
  fixtures::WriteFolderDataset(dir / "data", {"a", "b", "c"}, 6, 4);
  auto c = BaseConfig(dir / "data", "bow");
  c.repeats = 3;
  c.data.train_per_class = 5;
  c.cache_dir = (dir / "cache").string();
  const auto r = RunClassic(c, (dir / "run").string(), nullptr);
  ASSERT_EQ(r["repeats"]["accuracy"].size(), 3u);
  std::vector<double> acc = r["repeats"]["accuracy"].get<std::vector<double>>();
  EXPECT_NEAR(r["repeats"]["mean"].get<double>(), (acc[0] + acc[1] + acc[2]) / 3, 1e-12);
  EXPECT_DOUBLE_EQ(r["selected"]["accuracy"].get<double>(), r["repeats"]["mean"].get<double>());
  EXPECT_LE(r["selected"]["accuracy_ci95"][0].get<double>(), r["selected"]["accuracy"].get<double>());
  EXPECT_EQ(r["test_size"], 15);
  for (int i = 0; i < 3; ++i) {
    const auto one = ReadJson(dir / "run" / "repeats" / fmt::format("r{:02d}", i) / "results.json");
    EXPECT_DOUBLE_EQ(one["selected"]["accuracy"].get<double>(), acc[static_cast<std::size_t>(i)]);
    EXPECT_EQ(one["train_size"], 15);
    // Every split has its confusion figure; the galleries only the first.
    const fs::path figures = dir / "run" / "repeats" / fmt::format("r{:02d}", i) / "figures";
    EXPECT_TRUE(fs::exists(figures / "confusion.png")) << i;
    EXPECT_EQ(fs::exists(figures / "gallery" / "a.png"), i == 0) << i;
  }
  // Dense SIFT ran once, on the pool: one descriptor cache for all three splits.
  int dsift_files = 0;
  for (const auto& e : fs::directory_iterator(dir / "cache"))
    dsift_files += e.path().filename().string().rfind("dsift-", 0) == 0;
  EXPECT_EQ(dsift_files, 1);
  // Two threads run the splits two at a time (one thread each), one thread
  // runs them in turn: the same predictions split by split.
  auto serial = c;
  serial.threads = 1;
  serial.cache_dir = (dir / "cache1").string();
  c.threads = 2;
  const auto two = RunClassic(c, (dir / "run2").string(), nullptr);
  const auto one = RunClassic(serial, (dir / "run1").string(), nullptr);
  EXPECT_EQ(two["repeats"]["accuracy"], one["repeats"]["accuracy"]);
  for (int i = 0; i < 3; ++i) {
    const std::string split = fmt::format("repeats/r{:02d}/predictions.csv", i);
    EXPECT_EQ(ReadFileText(dir / "run2" / split), ReadFileText(dir / "run1" / split)) << split;
  }
  // A rerun reuses every finished split (whatever its thread count) and
  // gives the same numbers.
  Logger log(dir / "again.log");
  const auto again = RunClassic(c, (dir / "run").string(), &log);
  EXPECT_EQ(again["repeats"]["accuracy"], r["repeats"]["accuracy"]);
  EXPECT_NE(ReadFileText(dir / "again.log").find("repeat 3/3: finished earlier, reused"), std::string::npos);
  c.repeats = 2;
  c.data.train_per_class = 0;
  EXPECT_MESSAGE(RunClassic(c, (dir / "bad").string(), nullptr), "--repeats 2 needs --train-per-class N");
}

// Lists parse one way everywhere: a config file and the CLI accept and refuse
// the same values, with the same message.
TEST(Pipelines_Config, ListsParseOneWayInConfigsAndOnTheCommandLine) {
  EXPECT_EQ(IntListFromJson(nlohmann::json("10,2-4,3"), "k"), (std::vector<int>{2, 3, 4, 10}));
  EXPECT_EQ(IntListFromJson(nlohmann::json({5, 3, 5}), "k"), (std::vector<int>{3, 5}));
  EXPECT_EQ(IntListFromJson(nlohmann::json(7), "k"), (std::vector<int>{7}));
  for (const std::string bad : {"5abc", "3-1", "", "1,,x"}) {
    const std::string from_config = fixtures::ErrorOf([&] { IntListFromJson(nlohmann::json(bad), "--step"); });
    const std::string from_cli = fixtures::ErrorOf([&] { ParseIntList(bad, "--step"); });
    EXPECT_EQ(from_config, from_cli) << bad;
    EXPECT_NE(from_config, "(no error)") << bad;
  }
  EXPECT_MESSAGE(IntListFromJson(nlohmann::json("5abc"), "--step"),
                 "--step: expected an integer, a range a-b or a list, found '5abc'");
  ClassicConfig c;
  ApplyClassicJson(ParseConfigText("{\"sift\": {\"bins\": [8, 4, 8]}, \"grids\": \"4,2\"}", "x"), &c, "x");
  EXPECT_EQ(c.sift.bin_sizes, (std::vector<int>{4, 8}));
  EXPECT_EQ(c.bow.grids, (std::vector<int>{2, 4}));
}

TEST(Pipelines_Repeats, ReportPairsRunsOnTheSameSplitsWithAPairedTTest) {
  TempDir dir;
  fixtures::WriteFolderDataset(dir / "data", {"a", "b", "c"}, 6, 4);
  auto c = BaseConfig(dir / "data", "tiny");
  c.repeats = 3;
  c.data.train_per_class = 5;
  c.tiny.size = 4;
  RunClassic(c, (dir / "tiny4").string(), nullptr);
  c.tiny.size = 8;
  RunClassic(c, (dir / "tiny8").string(), nullptr);
  eval::BuildReport({(dir / "tiny4").string(), (dir / "tiny8").string()}, (dir / "report").string());
  const std::string md = ReadFileText(dir / "report" / "report.md");
  EXPECT_NE(md.find("## Repeated splits"), std::string::npos);
  EXPECT_NE(md.find("tiny4 vs tiny8:"), std::string::npos) << md;
  EXPECT_TRUE(fs::exists(dir / "report" / "tables" / "paired_t.tex"));
  // Different splits (another seed) are not paired.
  c.seed = 99;
  RunClassic(c, (dir / "other").string(), nullptr);
  eval::BuildReport({(dir / "tiny4").string(), (dir / "other").string()}, (dir / "report2").string());
  EXPECT_EQ(ReadFileText(dir / "report2" / "report.md").find("tiny4 vs other:"), std::string::npos);
}

TEST(Pipelines_Classic, GistWorksWithKnnSvmAndSweeps) {
  TempDir dir;
  fixtures::WriteFolderDataset(dir / "data", {"a", "b", "c"}, 8, 4, 64);
  auto c = BaseConfig(dir / "data", "gist");
  c.gist.image_size = 64;
  c.gist.boundary = 8;
  const auto knn = RunClassic(c, (dir / "knn").string(), nullptr);
  EXPECT_EQ(knn["pipeline"], "gist+knn");
  EXPECT_EQ(knn["params"]["gist"]["orientations"].get<std::vector<int>>(), (std::vector<int>{8, 8, 8, 8}));
  EXPECT_GT(knn["selected"]["accuracy"].get<double>(), 0.6);  // oriented stripes: GIST's home ground
  c.classifier = Classifier::kSvm;
  const auto svm = RunClassic(c, (dir / "svm").string(), nullptr);
  EXPECT_EQ(svm["pipeline"], "gist+svm");
  EXPECT_EQ(svm["computed"]["encodings"], 2);  // its own cache folder: both splits computed
  c.classifier = Classifier::kKnn;
  c.cache_dir = (dir / "knn" / "cache").string();
  const auto again = RunClassic(c, (dir / "again").string(), nullptr);
  EXPECT_EQ(again["computed"]["encodings"], 0);  // from the cache
  const auto sweep = RunSweep(c, SweepGrid{}, (dir / "sweep").string(), nullptr);
  EXPECT_EQ(sweep.json["points"].size(), 2u * 5u);  // metrics x k on the one feature point
  EXPECT_TRUE(sweep.json.contains("selected"));
}

TEST(Pipelines_Config, BadProtocolAndIsaValuesNameTheValue) {
  ClassicConfig c;
  EXPECT_MESSAGE(ApplyProtocol("lazebnick", &c), "protocol: unknown value 'lazebnick' (expected lazebnik or standard)");
  ApplyProtocol("lazebnik", &c);
  EXPECT_EQ(c.repeats, 10);
  EXPECT_EQ(c.data.train_per_class, 100u);
  EXPECT_MESSAGE(ParseIsa("avx1024"),
                 "SCENELAB_ISA: unknown value 'avx1024' (expected scalar, avx2, avx512, vnni or amx)");
  EXPECT_EQ(ParseIsa("avx2"), Isa::kAvx2);
}

#include <opencv2/imgcodecs.hpp>

#include "scenelab/data/readers.h"
#include "scenelab/pipelines/outputs.h"

// Each class's gallery has three rows of thumbnails: its true positives,
// its false positives (other classes' images predicted as it) and its
// false negatives, the first `per_kind` of each in prediction order. Class
// a's images are red and b's blue, so the rows can be read from the pixels.
TEST(Pipelines_RunOutputs, GalleryRowsAreTruePositivesFalsePositivesAndFalseNegatives) {
  TempDir dir;
  const cv::Scalar red(0, 0, 255), blue(255, 0, 0);  // BGR
  for (const std::string split : {"train", "test"}) {
    for (const auto& [cls, colour] : {std::pair{"a", red}, std::pair{"b", blue}}) {
      fs::create_directories(dir / "data" / split / cls);
      for (int i = 0; i < 4; ++i) {
        cv::imwrite((dir / "data" / split / cls / (std::to_string(i) + ".png")).string(),
                    cv::Mat(32, 32, CV_8UC3, colour));
      }
    }
  }
  const auto info = data::OpenDataset((dir / "data").string());
  const data::Dataset& test = info.test();
  // a0 a1 right, a2 -> b; b0 -> a, b1 b2 right, b3 -> a.
  const std::map<std::string, int> predicted = {{"a/0.png", 0}, {"a/1.png", 0}, {"a/2.png", 1}, {"a/3.png", 0},
                                                {"b/0.png", 0}, {"b/1.png", 1}, {"b/2.png", 1}, {"b/3.png", 0}};
  eval::Predictions preds(test.class_names());
  for (std::size_t i = 0; i < test.size(); ++i) {
    const fs::path src(test[i].source);
    const std::string key = src.parent_path().filename().string() + "/" + src.filename().string();
    preds.Add({test[i].source, test[i].label, predicted.at(key), 1.0f});
  }
  RunOutputs(dir.path().string() + "/run").WriteGalleries(preds, test, 2, 2);
  // DrawGallery's layout: 96-pixel thumbnails in cells of 108 x 126 from (8, 28).
  auto colour_at = [](const cv::Mat& img, int row, int col) {
    const cv::Vec4b px = img.at<cv::Vec4b>(28 + row * 126 + 48, 8 + col * 108 + 48);
    return cv::Vec3b(px[0], px[1], px[2]);
  };
  const cv::Vec3b r(0, 0, 255), b(255, 0, 0), white(255, 255, 255);
  const cv::Mat ga = cv::imread((dir / "run/figures/gallery/a.png").string(), cv::IMREAD_UNCHANGED);
  const cv::Mat gb = cv::imread((dir / "run/figures/gallery/b.png").string(), cv::IMREAD_UNCHANGED);
  ASSERT_FALSE(ga.empty());
  ASSERT_FALSE(gb.empty());
  ASSERT_EQ(ga.channels(), 4);
  // Rows: true positives, false positives, false negatives; two slots each.
  // a: a0 a1 (a3 is past per_kind); b0 b3; a2 and an empty slot.
  // b: b1 b2; a2 and an empty slot; b0 b3.
  const cv::Vec3b want[2][3][2] = {{{r, r}, {b, b}, {r, white}}, {{b, b}, {r, white}, {b, b}}};
  const cv::Mat* gallery[2] = {&ga, &gb};
  for (int g = 0; g < 2; ++g) {
    for (int row = 0; row < 3; ++row) {
      for (int col = 0; col < 2; ++col)
        EXPECT_EQ(colour_at(*gallery[g], row, col), want[g][row][col])
            << "gallery " << g << " row " << row << " col " << col;
    }
  }
}

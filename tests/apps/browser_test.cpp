// Loads a generated HTML report in headless Chromium (Debian's `chromium`):
// every image must decode, and the accuracies shown must equal results.json.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <regex>

#include "fixtures.h"
#include "scenelab/data/io.h"
#include "scenelab/eval/report.h"
#include "scenelab/pipelines/classic.h"

namespace fs = std::filesystem;
using namespace scenelab;

namespace {
std::string Chromium() {
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser"}) {
    if (fs::exists(p)) return p;
  }
  return "";
}

}  // namespace

TEST(Eval_ReportInBrowser, EveryImageLoadsAndAccuraciesMatchResults) {
  const std::string chromium = Chromium();
  if (chromium.empty())
    SCENELAB_SKIP_OR_FAIL("chromium not installed at /usr/bin/chromium (scripts/setup.sh installs it)");
  fixtures::TempDir dir;
  fixtures::WriteFolderDataset(dir / "data", {"a", "b", "c"}, 6, 4);
  std::vector<std::string> runs;
  for (const std::string features : {"tiny", "bow"}) {
    pipelines::ClassicConfig c;
    c.data.path = (dir / "data").string();
    c.features = features;
    c.ks = {1, 3};
    c.vocab.size = 10;
    c.sift.step = 6;
    runs.push_back((dir / features).string());
    pipelines::RunClassic(c, runs.back(), nullptr);
  }
  const std::string index = eval::BuildReport(runs, (dir / "report").string());
  const std::string dom =
      fixtures::CaptureCommand(chromium +
                               " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
                               "--disable-background-networking --disable-component-update --disable-sync "
                               "--user-data-dir=" +
                               (dir / "profile").string() + " --virtual-time-budget=5000 --dump-dom file://" +
                               fs::absolute(index).string() + " 2>/dev/null");
  ASSERT_FALSE(dom.empty()) << "chromium printed no DOM";
  std::smatch m;
  ASSERT_TRUE(std::regex_search(dom, m, std::regex("data-images=\"(\\d+)/(\\d+)\""))) << dom.substr(0, 2000);
  EXPECT_GT(std::stoi(m[2]), 2);
  EXPECT_EQ(m[1], m[2]) << "broken images in the report";
  // Each accuracy cell carries the run's value; the text shows it to 4 decimals.
  std::regex cell("class=\"acc\" data-run=\"([^\"]+)\" data-value=\"([^\"]+)\">([0-9.]+)</td>");
  int cells = 0;
  for (auto it = std::sregex_iterator(dom.begin(), dom.end(), cell); it != std::sregex_iterator(); ++it) {
    const std::string run = (*it)[1];
    const auto r = nlohmann::json::parse(ReadFileText(dir / run / "results.json"));
    const double truth = r["selected"]["accuracy"];  // the headline, chosen without test labels
    EXPECT_DOUBLE_EQ(std::stod((*it)[2]), truth) << run;
    char shown[32];
    std::snprintf(shown, sizeof shown, "%.4f", truth);
    EXPECT_EQ((*it)[3], shown) << run;
    ++cells;
  }
  EXPECT_EQ(cells, 2);
  // The McNemar table between the two runs (same test images) renders, symmetric with a dash on the diagonal.
  std::regex pcell("<td data-p=\"([^\"]+)\">");
  std::vector<double> ps;
  for (auto it = std::sregex_iterator(dom.begin(), dom.end(), pcell); it != std::sregex_iterator(); ++it) {
    ps.push_back(std::stod((*it)[1]));
  }
  ASSERT_EQ(ps.size(), 4u) << "no 2x2 p-value table in the report";
  EXPECT_EQ(ps[0], 1.0);
  EXPECT_EQ(ps[3], 1.0);
  EXPECT_EQ(ps[1], ps[2]);
}

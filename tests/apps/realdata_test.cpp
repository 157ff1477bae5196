// Real-data checks on 15-scene and Fashion-MNIST: the accuracy floors the
// issues promise, sweep sanity, determinism, and the compare command killed
// and resumed. In the "realdata" ctest group; each test skips, saying why,
// when its data is absent.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "fixtures.h"
#include "scenelab/data/cpu.h"
#include "scenelab/data/io.h"
#include "scenelab/eval/report.h"
#include "scenelab/pipelines/classic.h"
#include "scenelab/pipelines/sweep.h"

namespace fs = std::filesystem;
using namespace scenelab;
using namespace scenelab::pipelines;

namespace {
// Stage caches shared by the tests of this binary (they hold a ctest resource lock).
std::string CacheDir() { return (fs::path(SCENELAB_TEST_WORK_DIR) / "cache-scene15").string(); }

ClassicConfig Scene15(const std::string& features) {
  ClassicConfig c;
  c.data.path = fixtures::Scene15Dir();
  c.features = features;
  c.cache_dir = CacheDir();
  return c;
}

nlohmann::json ReadJson(const fs::path& p) { return nlohmann::json::parse(ReadFileText(p)); }

pid_t Spawn(const std::vector<std::string>& args, const fs::path& log) { return fixtures::SpawnLogged(args, log); }
int Wait(pid_t pid) { return fixtures::WaitExit(pid); }
}  // namespace

#define REQUIRE_SCENE15()                                                                                      \
  do {                                                                                                         \
    if (fixtures::Scene15Dir().empty()) {                                                                      \
      SCENELAB_SKIP_OR_FAIL("15-scene not found at " << fixtures::Scene15Path() << " (set SCENELAB_SCENE15)"); \
    }                                                                                                          \
  } while (0)

TEST(RealData_Scene15, TinyImagesReachTheFloor) {
  REQUIRE_SCENE15();
  fixtures::TempDir out;
  const auto r = RunClassic(Scene15("tiny"), out.path().string(), nullptr);
  EXPECT_EQ(r["test_size"], 2985);
  // The headline: k and metric chosen by 5-fold cross-validation on the training split.
  EXPECT_GE(r["selected"]["accuracy"].get<double>(), 0.21) << r["selected"].dump();
  EXPECT_GE(r["best"]["accuracy"].get<double>(), 0.22) << r["accuracy"].dump();
}

TEST(RealData_Scene15, BagOfSiftReachesTheFloor) {
  REQUIRE_SCENE15();
  fixtures::TempDir out;
  const auto r = RunClassic(Scene15("bow"), out.path().string(), nullptr);
  EXPECT_EQ(r["test_size"], 2985);
  EXPECT_GE(r["selected"]["accuracy"].get<double>(), 0.62) << r["selected"].dump();
  EXPECT_GE(r["best"]["accuracy"].get<double>(), 0.62) << r["accuracy"].dump();
  EXPECT_GE(r["accuracy"]["l1"]["8"].get<double>(), 0.60);
}

// The comparison a report makes: bag of SIFT beats tiny images on the same
// 2985 test images, and McNemar's test says so with p < 0.001.
TEST(RealData_Scene15, BagOfSiftBeatsTinyImagesByMcNemar) {
  REQUIRE_SCENE15();
  fixtures::TempDir out;
  RunClassic(Scene15("tiny"), (out / "tiny").string(), nullptr);
  RunClassic(Scene15("bow"), (out / "bow").string(), nullptr);
  const auto t = eval::RunSignificance({(out / "tiny").string(), (out / "bow").string()}, {"tiny", "bow"});
  ASSERT_EQ(t.pairs.size(), 1u);
  EXPECT_LT(t.pairs[0].test.p_value, 0.001) << t.Statements()[0];
  EXPECT_GT(t.pairs[0].test.c, t.pairs[0].test.b)
      << "bow should be right where tiny is wrong more often than the reverse";
  EXPECT_TRUE(t.pairs[0].significant);
  EXPECT_NE(t.Statements()[0].find("bow is significantly better than tiny"), std::string::npos) << t.Statements()[0];
}

// VLFeat's PHOW recipe (issue 8): multi-scale dense SIFT at step 3, 600
// words, 2x2 + 4x4 grids, chi2 kernel map, one-vs-rest linear SVMs (C = 10).
namespace {
ClassicConfig Phow() {
  ClassicConfig c = Scene15("bow");
  c.sift = features::DenseSiftOptions::Phow();
  c.vocab.size = 600;
  c.vocab.max_iterations = 50;
  c.vocab.images = 150;
  c.vocab.descriptors_per_image = 667;
  c.bow.grids = {2, 4};
  c.homkermap = KernelMap::kChi2;
  c.classifier = Classifier::kSvm;
  return c;
}
}  // namespace

TEST(RealData_Scene15, PhowChi2MapSvmReachesTheFloor) {
  REQUIRE_SCENE15();
  fixtures::TempDir out;
  const auto r = RunClassic(Phow(), out.path().string(), nullptr);
  EXPECT_EQ(r["test_size"], 2985);
  EXPECT_GE(r["selected"]["accuracy"].get<double>(), 0.80) << r["selected"].dump();
  EXPECT_EQ(r["svm"]["classes_converged"], 15);
}

TEST(RealData_Scene15, FisherVectorsSvmReachTheFloor) {
  REQUIRE_SCENE15();
  fixtures::TempDir out;
  ClassicConfig c = Phow();
  c.features = "fisher";
  c.homkermap = KernelMap::kNone;
  c.bow.grids.clear();
  c.pca_dim = 80;
  c.gmm.components = 256;
  const auto r = RunClassic(c, out.path().string(), nullptr);
  EXPECT_EQ(r["test_size"], 2985);
  EXPECT_GE(r["selected"]["accuracy"].get<double>(), 0.82) << r["selected"].dump();
}

TEST(RealData_Scene15, VocabularySweepIsMonotoneSensible) {
  REQUIRE_SCENE15();
  fixtures::TempDir out;
  auto base = Scene15("bow");
  SweepGrid grid;
  grid.vocab_sizes = {50, 100, 200};
  const auto r = RunSweep(base, grid, out.path().string(), nullptr);
  EXPECT_EQ(r.json["points"].size(), 3u * 2u * 10u);
  EXPECT_LE(r.computed.sift_extractions, 2);  // descriptors computed at most once per split
  std::map<int, double> best;
  for (const auto& p : r.json["points"]) {
    best[p["vocab"].get<int>()] = std::max(best[p["vocab"].get<int>()], p["accuracy"].get<double>());
  }
  EXPECT_GE(best[200], best[50]);
  EXPECT_GE(best[200], 0.62);
}

TEST(RealData_Scene15, ResultsIdenticalAcrossThreadCountsAndRuns) {
  REQUIRE_SCENE15();
  fixtures::TempDir out;
  auto c = Scene15("tiny");
  c.cache_dir = (out / "cache").string();  // own cache: both runs compute
  c.threads = 1;
  auto a = RunClassic(c, (out / "t1").string(), nullptr);
  c.threads = 2;
  c.clobber = true;
  auto b = RunClassic(c, (out / "t2").string(), nullptr);
  for (auto* j : {&a, &b}) {
    j->erase("timings_s");
    (*j)["params"].erase("threads");
  }
  EXPECT_EQ(a.dump(), b.dump());
}

TEST(RealData_Compare, KilledRunResumesWithoutRecomputingAndMatches) {
  REQUIRE_SCENE15();
  fixtures::TempDir dir;
  const std::string config = (dir / "small.yaml").string();
  fixtures::WriteText(
      config,
      "name: scene15-small\n"
      "data: {path: " +
          fixtures::Scene15Dir() +
          ", train_per_class: 10, test_per_class: 10}\n"
          "seed: 4\n"
          "threads: 1\n"
          "pipelines:\n"
          "  - {name: tiny, type: tiny, knn: {metrics: [l1, l2], k: 1-5}}\n"
          "  - {name: bow, type: bow, sift: {step: 8}, vocab: {size: 50}, knn: {metrics: [l1], k: 1-5}}\n"
          "  - {name: cnn, type: cnn, model: resnet-lite, epochs: 1, batch: 32, val: 0.0}\n");
  const fs::path clean = dir / "clean", killed = dir / "killed";
  ASSERT_EQ(Wait(Spawn({SCENELAB_BINARY, "compare", "--config", config, "--out", clean.string()}, dir / "clean.log")),
            0)
      << ReadFileText(dir / "clean.log");

  // Kill the second run as soon as its first pipeline has finished.
  const pid_t pid =
      Spawn({SCENELAB_BINARY, "compare", "--config", config, "--out", killed.string()}, dir / "killed.log");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (!fs::exists(killed / "pipelines" / "tiny" / "done.json") && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGKILL);
  EXPECT_EQ(Wait(pid), 128 + SIGKILL);
  ASSERT_TRUE(fs::exists(killed / "pipelines" / "tiny" / "results.json"));
  // No half-written result files are left behind.
  for (const auto& e : fs::recursive_directory_iterator(killed)) {
    const auto r = fs::path(e.path()).filename().string();
    if (r == "results.json" || r == "summary.json") {
      EXPECT_NO_THROW(ReadJson(e.path())) << e.path();
    }
  }
  ASSERT_EQ(Wait(Spawn({SCENELAB_BINARY, "compare", "--config", config, "--out", killed.string()}, dir / "resume.log")),
            0)
      << ReadFileText(dir / "resume.log");
  const auto summary = ReadJson(killed / "summary.json");
  EXPECT_TRUE(summary["pipelines"][0]["reused"].get<bool>()) << "tiny was finished before the kill";
  EXPECT_NE(ReadFileText(killed / "log.txt").find("tiny: finished earlier, reused"), std::string::npos);

  // Classical results equal the uninterrupted run's bit for bit; the CNN within tolerance.
  for (const char* p : {"tiny", "bow"}) {
    auto a = ReadJson(clean / "pipelines" / p / "results.json"),
         b = ReadJson(killed / "pipelines" / p / "results.json");
    EXPECT_EQ(a["accuracy"], b["accuracy"]) << p;
    EXPECT_EQ(a["confusion"], b["confusion"]) << p;
  }
  const double ca = ReadJson(clean / "pipelines" / "cnn" / "results.json")["best"]["accuracy"];
  const double cb = ReadJson(killed / "pipelines" / "cnn" / "results.json")["best"]["accuracy"];
  EXPECT_NEAR(ca, cb, 0.02);

  // The report shows exactly the pipelines' numbers.
  const std::string html = ReadFileText(killed / "report" / "index.html");
  for (const char* p : {"tiny", "bow", "cnn"}) {
    const auto r = ReadJson(killed / "pipelines" / p / "results.json");
    char acc[32];
    std::snprintf(acc, sizeof acc, ">%.4f</td>", r["selected"]["accuracy"].get<double>());
    EXPECT_NE(html.find(acc), std::string::npos) << p << " " << acc;
  }
}

namespace {
// resnet-lite for 5 one-cycle epochs on Fashion-MNIST (the README's recipe),
// with `extra` flags; returns results.json.
nlohmann::json TrainResnetLite(const std::string& dir, const std::vector<std::string>& extra) {
  fixtures::TempDir out;
  const std::string log = (out / "train.log").string();
  std::vector<std::string> args = {
      SCENELAB_BINARY,    "cnn",  "train", "--model", "resnet-lite", "--data", dir, "--epochs",       "5", "--schedule",
      "onecycle",         "--lr", "0.1",   "--batch", "64",          "--val",  "0", "--crop-padding", "2", "--out",
      out.path().string()};
  args.insert(args.end(), extra.begin(), extra.end());
  const int rc = Wait(Spawn(args, log));
  EXPECT_EQ(rc, 0) << ReadFileText(log);
  if (rc != 0) return nlohmann::json::object();
  return ReadJson(out / "results.json");
}
}  // namespace

TEST(RealData_FashionMnist, ResnetLiteReachesTheFloorInFiveEpochs) {
  const std::string dir = fixtures::FashionMnistDir();
  if (dir.empty())
    SCENELAB_SKIP_OR_FAIL("Fashion-MNIST not found at " << fixtures::FashionMnistPath()
                                                        << " (apt-get install dataset-fashion-mnist)");
  // One thread: the floor is checked on a deterministic run.
  const auto r = TrainResnetLite(dir, {"--threads", "1"});
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(r["test_size"], 10000);
  EXPECT_EQ(r["epochs_run"], 5);
  EXPECT_GE(r["selected"]["accuracy"].get<double>(), 0.91) << r["selected"].dump();
}

// The same floor in bf16 mixed precision, where the CPU has bf16 units
// (avx512_bf16 or amx_bf16); elsewhere bf16 is emulated and far too slow.
TEST(RealData_FashionMnist, ResnetLiteReachesTheFloorInBf16) {
  if (!CpuFlag("avx512_bf16") && !CpuFlag("amx_bf16")) {
    GTEST_SKIP() << "this CPU has neither avx512_bf16 nor amx_bf16: bf16 would be emulated";
  }
  const std::string dir = fixtures::FashionMnistDir();
  if (dir.empty())
    SCENELAB_SKIP_OR_FAIL("Fashion-MNIST not found at " << fixtures::FashionMnistPath()
                                                        << " (apt-get install dataset-fashion-mnist)");
  const auto r = TrainResnetLite(dir, {"--precision", "bf16", "--threads", "2"});
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(r["precision"]["name"], "bf16") << r["precision"].dump();
  EXPECT_EQ(r["epochs_run"], 5);
  EXPECT_GE(r["selected"]["accuracy"].get<double>(), 0.91) << r["selected"].dump();
}

TEST(RealData_Scene15, StreamedCnnLearnsFromTheJpegs) {
  REQUIRE_SCENE15();
  // Folder data decoded on the fly by the bounded-queue loader, every epoch.
  fixtures::TempDir out;
  const std::string log = (out / "train.log").string();
  const int rc = Wait(Spawn({SCENELAB_BINARY,
                             "cnn",
                             "train",
                             "--model",
                             "resnet-lite",
                             "--data",
                             fixtures::Scene15Dir(),
                             "--input",
                             "1x64x64",
                             "--epochs",
                             "6",
                             "--batch",
                             "32",
                             "--lr",
                             "0.05",
                             "--schedule",
                             "onecycle",
                             "--val",
                             "0",
                             "--loader",
                             "stream",
                             "--prefetch",
                             "4",
                             "--out",
                             out.path().string()},
                            log));
  ASSERT_EQ(rc, 0) << ReadFileText(log);
  const auto r = ReadJson(out / "results.json");
  EXPECT_EQ(r["test_size"], 2985);
  EXPECT_EQ(r["epochs_run"], 6);
  EXPECT_NE(ReadFileText(out / "log.txt").find("streamed by"), std::string::npos);
  EXPECT_GE(r["selected"]["accuracy"].get<double>(), 0.30);  // chance is 1/15
}

// The recipes as users call them, through the CLI, on a small subset: a
// regression in the recipes' defaults (cmd_classic's --recipe) shows here,
// where the floors above rebuild the recipe by hand.
TEST(RealData_Scene15, RecipesRunEndToEndThroughTheCli) {
  REQUIRE_SCENE15();
  fixtures::TempDir out;
  for (const std::string recipe : {"phow", "fisher"}) {
    const fs::path dir = out / recipe;
    const int rc = Wait(Spawn({SCENELAB_BINARY, "classic", "--data", fixtures::Scene15Dir(), "--recipe", recipe,
                               "--train-per-class", "8", "--test-per-class", "6", "--out", dir.string()},
                              out / (recipe + ".log")));
    ASSERT_EQ(rc, 0) << ReadFileText(out / (recipe + ".log"));
    const auto r = ReadJson(dir / "results.json");
    EXPECT_EQ(r["train_size"], 120);
    EXPECT_EQ(r["test_size"], 90);
    EXPECT_EQ(r["params"]["classifier"], "svm") << recipe;
    EXPECT_EQ(r["params"]["svm"]["c"], 10.0) << recipe;
    EXPECT_EQ(r["params"]["sift"]["step"], 3) << recipe;
    EXPECT_EQ(r["params"]["sift"]["bin_sizes"], nlohmann::json({4, 6, 8, 10})) << recipe;
    if (recipe == "phow") {
      EXPECT_EQ(r["pipeline"], "bow+chi2map+svm");
      EXPECT_EQ(r["params"]["vocabulary"]["size"], 600);
      EXPECT_EQ(r["params"]["bow"]["grids"], nlohmann::json({2, 4}));
    } else {
      EXPECT_EQ(r["pipeline"], "fisher+svm");
      EXPECT_EQ(r["params"]["encoding"]["pca_dim"], 80);
      EXPECT_EQ(r["params"]["encoding"]["gmm_components"], 256);
    }
    // 15 classes, 8 training images each: far above chance (1/15) all the same.
    EXPECT_GT(r["selected"]["accuracy"].get<double>(), 0.30) << recipe;
  }
}

// GIST (Oliva & Torralba 2001; LMgist's 4 scales x 8 orientations, 4 x 4
// cells, 256 x 256) + linear SVMs with C chosen by 5-fold cross-validation.
// Measured with the dual coordinate-descent solver: 0.7018 [0.685, 0.718]
// (C = 10; 0.7028 solved to a 100x smaller duality gap). VLFeat's SDCA,
// stopped short of convergence, gave 0.6998. The floor: 0.70.
TEST(RealData_Scene15, GistLinearSvmReachesTheFloor) {
  REQUIRE_SCENE15();
  fixtures::TempDir out;
  ClassicConfig c = Scene15("gist");
  c.classifier = Classifier::kSvm;
  c.svm.c_grid = {0.1, 1, 10, 100};
  const auto r = RunClassic(c, out.path().string(), nullptr);
  EXPECT_EQ(r["test_size"], 2985);
  EXPECT_GE(r["selected"]["accuracy"].get<double>(), 0.70) << r["selected"].dump();
  EXPECT_EQ(r["svm"]["classes_converged"], 15);
}

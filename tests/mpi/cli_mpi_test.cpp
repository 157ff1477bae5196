// The CLI as an MPI job (issue 19), on loopback under `mpirun --oversubscribe`:
// classic and sweep over 2 and 3 ranks against one process, a rank killed
// mid-sweep, a rank that cannot read an image, and the threads warning.
// CI runs as root, which OpenMPI refuses without --allow-run-as-root (or
// OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1).
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "fixtures.h"
#include "scenelab/data/io.h"

namespace fs = std::filesystem;
using namespace scenelab;
using scenelab::fixtures::TempDir;

namespace {
using Clock = std::chrono::steady_clock;

std::vector<std::string> Mpirun(int np, std::vector<std::string> args) {
  // Containers often lack the kernel's cross-memory attach: no single-copy.
  std::vector<std::string> out = {SCENELAB_MPIEXEC,
                                  "--allow-run-as-root",
                                  "--oversubscribe",
                                  "--bind-to",
                                  "none",
                                  "--mca",
                                  "btl_vader_single_copy_mechanism",
                                  "none",
                                  "-np",
                                  std::to_string(np),
                                  SCENELAB_BINARY};
  out.insert(out.end(), args.begin(), args.end());
  return out;
}

std::vector<std::string> Alone(std::vector<std::string> args) {
  args.insert(args.begin(), SCENELAB_BINARY);
  return args;
}

// The exit code, or -1 (after killing the process group's leader) when it
// has not finished within `seconds`.
int WaitWithin(int pid, double seconds) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  for (;;) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid)
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (Clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      fixtures::WaitExit(pid);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

int RunCommand(const std::vector<std::string>& args, const fs::path& log, double seconds = 300) {
  return WaitWithin(fixtures::SpawnLogged(args, log), seconds);
}

nlohmann::json Read(const fs::path& p) { return nlohmann::json::parse(ReadFileText(p)); }

std::string WithoutLastColumn(const std::string& csv) {
  std::string out, line;
  std::istringstream in(csv);
  while (std::getline(in, line)) out += line.substr(0, line.rfind(',')) + "\n";
  return out;
}

std::vector<std::string> BowArgs(const fs::path& data, const fs::path& out) {
  return {"classic", "--data", data.string(), "--features", "bow", "--step", "6",         "--vocab",
          "12",      "--k",    "1-5",         "--seed",     "3",   "--out",  out.string()};
}
}  // namespace

// 2 and 3 ranks give exactly the one-process results.json numbers and
// predictions; rank 0 alone writes the run folder, the others their logs.
TEST(Mpi_Classic, BowAndTinyOverTwoAndThreeRanksEqualOneProcess) {
  TempDir dir;
  fixtures::WriteFolderDataset(dir / "data", {"a", "b", "c"}, 7, 4);
  for (const std::string features : {"bow", "tiny"}) {
    auto args = [&](const fs::path& out) {
      auto a = BowArgs(dir / "data", out);
      a[4] = features;
      return a;
    };
    ASSERT_EQ(RunCommand(Alone(args(dir / ("one-" + features))), dir / "one.log"), 0) << ReadFileText(dir / "one.log");
    const auto one = Read(dir / ("one-" + features) / "results.json");
    for (int np : {2, 3}) {
      const fs::path out = dir / (features + "-np" + std::to_string(np));
      const fs::path log = dir / (features + "-np" + std::to_string(np) + ".log");
      ASSERT_EQ(RunCommand(Mpirun(np, args(out)), log), 0) << ReadFileText(log);
      const auto r = Read(out / "results.json");
      for (const char* key : {"accuracy", "cv_accuracy", "selected", "best", "confusion"}) {
        EXPECT_EQ(r[key], one[key]) << features << " np " << np << ": " << key;
      }
      EXPECT_EQ(ReadFileText(out / "predictions.csv"), ReadFileText(dir / ("one-" + features) / "predictions.csv"));
      for (int q = 1; q < np; ++q) {
        const fs::path rank_log = out / "logs" / ("rank-" + std::to_string(q) + ".log");
        ASSERT_TRUE(fs::exists(rank_log)) << rank_log;
        EXPECT_NE(ReadFileText(rank_log).find("rank " + std::to_string(q) + " of " + std::to_string(np)),
                  std::string::npos);
      }
      // The summary is printed once, by rank 0.
      const std::string printed = ReadFileText(log);
      std::size_t count = 0;
      for (std::size_t at = printed.find("results: "); at != std::string::npos; at = printed.find("results: ", at + 1))
        ++count;
      EXPECT_EQ(count, 1u) << printed;
    }
  }
}

// Fisher vectors over 2 ranks: the GMM's EM is split (each rank sums its
// whole blocks of the sample's rows), and the run equals one process: the
// same mixture log-likelihood to 1e-12 and the same predictions.
TEST(Mpi_Classic, FisherWithTheEmSplitOverTwoRanksEqualsOneProcess) {
  TempDir dir;
  fixtures::WriteFolderDataset(dir / "data", {"a", "b", "c"}, 7, 4, 96);
  auto args = [&](const fs::path& out) {
    return std::vector<std::string>{"classic",
                                    "--data",
                                    (dir / "data").string(),
                                    "--features",
                                    "fisher",
                                    "--step",
                                    "3",
                                    "--pca",
                                    "16",
                                    "--gmm",
                                    "4",
                                    "--k",
                                    "1-3",
                                    "--seed",
                                    "3",
                                    "--samples-per-image",
                                    "400",  // 8,400 sample rows: 5 EM blocks
                                    "--out",
                                    out.string()};
  };
  ASSERT_EQ(RunCommand(Alone(args(dir / "one")), dir / "one.log"), 0) << ReadFileText(dir / "one.log");
  ASSERT_EQ(RunCommand(Mpirun(2, args(dir / "two")), dir / "two.log"), 0) << ReadFileText(dir / "two.log");
  const auto one = Read(dir / "one" / "results.json"), two = Read(dir / "two" / "results.json");
  // More sample rows than one EM block (2048): both ranks take part.
  ASSERT_GT(one["model"]["sample_descriptors"].get<double>(), 2 * 2048.0) << one["model"].dump();
  const double ll1 = one["model"]["gmm_log_likelihood"], ll2 = two["model"]["gmm_log_likelihood"];
  EXPECT_NEAR(ll2, ll1, 1e-12 * std::fabs(ll1));
  for (const char* key : {"accuracy", "selected", "confusion"}) EXPECT_EQ(two[key], one[key]) << key;
  EXPECT_EQ(ReadFileText(dir / "two" / "predictions.csv"), ReadFileText(dir / "one" / "predictions.csv"));
}

// The Lazebnik protocol (repeated random splits) as a 2-rank job: the same
// per-split accuracies, mean and interval as one process.
TEST(Mpi_Classic, RepeatedSplitsOverTwoRanksEqualOneProcess) {
  TempDir dir;
  fixtures::WriteFolderDataset(dir / "data", {"a", "b", "c"}, 6, 3);
  auto args = [&](const fs::path& out) {
    auto a = BowArgs(dir / "data", out);
    a.insert(a.end(), {"--repeats", "3", "--train-per-class", "5", "--cv-folds", "2"});
    return a;
  };
  ASSERT_EQ(RunCommand(Alone(args(dir / "one")), dir / "one.log"), 0) << ReadFileText(dir / "one.log");
  ASSERT_EQ(RunCommand(Mpirun(2, args(dir / "two")), dir / "two.log"), 0) << ReadFileText(dir / "two.log");
  const auto one = Read(dir / "one" / "results.json"), two = Read(dir / "two" / "results.json");
  for (const char* key : {"accuracy", "mean", "std", "ci95", "oracle_accuracy"}) {
    EXPECT_EQ(two["repeats"][key], one["repeats"][key]) << key;
  }
  EXPECT_EQ(two["confusion"], one["confusion"]);
  EXPECT_NE(ReadFileText(dir / "two.log").find("3 repeated splits"), std::string::npos);
}

// sweep.csv over 2 and 3 ranks equals the one-process file apart from the
// seconds column.
TEST(Mpi_Sweep, SweepCsvEqualsOneProcess) {
  TempDir dir;
  fixtures::WriteFolderDataset(dir / "data", {"a", "b", "c"}, 6, 3);
  auto args = [&](const fs::path& out) {
    return std::vector<std::string>{"sweep",      "--data",  (dir / "data").string(),
                                    "--features", "bow",     "--step",
                                    "6,8",        "--vocab", "5,10",
                                    "--k",        "1-5",     "--seed",
                                    "3",          "--out",   out.string()};
  };
  ASSERT_EQ(RunCommand(Alone(args(dir / "one")), dir / "one.log"), 0) << ReadFileText(dir / "one.log");
  for (int np : {2, 3}) {
    const fs::path out = dir / ("np" + std::to_string(np));
    ASSERT_EQ(RunCommand(Mpirun(np, args(out)), dir / "np.log"), 0) << ReadFileText(dir / "np.log");
    EXPECT_EQ(WithoutLastColumn(ReadFileText(out / "sweep.csv")),
              WithoutLastColumn(ReadFileText(dir / "one" / "sweep.csv")))
        << np << " ranks";
    auto a = Read(out / "sweep.json")["points"], b = Read(dir / "one" / "sweep.json")["points"];
    for (auto& row : a) row.erase("seconds");
    for (auto& row : b) row.erase("seconds");
    EXPECT_EQ(a, b) << np << " ranks";
  }
}

// Rank 1 killed mid-sweep: mpirun ends the job non-zero within the timeout
// and names the rank; the finished points are on disk, and the same command
// run again reuses exactly those and finishes.
TEST(Mpi_Sweep, KilledRankFailsTheJobNamingItAndTheRerunResumes) {
  TempDir dir;
  fixtures::WriteFolderDataset(dir / "data", {"a", "b", "c"}, 8, 4, 96);
  const fs::path out = dir / "run";
  const auto args = Mpirun(2, {"sweep", "--data", (dir / "data").string(), "--features", "bow", "--step", "3,4,5,6",
                               "--vocab", "20,40,60,80,100", "--k", "1-5", "--out", out.string()});
  const int pid = fixtures::SpawnLogged(args, dir / "run.log");
  // Rank 1 logs its pid first; kill it once some points are finished.
  const auto start = Clock::now();
  int rank1 = 0;
  auto finished_points = [&] {
    int n = 0;
    if (fs::exists(out / "points")) {
      for (const auto& e : fs::directory_iterator(out / "points")) n += e.path().extension() == ".json";
    }
    return n;
  };
  while (Clock::now() - start < std::chrono::seconds(120)) {
    const fs::path rank_log = out / "logs" / "rank-1.log";
    if (rank1 == 0 && fs::exists(rank_log)) {
      std::smatch m;
      const std::string text = ReadFileText(rank_log);
      if (std::regex_search(text, m, std::regex("pid ([0-9]+)"))) rank1 = std::stoi(m[1]);
    }
    if (rank1 > 0 && finished_points() >= 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_GT(rank1, 0) << ReadFileText(dir / "run.log");
  ASSERT_GE(finished_points(), 2) << ReadFileText(dir / "run.log");
  ::kill(rank1, SIGKILL);
  const auto killed = Clock::now();
  const int code = WaitWithin(pid, 60);
  const double stop_s = std::chrono::duration<double>(Clock::now() - killed).count();
  EXPECT_NE(code, 0);
  EXPECT_NE(code, -1) << "the job did not end within 60 s of the kill";
  EXPECT_LT(stop_s, 30);
  const std::string log = ReadFileText(dir / "run.log");
  EXPECT_NE(log.find("rank 1"), std::string::npos) << log;
  const int kept = finished_points();
  ASSERT_LT(kept, 20) << "the sweep finished before the kill: make it longer";
  ASSERT_EQ(RunCommand(args, dir / "rerun.log"), 0) << ReadFileText(dir / "rerun.log");
  std::smatch m;
  const std::string rerun = ReadFileText(dir / "rerun.log");
  ASSERT_TRUE(std::regex_search(rerun, m, std::regex("\\(([0-9]+) feature points reused\\)"))) << rerun;
  EXPECT_EQ(std::stoi(m[1]), kept);
  EXPECT_EQ(finished_points(), 20);
}

// An image that rank 1 cannot decode (in its block of the training split)
// ends every rank, with the file and the rank named; nothing hangs.
TEST(Mpi_Classic, UnreadableImageOnOneRankFailsTheJobNamingTheFile) {
  TempDir dir;
  fixtures::WriteFolderDataset(dir / "data", {"a", "b", "c"}, 6, 3, 64, ".jpg");
  // The last training image of the last class sits in rank 1's block.
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir / "data" / "train" / "c")) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  const fs::path bad = files.back();
  std::vector<unsigned char> bytes;
  cv::imencode(".jpg", fixtures::ClassImage(2, 5, 64, 64), bytes);
  bytes.resize(100);  // the JPEG header survives, the scan does not
  fixtures::WriteBytes(bad, bytes);
  const int code = RunCommand(Mpirun(2, BowArgs(dir / "data", dir / "run")), dir / "run.log", 60);
  const std::string log = ReadFileText(dir / "run.log");
  EXPECT_NE(code, -1) << "hung: " << log;
  EXPECT_NE(code, 0) << log;
  EXPECT_NE(log.find(bad.filename().string()), std::string::npos) << log;
  EXPECT_NE(log.find("rank 1"), std::string::npos) << log;
  EXPECT_FALSE(fs::exists(dir / "run" / "results.json"));
}

// More threads than a rank's share of the node's cores is allowed, with a
// warning in the rank's log; by default each rank takes its share.
TEST(Mpi_Job, ThreadsDefaultToTheRanksShareAndMoreAreWarnedAbout) {
  TempDir dir;
  fixtures::WriteFolderDataset(dir / "data", {"a", "b"}, 6, 2);
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  auto args = BowArgs(dir / "data", dir / "default");
  args[4] = "tiny";
  ASSERT_EQ(RunCommand(Mpirun(2, args), dir / "a.log"), 0) << ReadFileText(dir / "a.log");
  EXPECT_NE(ReadFileText(dir / "default" / "logs" / "rank-1.log")
                .find("rank 1: " + std::to_string(std::max(1, cores / 2)) + " threads"),
            std::string::npos);
  args.back() = (dir / "many").string();
  args.insert(args.end(), {"--threads", std::to_string(cores + 3)});
  ASSERT_EQ(RunCommand(Mpirun(2, args), dir / "b.log"), 0) << ReadFileText(dir / "b.log");
  EXPECT_NE(ReadFileText(dir / "many" / "logs" / "rank-1.log").find("warning: --threads " + std::to_string(cores + 3)),
            std::string::npos);
}

// The whole of 15-scene, bag of SIFT (step 5, 200 words, kNN L1/L2 k = 1..10)
// as a 2-rank job: exactly the one-process accuracies, cross-validation,
// vocabulary (iterations and energy) and predictions.
TEST(Mpi_RealData, BagOfSiftOnScene15OverTwoRanksEqualsOneProcess) {
  const std::string scene15 = fixtures::Scene15Dir();
  if (scene15.empty()) SCENELAB_SKIP_OR_FAIL("15-scene not found at " + fixtures::Scene15Path());
  TempDir dir;
  auto args = [&](const fs::path& out) {
    return std::vector<std::string>{"classic", "--data", scene15, "--features", "bow",       "--step",
                                    "5",       "--bin",  "8",     "--vocab",    "200",       "--metric",
                                    "l1,l2",   "--k",    "1-10",  "--out",      out.string()};
  };
  ASSERT_EQ(RunCommand(Alone(args(dir / "one")), dir / "one.log", 900), 0) << ReadFileText(dir / "one.log");
  ASSERT_EQ(RunCommand(Mpirun(2, args(dir / "two")), dir / "two.log", 900), 0) << ReadFileText(dir / "two.log");
  const auto one = Read(dir / "one" / "results.json"), two = Read(dir / "two" / "results.json");
  for (const char* key : {"accuracy", "cv_accuracy", "selected", "best", "confusion", "model", "train_size"}) {
    EXPECT_EQ(two[key], one[key]) << key;
  }
  EXPECT_EQ(ReadFileText(dir / "two" / "predictions.csv"), ReadFileText(dir / "one" / "predictions.csv"));
  EXPECT_GT(one["selected"]["accuracy"].get<double>(), 0.55);  // a real run, not an empty one
  EXPECT_GT(two["timings_s"]["kmeans_allreduce_s"].get<double>(), 0.0);
}

#ifdef SCENELAB_HAVE_COMPARE
// `compare` as a 2-rank job: the classical pipelines (one with a sweep) run
// split over the ranks, the CNN trains on rank 0 while rank 1 waits; the
// summary's accuracies equal the one-process run's, and a rerun reuses all.
TEST(Mpi_Compare, PipelinesOverTwoRanksEqualOneProcessAndAreReused) {
  TempDir dir;
  fixtures::WriteIdxDataset(dir / "idx", 300, 60, true);
  fixtures::WriteText(
      dir / "cmp.json",
      nlohmann::json{{"name", "small"},
                     {"data", {{"path", (dir / "idx").string()}}},
                     {"seed", 1},
                     {"pipelines",
                      {{{"name", "tiny"},
                        {"type", "tiny"},
                        {"tiny", {{"size", 14}}},
                        {"knn", {{"k", "1-5"}}},
                        {"sweep", {{"tiny_size", {7, 14}}, {"k", "1-5"}}}},
                       {{"name", "bow"},
                        {"type", "bow"},
                        {"sift", {{"step", 4}, {"bins", {4}}}},
                        {"vocab", {{"size", 20}, {"descriptors_per_image", 10}}},
                        {"knn", {{"k", "1-5"}}}},
                       {{"name", "lenet5"}, {"type", "cnn"}, {"model", "lenet5"}, {"epochs", 1}, {"val", 0.0}}}}}
          .dump());
  auto args = [&](const fs::path& out) {
    return std::vector<std::string>{"compare", "--config",  (dir / "cmp.json").string(), "--threads", "2",
                                    "--out",   out.string()};
  };
  ASSERT_EQ(RunCommand(Alone(args(dir / "one")), dir / "one.log"), 0) << ReadFileText(dir / "one.log");
  ASSERT_EQ(RunCommand(Mpirun(2, args(dir / "two")), dir / "two.log"), 0) << ReadFileText(dir / "two.log");
  const auto one = Read(dir / "one" / "summary.json"), two = Read(dir / "two" / "summary.json");
  ASSERT_EQ(two["pipelines"].size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(two["pipelines"][i]["accuracy"], one["pipelines"][i]["accuracy"]) << i;
    EXPECT_EQ(two["pipelines"][i]["selected"]["correct"], one["pipelines"][i]["selected"]["correct"]) << i;
  }
  EXPECT_EQ(WithoutLastColumn(ReadFileText(dir / "two" / "pipelines" / "tiny-sweep" / "sweep.csv")),
            WithoutLastColumn(ReadFileText(dir / "one" / "pipelines" / "tiny-sweep" / "sweep.csv")));
  EXPECT_TRUE(fs::exists(dir / "two" / "report" / "index.html"));
  EXPECT_NE(ReadFileText(dir / "two" / "logs" / "rank-1.log").find("the CNN trains on rank 0"), std::string::npos);
  ASSERT_EQ(RunCommand(Mpirun(2, args(dir / "two")), dir / "again.log"), 0) << ReadFileText(dir / "again.log");
  const auto again = Read(dir / "two" / "summary.json")["pipelines"];
  for (const auto& p : again) EXPECT_TRUE(p["reused"].get<bool>()) << p["name"];
}
#endif

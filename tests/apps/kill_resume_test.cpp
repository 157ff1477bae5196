// SIGKILL a sweep and a CNN training run at seeded random moments, several
// times each, then let them finish: the results must equal an uninterrupted
// run's, and no result file may be half-written at any point.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <nlohmann/json.hpp>

#include "fixtures.h"
#include "scenelab/data/io.h"
#include "scenelab/data/rng.h"

namespace fs = std::filesystem;
using namespace scenelab;
using Clock = std::chrono::steady_clock;

namespace {
pid_t Spawn(const std::vector<std::string>& args, const fs::path& log) { return fixtures::SpawnLogged(args, log); }
int Wait(pid_t pid) { return fixtures::WaitExit(pid); }

double RunToEnd(const std::vector<std::string>& args, const fs::path& log) {
  const auto t0 = Clock::now();
  EXPECT_EQ(Wait(Spawn(args, log)), 0) << ReadFileText(log);
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Every JSON/CSV result present must parse: nothing half-written.
void ExpectNoTornFiles(const fs::path& dir) {
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    // A kill may leave "<file>.tmp.<pid>" behind; it is never read as a result.
    if (name.find(".tmp") != std::string::npos) continue;
    if (e.path().extension() == ".json") {
      EXPECT_NO_THROW(nlohmann::json::parse(ReadFileText(e.path())).size()) << e.path();
    }
  }
}

// Kills `args` at seeded random moments in (lo, hi) x `duration`, `times` times.
int KillRepeatedly(const std::vector<std::string>& args, const fs::path& log, double duration, int times,
                   std::uint64_t seed, double lo, double hi) {
  Rng rng(seed);
  int killed = 0;
  for (int i = 0; i < times; ++i) {
    const double at = duration * (lo + (hi - lo) * rng.Uniform());
    const pid_t pid = Spawn(args, log);
    std::this_thread::sleep_for(std::chrono::duration<double>(at));
    kill(pid, SIGKILL);
    killed += Wait(pid) == 128 + SIGKILL;
  }
  return killed;
}
}  // namespace

TEST(Apps_KillResume, SweepKilledAtRandomMomentsEndsEqual) {
  fixtures::TempDir dir;
  fixtures::WriteFolderDataset(dir / "data", {"a", "b", "c", "d"}, 60, 10, 128);
  auto args = [&](const fs::path& out) {
    return std::vector<std::string>{SCENELAB_BINARY, "sweep", "--data", (dir / "data").string(), "--features", "bow",
                                    "--step", "3,4", "--vocab", "20,40,60", "--k", "1-10", "--threads", "2",
                                    "--out", out.string()};
  };
  const double t = RunToEnd(args(dir / "clean"), dir / "clean.log");
  const int killed = KillRepeatedly(args(dir / "killed"), dir / "killed.log", t, 4, 11, 0.15, 0.6);
  EXPECT_GE(killed, 3) << "the run finished before most kills: too short to test";
  ExpectNoTornFiles(dir / "killed");
  RunToEnd(args(dir / "killed"), dir / "killed.log");
  auto rows = [](const fs::path& p) {
    auto j = nlohmann::json::parse(ReadFileText(p / "sweep.json"))["points"];
    for (auto& r : j) r.erase("seconds");
    return j;
  };
  EXPECT_EQ(rows(dir / "clean"), rows(dir / "killed"));  // bit for bit
  ExpectNoTornFiles(dir / "killed");
}

TEST(Apps_KillResume, CnnTrainingKilledAtRandomMomentsEndsEqual) {
  fixtures::TempDir dir;
  fixtures::WriteIdxDataset(dir / "idx", 600, 200, true);
  auto args = [&](const fs::path& out, bool resume) {
    std::vector<std::string> a{SCENELAB_BINARY, "cnn", "train", "--model", "resnet-lite", "--data", (dir / "idx").string(),
                               "--epochs", "6", "--batch", "32", "--threads", "1", "--seed", "3"};
    a.push_back(resume ? "--resume" : "--out");
    a.push_back(out.string());
    return a;
  };
  // A warm-up run first: with LibTorch's pages and the data cold, the timed
  // run would be slower than the killed ones and the kills would land late.
  auto warm = args(dir / "warm", false);
  warm[8] = "1";  // --epochs 1
  RunToEnd(warm, dir / "warm.log");
  const double t = RunToEnd(args(dir / "clean", false), dir / "clean.log");
  fs::create_directories(dir / "killed");
  const int killed = KillRepeatedly(args(dir / "killed", true), dir / "killed.log", t, 3, 12, 0.15, 0.4);
  EXPECT_GE(killed, 2);
  ExpectNoTornFiles(dir / "killed");
  RunToEnd(args(dir / "killed", true), dir / "killed.log");
  const auto a = nlohmann::json::parse(ReadFileText(dir / "clean" / "results.json"));
  const auto b = nlohmann::json::parse(ReadFileText(dir / "killed" / "results.json"));
  EXPECT_EQ(b["epochs_run"], 6);
  // One thread: resumed training is bitwise the uninterrupted one (see docs/RELIABILITY.md).
  EXPECT_EQ(a["confusion"], b["confusion"]);
  EXPECT_NEAR(a["best"]["accuracy"].get<double>(), b["best"]["accuracy"].get<double>(), 1e-12);
  EXPECT_EQ(ReadFileText(dir / "clean" / "predictions.csv"), ReadFileText(dir / "killed" / "predictions.csv"));
}

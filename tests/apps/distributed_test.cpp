// Data-parallel training over c10d/Gloo on loopback: two processes against
// one, a worker killed mid-run, and the batch sharding.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>
#include "expect_error.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "fixtures.h"
#include "scenelab/cnn/trainer.h"
#include "scenelab/data/error.h"
#include "scenelab/data/io.h"

namespace fs = std::filesystem;
using namespace scenelab;

namespace {
// The last checkpoints of two runs hold the same parameters, within `rel`
// of the largest one.
void ExpectSameParameters(const fs::path& run_a, const fs::path& run_b, double rel) {
  const auto a = cnn::CheckpointParameters(run_a.string());
  const auto b = cnn::CheckpointParameters(run_b.string());
  ASSERT_EQ(a.size(), b.size());
  double worst = 0, scale = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, static_cast<double>(std::abs(a[i] - b[i])));
    scale = std::max(scale, static_cast<double>(std::abs(a[i])));
  }
  EXPECT_LT(worst, rel * std::max(1.0, scale)) << "max |diff| " << worst << " between " << run_a << " and " << run_b;
}

std::vector<std::string> TrainArgs(const fs::path& data, const std::string& flag, const fs::path& out, int epochs) {
  // LeNet-5 has no BatchNorm and no dropout, and with no augmentation one
  // process and two compute the same gradients, up to float summation order.
  return {SCENELAB_BINARY,
          "cnn",
          "train",
          "--model",
          "lenet5",
          "--data",
          data.string(),
          "--epochs",
          std::to_string(epochs),
          "--batch",
          "32",
          "--augment",
          "none",
          "--val",
          "0",
          "--threads",
          "1",
          "--seed",
          "5",
          "--lr",
          "0.05",
          "--schedule",
          "none",
          flag,
          out.string()};
}

nlohmann::json ReadJson(const fs::path& p) { return nlohmann::json::parse(ReadFileText(p)); }
}  // namespace

TEST(Cnn_ShardOfBatch, ShardsCoverEveryBatchExactlyOnce) {
  for (std::int64_t n = 0; n <= 70; ++n) {
    for (int w = 1; w <= 5; ++w) {
      std::int64_t next = 0, lo_size = n, hi_size = 0;
      for (int r = 0; r < w; ++r) {
        const auto [a, b] = cnn::ShardOfBatch(n, r, w);
        EXPECT_EQ(a, next) << n << " " << w << " " << r;  // contiguous, no gap, no overlap
        next = b;
        lo_size = std::min(lo_size, b - a);
        hi_size = std::max(hi_size, b - a);
      }
      EXPECT_EQ(next, n);
      EXPECT_LE(hi_size - lo_size, 1);
    }
  }
  cnn::DistributedOptions o;
  o.world_size = 2;
  EXPECT_THROW(o.Validate(), Error);  // no rendezvous
  EXPECT_MESSAGE(o.Validate(), "--rendezvous HOST:PORT or file:PATH is needed");
  o.rendezvous = "localhost:70000";
  EXPECT_THROW(o.Validate(), Error);
  EXPECT_MESSAGE(o.Validate(), "got 'localhost:70000'");
  o.rendezvous = "127.0.0.1:29511";
  o.rank = 2;
  EXPECT_THROW(o.Validate(), Error);
  EXPECT_MESSAGE(o.Validate(), "--rank must be in [0, 2), got 2");
  o.rank = 1;
  EXPECT_NO_THROW(o.Validate());
}

TEST(Cnn_Distributed, TwoProcessesMatchOneWithTheSameGlobalBatch) {
  fixtures::TempDir dir;
  fixtures::WriteIdxDataset(dir / "idx", 400, 100, true);
  ASSERT_EQ(fixtures::WaitExit(fixtures::SpawnLogged(TrainArgs(dir / "idx", "--out", dir / "one", 1), dir / "one.log")),
            0)
      << ReadFileText(dir / "one.log");
  auto two = TrainArgs(dir / "idx", "--out", dir / "two", 1);
  two.insert(two.end(), {"--nproc", "2"});
  ASSERT_EQ(fixtures::WaitExit(fixtures::SpawnLogged(two, dir / "two.log")), 0) << ReadFileText(dir / "two.log");
  // 13 SGD steps: only the order of float sums differs.
  ExpectSameParameters(dir / "one", dir / "two", 1e-4);
  const auto ra = ReadJson(dir / "one" / "results.json"), rb = ReadJson(dir / "two" / "results.json");
  EXPECT_NEAR(ra["best"]["accuracy"].get<double>(), rb["best"]["accuracy"].get<double>(), 0.011);
  EXPECT_EQ(rb["params"]["distributed"]["world_size"], 2);
  // Only rank 0 wrote: one metrics file, one results file, rank 1 logged apart.
  EXPECT_TRUE(fs::exists(dir / "two" / "metrics.csv"));
  EXPECT_TRUE(fs::exists(dir / "two" / "log-rank1.txt"));
  EXPECT_FALSE(fs::exists(dir / "two" / "log-rank0.txt"));
}

TEST(Cnn_Distributed, KilledWorkerStopsTheRunWithinTheTimeoutAndResumeFinishes) {
  fixtures::TempDir dir;
  fixtures::WriteIdxDataset(dir / "idx", 2000, 100, true);
  auto args = TrainArgs(dir / "idx", "--out", dir / "run", 8);
  args.insert(args.end(), {"--nproc", "2", "--dist-timeout", "10"});
  const auto start = std::chrono::steady_clock::now();
  const int launcher = fixtures::SpawnLogged(args, dir / "run.log");
  // Wait for the first committed checkpoint, then kill rank 1.
  const fs::path meta = dir / "run" / "checkpoint" / "meta.json";
  while (!fs::exists(meta) && std::chrono::steady_clock::now() - start < std::chrono::seconds(120)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(fs::exists(meta)) << ReadFileText(dir / "run.log");
  std::ifstream pids(dir / "run" / "workers.pid");
  pid_t rank0 = 0, rank1 = 0;
  pids >> rank0 >> rank1;
  ASSERT_GT(rank1, 0);
  ::kill(rank1, SIGKILL);
  const auto killed_at = std::chrono::steady_clock::now();
  const int code = fixtures::WaitExit(launcher);
  const double stop_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();
  EXPECT_NE(code, 0);
  // The survivor fails on its next collective; the launcher's grace is the
  // timeout + 15 s, so it never hangs past that.
  EXPECT_LT(stop_s, 10 + 15 + 5);
  const std::string log = ReadFileText(dir / "run.log");
  EXPECT_NE(log.find("worker 1"), std::string::npos) << log;
  // Resume both ranks from the last checkpoint: the run finishes.
  auto resume = TrainArgs(dir / "idx", "--resume", dir / "run", 8);
  resume.insert(resume.end(), {"--nproc", "2", "--dist-timeout", "10"});
  ASSERT_EQ(fixtures::WaitExit(fixtures::SpawnLogged(resume, dir / "resume.log")), 0)
      << ReadFileText(dir / "resume.log");
  const auto r = ReadJson(dir / "run" / "results.json");
  EXPECT_EQ(r["epochs_run"], 8);
  EXPECT_GE(r["resumed_from_epoch"].get<int>(), 1);
  // Against an uninterrupted 2-process run of the same config: the resumed
  // run continued from the checkpoint (model, optimizer, schedule, data
  // order), so it ends where the clean one does.
  auto clean = TrainArgs(dir / "idx", "--out", dir / "clean", 8);
  clean.insert(clean.end(), {"--nproc", "2", "--dist-timeout", "10"});
  ASSERT_EQ(fixtures::WaitExit(fixtures::SpawnLogged(clean, dir / "clean.log")), 0) << ReadFileText(dir / "clean.log");
  ExpectSameParameters(dir / "clean", dir / "run", 1e-5);
  const auto rc = ReadJson(dir / "clean" / "results.json");
  EXPECT_EQ(rc["resumed_from_epoch"], 0);
  EXPECT_NEAR(rc["best"]["accuracy"].get<double>(), r["best"]["accuracy"].get<double>(), 0.011);
}

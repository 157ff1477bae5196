// SIGKILL a sweep and a CNN training run at seeded random moments, several
// times each, then let them finish: the results must equal an uninterrupted
// run's, and no result file may be half-written at any point.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
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

// A CSV field count per row, quotes per RFC 4180 (sources may hold commas).
std::vector<std::size_t> CsvFieldCounts(const std::string& text) {
  std::vector<std::size_t> rows;
  std::size_t fields = 1;
  bool quoted = false;
  for (char c : text) {
    if (c == '"')
      quoted = !quoted;
    else if (c == ',' && !quoted)
      ++fields;
    else if (c == '\n' && !quoted) {
      rows.push_back(fields);
      fields = 1;
    }
  }
  return rows;
}

bool EndsWith(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Every result present must be whole: JSON parses; CSV rows end in a newline
// and all have the header's field count; PNG ends in its IEND chunk; SVG in
// </svg>; .pt (a zip) in its end-of-central-directory record; cache .bin
// files carry a checksum of every byte before it.
void ExpectNoTornFiles(const fs::path& dir) {
  int checked = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    const std::string name = e.path().filename().string();
    // A kill may leave "<file>.tmp.<pid>" behind; it is never read as a result.
    if (name.find(".tmp") != std::string::npos) continue;
    const std::string ext = e.path().extension().string();
    const std::string text = ReadFileText(e.path());
    ++checked;
    if (ext == ".json") {
      EXPECT_NO_THROW(nlohmann::json::parse(text).size()) << e.path();
    } else if (ext == ".csv") {
      ASSERT_TRUE(EndsWith(text, "\n")) << e.path() << " does not end in a newline";
      const auto counts = CsvFieldCounts(text);
      ASSERT_FALSE(counts.empty()) << e.path();
      for (std::size_t r = 1; r < counts.size(); ++r) EXPECT_EQ(counts[r], counts[0]) << e.path() << " row " << r;
    } else if (ext == ".png") {
      EXPECT_EQ(text.compare(0, 8, "\x89PNG\r\n\x1a\n"), 0) << e.path();
      EXPECT_TRUE(EndsWith(text, std::string("IEND\xae\x42\x60\x82", 8))) << e.path() << " has no IEND chunk";
    } else if (ext == ".svg") {
      EXPECT_TRUE(EndsWith(text, "</svg>\n") || EndsWith(text, "</svg>")) << e.path();
    } else if (ext == ".pdf") {
      EXPECT_EQ(text.compare(0, 5, "%PDF-"), 0) << e.path();
      EXPECT_NE(text.rfind("%%EOF"), std::string::npos) << e.path() << " has no %%EOF";
      EXPECT_GE(text.rfind("%%EOF"), text.size() - 8) << e.path() << " does not end in %%EOF";
    } else if (ext == ".pt") {
      // The zip's end-of-central-directory record sits in the last 22 bytes (no comment).
      ASSERT_GE(text.size(), 22u) << e.path();
      EXPECT_EQ(text.compare(text.size() - 22, 4, "PK\x05\x06"), 0) << e.path() << " is not a whole zip";
    } else if (ext == ".bin") {
      ASSERT_GE(text.size(), 16u) << e.path();
      Checksum64 sum;
      sum.Update(text.data(), text.size() - 8);
      std::uint64_t stored = 0;
      std::memcpy(&stored, text.data() + text.size() - 8, 8);
      EXPECT_EQ(sum.Digest(), stored) << e.path() << " fails its checksum";
    } else {
      --checked;
    }
  }
  EXPECT_GT(checked, 0) << dir << " holds no result files";
}

// Runs `args` and kills it once `progress()` has grown past its value at the
// start (a sweep point or an epoch finished in this run), after a further
// seeded random delay in [0, max_delay): every kill lands after work that a
// resume must reuse, at a random moment. Returns the number of kills.
int KillAfterProgress(const std::vector<std::string>& args, const fs::path& log, const std::function<int()>& progress,
                      int times, std::uint64_t seed, double max_delay) {
  Rng rng(seed);
  int killed = 0;
  for (int i = 0; i < times; ++i) {
    const int before = progress();
    const pid_t pid = Spawn(args, log);
    int status = 0;
    bool exited = false;
    while (progress() <= before) {
      if (waitpid(pid, &status, WNOHANG) == pid) {
        exited = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (exited) break;  // finished before it could be killed
    std::this_thread::sleep_for(std::chrono::duration<double>(max_delay * rng.Uniform()));
    kill(pid, SIGKILL);
    killed += Wait(pid) == 128 + SIGKILL;
  }
  return killed;
}

int CountFiles(const fs::path& dir, const std::string& ext) {
  std::error_code ec;
  int n = 0;
  if (!fs::is_directory(dir, ec)) return 0;
  for (const auto& e : fs::directory_iterator(dir, ec)) n += e.path().extension() == ext;
  return n;
}

int CheckpointEpoch(const fs::path& run) {
  try {
    return nlohmann::json::parse(ReadFileText(run / "checkpoint" / "meta.json")).at("epoch").get<int>();
  } catch (const std::exception&) {
    return 0;  // absent or being replaced
  }
}
}  // namespace

TEST(Apps_KillResume, SweepKilledAtRandomMomentsEndsEqual) {
  fixtures::TempDir dir;
  fixtures::WriteFolderDataset(dir / "data", {"a", "b", "c", "d"}, 60, 10, 128);
  auto args = [&](const fs::path& out) {
    return std::vector<std::string>{SCENELAB_BINARY, "sweep",    "--data", (dir / "data").string(),
                                    "--features",    "bow",      "--step", "3,4",
                                    "--vocab",       "20,40,60", "--k",    "1-10",
                                    "--threads",     "2",        "--out",  out.string()};
  };
  const double t = RunToEnd(args(dir / "clean"), dir / "clean.log");
  // Six feature points: each kill lands after one more point was written.
  const int killed = KillAfterProgress(
      args(dir / "killed"), dir / "killed.log", [&] { return CountFiles(dir / "killed" / "points", ".json"); }, 3, 11,
      t / 12);
  EXPECT_GE(killed, 2) << "the run finished before most kills: too short to test";
  ExpectNoTornFiles(dir / "killed");
  RunToEnd(args(dir / "killed"), dir / "killed.log");
  const auto killed_json = nlohmann::json::parse(ReadFileText(dir / "killed" / "sweep.json"));
  // The proof that a resume happened: the last run reused the points the killed runs finished.
  EXPECT_GE(killed_json["computed"]["points_reused"].get<int>(), killed) << killed_json["computed"].dump();
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
    std::vector<std::string> a{SCENELAB_BINARY,
                               "cnn",
                               "train",
                               "--model",
                               "resnet-lite",
                               "--data",
                               (dir / "idx").string(),
                               "--epochs",
                               "6",
                               "--batch",
                               "32",
                               "--threads",
                               "1",
                               "--seed",
                               "3"};
    a.push_back(resume ? "--resume" : "--out");
    a.push_back(out.string());
    return a;
  };
  const double t = RunToEnd(args(dir / "clean", false), dir / "clean.log");
  fs::create_directories(dir / "killed");
  // Each kill lands after one more checkpoint was committed, up to half an epoch later.
  const int killed = KillAfterProgress(
      args(dir / "killed", true), dir / "killed.log", [&] { return CheckpointEpoch(dir / "killed"); }, 3, 12, t / 12);
  EXPECT_GE(killed, 2);
  ExpectNoTornFiles(dir / "killed");
  RunToEnd(args(dir / "killed", true), dir / "killed.log");
  const auto a = nlohmann::json::parse(ReadFileText(dir / "clean" / "results.json"));
  const auto b = nlohmann::json::parse(ReadFileText(dir / "killed" / "results.json"));
  EXPECT_EQ(b["epochs_run"], 6);
  // The proof that a resume happened: the last run started from a checkpoint.
  EXPECT_GE(b["resumed_from_epoch"].get<int>(), killed) << b.dump();
  EXPECT_EQ(a["resumed_from_epoch"].get<int>(), 0);
  // One thread: resumed training is bitwise the uninterrupted one (see docs/RELIABILITY.md).
  EXPECT_EQ(a["confusion"], b["confusion"]);
  EXPECT_NEAR(a["best"]["accuracy"].get<double>(), b["best"]["accuracy"].get<double>(), 1e-12);
  EXPECT_EQ(ReadFileText(dir / "clean" / "predictions.csv"), ReadFileText(dir / "killed" / "predictions.csv"));
  ExpectNoTornFiles(dir / "killed");
}

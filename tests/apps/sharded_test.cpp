// The classical pipelines split across processes (issue 19), with in-process
// ranks on threads (thread_group.h): the MPI transport itself is tested
// under mpirun in tests/mpi/.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "fixtures.h"
#include "scenelab/data/io.h"
#include "scenelab/pipelines/classic.h"
#include "scenelab/pipelines/sweep.h"
#include "small_config.h"
#include "thread_group.h"

namespace fs = std::filesystem;
using namespace scenelab;
using namespace scenelab::pipelines;
using scenelab::fixtures::TempDir;
using scenelab::fixtures::ThreadGroup;

namespace {
ClassicConfig Config(const fs::path& data, const std::string& features) {
  ClassicConfig c = fixtures::SmallClassicConfig(data, features);
  c.gmm.components = 4;
  c.pca_dim = 16;
  c.threads = 1;
  return c;
}

// Runs `body(rank member)` on `ranks` threads; returns their error messages.
template <typename Body>
std::vector<std::string> OnRanks(ThreadGroup* group, int ranks, Body body) {
  std::vector<std::string> errors(static_cast<std::size_t>(ranks));
  std::vector<std::thread> threads;
  for (int r = 0; r < ranks; ++r) {
    threads.emplace_back([&, r] {
      ThreadGroup::Member me(group, r);
      try {
        body(me);
      } catch (const std::exception& e) {
        errors[static_cast<std::size_t>(r)] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  return errors;
}
}  // namespace

// RunClassic on `ranks` in-process ranks: every rank's result (rank 0's
// results.json, null elsewhere); fails the test on any rank's error.
std::vector<nlohmann::ordered_json> ClassicOnRanks(const ClassicConfig& cfg, const fs::path& out, int ranks) {
  ThreadGroup group(ranks);
  std::vector<nlohmann::ordered_json> results(static_cast<std::size_t>(ranks));
  const auto errors = OnRanks(&group, ranks, [&](const ThreadGroup::Member& me) {
    results[static_cast<std::size_t>(me.rank())] = RunClassic(cfg, out.string(), nullptr, me);
  });
  for (const auto& e : errors) EXPECT_EQ(e, "") << cfg.features << ", " << ranks << " ranks";
  for (int q = 1; q < ranks; ++q) EXPECT_TRUE(results[static_cast<std::size_t>(q)].is_null());
  return results;
}

// Extraction, the vocabulary sample, k-means, encoding, the kNN queries and
// the cross-validation folds split over 2 and 3 ranks give exactly the
// one-process results, and only rank 0 writes the run folder.
TEST(Pipelines_Sharded, ClassicOverTwoAndThreeRanksEqualsOneProcess) {
  TempDir dir;
  fixtures::WriteFolderDataset(dir / "data", {"a", "b", "c"}, 7, 4);  // 21 / 12 images: uneven blocks
  for (const std::string features : {"bow", "tiny", "fisher"}) {
    const ClassicConfig cfg = Config(dir / "data", features);
    const auto one = RunClassic(cfg, (dir / ("one-" + features)).string(), nullptr);
    for (int ranks : {2, 3}) {
      const fs::path out = dir / fmt::format("{}-{}ranks", features, ranks);
      const auto results = ClassicOnRanks(cfg, out, ranks);
      const auto& r = results[0];
      for (const char* key : {"accuracy", "cv_accuracy", "selected", "best", "confusion", "train_size", "test_size"}) {
        EXPECT_EQ(r[key], one[key]) << features << ", " << ranks << " ranks: " << key;
      }
      if (features != "tiny") {
        EXPECT_EQ(r["model"], one["model"]) << features << ", " << ranks << " ranks";
      }
      EXPECT_EQ(ReadFileText(out / "predictions.csv"), ReadFileText(dir / ("one-" + features) / "predictions.csv"));
    }
  }
}

// Repeated splits (the Lazebnik protocol) over 2 and 3 ranks: each rank
// extracts its block of the pool once, every split runs over all ranks, and
// the repeats' accuracies, selections and summed confusion equal one process.
TEST(Pipelines_Sharded, RepeatedSplitsOverRanksEqualOneProcess) {
  TempDir dir;
  fixtures::WriteFolderDataset(dir / "data", {"a", "b", "c"}, 6, 3);
  for (const std::string features : {"bow", "tiny"}) {
    ClassicConfig cfg = Config(dir / "data", features);
    cfg.repeats = 3;
    cfg.data.train_per_class = 5;
    cfg.cv_folds = 2;
    const auto one = RunClassic(cfg, (dir / ("one-" + features)).string(), nullptr);
    for (int ranks : {2, 3}) {
      const auto results = ClassicOnRanks(cfg, dir / fmt::format("{}-{}", features, ranks), ranks);
      const auto& r = results[0];
      ASSERT_TRUE(r.contains("repeats")) << r.dump();
      EXPECT_EQ(r["repeats"]["accuracy"], one["repeats"]["accuracy"]) << features << ", " << ranks << " ranks";
      EXPECT_EQ(r["repeats"]["oracle_accuracy"], one["repeats"]["oracle_accuracy"]);
      EXPECT_EQ(r["confusion"], one["confusion"]);
      for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(r["repeats"]["splits"][i]["selected"], one["repeats"]["splits"][i]["selected"]) << i;
      }
    }
  }
}

// Points go out one at a time; with two descriptor sets and two ranks each
// rank keeps to one set. sweep.csv equals the one-process one apart from
// the seconds, and a rerun reuses every finished point.
TEST(Pipelines_Sharded, SweepHandedOutEqualsOneProcessAndResumes) {
  TempDir dir;
  fixtures::WriteFolderDataset(dir / "data", {"a", "b", "c"}, 6, 3);
  ClassicConfig base = Config(dir / "data", "bow");
  SweepGrid grid;
  grid.steps = {6, 8};
  grid.vocab_sizes = {5, 10};
  const auto one = RunSweep(base, grid, (dir / "one").string(), nullptr);
  auto without_seconds = [](const std::string& csv) {
    std::string out, line;
    std::istringstream in(csv);
    while (std::getline(in, line)) out += line.substr(0, line.rfind(',')) + "\n";
    return out;
  };
  ThreadGroup group(2);
  std::vector<SweepResult> results(2);
  auto run = [&] {
    return OnRanks(&group, 2, [&](const ThreadGroup::Member& me) {
      results[static_cast<std::size_t>(me.rank())] = RunSweep(base, grid, (dir / "two").string(), nullptr, me);
    });
  };
  for (const auto& e : run()) ASSERT_EQ(e, "");
  EXPECT_EQ(without_seconds(ReadFileText(dir / "two" / "sweep.csv")),
            without_seconds(ReadFileText(dir / "one" / "sweep.csv")));
  auto a = results[0].json["points"], b = one.json["points"];
  for (auto& row : a) row.erase("seconds");
  for (auto& row : b) row.erase("seconds");
  EXPECT_EQ(a, b);
  EXPECT_EQ(results[0].json["selected"]["accuracy"], one.json["selected"]["accuracy"]);
  // Tasks 0,1 are step 6 and 2,3 step 8. Every task ran once; the two
  // ranks started on different descriptor sets (a rank may take the other
  // set's last point when it runs out: the hand-out is dynamic).
  ASSERT_EQ(group.ran.size(), 2u);
  std::multiset<std::size_t> all;
  for (const auto& tasks : group.ran) all.insert(tasks.begin(), tasks.end());
  EXPECT_EQ(all, (std::multiset<std::size_t>{0, 1, 2, 3}));
  if (!group.ran[0].empty() && !group.ran[1].empty()) {
    EXPECT_NE(group.ran[0][0] / 2, group.ran[1][0] / 2) << "both ranks started on one descriptor set";
  }
  EXPECT_TRUE(results[1].json.is_null());  // rank 0 alone writes
  // Resume: two of the four point files gone, two reused.
  int removed = 0;
  for (const auto& e : fs::directory_iterator(dir / "two" / "points")) {
    if (removed++ < 2) fs::remove(e.path());
  }
  for (const auto& e : run()) ASSERT_EQ(e, "");
  EXPECT_EQ(results[0].points_reused, 2);
  EXPECT_EQ(results[1].points_reused, 2);
  EXPECT_EQ(without_seconds(ReadFileText(dir / "two" / "sweep.csv")),
            without_seconds(ReadFileText(dir / "one" / "sweep.csv")));
}

// The hand-out policy: the group last worked on, then a group nobody has
// started, then whatever is left.
TEST(Features_Collective, NextTaskPrefersTheLastGroupThenAnUntouchedOne) {
  const std::vector<std::size_t> group = {0, 0, 1, 1, 2, 2};
  constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  std::vector<bool> started(6, false);
  EXPECT_EQ(features::NextTask(group, started, kNone), 0u);
  started[0] = true;
  EXPECT_EQ(features::NextTask(group, started, 0), 1u);      // same group
  EXPECT_EQ(features::NextTask(group, started, kNone), 2u);  // untouched group 1
  started[2] = true;
  EXPECT_EQ(features::NextTask(group, started, kNone), 4u);  // group 2 untouched, before group 0's second
  started[4] = true;
  EXPECT_EQ(features::NextTask(group, started, 2), 5u);
  started[5] = true;
  EXPECT_EQ(features::NextTask(group, started, 2), 1u);  // its group is done: the first left
  started[1] = started[3] = true;
  EXPECT_EQ(features::NextTask(group, started, 0), kNone);
}

#include <gtest/gtest.h>

#include <filesystem>
#include <tuple>

#include "expect_error.h"
#include "fixtures.h"
#include "scenelab/cnn/trainer.h"
#include "scenelab/data/error.h"
#include "scenelab/data/io.h"

namespace fs = std::filesystem;
using namespace scenelab;
using scenelab::fixtures::TempDir;

namespace {
data::Dataset Synthetic(int per_class, int offset) {
  std::vector<data::Sample> s;
  for (int i = 0; i < per_class * 3; ++i) {
    s.push_back({i % 3, "mem#" + std::to_string(i), fixtures::ClassImage(i % 3, offset + i, 16, 16)});
  }
  return data::Dataset({"a", "b", "c"}, s);
}

cnn::TrainConfig SmallConfig() {
  cnn::TrainConfig c;
  c.model = "resnet-lite";
  c.epochs = 3;
  c.batch_size = 16;
  c.lr = 0.05;
  c.threads = 1;  // bitwise-reproducible arithmetic
  c.val_fraction = 0.2;
  c.augment = {"crop", "flip", "rotate"};
  c.crop_padding = 2;
  c.seed = 5;
  return c;
}
}  // namespace

TEST(Cnn_Trainer, LearnsSeparableClassesAndWritesMetricsAndCheckpoint) {
  TempDir dir;
  const auto train = Synthetic(40, 0), test = Synthetic(10, 1000);
  auto cfg = SmallConfig();
  cfg.epochs = 6;
  cfg.augment = {"flip"};
  const auto r = cnn::Train(cfg, train, test, dir.path().string(), false, nullptr);
  ASSERT_EQ(r.history.size(), 6u);
  EXPECT_EQ(r.input.ToString(), "1x16x16");
  EXPECT_LT(r.history.back().train_loss, r.history.front().train_loss);
  EXPECT_GT(r.test_accuracy, 0.6);  // chance is 1/3
  EXPECT_EQ(r.test_predicted.size(), 30u);
  // 3 classes: the top 5 always hold the truth; top-1 hits are top-5 hits.
  ASSERT_EQ(r.test_top5.size(), 30u);
  for (std::size_t i = 0; i < 30; ++i) EXPECT_EQ(r.test_top5[i], 1);
  for (float s : r.test_score) {
    EXPECT_GT(s, 0.3f);
    EXPECT_LE(s, 1.0f);
  }
  const auto rows = cnn::ParseMetricsCsv(ReadFileText(dir / "metrics.csv"), "metrics.csv");
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_EQ(rows[5].epoch, 6);
  EXPECT_TRUE(fs::exists(dir / "checkpoint" / "meta.json"));
  EXPECT_TRUE(fs::exists(dir / "checkpoint" / "model-6.pt"));
  EXPECT_TRUE(rows[5].has_val);                                 // val_fraction 0.2: a real validation split
  EXPECT_FALSE(fs::exists(dir / "checkpoint" / "model-5.pt"));  // older epochs are pruned
  // The model tested is the epoch with the highest validation accuracy (the first of equals).
  int argmax = 0;
  double best = -1;
  for (const auto& m : r.history) {
    if (m.val_acc > best) {
      best = m.val_acc;
      argmax = m.epoch;
    }
  }
  EXPECT_TRUE(r.selected_on_validation);
  EXPECT_EQ(r.selected_epoch, argmax);
  // `cnn eval` evaluates that same model from the checkpoint folder.
  const auto e = cnn::EvaluateCheckpoint(dir.path().string(), test, nullptr);
  EXPECT_EQ(e.selected_epoch, argmax);
  EXPECT_EQ(e.test_predicted, r.test_predicted);
}

TEST(Cnn_Trainer, ResumeContinuesExactlyWhereItStopped) {
  TempDir a, b;
  const auto train = Synthetic(12, 0), test = Synthetic(5, 1000);
  auto cfg = SmallConfig();
  cfg.schedule = cnn::Schedule::kNone;  // so the first two epochs do not depend on the total
  const auto full = cnn::Train(cfg, train, test, a.path().string(), false, nullptr);
  auto two = cfg;
  two.epochs = 2;
  cnn::Train(two, train, test, b.path().string(), false, nullptr);  // as if killed after epoch 2
  // A run of 3 epochs killed after epoch 2 would have saved epochs = 3.
  auto meta = nlohmann::json::parse(ReadFileText(b / "checkpoint" / "meta.json"));
  meta["config"]["epochs"] = 3;
  WriteFileAtomic(b / "checkpoint" / "meta.json", meta.dump());
  const auto resumed = cnn::Train(cfg, train, test, b.path().string(), true, nullptr);
  EXPECT_EQ(resumed.resumed_from_epoch, 2);
  ASSERT_EQ(resumed.history.size(), 3u);
  // With one thread the arithmetic is deterministic: the same weights, losses and predictions.
  EXPECT_NEAR(resumed.history[2].train_loss, full.history[2].train_loss, 1e-4);
  EXPECT_EQ(resumed.test_predicted, full.test_predicted);
}

TEST(Cnn_Trainer, ValidatesOptionsAndCheckpoints) {
  // Choices are enums: a name outside their table cannot reach a config.
  auto cfg = SmallConfig();
  EXPECT_MESSAGE(cnn::TrainOptions().At("optimizer").set(&cfg, "rmsprop", "--opt"),
                 "--opt: unknown value 'rmsprop' (expected sgd, adam or adamw)");
  EXPECT_MESSAGE(cnn::TrainOptions().At("schedule").set(&cfg, "warm", "--schedule"),
                 "--schedule: unknown value 'warm' (expected none, step, multistep, cosine, onecycle or plateau)");
  for (auto o : {cnn::Optimizer::kSgd, cnn::Optimizer::kAdam, cnn::Optimizer::kAdamW})
    EXPECT_EQ(cnn::OptimizerNames().Parse(cnn::OptimizerNames().Show(o)), o);
  cfg = SmallConfig();
  TempDir dir;
  EXPECT_THROW(cnn::EvaluateCheckpoint(dir.path().string(), Synthetic(1, 0), nullptr), Error);
  fs::create_directories(dir / "checkpoint");
  fixtures::WriteText(dir / "checkpoint" / "meta.json", "{\"epoch\": 1, \"config\": ");
  try {
    cnn::EvaluateCheckpoint(dir.path().string(), Synthetic(1, 0), nullptr);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("meta.json: corrupt checkpoint metadata"), std::string::npos) << e.what();
  }
  EXPECT_THROW(cnn::ParseMetricsCsv("epoch,train_loss\n1,x\n", "m.csv"), Error);
}

TEST(Cnn_Trainer, SchedulesAndOptimisersRun) {
  const auto train = Synthetic(6, 0), test = Synthetic(2, 1000);
  for (const auto& [opt, sched] : std::vector<std::pair<std::string, std::string>>{
           {"sgd", "step"}, {"adam", "onecycle"}, {"adamw", "plateau"}, {"sgd", "multistep"}, {"sgd", "none"}}) {
    TempDir dir;
    auto cfg = SmallConfig();
    cfg.epochs = 2;
    cfg.optimizer = cnn::OptimizerNames().Parse(opt);
    cfg.schedule = cnn::ScheduleNames().Parse(sched);
    cfg.step_size = 1;
    cfg.milestones = {1};
    cfg.lr = opt == "sgd" ? 0.05 : 0.001;
    cfg.label_smoothing = 0.1;
    const auto r = cnn::Train(cfg, train, test, dir.path().string(), false, nullptr);
    ASSERT_EQ(r.history.size(), 2u) << opt << "/" << sched;
    EXPECT_TRUE(std::isfinite(r.history.back().train_loss)) << opt << "/" << sched;
    if (sched == "step" || sched == "multistep") {
      EXPECT_NEAR(r.history[1].lr, cfg.lr * 0.1, 1e-12);
    }
    if (sched == "none") {
      EXPECT_DOUBLE_EQ(r.history[1].lr, cfg.lr);
    }
  }
}

TEST(Cnn_Trainer, WithoutValidationSplitReportsNoValidationNumbers) {
  TempDir dir;
  const auto train = Synthetic(20, 0), test = Synthetic(5, 1000);
  auto cfg = SmallConfig();
  cfg.epochs = 2;
  cfg.val_fraction = 0;
  const auto r = cnn::Train(cfg, train, test, dir.path().string(), false, nullptr);
  ASSERT_EQ(r.history.size(), 2u);
  for (const auto& m : r.history) EXPECT_FALSE(m.has_val);
  EXPECT_FALSE(r.selected_on_validation);
  EXPECT_EQ(r.selected_epoch, 2);  // no validation split: the last epoch
  const std::string csv = ReadFileText(dir / "metrics.csv");
  // Empty val cells, never a copy of the training numbers.
  const std::string row = csv.substr(csv.find('\n') + 1, csv.find('\n', csv.find('\n') + 1) - csv.find('\n') - 1);
  EXPECT_NE(row.find(",,"), std::string::npos) << row;
  const auto rows = cnn::ParseMetricsCsv(csv, "metrics.csv");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_FALSE(rows[0].has_val);
  EXPECT_EQ(cnn::MetricsCsv(rows), csv);  // round trip
}

// A checkpoint's training config with a non-integer or out-of-range count is
// a clear error, not undefined behaviour (fuzz_config found 1e127 -> int).
TEST(Cnn_TrainConfig, IntegerFieldsAreRangeChecked) {
  const auto good = cnn::TrainConfig().ToJson();
  for (const auto& [key, bad, message] :
       {std::tuple<std::string, nlohmann::json, std::string>{"epochs", 1.28e127,
                                                             "training config: epochs: expected an integer"},
        {"threads", 5000000000LL, "training config: threads: 5000000000 is out of range"},
        {"seed", -1, "training config: seed: must be >= 0, got -1"},
        {"milestones", nlohmann::json::array({1, 2.5}), "training config: milestones: expected integers, found 2.5"}}) {
    auto j = good;
    j[key] = bad;
    try {
      cnn::TrainConfig::FromJson(j);
      ADD_FAILURE() << key << " accepted " << bad.dump();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(cnn::TrainConfig::FromJson(good).ToJson(), good);
}

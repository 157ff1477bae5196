// The option tables of TrainConfig and DistributedOptions: one entry per
// option gives the `cnn train` flag, the compare-config key, the echo in
// results.json and checkpoint/meta.json, so they agree.
#include <gtest/gtest.h>

#include <set>

#include "expect_error.h"
#include "fixtures.h"
#include "option_checks.h"
#include "scenelab/cnn/trainer.h"
#include "scenelab/data/error.h"

using namespace scenelab;

namespace {

// Reads `j` as a config, echoes it, reads the echo back, and reads it once
// more as command-line text for every entry with a flag (the rest from the
// config, as `cnn train` cannot set them): all three echoes are equal.
template <typename Config>
nlohmann::ordered_json RoundTrip(const OptionTable<Config>& table, const nlohmann::json& j) {
  Config c;
  table.Apply(table.FromJson(j, "t.yaml"), &c);
  const auto echo = table.Echo(c);
  Config again;
  table.Apply(table.FromJson(echo, "t.yaml"), &again);
  EXPECT_EQ(table.Echo(again), echo);
  std::vector<BasicGivenOption<Config>> given;
  for (const auto& s : table.entries()) {
    if (!echo.contains(s.key)) continue;
    const nlohmann::json v = echo[s.key];
    if (s.flag.empty())
      given.push_back({&s, v, "t.yaml: " + s.key});
    else if (s.kind == OptionKind::kFlag)
      given.push_back({&s, v.get<bool>() ? "true" : "false", s.flag});
    else
      given.push_back({&s, fixtures::CliText(v), s.flag});
  }
  Config from_cli;
  table.Apply(given, &from_cli);
  EXPECT_EQ(table.Echo(from_cli), echo);
  return echo;
}
}  // namespace

TEST(Cnn_TrainOptions, EveryKeyRoundTripsCliConfigAndEcho) {
  // Every key away from its default.
  const auto j = nlohmann::json::parse(R"({"model": "alexnet", "input": "1x28x28", "num_classes": 7, "epochs": 3,
    "batch_size": 32, "optimizer": "adamw", "lr": 0.002, "momentum": 0.8, "nesterov": true, "weight_decay": 0.01,
    "schedule": "multistep", "step_size": 4, "gamma": 0.5, "milestones": [4, 2], "plateau_patience": 3,
    "plateau_factor": 0.3, "label_smoothing": 0.1, "augment": "flip,rotate", "crop_padding": 2, "rotate_degrees": 15,
    "standardize": false, "val_fraction": 0.2, "early_stopping": 2, "seed": 9, "threads": 1, "channels_last": false,
    "precision": "bf16", "eval_batch": 100, "loader": "stream", "loader_memory_gb": 2, "loader_threads": 1,
    "prefetch": 3})");
  const auto echo = RoundTrip(cnn::TrainOptions(), j);
  const cnn::TrainConfig defaults;
  const auto default_echo = defaults.ToJson();
  std::set<std::string> keys;
  for (const auto& s : cnn::TrainOptions().entries()) {
    keys.insert(s.key);
    ASSERT_TRUE(echo.contains(s.key)) << s.key;
    EXPECT_NE(echo[s.key], default_echo[s.key]) << s.key << " is not moved from its default by the test";
  }
  EXPECT_EQ(keys.size(), echo.size());
  EXPECT_EQ(echo["milestones"], nlohmann::ordered_json::array({2, 4}));  // sorted, as every integer list
  EXPECT_EQ(echo["augment"], nlohmann::ordered_json::array({"flip", "rotate"}));
  // Each entry reads and writes its own field: every other value comes back as given.
  for (const auto& [key, given] : j.items()) {
    if (key != "milestones" && key != "augment") EXPECT_EQ(nlohmann::json(echo[key]), given) << key;
  }
  // ToJson/FromJson (checkpoint/meta.json) are the same echo.
  const auto c = cnn::TrainConfig::FromJson(echo);
  EXPECT_EQ(c.ToJson(), echo);
  EXPECT_EQ(c.input.ToString(), "1x28x28");
  EXPECT_FALSE(c.channels_last);

  RoundTrip(cnn::DistributedOptionTable(), nlohmann::json::parse(R"({"world_size": 4, "rank": 2,
    "rendezvous": "host:29500", "timeout_s": 30, "bucket_bytes": 4096})"));
}

// The short spellings of compare configs are aliases of the canonical keys.
TEST(Cnn_TrainOptions, CompareAliasesMeanTheCheckpointKeys) {
  const auto& t = cnn::TrainOptions();
  cnn::TrainConfig a, b;
  t.Apply(t.FromJson(nlohmann::json::parse(R"({"batch": 32, "opt": "adam", "val": 0})"), "c.yaml"), &a);
  t.Apply(t.FromJson(nlohmann::json::parse(R"({"batch_size": 32, "optimizer": "adam", "val_fraction": 0})"), "c.yaml"),
          &b);
  EXPECT_EQ(a.ToJson(), b.ToJson());
  EXPECT_EQ(a.batch_size, 32);
  EXPECT_EQ(a.optimizer, cnn::Optimizer::kAdam);
  EXPECT_EQ(a.val_fraction, 0);
  EXPECT_MESSAGE(t.FromJson(nlohmann::json::parse(R"({"bacth": 32})"), "c.yaml"),
                 "c.yaml: bacth: unknown key (expected augment, batch, batch_size,");
}

// The CLI and a config file parse each value with the entry's one parser:
// the same bad value gives the same message, apart from the source's name.
TEST(Cnn_TrainOptions, ConfigAndCliRejectTheSameBadValuesWithTheSameMessage) {
  const auto n = fixtures::ExpectCliAndConfigRejectAlike(cnn::TrainOptions(), {"5abc", "x", "1,,x", "-3", "2"});
  EXPECT_EQ(n.lists, 2);  // --milestones, --augment
  EXPECT_GT(n.refused, 40);
  cnn::TrainConfig c;
  EXPECT_MESSAGE(cnn::TrainOptions().At("milestones").set(&c, "20,3x", "--milestones"),
                 "--milestones: expected an integer, a range a-b or a list, found '3x' in '20,3x'");
  EXPECT_MESSAGE(cnn::TrainOptions().At("augment").set(&c, nlohmann::json::array({"crop", "flop"}), "c.yaml: augment"),
                 "c.yaml: augment: unknown value 'flop' (expected crop, flip, rotate or none)");
  EXPECT_MESSAGE(cnn::TrainOptions().At("input").set(&c, "3x32", "--input"),
                 "--input: expected CxHxW such as 3x32x32, got '3x32'");
}

// Options that were once taken without a check.
TEST(Cnn_TrainConfig, ScheduleAndAugmentationFieldsAreValidated) {
  auto with = [](auto change) {
    cnn::TrainConfig c;
    change(c);
    c.Validate();
  };
  EXPECT_MESSAGE(with([](auto& c) { c.gamma = 0; }), "--gamma must be in (0, 1], got 0");
  EXPECT_MESSAGE(with([](auto& c) { c.gamma = 1.5; }), "--gamma must be in (0, 1], got 1.5");
  EXPECT_MESSAGE(with([](auto& c) { c.plateau_factor = 1; }), "--plateau-factor must be in (0, 1), got 1");
  EXPECT_MESSAGE(with([](auto& c) { c.plateau_patience = -1; }), "--plateau-patience must be >= 0, got -1");
  EXPECT_MESSAGE(with([](auto& c) { c.rotate_degrees = 200; }), "--rotate-degrees must be in [0, 180], got 200");
  EXPECT_MESSAGE(with([](auto& c) {
                   c.milestones = {0, 3};
                 }),
                 "--milestones must be >= 1 (epochs count from 1), got 0");
  EXPECT_MESSAGE(with([](auto& c) { c.schedule = cnn::Schedule::kMultiStep; }),
                 "--schedule multistep needs --milestones");
  EXPECT_NO_THROW(with([](auto& c) {
    c.schedule = cnn::Schedule::kMultiStep;
    c.milestones = {2};
  }));
}

// checkpoint/meta.json: every key a checkpoint has always carried must be
// there; keys added later (the loader, precision) take their defaults.
TEST(Cnn_TrainConfig, StoredConfigNeedsItsKeysAndAcceptsOlderCheckpoints) {
  auto j = cnn::TrainConfig().ToJson();
  j["epochs"] = 7;
  for (const char* later : {"loader", "loader_memory_gb", "loader_threads", "prefetch", "precision"}) j.erase(later);
  const auto c = cnn::TrainConfig::FromJson(j);
  EXPECT_EQ(c.epochs, 7);
  EXPECT_EQ(c.precision, cnn::PrecisionMode::kFp32);
  EXPECT_EQ(c.loader, cnn::LoaderKind::kAuto);
  j.erase("epochs");
  EXPECT_MESSAGE(cnn::TrainConfig::FromJson(j), "training config: 'epochs' is missing");
}

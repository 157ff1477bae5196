// The option table (pipelines/options.h): one entry per option gives the CLI
// flag, the config key, the params echo and the presets, so they agree.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "expect_error.h"
#include "fixtures.h"
#include "option_checks.h"
#include "scenelab/data/error.h"
#include "scenelab/data/io.h"
#include "scenelab/pipelines/classic.h"
#include "scenelab/pipelines/config.h"
#include "scenelab/pipelines/options.h"

using namespace scenelab;
using namespace scenelab::pipelines;
using scenelab::fixtures::TempDir;
namespace fs = std::filesystem;

namespace {
ClassicConfig FromConfig(const nlohmann::json& j) {
  ClassicConfig c;
  ApplyOptions(OptionsFromJson(j, "t.yaml"), &c);
  return c;
}

const nlohmann::ordered_json* At(const nlohmann::ordered_json& j, const std::string& dotted) {
  const nlohmann::ordered_json* at = &j;
  std::size_t start = 0;
  for (;;) {
    const auto dot = dotted.find('.', start);
    const std::string part = dotted.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!at->is_object() || !at->contains(part)) return nullptr;
    at = &(*at)[part];
    if (dot == std::string::npos) return at;
    start = dot + 1;
  }
}

// Configurations that between them set every echoed entry away from its default.
std::vector<nlohmann::json> Configurations() {
  return {
      nlohmann::json::parse(R"({"data": {"path": "/d", "format": "folder", "test_fraction": 0.3, "train_per_class": 7,
        "test_per_class": 5, "skip_bad": true, "class_names": "/n.txt"}, "features": "tiny",
        "tiny": {"size": 12, "crop_square": true, "interpolation": "cubic", "zero_mean": false, "norm": "l1"},
        "knn": {"metrics": ["l2", "l1"], "k": "1-3", "cv_folds": 3, "distance_weighted": true, "index": "kdtree",
        "flann_trees": 2, "flann_checks": 32, "flann_branching": 16, "flann_target_precision": 0.9,
        "flann_pca_dims": 0, "flann_rerank": 16}, "repeats": 3, "seed": 7, "threads": 1})"),
      nlohmann::json::parse(R"({"data": {"path": "/d"}, "features": "bow", "sift": {"step": 4, "bin_sizes": [4, 8],
        "fast": false, "window_size": 1.5, "smooth": true, "magnif": 5, "phow_bounds": true, "contrast_threshold": 0.01,
        "root_sift": true, "implementation": "vlfeat"}, "vocabulary": {"size": 50, "algorithm": "elkan",
        "max_iterations": 20, "min_energy_variation": 0.001, "descriptors_per_image": 30, "repetitions": 2, "images": 9},
        "bow": {"pyramid_levels": 2, "grids": [1, 2], "quantizer": "kdtree", "max_comparisons": 20},
        "homkermap": {"kernel": "chi2", "order": 2, "gamma": 0.7, "window": "uniform"}, "classifier": "svm",
        "svm": {"solver": "sgd", "c": [1, 10], "cv_folds": 3, "bias_multiplier": 2, "epsilon": 0.01,
        "max_iterations_times_lambda": 40}})"),
      nlohmann::json::parse(R"({"data": {"path": "/d"}, "features": "fisher", "encoding": {"pca_dim": 40,
        "gmm_components": 16, "gmm_iterations": 5, "improved": false}, "classifier": "svm", "svm": {"c": 3}})"),
      nlohmann::json::parse(R"({"data": {"path": "/d"}, "features": "gist", "gist": {"image_size": 128,
        "orientations": [8, 6, 4], "grid": 2, "prefilter_fc": 3, "boundary": 16}})"),
      nlohmann::json::parse(R"({"data": {"path": "/d"}, "features": "vlad", "encoding": {"pca_dim": 64},
        "vocabulary": {"size": 32}})"),
  };
}
}  // namespace

TEST(Pipelines_Options, EveryKeyRoundTripsCliConfigAndEcho) {
  std::set<std::string> covered;
  for (const auto& j : Configurations()) {
    const ClassicConfig c = FromConfig(j);
    const auto echo = EchoClassic(c);
    // The echo is a config for the same run.
    EXPECT_EQ(EchoClassic(FromConfig(echo)), echo) << echo.dump();
    // Every echoed value with a flag, typed on the command line, gives the same run.
    std::vector<GivenOption> cli;
    for (const auto& s : ClassicOptionTable()) {
      const nlohmann::ordered_json* v = At(echo, s.key);
      if (!v) continue;
      covered.insert(s.key);
      if (s.flag.empty()) continue;
      if (s.kind == OptionKind::kFlag) {
        if (v->get<bool>()) cli.push_back({&s, true, s.flag});
        continue;
      }
      cli.push_back({&s, fixtures::CliText(nlohmann::json(*v)), s.flag});
    }
    ClassicConfig from_cli;
    // Entries without a flag come from the config file, as `sweep --config` does.
    std::vector<GivenOption> all;
    for (auto& g : OptionsFromJson(echo, "t.yaml")) {
      if (g.spec->flag.empty()) all.push_back(g);
    }
    all.insert(all.end(), cli.begin(), cli.end());
    ApplyOptions(all, &from_cli);
    EXPECT_EQ(EchoClassic(from_cli), echo);
  }
  for (const auto& s : ClassicOptionTable()) {
    if (s.echo) {
      EXPECT_TRUE(covered.count(s.key)) << s.key << " is never echoed by the test configurations";
    }
  }
}

// Each entry parses CLI text and config values with one parser: the same
// bad value gives the same message, apart from the prefix naming the source.
TEST(Pipelines_Options, ConfigAndCliRejectTheSameBadValuesWithTheSameMessage) {
  const auto n = fixtures::ExpectCliAndConfigRejectAlike(ClassicOptions(), {"5abc", "x", "1,,x", "-3"});
  EXPECT_GE(n.lists, 6);  // --bin, --grids, --k, --metric, --svm-c, --gist-orientations
  ClassicConfig scratch;
  EXPECT_MESSAGE(FindClassicOption("sift.step")->set(&scratch, "5abc", "--step"),
                 "--step: expected an integer, found \"5abc\"");
  ClassicConfig c;
  EXPECT_MESSAGE(
      FindClassicOption("sift.bin_sizes")->set(&c, nlohmann::json::array({8, "4x"}), "t.yaml: sift.bin_sizes"),
      "t.yaml: sift.bin_sizes: expected an integer, a range a-b or a list, found '4x' in '8,4x'");
  EXPECT_MESSAGE(FindClassicOption("descriptor_memory_gb")->set(&scratch, 1e300, "--descriptor-memory-gb"),
                 "--descriptor-memory-gb: must be in [0, 1e9] GB, got 1e+300");
  EXPECT_MESSAGE(OptionsFromJson(nlohmann::json::parse(R"({"sift": {"stpe": 4}})"), "t.yaml"),
                 "t.yaml: sift.stpe: unknown key (expected");
}

TEST(Pipelines_Options, SkipBadChangesTheReuseKey) {
  ClassicConfig a, b;
  b.data.open.skip_bad = true;
  EXPECT_NE(EchoClassic(a)["data"], EchoClassic(b)["data"]);
  EXPECT_EQ(EchoClassic(b)["data"]["skip_bad"], true);
  // The compare reuse key is made of the data echo and the pipeline's.
  DataConfig d;
  ApplyDataJson(nlohmann::json::parse(R"({"path": "/d", "skip_bad": true})"), &d, "t.yaml: data");
  EXPECT_TRUE(d.open.skip_bad);
  EXPECT_MESSAGE(ApplyDataJson(nlohmann::json::parse(R"({"path": "/d", "skip": true})"), &d, "t.yaml: data"),
                 "t.yaml: data.skip: unknown key");
}

TEST(Pipelines_Options, RecipesAndProtocolsArePresetsThatExplicitValuesOverride) {
  const ClassicConfig phow = FromConfig(nlohmann::json::parse(R"({"data": {"path": "/d"}, "recipe": "phow"})"));
  EXPECT_EQ(phow.features, "bow");
  EXPECT_EQ(phow.vocab.size, 600);
  EXPECT_EQ(phow.bow.grids, (std::vector<int>{2, 4}));
  EXPECT_EQ(phow.sift.bin_sizes, (std::vector<int>{4, 6, 8, 10}));
  EXPECT_EQ(phow.sift.step, 3);
  EXPECT_TRUE(phow.sift.smooth);
  EXPECT_EQ(phow.homkermap, KernelMap::kChi2);
  EXPECT_EQ(phow.classifier, Classifier::kSvm);
  EXPECT_EQ(phow.svm.c, 10);
  // The same from the command line.
  ClassicConfig cli;
  cli.data.path = "/d";
  ApplyOptions({{FindClassicOption("recipe"), "phow", "--recipe"}}, &cli);
  EXPECT_EQ(EchoClassic(cli), EchoClassic(phow));
  // Explicit values win, whichever source; --bin drops the PHOW scales.
  const ClassicConfig own = FromConfig(nlohmann::json::parse(
      R"({"data": {"path": "/d"}, "recipe": "phow", "vocabulary": {"size": 300}, "sift": {"bins": 8}})"));
  EXPECT_EQ(own.vocab.size, 300);
  EXPECT_EQ(own.sift.bin_sizes, (std::vector<int>{8}));
  EXPECT_FALSE(own.sift.smooth);
  EXPECT_EQ(own.sift.step, 3);
  const ClassicConfig fisher = FromConfig(nlohmann::json::parse(R"({"data": {"path": "/d"}, "recipe": "fisher"})"));
  EXPECT_EQ(fisher.features, "fisher");
  EXPECT_EQ(fisher.pca_dim, 80);
  EXPECT_EQ(fisher.gmm.components, 256);
  const ClassicConfig laz = FromConfig(nlohmann::json::parse(R"({"data": {"path": "/d"}, "protocol": "lazebnik"})"));
  EXPECT_EQ(laz.repeats, 10);
  EXPECT_EQ(laz.data.train_per_class, 100u);
  EXPECT_MESSAGE(FromConfig(nlohmann::json::parse(R"({"data": {"path": "/d"}, "recipe": "bogus"})")),
                 "t.yaml: recipe: unknown value 'bogus' (expected phow or fisher)");
}

#ifdef SCENELAB_HAVE_COMPARE
#include "scenelab/pipelines/compare.h"

// A recipe in a compare config runs the same pipeline as classic --recipe.
TEST(Pipelines_Options, RecipeInACompareConfigGivesTheSameResultsAsClassic) {
  TempDir dir;
  fixtures::WriteFolderDataset(dir / "data", {"a", "b", "c"}, 8, 4);
  const std::string body = R"("recipe": "phow", "vocabulary": {"size": 16, "descriptors_per_image": 30, "images": 0,
    "max_iterations": 10}, "sift": {"step": 8}, "bow": {"grids": [1, 2]})";
  const auto j =
      nlohmann::json::parse(R"({"name": "t", "seed": 4, "threads": 2, "data": {"path": ")" + (dir / "data").string() +
                            R"("}, "pipelines": [{"name": "phow", "type": "bow", )" + body + "}]}");
  RunCompare(ParseCompareConfig(j, "t.yaml"), (dir / "cmp").string(), nullptr);
  ClassicConfig c;
  c.seed = 4;
  c.threads = 2;
  std::vector<GivenOption> given = {
      {FindClassicOption("recipe"), "phow", "--recipe"},
      {FindClassicOption("data.path"), (dir / "data").string(), "--data"},
      {FindClassicOption("vocabulary.size"), "16", "--vocab"},
      {FindClassicOption("vocabulary.descriptors_per_image"), "30", "--samples-per-image"},
      {FindClassicOption("vocabulary.images"), "0", "--vocab-images"},
      {FindClassicOption("vocabulary.max_iterations"), "10", "--kmeans-iters"},
      {FindClassicOption("sift.step"), "8", "--step"},
      {FindClassicOption("bow.grids"), "1,2", "--grids"}};
  ApplyOptions(given, &c);
  const auto classic = RunClassic(c, (dir / "classic").string(), nullptr);
  const auto compared = nlohmann::json::parse(ReadFileText(dir / "cmp" / "pipelines" / "phow" / "results.json"));
  EXPECT_EQ(compared["params"], nlohmann::json(classic["params"]));
  EXPECT_EQ(compared["accuracy"], nlohmann::json(classic["accuracy"]));
  EXPECT_EQ(compared["selected"]["accuracy"], nlohmann::json(classic["selected"]["accuracy"]));
  EXPECT_EQ(classic["params"]["homkermap"]["kernel"], "chi2");
}
#endif

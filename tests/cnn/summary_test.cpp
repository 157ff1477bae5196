// Golden tests: every reference table in ../shared/reference/model-summaries
// must match our summary exactly on the parameterised rows and the total.
#include <gtest/gtest.h>

#include "fixtures.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "scenelab/cnn/zoo.h"
#include "scenelab/data/error.h"

using namespace scenelab;
namespace fs = std::filesystem;

namespace {
struct RefRow {
  std::string type, shape;
  std::int64_t params;
};

std::int64_t ParseCount(std::string s) {
  s.erase(std::remove(s.begin(), s.end(), ','), s.end());
  return std::stoll(s);
}

std::string ShapeString(const std::vector<std::int64_t>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

fs::path RefDir() { return fs::path(SCENELAB_REFERENCE_DIR); }
}  // namespace

class Cnn_ModelSummaryGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(Cnn_ModelSummaryGolden, ParameterisedRowsAndTotalMatchReference) {
  const fs::path tsv = RefDir() / (GetParam() + ".tsv");
  if (!fs::exists(tsv)) SCENELAB_SKIP_OR_FAIL(tsv << " not found (shared reference tables absent)");
  std::ifstream in(tsv);
  std::string line;
  std::getline(in, line);  // header
  std::vector<RefRow> ref;
  std::int64_t total = -1;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string layer, shape, params;
    std::getline(f, layer, '\t');
    std::getline(f, shape, '\t');
    std::getline(f, params, '\t');
    if (layer == "TOTAL") {
      total = ParseCount(params);
      continue;
    }
    const std::string type = layer.substr(0, layer.rfind('-'));
    if (type == "Conv2d" || type == "BatchNorm2d" || type == "Linear") ref.push_back({type, shape, ParseCount(params)});
  }
  cnn::ModelOptions o;
  o.input = cnn::DefaultInput(GetParam());
  o.num_classes = GetParam() == "resnet18-tiny200" ? 200 : 10;
  const auto s = cnn::Summarize(GetParam(), o);
  std::vector<RefRow> ours;
  for (const auto& r : s.rows) {
    if (r.type == "Conv2d" || r.type == "BatchNorm2d" || r.type == "Linear")
      ours.push_back({r.type, ShapeString(r.output_shape), r.params});
  }
  ASSERT_EQ(ours.size(), ref.size());
  for (std::size_t i = 0; i < ref.size(); ++i) {
    EXPECT_EQ(ours[i].type, ref[i].type) << "row " << i;
    EXPECT_EQ(ours[i].shape, ref[i].shape) << "row " << i << " " << ref[i].type;
    EXPECT_EQ(ours[i].params, ref[i].params) << "row " << i << " " << ref[i].type;
  }
  EXPECT_EQ(s.total_params, total);
  EXPECT_NE(cnn::FormatSummary(s).find("Total params: " + cnn::WithThousands(total) + "\n"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Reference, Cnn_ModelSummaryGolden,
                         ::testing::Values("resnet18-cifar", "resnet34-cifar", "resnet50-cifar", "resnet18-tiny200",
                                           "resnet-lite", "resnet-improved", "googlenet-mynet"),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

TEST(Cnn_ModelZoo, EveryModelRunsOnItsInputAndOneChannel) {
  for (const auto& name : cnn::ModelNames()) {
    cnn::ModelOptions o;
    o.input = cnn::DefaultInput(name);
    const auto s = cnn::Summarize(name, o);
    EXPECT_GT(s.total_params, 0) << name;
    EXPECT_EQ(s.rows.back().output_shape, (std::vector<std::int64_t>{-1, 10})) << name;
    o.input.channels = 1;
    if (name != "resnet18-tiny200") {
      o.input.height = o.input.width = 32;
    }
    EXPECT_EQ(cnn::Summarize(name, o).rows.back().output_shape.back(), 10) << name << " with 1 channel";
  }
  cnn::ModelOptions fm;
  fm.input = cnn::InputShape::Parse("1x28x28");
  EXPECT_EQ(cnn::Summarize("resnet-lite", fm).rows.back().output_shape.back(), 10);
  EXPECT_EQ(cnn::Summarize("lenet5", fm).rows.back().output_shape.back(), 10);
}

TEST(Cnn_ModelZoo, UnknownNameListsKnownOnes) {
  try {
    cnn::Summarize("resnet9000", {});
    FAIL();
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("unknown model 'resnet9000'"), std::string::npos);
    EXPECT_NE(m.find("resnet-lite"), std::string::npos);
    EXPECT_NE(m.find("vgg16"), std::string::npos);
  }
  EXPECT_THROW(cnn::InputShape::Parse("3x32"), Error);
  EXPECT_EQ(cnn::WithThousands(11173962), "11,173,962");
  EXPECT_EQ(cnn::WithThousands(650), "650");
}

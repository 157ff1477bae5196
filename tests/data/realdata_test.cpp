// Real datasets, run in the "realdata" ctest group; they skip, saying why,
// when the data is absent.
#include <gtest/gtest.h>

#include "fixtures.h"
#include "scenelab/data/readers.h"

using namespace scenelab;

TEST(Data_RealData, Scene15HasFifteenClassesAndTheStandardSplit) {
  const std::string dir = fixtures::Scene15Dir();
  if (dir.empty())
    SCENELAB_SKIP_OR_FAIL("15-scene not found at " << fixtures::Scene15Path() << " (set SCENELAB_SCENE15)");
  auto info = data::OpenDataset(dir);
  EXPECT_EQ(info.format, data::DatasetFormat::kFolder);
  EXPECT_EQ(info.class_names.size(), 15u);
  EXPECT_EQ(info.train().size(), 1500u);
  EXPECT_EQ(info.test().size(), 2985u);
  for (auto n : info.train().CountPerClass()) EXPECT_EQ(n, 100u);
  EXPECT_EQ(info.class_names.front(), "Bedroom");
  EXPECT_EQ(info.class_names.back(), "TallBuilding");
}

TEST(Data_RealData, FashionMnistHasTenClasses) {
  const std::string dir = fixtures::FashionMnistDir();
  if (dir.empty())
    SCENELAB_SKIP_OR_FAIL("Fashion-MNIST not found at " << fixtures::FashionMnistPath()
                                                        << " (apt-get install dataset-fashion-mnist)");
  auto info = data::OpenDataset(dir);
  EXPECT_EQ(info.format, data::DatasetFormat::kIdx);
  EXPECT_EQ(info.class_names.size(), 10u);
  EXPECT_EQ(info.class_names[9], "Ankle boot");
  EXPECT_EQ(info.train().size(), 60000u);
  EXPECT_EQ(info.test().size(), 10000u);
  for (auto n : info.test().CountPerClass()) EXPECT_EQ(n, 1000u);
}

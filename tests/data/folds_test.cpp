// Stratified folds and the best-point scan that every selection shares.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>

#include "expect_error.h"
#include "scenelab/data/error.h"
#include "scenelab/data/folds.h"

using namespace scenelab;

TEST(Data_StratifiedFolds, EveryClassIsDealtEvenlyAndTheSeedDecides) {
  std::vector<int> labels;
  for (int c = 0; c < 3; ++c) {
    for (int i = 0; i < 10 + c; ++i) labels.push_back(c);  // 10, 11, 12 samples
  }
  const auto a = StratifiedFolds(labels, 3, 4, 7);
  ASSERT_EQ(a.size(), labels.size());
  std::map<std::pair<int, int>, int> count;  // (class, fold) -> samples
  for (std::size_t i = 0; i < labels.size(); ++i) {
    ASSERT_GE(a[i], 0);
    ASSERT_LT(a[i], 4);
    ++count[{labels[i], a[i]}];
  }
  for (int c = 0; c < 3; ++c) {
    int lo = 1 << 30, hi = 0;
    for (int f = 0; f < 4; ++f) {
      lo = std::min(lo, count[{c, f}]);
      hi = std::max(hi, count[{c, f}]);
    }
    EXPECT_LE(hi - lo, 1) << "class " << c;
  }
  EXPECT_EQ(StratifiedFolds(labels, 3, 4, 7), a);
  EXPECT_NE(StratifiedFolds(labels, 3, 4, 8), a);
  EXPECT_MESSAGE(StratifiedFolds({0, 0, 1}, 2, 2, 0, {"cat", "dog"}),
                 "cross-validation: 2 folds but class 'dog' has only 1 training images");
  EXPECT_MESSAGE(StratifiedFolds({0, 5}, 2, 2, 0), "cross-validation: label 5 of sample 1 is outside [0, 2)");
}

TEST(Data_FirstArgMax, TiesGoToTheFirstAndMissingValuesAreSkipped) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(FirstArgMax({0.5, 0.7, 0.7, 0.1}), 1);
  EXPECT_EQ(FirstArgMax({nan, 0.2, nan, 0.3}), 3);
  EXPECT_EQ(FirstArgMax({nan, -1.0}), 1);  // a negative value still counts
  EXPECT_EQ(FirstArgMax({nan, nan}), -1);
  EXPECT_EQ(FirstArgMax({}), -1);
}

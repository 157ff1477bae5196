// Linear SVMs (VLFeat vl_svm, one-vs-rest) on generated data.
#include <gtest/gtest.h>

#include "expect_error.h"

#include <cmath>

#include "fixtures.h"
#include "scenelab/classify/svm.h"
#include "scenelab/data/error.h"
#include "scenelab/data/io.h"
#include "scenelab/data/log.h"
#include "scenelab/data/rng.h"

using namespace scenelab;
using namespace scenelab::classify;

namespace {
// `classes` blobs around well-separated centres in `dim` dimensions, with a
// margin: every point lies within 0.5 of its centre, centres are >= 4 apart.
void Blobs(int per_class, int classes, int dim, std::uint64_t seed, Matrix* x, std::vector<int>* y) {
  Rng r(seed);
  Matrix centres(classes, dim);
  for (int c = 0; c < classes; ++c) {
    centres.row(c).setZero();
    centres(c, c % dim) = 4.0f;  // one axis each: pairwise distance 4 * sqrt(2)
  }
  x->resize(per_class * classes, dim);
  y->clear();
  for (int i = 0; i < per_class * classes; ++i) {
    const int c = i % classes;
    Eigen::RowVectorXf noise(dim);
    for (int j = 0; j < dim; ++j) noise[j] = static_cast<float>(r.Uniform() - 0.5);
    noise *= 0.5f / std::max(0.5f, noise.norm());
    x->row(i) = centres.row(c) + noise;
    y->push_back(c);
  }
}

double Accuracy(const std::vector<int>& a, const std::vector<int>& b) {
  std::size_t ok = 0;
  for (std::size_t i = 0; i < a.size(); ++i) ok += a[i] == b[i];
  return static_cast<double>(ok) / static_cast<double>(a.size());
}
}  // namespace

TEST(Classify_LinearSvm, SeparatesALinearlySeparableSet) {
  Matrix x, xt;
  std::vector<int> y, yt;
  Blobs(40, 4, 10, 1, &x, &y);
  Blobs(25, 4, 10, 2, &xt, &yt);
  for (const std::string solver : {"sdca", "sgd"}) {
    LinearSvmOptions o;
    o.solver = solver;
    LinearSvm svm(o);
    svm.Fit(x, y, 4);
    EXPECT_EQ(Accuracy(svm.Predict(x), y), 1.0) << solver;
    EXPECT_EQ(Accuracy(svm.Predict(xt), yt), 1.0) << solver;
    EXPECT_EQ(svm.weights().rows(), 4);
    EXPECT_EQ(svm.weights().cols(), 10);
    // One-vs-rest: the own class scores positive, the others negative.
    const Matrix s = svm.Scores(xt);
    for (Eigen::Index i = 0; i < s.rows(); ++i) {
      for (int c = 0; c < 4; ++c) {
        if (c == yt[static_cast<std::size_t>(i)])
          EXPECT_GT(s(i, c), 0) << solver;
        else
          EXPECT_LT(s(i, c), 0) << solver;
      }
    }
  }
}

TEST(Classify_LinearSvm, SameSeedSameModelForOneAndTwoThreads) {
  Matrix x;
  std::vector<int> y;
  Blobs(30, 3, 8, 5, &x, &y);
  LinearSvmOptions o;
  o.seed = 9;
  o.threads = 1;
  LinearSvm a(o);
  a.Fit(x, y, 3);
  o.threads = 2;
  LinearSvm b(o);
  b.Fit(x, y, 3);
  EXPECT_EQ(a.weights(), b.weights());
  EXPECT_EQ(a.bias(), b.bias());
}

TEST(Classify_LinearSvm, CrossValidationChoosesFromTheGrid) {
  Matrix x;
  std::vector<int> y;
  Blobs(20, 3, 6, 7, &x, &y);
  LinearSvmOptions o;
  o.c_grid = {0.001, 1, 100};
  o.cv_folds = 4;
  LinearSvm svm(o);
  svm.Fit(x, y, 3);
  ASSERT_EQ(svm.cv_accuracy().size(), 3u);
  for (const auto& [c, a] : svm.cv_accuracy()) {
    EXPECT_GE(a, 0.0);
    EXPECT_LE(a, 1.0);
  }
  // The separable set is learnt perfectly once C is large enough; the chosen C
  // has the best cross-validated accuracy.
  double best = 0;
  for (const auto& [c, a] : svm.cv_accuracy()) best = std::max(best, a);
  EXPECT_EQ(svm.cv_accuracy().at(svm.c()), best);
  EXPECT_EQ(svm.cv_accuracy().at(100), 1.0);
}

// The SVM stage shows progress: one step per one-vs-rest training, folds x
// candidate Cs + the final model for every class.
TEST(Classify_LinearSvm, ProgressCountsEveryOneVsRestTraining) {
  Matrix x;
  std::vector<int> y;
  Blobs(20, 3, 6, 7, &x, &y);
  LinearSvmOptions o;
  o.c_grid = {1, 100};
  o.cv_folds = 4;
  LinearSvm svm(o);
  EXPECT_EQ(svm.Trainings(3), 3u * (2u * 4u + 1u));
  fixtures::TempDir dir;
  {
    Logger log(dir / "log.txt");
    Progress progress("svm", svm.Trainings(3), &log, /*show=*/false);
    svm.Fit(x, y, 3, &progress);
    progress.Finish();
  }
  EXPECT_NE(ReadFileText(dir / "log.txt").find("svm 27/27"), std::string::npos) << ReadFileText(dir / "log.txt");
  // The line carries the solver's state: the C, class, pass and duality gap
  // of the latest convergence check.
  EXPECT_NE(ReadFileText(dir / "log.txt").find(", class "), std::string::npos) << ReadFileText(dir / "log.txt");
  EXPECT_NE(ReadFileText(dir / "log.txt").find("duality gap "), std::string::npos);
  // Watching does not change the model.
  LinearSvm quiet(o);
  quiet.Fit(x, y, 3);
  EXPECT_EQ(quiet.c(), svm.c());
  EXPECT_EQ(quiet.iterations(), svm.iterations());
  EXPECT_EQ(quiet.Scores(x), svm.Scores(x));
  LinearSvmOptions one;
  EXPECT_EQ(LinearSvm(one).Trainings(5), 5u);
}

TEST(Classify_LinearSvm, BadInputIsAClearError) {
  Matrix x(4, 2);
  x.setOnes();
  LinearSvm svm(LinearSvmOptions{});
  EXPECT_THROW(svm.Fit(x, {0, 1, 2, 7}, 3), Error);  // label out of range
  EXPECT_THROW(svm.Fit(x, {0, 0, 0, 0}, 2), Error);  // class 1 empty
  EXPECT_THROW(svm.Fit(x, {0, 1}, 2), Error);        // rows != labels
  EXPECT_THROW(svm.Scores(x), Error);                // not trained
  EXPECT_MESSAGE(svm.Fit(x, {0, 1, 2, 7}, 3), "label 7 is outside [0, 3)");
  EXPECT_MESSAGE(svm.Fit(x, {0, 0, 0, 0}, 2), "class 1 has no training sample");
  EXPECT_MESSAGE(svm.Fit(x, {0, 1}, 2), "4 feature rows but 2 labels");
  EXPECT_MESSAGE(svm.Scores(x), "not trained");
  LinearSvmOptions bad;
  bad.c = 0;
  EXPECT_THROW(LinearSvm{bad}, Error);
  EXPECT_MESSAGE(LinearSvm{bad}, "--svm-c");
  bad = {};
  bad.solver = "smo";
  try {
    LinearSvm s(bad);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("smo"), std::string::npos);
  }
}

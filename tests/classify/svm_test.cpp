// Linear SVMs (VLFeat vl_svm, one-vs-rest) on generated data.
#include <gtest/gtest.h>

#include "expect_error.h"

#include <cmath>

#include "dual_cd.h"
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

// Overlapping classes: centres 1.5 apart along their own axis, uniform noise
// of width 2 in every dimension, so no hyperplane separates them.
void Overlapping(int per_class, int classes, int dim, std::uint64_t seed, Matrix* x, std::vector<int>* y) {
  Rng r(seed);
  x->resize(per_class * classes, dim);
  y->clear();
  for (int i = 0; i < per_class * classes; ++i) {
    const int c = i % classes;
    for (int j = 0; j < dim; ++j) (*x)(i, j) = static_cast<float>(2 * r.Uniform() - 1 + (j == c ? 1.5 : 0.0));
    y->push_back(c);
  }
}

// vl_svm's objective for class `cls` of a trained model, computed here from
// the weights alone: lambda/2 (|w|^2 + (b/B)^2) + mean hinge loss, lambda =
// 1/(C N), bias multiplier B = 1.
double Objective(const LinearSvm& svm, const Matrix& x, const std::vector<int>& y, int cls) {
  const double n = static_cast<double>(x.rows());
  const double lambda = 1.0 / (svm.c() * n);
  const Eigen::VectorXd w = svm.weights().row(cls).transpose().cast<double>();
  const double b = svm.bias()[cls];
  double loss = 0;
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    const double yi = y[static_cast<std::size_t>(i)] == cls ? 1 : -1;
    loss += std::max(0.0, 1 - yi * (x.row(i).cast<double>().dot(w) + b));
  }
  return lambda / 2 * (w.squaredNorm() + b * b) + loss / n;
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
  for (const std::string solver : {"dcd", "sdca", "sgd"}) {
    LinearSvmOptions o;
    o.solver = SvmSolverNames().Parse(solver);
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
  Overlapping(30, 3, 8, 5, &x, &y);
  for (const std::string solver : {"dcd", "sdca"}) {
    LinearSvmOptions o;
    o.solver = SvmSolverNames().Parse(solver);
    o.seed = 9;
    o.threads = 1;
    LinearSvm a(o);
    a.Fit(x, y, 3);
    o.threads = 2;
    LinearSvm b(o);
    b.Fit(x, y, 3);
    EXPECT_EQ(a.weights(), b.weights()) << solver;
    EXPECT_EQ(a.bias(), b.bias()) << solver;
    EXPECT_EQ(a.iterations(), b.iterations()) << solver;
  }
}

// The native dual coordinate descent and VLFeat's SDCA solve one problem:
// run to tight thresholds, their models reach the same objective (computed
// here, independently of either solver) and predict alike.
TEST(Classify_LinearSvm, DcdAndVlfeatSdcaReachTheSameOptimum) {
  Matrix x, xt;
  std::vector<int> y, yt;
  Overlapping(60, 3, 12, 11, &x, &y);
  Overlapping(60, 3, 12, 12, &xt, &yt);
  LinearSvmOptions o;
  o.c = 1;
  o.max_iterations_times_lambda = 5000;  // the thresholds bind, not the budgets
  o.solver = SvmSolver::kDualCd;
  o.epsilon = 1e-5;
  LinearSvm dcd(o);
  dcd.Fit(x, y, 3);
  o.solver = SvmSolver::kSdca;
  o.epsilon = 1e-9;
  LinearSvm sdca(o);
  sdca.Fit(x, y, 3);
  for (int c = 0; c < 3; ++c) {
    const double a = Objective(dcd, x, y, c), b = Objective(sdca, x, y, c);
    EXPECT_NEAR(a, b, 1e-4 * b) << "class " << c;
    EXPECT_EQ(dcd.converged()[static_cast<std::size_t>(c)], 1);
    // The reported gap bounds the distance to the optimum: both objectives
    // are within it of each other.
    EXPECT_GE(dcd.duality_gaps()[static_cast<std::size_t>(c)], -1e-6);
    EXPECT_LT(dcd.duality_gaps()[static_cast<std::size_t>(c)], 1e-5);
  }
  EXPECT_GE(Accuracy(dcd.Predict(xt), sdca.Predict(xt)), 0.99);
  EXPECT_GT(Accuracy(dcd.Predict(xt), yt), 0.8);
}

// epsilon binds dcd: a looser threshold stops sooner, further from the
// optimum; a budget of one pass stops it unconverged.
TEST(Classify_LinearSvm, EpsilonBindsTheDcdSolver) {
  Matrix x;
  std::vector<int> y;
  Overlapping(80, 3, 10, 13, &x, &y);
  LinearSvmOptions o;
  o.solver = SvmSolver::kDualCd;
  o.epsilon = 0.5;
  LinearSvm loose(o);
  loose.Fit(x, y, 3);
  o.epsilon = 1e-4;
  LinearSvm tight(o);
  tight.Fit(x, y, 3);
  for (std::size_t c = 0; c < 3; ++c) {
    EXPECT_EQ(loose.converged()[c], 1);
    EXPECT_EQ(tight.converged()[c], 1);
    EXPECT_LT(loose.iterations()[c], tight.iterations()[c]);
    EXPECT_GT(loose.duality_gaps()[c], tight.duality_gaps()[c]);
  }
  o.max_iterations_times_lambda = 0.05;  // 0.05 / lambda = 0.05 C N = 120 visits, within the first pass
  LinearSvm cut(o);
  cut.Fit(x, y, 3);
  for (std::size_t c = 0; c < 3; ++c) {
    EXPECT_EQ(cut.converged()[c], 0);
    EXPECT_EQ(cut.iterations()[c], 120u);
  }
  EXPECT_DOUBLE_EQ(LinearSvmOptions{}.StoppingThreshold(), 0.1);  // dcd, LIBLINEAR's default
  o = {};
  o.solver = SvmSolver::kSdca;
  EXPECT_DOUBLE_EQ(o.StoppingThreshold(), 1e-3);  // VLFeat's
  o.epsilon = 0.02;
  EXPECT_DOUBLE_EQ(o.StoppingThreshold(), 0.02);
}

namespace {
detail::DualCdProblem Problem(const Matrix& x, const std::vector<std::int8_t>& y, const std::vector<float>& norms,
                              double c) {
  detail::DualCdProblem p;
  p.x = x.data();
  p.n = static_cast<std::size_t>(x.rows());
  p.d = static_cast<std::size_t>(x.cols());
  p.y = y.data();
  p.sq_norms = norms.data();
  p.c = c;
  return p;
}
}  // namespace

// Warm starts: from a smaller C the solver reaches the cold start's optimum
// in fewer visits; from a larger C the dual variables are clipped into the
// new box and w rebuilt from them.
TEST(Classify_DualCd, WarmStartsReachTheColdOptimum) {
  Matrix x;
  std::vector<int> labels;
  Overlapping(100, 2, 10, 17, &x, &labels);
  std::vector<std::int8_t> y;
  std::vector<float> norms;
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    y.push_back(labels[static_cast<std::size_t>(i)] == 0 ? 1 : -1);
    norms.push_back(x.row(i).squaredNorm());
  }
  detail::DualCdState cold, warm;
  constexpr std::size_t kBudget = 100000000;
  const auto cold_st = detail::SolveDualCd(Problem(x, y, norms, 1), 1e-5, kBudget, 1, &cold);
  detail::SolveDualCd(Problem(x, y, norms, 0.1), 1e-5, kBudget, 1, &warm);
  const auto warm_st = detail::SolveDualCd(Problem(x, y, norms, 1), 1e-5, kBudget, 1, &warm);
  ASSERT_TRUE(cold_st.converged);
  ASSERT_TRUE(warm_st.converged);
  EXPECT_LT(warm_st.visits, cold_st.visits);
  EXPECT_LT(detail::DualityGap(Problem(x, y, norms, 1), warm), 1e-5);
  for (std::size_t j = 0; j < cold.w.size(); ++j) EXPECT_NEAR(warm.w[j], cold.w[j], 1e-3);
  EXPECT_NEAR(warm.w_bias, cold.w_bias, 1e-3);

  // Down to C = 0.01 from the C = 1 solution: clipped, then w = sum a y x.
  detail::DualCdState down = cold;
  detail::SolveDualCd(Problem(x, y, norms, 0.01), 1e-6, 0, 1, &down);  // no pass: only the clip
  Eigen::VectorXd w = Eigen::VectorXd::Zero(x.cols());
  double wb = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    EXPECT_LE(down.alpha[i], 0.01);
    EXPECT_GE(down.alpha[i], 0.0);
    w += down.alpha[i] * y[i] * x.row(static_cast<Eigen::Index>(i)).transpose().cast<double>();
    wb += down.alpha[i] * y[i];
  }
  for (Eigen::Index j = 0; j < x.cols(); ++j) EXPECT_NEAR(down.w[static_cast<std::size_t>(j)], w[j], 1e-4);
  EXPECT_NEAR(down.w_bias, wb, 1e-9);
  // One pass from the start leaves a visible gap; the gap is never negative.
  detail::DualCdState once;
  detail::SolveDualCd(Problem(x, y, norms, 1), 1e-5, y.size(), 1, &once);
  EXPECT_GT(detail::DualityGap(Problem(x, y, norms, 1), once), 1e-3);
  // Never negative beyond the float rounding of w (the objective is about 0.1).
  EXPECT_GE(detail::DualityGap(Problem(x, y, norms, 1), cold), -1e-6);
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
  // The line carries the solver's state: the C, class, pass, active set and
  // gradient spread of the latest pass.
  EXPECT_NE(ReadFileText(dir / "log.txt").find(", class "), std::string::npos) << ReadFileText(dir / "log.txt");
  EXPECT_NE(ReadFileText(dir / "log.txt").find(" active, gradient spread "), std::string::npos);
  // Watching does not change the model.
  LinearSvm quiet(o);
  quiet.Fit(x, y, 3);
  EXPECT_EQ(quiet.c(), svm.c());
  EXPECT_EQ(quiet.iterations(), svm.iterations());
  EXPECT_EQ(quiet.Scores(x), svm.Scores(x));
  LinearSvmOptions one;
  EXPECT_EQ(LinearSvm(one).Trainings(5), 5u);
  // VLFeat's solvers report their duality gap at each of their checks.
  o.solver = SvmSolver::kSdca;
  LinearSvm vl(o);
  {
    Logger log(dir / "vl.txt");
    Progress progress("svm", vl.Trainings(3), &log, /*show=*/false);
    vl.Fit(x, y, 3, &progress);
    progress.Finish();
  }
  EXPECT_NE(ReadFileText(dir / "vl.txt").find("duality gap "), std::string::npos) << ReadFileText(dir / "vl.txt");
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
  EXPECT_MESSAGE(SvmSolverNames().Parse("smo"), "unknown value 'smo' (expected dcd, sdca or sgd)");
  bad = {};
  bad.epsilon = -1;
  EXPECT_MESSAGE(LinearSvm{bad}, "LinearSvmOptions.epsilon must be >= 0, got -1");
  EXPECT_EQ(SvmSolverNames().Show(SvmSolverNames().Parse("sgd")), "sgd");
}

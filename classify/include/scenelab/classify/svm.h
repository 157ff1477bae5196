#pragma once
// Linear support vector machines, one-vs-rest over the classes, on the
// problem VLFeat's PHOW recipe trains: hinge loss, lambda = 1 / (C * N),
// bias multiplier 1, at most 50 / lambda sample visits. The solver is
// LIBLINEAR's dual coordinate descent with shrinking (dcd, native, on dense
// float rows) or VLFeat's vl_svm (sdca, sgd). C is set, or chosen from a
// grid by seeded, stratified k-fold cross-validation on the training set;
// dcd warm-starts each fold from the next smaller C.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "scenelab/data/enum_table.h"
#include "scenelab/features/types.h"

namespace scenelab {
class Progress;
}

namespace scenelab::classify {

using features::Matrix;

enum class SvmSolver { kDualCd, kSdca, kSgd };
const EnumTable<SvmSolver>& SvmSolverNames();  // dcd | sdca | sgd

struct LinearSvmOptions {
  SvmSolver solver = SvmSolver::kDualCd;  // dcd (dual coordinate descent) | sdca | sgd (vl_svm)
  double c = 10;                          // PHOW recipe's C; lambda = 1 / (C N)
  std::vector<double> c_grid;             // non-empty: C is chosen from these by cross-validation
  int cv_folds = 5;                       // folds for choosing C
  double bias_multiplier = 1;             // the recipe's BiasMultiplier
  // Stopping threshold, checked every pass: the projected-gradient spread
  // (dcd, LIBLINEAR's eps), the duality gap (sdca) or the change (sgd).
  // 0 = the solver's own default: 0.1 for dcd, 1e-3 for sdca and sgd.
  double epsilon = 0;
  double max_iterations_times_lambda = 50;  // MaxNumIterations = this / lambda, as the recipe
  std::uint64_t seed = 0;                   // data order and fold assignment
  int threads = 0;                          // classes trained in parallel; 0 = all cores
  void Validate() const;
  double StoppingThreshold() const;  // epsilon, or the solver's default
};

class LinearSvm {
 public:
  explicit LinearSvm(const LinearSvmOptions& opts);
  // Trains one-vs-rest models; labels in [0, num_classes). `progress`
  // (optional) counts one-vs-rest trainings: num_classes x (folds x
  // candidate Cs + 1), see Trainings().
  void Fit(const Matrix& x, const std::vector<int>& labels, int num_classes, Progress* progress = nullptr);
  // How many one-vs-rest trainings Fit runs for `num_classes` classes.
  std::size_t Trainings(int num_classes) const;
  // Scores: rows = samples, columns = classes (w_c . x + b_c).
  Matrix Scores(const Matrix& x) const;
  // Highest-scoring class per row (ties: the lower class index).
  std::vector<int> Predict(const Matrix& x) const;

  const Matrix& weights() const { return w_; }  // classes x dim
  const Eigen::VectorXf& bias() const { return b_; }
  double c() const { return c_; }  // the C used for the final models
  // Mean cross-validated accuracy per candidate C (empty when C was given).
  const std::map<double, double>& cv_accuracy() const { return cv_accuracy_; }
  // Sample visits each class's solver made (vl_svm's iterations), whether
  // it met epsilon, and the duality gap of its final model (vl_svm's
  // objective, the same for every solver).
  const std::vector<std::size_t>& iterations() const { return iterations_; }
  const std::vector<double>& duality_gaps() const { return gaps_; }  // of the final models
  const std::vector<char>& converged() const { return converged_; }  // 1 per class whose solver converged

 private:
  struct Warm;  // per-class dual solutions carried from one C to the next
  void Train(const Matrix& x, const std::vector<int>& labels, int num_classes, double c, Progress* progress,
             Warm* warm = nullptr);
  void TrainVlfeat(const Matrix& x, const std::vector<int>& labels, double c, Progress* progress);
  void TrainDualCd(const Matrix& x, const std::vector<int>& labels, double c, Progress* progress, Warm* warm);
  LinearSvmOptions opts_;
  Matrix w_;
  Eigen::VectorXf b_;
  double c_ = 0;
  std::map<double, double> cv_accuracy_;
  std::vector<std::size_t> iterations_;
  std::vector<double> gaps_;
  // char, not bool: the classes are trained on several threads, and
  // std::vector<bool> packs neighbouring classes into one shared word.
  std::vector<char> converged_;
};

}  // namespace scenelab::classify

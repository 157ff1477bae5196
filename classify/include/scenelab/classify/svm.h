#pragma once
// Linear support vector machines through VLFeat's vl_svm (SDCA or SGD),
// one-vs-rest over the classes, as VLFeat's PHOW recipe trains them:
// lambda = 1 / (C * N), bias multiplier 1, stopping at a duality gap of
// epsilon or after 50 / lambda iterations. C is set, or chosen from a grid by
// seeded, stratified k-fold cross-validation on the training set.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "scenelab/features/types.h"

namespace scenelab {
class Progress;
}

namespace scenelab::classify {

using features::Matrix;

struct LinearSvmOptions {
  std::string solver = "sdca";              // sdca | sgd (vl_svm solvers)
  double c = 10;                            // PHOW recipe's C; lambda = 1 / (C N)
  std::vector<double> c_grid;               // non-empty: C is chosen from these by cross-validation
  int cv_folds = 5;                         // folds for choosing C
  double bias_multiplier = 1;               // the recipe's BiasMultiplier
  double epsilon = 1e-3;                    // duality-gap (SDCA) / change (SGD) stopping threshold
  double max_iterations_times_lambda = 50;  // MaxNumIterations = this / lambda, as the recipe
  std::uint64_t seed = 0;                   // data order and fold assignment
  int threads = 0;                          // classes trained in parallel; 0 = all cores
  void Validate() const;
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
  // Iterations each class's solver ran, and whether it met epsilon.
  const std::vector<std::size_t>& iterations() const { return iterations_; }
  const std::vector<char>& converged() const { return converged_; }  // 1 per class whose solver converged

 private:
  void Train(const Matrix& x, const std::vector<int>& labels, int num_classes, double c, Progress* progress);
  LinearSvmOptions opts_;
  Matrix w_;
  Eigen::VectorXf b_;
  double c_ = 0;
  std::map<double, double> cv_accuracy_;
  std::vector<std::size_t> iterations_;
  // char, not bool: the classes are trained on several threads, and
  // std::vector<bool> packs neighbouring classes into one shared word.
  std::vector<char> converged_;
};

}  // namespace scenelab::classify

#include "scenelab/classify/svm.h"

#include "scenelab/classify/cross_validation.h"
#include "scenelab/data/log.h"

#include "dual_cd.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>

#include <fmt/format.h>

extern "C" {
#include <vl/random.h>
#include <vl/svm.h>
#include <vl/svmdataset.h>
}

#include "kernels.h"
#include "scenelab/data/error.h"
#include "scenelab/data/folds.h"
#include "scenelab/data/parallel.h"
#include "scenelab/data/rng.h"

namespace scenelab::classify {

const EnumTable<SvmSolver>& SvmSolverNames() {
  static const EnumTable<SvmSolver> t = {
      {SvmSolver::kDualCd, "dcd"}, {SvmSolver::kSdca, "sdca"}, {SvmSolver::kSgd, "sgd"}};
  return t;
}

void LinearSvmOptions::Validate() const {
  if (!(c > 0)) throw Error("LinearSvmOptions.c (--svm-c) must be > 0, got " + std::to_string(c));
  for (double v : c_grid) {
    if (!(v > 0)) throw Error("LinearSvmOptions.c_grid (--svm-c) values must be > 0, got " + std::to_string(v));
  }
  if (!c_grid.empty() && cv_folds < 2)
    throw Error("LinearSvmOptions.cv_folds (--svm-folds) must be >= 2, got " + std::to_string(cv_folds));
  if (!(bias_multiplier >= 0))
    throw Error("LinearSvmOptions.bias_multiplier must be >= 0, got " + std::to_string(bias_multiplier));
  if (!(epsilon >= 0)) throw Error("LinearSvmOptions.epsilon must be >= 0, got " + std::to_string(epsilon));
  if (!(max_iterations_times_lambda > 0)) {
    throw Error("LinearSvmOptions.max_iterations_times_lambda must be > 0, got " +
                std::to_string(max_iterations_times_lambda));
  }
}

double LinearSvmOptions::StoppingThreshold() const {
  if (epsilon > 0) return epsilon;
  return solver == SvmSolver::kDualCd ? 0.1 : 1e-3;
}

LinearSvm::LinearSvm(const LinearSvmOptions& opts) : opts_(opts) { opts_.Validate(); }

// Cross-validation's state within one fold: the rows' squared norms, and
// each class's dual solution carried from one C to the next.
struct LinearSvm::Warm {
  std::vector<float> sq_norms;
  std::vector<detail::DualCdState> classes;
};

namespace {
struct SvmDeleter {
  void operator()(VlSvm* s) const { vl_svm_delete(s); }
};
struct DatasetDeleter {
  void operator()(VlSvmDataset* d) const { vl_svmdataset_delete(d); }
};

void CheckInputs(const Matrix& x, const std::vector<int>& labels, int num_classes) {
  if (x.rows() == 0) throw Error("LinearSvm::Fit: the training set is empty");
  if (static_cast<std::size_t>(x.rows()) != labels.size()) {
    throw Error("LinearSvm::Fit: " + std::to_string(x.rows()) + " feature rows but " + std::to_string(labels.size()) +
                " labels");
  }
  if (num_classes < 2) throw Error("LinearSvm::Fit: needs at least 2 classes, got " + std::to_string(num_classes));
  std::vector<int> count(static_cast<std::size_t>(num_classes), 0);
  for (int l : labels) {
    if (l < 0 || l >= num_classes) {
      throw Error("LinearSvm::Fit: label " + std::to_string(l) + " is outside [0, " + std::to_string(num_classes) +
                  ")");
    }
    ++count[static_cast<std::size_t>(l)];
  }
  for (int c = 0; c < num_classes; ++c) {
    if (count[static_cast<std::size_t>(c)] == 0)
      throw Error("LinearSvm::Fit: class " + std::to_string(c) + " has no training sample");
  }
  if (!x.allFinite()) throw Error("LinearSvm::Fit: the features contain NaN or infinite values");
}
}  // namespace

namespace {
// VLFeat calls this at each of its convergence checks (every
// diagnosticFrequency iterations, left at VLFeat's default so the stopping
// point does not change): the progress line shows the solver's state.
struct SvmDiagnostic {
  Progress* progress;
  std::size_t cls;
  double c;
};

void OnSvmDiagnostic(VlSvm* svm, void* data) {
  const auto* d = static_cast<const SvmDiagnostic*>(data);
  const VlSvmStatistics* st = vl_svm_get_statistics(svm);
  char text[128];
  std::snprintf(text, sizeof text, "C %g, class %zu: pass %llu, duality gap %.2e", d->c, d->cls,
                static_cast<unsigned long long>(st->epoch), st->dualityGap);
  d->progress->SetDetail(text);
}
}  // namespace

void LinearSvm::Train(const Matrix& x, const std::vector<int>& labels, int num_classes, double c, Progress* progress,
                      Warm* warm) {
  w_.resize(num_classes, x.cols());
  b_.resize(num_classes);
  iterations_.assign(static_cast<std::size_t>(num_classes), 0);
  converged_.assign(static_cast<std::size_t>(num_classes), 0);
  gaps_.assign(static_cast<std::size_t>(num_classes), 0.0);
  if (opts_.solver == SvmSolver::kDualCd)
    TrainDualCd(x, labels, c, progress, warm);
  else
    TrainVlfeat(x, labels, c, progress);
  c_ = c;
}

void LinearSvm::TrainDualCd(const Matrix& x, const std::vector<int>& labels, double c, Progress* progress, Warm* warm) {
  const auto n = static_cast<std::size_t>(x.rows());
  const auto num_classes = static_cast<std::size_t>(w_.rows());
  // Without `warm` these are the models kept, whose duality gaps are
  // reported; cross-validation's are discarded and skip that extra pass.
  const bool kept = warm == nullptr;
  Warm cold;
  if (kept) warm = &cold;
  if (warm->sq_norms.size() != n) {  // once per fold, not once per C
    warm->sq_norms.resize(n);
    ParallelFor(n, opts_.threads, [&](std::size_t i) {
      const float* r = x.data() + i * static_cast<std::size_t>(x.cols());
      warm->sq_norms[i] = kernels::Dot(r, r, static_cast<std::size_t>(x.cols()));
    });
  }
  warm->classes.resize(num_classes);
  // vl_svm's budget, 50 / lambda = 50 C N sample visits.
  const double budget = std::ceil(opts_.max_iterations_times_lambda * c * static_cast<double>(n));
  const auto max_visits = static_cast<std::size_t>(std::min(budget, 1e18));
  const double epsilon = opts_.StoppingThreshold();
  ParallelFor(num_classes, opts_.threads, [&](std::size_t cls) {
    std::vector<std::int8_t> y(n);
    for (std::size_t i = 0; i < n; ++i) y[i] = labels[i] == static_cast<int>(cls) ? 1 : -1;
    detail::DualCdProblem p;
    p.x = x.data();
    p.n = n;
    p.d = static_cast<std::size_t>(x.cols());
    p.y = y.data();
    p.sq_norms = warm->sq_norms.data();
    p.c = c;
    p.bias_multiplier = opts_.bias_multiplier;
    detail::DualCdState& state = warm->classes[cls];
    const auto on_pass = [&](const detail::DualCdPass& pass) {
      progress->SetDetail(fmt::format("C {:g}, class {}: pass {}, {} of {} active, gradient spread {:.2e}", c, cls,
                                      pass.pass, pass.active, n, pass.spread));
    };
    const detail::DualCdStats st =
        detail::SolveDualCd(p, epsilon, max_visits, MixSeed(opts_.seed, 0x5e3 + cls), &state,
                            progress ? std::function<void(const detail::DualCdPass&)>(on_pass) : nullptr);
    w_.row(static_cast<Eigen::Index>(cls)) = Eigen::Map<const Eigen::RowVectorXf>(state.w.data(), x.cols());
    b_[static_cast<Eigen::Index>(cls)] = static_cast<float>(state.w_bias * opts_.bias_multiplier);
    iterations_[cls] = st.visits;
    converged_[cls] = st.converged ? 1 : 0;
    if (kept) gaps_[cls] = detail::DualityGap(p, state);
    if (progress) progress->Add();
  });
}

void LinearSvm::TrainVlfeat(const Matrix& x, const std::vector<int>& labels, double c, Progress* progress) {
  const auto n = static_cast<vl_size>(x.rows());
  const auto d = static_cast<vl_size>(x.cols());
  const double lambda = 1.0 / (c * static_cast<double>(n));
  const auto num_classes = static_cast<std::size_t>(w_.rows());
  // Row-major n x d is VLFeat's column-major d x n: one sample per column.
  ParallelFor(num_classes, opts_.threads, [&](std::size_t cls) {
    std::vector<double> y(n);
    for (vl_size i = 0; i < n; ++i) y[i] = labels[i] == static_cast<int>(cls) ? 1.0 : -1.0;
    std::unique_ptr<VlSvmDataset, DatasetDeleter> ds(
        vl_svmdataset_new(VL_TYPE_FLOAT, const_cast<float*>(x.data()), d, n));
    if (!ds) throw Error("vl_svmdataset_new failed");
    std::unique_ptr<VlSvm, SvmDeleter> svm(vl_svm_new_with_dataset(
        opts_.solver == SvmSolver::kSdca ? VlSvmSolverSdca : VlSvmSolverSgd, ds.get(), y.data(), lambda));
    if (!svm) throw Error("vl_svm_new failed");
    vl_svm_set_bias_multiplier(svm.get(), opts_.bias_multiplier);
    vl_svm_set_epsilon(svm.get(), opts_.StoppingThreshold());
    vl_svm_set_max_num_iterations(svm.get(),
                                  static_cast<vl_size>(std::ceil(opts_.max_iterations_times_lambda / lambda)));
    // The solvers visit samples in an order drawn from VLFeat's per-thread
    // generator: seed it per class so results do not depend on threads.
    vl_rand_seed(vl_get_rand(), MixSeed(opts_.seed, 0x5e3 + cls));
    SvmDiagnostic diagnostic{progress, cls, c};
    if (progress) vl_svm_set_diagnostic_function(svm.get(), OnSvmDiagnostic, &diagnostic);
    vl_svm_train(svm.get());
    const double* model = vl_svm_get_model(svm.get());
    for (vl_size j = 0; j < d; ++j)
      w_(static_cast<Eigen::Index>(cls), static_cast<Eigen::Index>(j)) = static_cast<float>(model[j]);
    // vl_svm's bias is learnt on a constant feature of value bias_multiplier.
    b_[static_cast<Eigen::Index>(cls)] = static_cast<float>(vl_svm_get_bias(svm.get()) * opts_.bias_multiplier);
    const VlSvmStatistics* st = vl_svm_get_statistics(svm.get());
    iterations_[cls] = st->iteration;
    converged_[cls] = st->status == VlSvmStatusConverged ? 1 : 0;
    gaps_[cls] = st->dualityGap;
    if (progress) progress->Add();
  });
}

std::size_t LinearSvm::Trainings(int num_classes) const {
  const std::size_t per_class =
      opts_.c_grid.empty() ? 1 : opts_.c_grid.size() * static_cast<std::size_t>(opts_.cv_folds) + 1;
  return per_class * static_cast<std::size_t>(num_classes);
}

void LinearSvm::Fit(const Matrix& x, const std::vector<int>& labels, int num_classes, Progress* progress) {
  CheckInputs(x, labels, num_classes);
  cv_accuracy_.clear();
  double c = opts_.c;
  if (!opts_.c_grid.empty()) {
    const std::vector<int> fold = StratifiedFolds(labels, num_classes, opts_.cv_folds, MixSeed(opts_.seed, 0xf01d));
    // Each fold runs the grid from the smallest C up, so that dcd starts
    // from the previous C's solution (feasible: the box [0, C] only grows).
    std::vector<std::size_t> order(opts_.c_grid.size());
    for (std::size_t g = 0; g < order.size(); ++g) order[g] = g;
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return opts_.c_grid[a] < opts_.c_grid[b]; });
    std::vector<std::size_t> correct(opts_.c_grid.size(), 0);
    for (int f = 0; f < opts_.cv_folds; ++f) {
      const FoldSplit fs = SplitFold(x, labels, fold, f);
      Warm warm;
      for (std::size_t g : order) {
        Train(fs.train, fs.train_labels, num_classes, opts_.c_grid[g], progress, &warm);
        const auto pred = Predict(fs.held_out);
        for (std::size_t i = 0; i < fs.held_out_labels.size(); ++i) correct[g] += pred[i] == fs.held_out_labels[i];
      }
    }
    std::vector<double> cv;
    for (std::size_t g = 0; g < opts_.c_grid.size(); ++g) {
      const double acc = static_cast<double>(correct[g]) / static_cast<double>(labels.size());
      cv_accuracy_[opts_.c_grid[g]] = acc;
      cv.push_back(acc);
    }
    c = opts_.c_grid[static_cast<std::size_t>(FirstArgMax(cv))];  // ties keep the C listed first
  }
  Train(x, labels, num_classes, c, progress);
}

Matrix LinearSvm::Scores(const Matrix& x) const {
  if (w_.rows() == 0) throw Error("LinearSvm::Scores: the model is not trained");
  if (x.cols() != w_.cols()) {
    throw Error("LinearSvm::Scores: features have " + std::to_string(x.cols()) + " dimensions, the model " +
                std::to_string(w_.cols()));
  }
  Matrix s = x * w_.transpose();
  s.rowwise() += b_.transpose();
  return s;
}

std::vector<int> LinearSvm::Predict(const Matrix& x) const {
  const Matrix s = Scores(x);
  std::vector<int> out(static_cast<std::size_t>(s.rows()), 0);
  for (Eigen::Index i = 0; i < s.rows(); ++i) {
    Eigen::Index best = 0;
    for (Eigen::Index c = 1; c < s.cols(); ++c) {
      if (s(i, c) > s(i, best)) best = c;
    }
    out[static_cast<std::size_t>(i)] = static_cast<int>(best);
  }
  return out;
}

}  // namespace scenelab::classify

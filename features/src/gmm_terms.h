#pragma once
// The log-likelihood of descriptors under every Gaussian of a diagonal
// mixture as one GEMM: log(prior) + log N(x; mu, sigma^2) = w . [x^2 | x] + b.
// Shared by the Fisher encoder and the mixture's EM.
#include <cmath>

#include "scenelab/features/types.h"

namespace scenelab::features::detail {

// w: K x 2D, [-1/(2 sigma^2) | mu / sigma^2]; b: per component, log prior
// - log normaliser - |mu/sigma|^2 / 2. `log_prior(c)` gives each log prior.
template <typename LogPrior>
void GaussianLogLikelihoodTerms(const Matrix& means, const Matrix& covariances, LogPrior log_prior, Matrix* w,
                                Eigen::RowVectorXf* b) {
  const Eigen::Index k = means.rows(), d = means.cols();
  w->resize(k, 2 * d);
  b->resize(k);
  const double half_d_log_2pi = 0.5 * static_cast<double>(d) * std::log(2.0 * 3.14159265358979323846);
  for (Eigen::Index c = 0; c < k; ++c) {
    double log_det = 0, mu2 = 0;
    for (Eigen::Index j = 0; j < d; ++j) {
      const double var = covariances(c, j), mu = means(c, j);
      (*w)(c, j) = static_cast<float>(-0.5 / var);
      (*w)(c, d + j) = static_cast<float>(mu / var);
      log_det += std::log(var);
      mu2 += mu * mu / var;
    }
    (*b)[c] = static_cast<float>(log_prior(c) - half_d_log_2pi - 0.5 * log_det - 0.5 * mu2);
  }
}

// Rows of [x^2 | x] times w^T, plus b: one log-likelihood per row and component.
inline Matrix GaussianLogLikelihoods(const Matrix& x, const Matrix& w, const Eigen::RowVectorXf& b) {
  const Eigen::Index d = x.cols();
  Matrix x2(x.rows(), 2 * d);
  x2.leftCols(d) = x.array().square().matrix();
  x2.rightCols(d) = x;
  Matrix out = x2 * w.transpose();
  out.rowwise() += b;
  return out;
}

}  // namespace scenelab::features::detail

#include "scenelab/features/fisher.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include <Eigen/Eigenvalues>

extern "C" {
#include <vl/fisher.h>
#include <vl/generic.h>
#include <vl/gmm.h>
#include <vl/random.h>
#include <vl/vlad.h>
}

#include "scenelab/data/error.h"

#include "gmm_terms.h"

namespace scenelab::features {

// ---------------------------------------------------------------- PCA

Pca Pca::Fit(const Matrix& sample, int dim) {
  // OpenBLAS's threads change how products are blocked, and so their last
  // bits: one thread, as every other GEMM here, so that a fit does not depend
  // on what ran earlier in the process.
  UseSingleThreadedBlas();
  if (sample.rows() < 2) throw Error("Pca::Fit: needs at least 2 samples, got " + std::to_string(sample.rows()));
  if (dim < 1 || dim > sample.cols()) {
    throw Error("Pca: the output dimension (--pca) must be in [1, " + std::to_string(sample.cols()) + "], got " +
                std::to_string(dim));
  }
  const Eigen::RowVectorXd mean = sample.cast<double>().colwise().mean();
  const Eigen::MatrixXd centred = sample.cast<double>().rowwise() - mean;
  const Eigen::MatrixXd cov = centred.transpose() * centred / static_cast<double>(sample.rows() - 1);
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(cov);
  if (es.info() != Eigen::Success) throw Error("Pca::Fit: the eigen-decomposition did not converge");
  // Eigen sorts eigenvalues ascending: take the last `dim`, largest first.
  Matrix basis(dim, sample.cols());
  for (int i = 0; i < dim; ++i) {
    Eigen::VectorXd v = es.eigenvectors().col(sample.cols() - 1 - i);
    // Fix the sign so the result does not depend on the solver's choice.
    Eigen::Index arg = 0;
    v.cwiseAbs().maxCoeff(&arg);
    if (v[arg] < 0) v = -v;
    basis.row(i) = v.transpose().cast<float>();
  }
  return Pca(mean.cast<float>(), std::move(basis));
}

Matrix Pca::Project(const Matrix& x) const {
  if (x.cols() != input_dim()) {
    throw Error("Pca::Project: rows have " + std::to_string(x.cols()) + " values, the projection expects " +
                std::to_string(input_dim()));
  }
  UseSingleThreadedBlas();
  return (x.rowwise() - mean_) * basis_.transpose();
}

Matrix Pca::Project(const ByteMatrix& x) const { return Project(Matrix(x.cast<float>())); }

// ---------------------------------------------------------------- GMM

void GmmOptions::Validate() const {
  if (components < 1) throw Error("GmmOptions.components (--gmm) must be >= 1, got " + std::to_string(components));
  if (max_iterations < 1) throw Error("GmmOptions.max_iterations must be >= 1, got " + std::to_string(max_iterations));
}

GaussianMixture::GaussianMixture(Matrix means, Matrix covariances, Eigen::RowVectorXf priors, double log_likelihood)
    : means_(std::move(means)),
      covariances_(std::move(covariances)),
      priors_(std::move(priors)),
      log_likelihood_(log_likelihood) {
  if (covariances_.rows() != means_.rows() || covariances_.cols() != means_.cols() || priors_.size() != means_.rows() ||
      means_.size() == 0) {
    throw Error("GaussianMixture: means " + std::to_string(means_.rows()) + " x " + std::to_string(means_.cols()) +
                ", covariances " + std::to_string(covariances_.rows()) + " x " + std::to_string(covariances_.cols()) +
                " and " + std::to_string(priors_.size()) + " priors do not fit together");
  }
  if ((covariances_.array() <= 0).any()) throw Error("GaussianMixture: non-positive covariance");
}

// ---------------------------------------------------------------- grids

void SpatialGrids::Validate(const char* what) const {
  if (sides.empty()) throw Error(std::string(what) + ": at least one spatial grid is needed");
  for (int s : sides) {
    if (s < 1 || s > 16) throw Error(std::string(what) + ": grid sides must be in [1, 16], got " + std::to_string(s));
  }
}

int SpatialGrids::cells() const {
  int c = 0;
  for (int s : sides) c += s * s;
  return c;
}

int SpatialGrids::CellOf(std::size_t g, float x, float y, int width, int height) const {
  int base = 0;
  for (std::size_t i = 0; i < g; ++i) base += sides[i] * sides[i];
  const int s = sides[g];
  return base + SpatialCell(y, height, s) * s + SpatialCell(x, width, s);
}

namespace {
// Splits projected descriptors by cell: cell -> row indices.
std::vector<std::vector<Eigen::Index>> CellRows(const SpatialGrids& grids, const SiftFeatures& f) {
  std::vector<std::vector<Eigen::Index>> rows(static_cast<std::size_t>(grids.cells()));
  for (Eigen::Index i = 0; i < f.frames.rows(); ++i) {
    for (std::size_t g = 0; g < grids.sides.size(); ++g) {
      rows[static_cast<std::size_t>(grids.CellOf(g, f.frames(i, 0), f.frames(i, 1), f.width, f.height))].push_back(i);
    }
  }
  return rows;
}

Matrix Gather(const Matrix& x, const std::vector<Eigen::Index>& rows) {
  Matrix out(static_cast<Eigen::Index>(rows.size()), x.cols());
  for (std::size_t i = 0; i < rows.size(); ++i) out.row(static_cast<Eigen::Index>(i)) = x.row(rows[i]);
  return out;
}

// The spatial layout shared by the encoders: encode(rows of the cell, their
// indices, output) fills each non-empty cell's block of cell_dim values;
// with several cells each block is scaled by 1/sqrt(cells).
template <typename Encode>
void EncodeCells(const SpatialGrids& grids, const SiftFeatures& f, const Matrix& x, int cell_dim, float* out,
                 Encode encode) {
  const auto cells = CellRows(grids, f);
  const float scale = 1.0f / std::sqrt(static_cast<float>(cells.size()));
  for (std::size_t c = 0; c < cells.size(); ++c) {
    if (cells[c].empty()) continue;
    float* o = out + c * static_cast<std::size_t>(cell_dim);
    encode(cells.size() == 1 ? x : Gather(x, cells[c]), cells[c], o);
    if (cells.size() > 1) {
      for (int j = 0; j < cell_dim; ++j) o[j] *= scale;
    }
  }
}
}  // namespace

// ---------------------------------------------------------------- Fisher

void FisherOptions::Validate() const { grids.Validate("Fisher vectors (--grids)"); }

FisherEncoder::FisherEncoder(const Pca& pca, const GaussianMixture& gmm, const FisherOptions& opts)
    : pca_(pca), gmm_(gmm), opts_(opts) {
  opts_.Validate();
  if (gmm_.components() == 0) throw Error("FisherEncoder: empty mixture");
  if (pca_.output_dim() != gmm_.dim()) {
    throw Error("FisherEncoder: the PCA gives " + std::to_string(pca_.output_dim()) + " dimensions, the mixture has " +
                std::to_string(gmm_.dim()));
  }
  detail::GaussianLogLikelihoodTerms(
      gmm_.means(), gmm_.covariances(), [&](Eigen::Index c) { return std::log(static_cast<double>(gmm_.priors()[c])); },
      &loglik_weights_, &loglik_bias_);
}

void FisherEncoder::EncodeCell(const Matrix& x, float* out) const {
  const Eigen::Index n = x.rows(), k = gmm_.components(), d = gmm_.dim();
  // Log-likelihoods of every descriptor under every Gaussian: one GEMM on [x^2 | x].
  Matrix post = detail::GaussianLogLikelihoods(x, loglik_weights_, loglik_bias_);
  // Posteriors: a softmax per descriptor; vl_fisher ignores those below
  // 1e-6, which leaves a handful per descriptor: the moments are accumulated
  // sparsely.
  // Accumulated as vl_fisher does, on centred and whitened differences, so
  // that no large terms cancel.
  std::fill(out, out + 2 * k * d, 0.0f);
  Matrix inv_sd = gmm_.covariances().array().sqrt().inverse().matrix();
  std::vector<float> diff(static_cast<std::size_t>(d));
  for (Eigen::Index i = 0; i < n; ++i) {
    auto row = post.row(i);
    const float m = row.maxCoeff();
    row = (row.array() - m).exp().matrix();
    row /= row.sum();
    const float* xi = x.row(i).data();
    for (Eigen::Index c = 0; c < k; ++c) {
      const float g = row[c];
      if (g < 1e-6f) continue;
      const float* mu = gmm_.means().row(c).data();
      const float* is = inv_sd.row(c).data();
      float* u = out + c * d;
      float* v = out + (k + c) * d;
      for (Eigen::Index j = 0; j < d; ++j) {
        const float z = (xi[j] - mu[j]) * is[j];
        u[j] += g * z;
        v[j] += g * (z * z - 1);
      }
    }
  }
  // vl_fisher's layout: every component's mean gradient, then every variance gradient.
  for (Eigen::Index c = 0; c < k; ++c) {
    const float prior = gmm_.priors()[c];
    const float up = 1.0f / (static_cast<float>(n) * std::sqrt(prior));
    const float vp = 1.0f / (static_cast<float>(n) * std::sqrt(2.0f * prior));
    float* u = out + c * d;
    float* v = out + (k + c) * d;
    for (Eigen::Index j = 0; j < d; ++j) {
      u[j] *= up;
      v[j] *= vp;
    }
  }
  const Eigen::Index len = 2 * k * d;
  if (opts_.improved) {
    double norm = 0;
    for (Eigen::Index j = 0; j < len; ++j) {
      out[j] = out[j] < 0 ? -std::sqrt(-out[j]) : std::sqrt(out[j]);
      norm += static_cast<double>(out[j]) * out[j];
    }
    const float inv = static_cast<float>(1.0 / std::max(std::sqrt(norm), 1e-12));
    for (Eigen::Index j = 0; j < len; ++j) out[j] *= inv;
  }
}

int FisherEncoder::dim() const { return 2 * gmm_.dim() * gmm_.components() * opts_.grids.cells(); }

void FisherEncoder::Encode(const SiftFeatures& f, float* out) const {
  UseSingleThreadedBlas();
  const int cell_dim = 2 * gmm_.dim() * gmm_.components();
  std::fill(out, out + dim(), 0.0f);
  if (f.descriptors.rows() == 0) return;
  EncodeCells(opts_.grids, f, pca_.Project(f.descriptors), cell_dim, out,
              [&](const Matrix& xc, const std::vector<Eigen::Index>&, float* o) { EncodeCell(xc, o); });
}

void FisherEncoder::EncodeReference(const SiftFeatures& f, float* out) const {
  const int cell_dim = 2 * gmm_.dim() * gmm_.components();
  std::fill(out, out + dim(), 0.0f);
  if (f.descriptors.rows() == 0) return;
  // The caller parallelises over images: VLFeat's own OpenMP threads would
  // oversubscribe the cores.
  vl_set_num_threads(1);
  EncodeCells(opts_.grids, f, pca_.Project(f.descriptors), cell_dim, out,
              [&](const Matrix& xc, const std::vector<Eigen::Index>&, float* o) {
                vl_fisher_encode(o, VL_TYPE_FLOAT, gmm_.means().data(), static_cast<vl_size>(gmm_.dim()),
                                 static_cast<vl_size>(gmm_.components()), gmm_.covariances().data(),
                                 gmm_.priors().data(), xc.data(), static_cast<vl_size>(xc.rows()),
                                 opts_.improved ? VL_FISHER_FLAG_IMPROVED : 0);
              });
}

// ---------------------------------------------------------------- VLAD

void VladOptions::Validate() const { grids.Validate("VLAD (--grids)"); }

VladEncoder::VladEncoder(const Pca& pca, const Vocabulary& vocabulary, const VladOptions& opts)
    : pca_(pca), vocab_(vocabulary), opts_(opts) {
  opts_.Validate();
  if (vocab_.size() == 0) throw Error("VladEncoder: empty vocabulary");
  if (pca_.output_dim() != vocab_.dim()) {
    throw Error("VladEncoder: the PCA gives " + std::to_string(pca_.output_dim()) + " dimensions, the vocabulary has " +
                std::to_string(vocab_.dim()));
  }
}

int VladEncoder::dim() const { return vocab_.dim() * vocab_.size() * opts_.grids.cells(); }

void VladEncoder::Encode(const SiftFeatures& f, float* out) const {
  const int cell_dim = vocab_.dim() * vocab_.size();
  std::fill(out, out + dim(), 0.0f);
  if (f.descriptors.rows() == 0) return;
  const Matrix x = pca_.Project(f.descriptors);
  const std::vector<int> words = vocab_.Assign(x);
  int flags = 0;
  if (opts_.normalize_components) flags |= VL_VLAD_FLAG_NORMALIZE_COMPONENTS;
  if (opts_.square_root) flags |= VL_VLAD_FLAG_SQUARE_ROOT;
  EncodeCells(opts_.grids, f, x, cell_dim, out, [&](const Matrix& xc, const std::vector<Eigen::Index>& rows, float* o) {
    // vl_vlad takes soft assignments, numData x numClusters: one-hot here.
    Matrix assign = Matrix::Zero(xc.rows(), vocab_.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
      assign(static_cast<Eigen::Index>(i), words[static_cast<std::size_t>(rows[i])]) = 1.0f;
    }
    vl_vlad_encode(o, VL_TYPE_FLOAT, vocab_.centers().data(), static_cast<vl_size>(vocab_.dim()),
                   static_cast<vl_size>(vocab_.size()), xc.data(), static_cast<vl_size>(xc.rows()), assign.data(),
                   flags);
  });
}

}  // namespace scenelab::features

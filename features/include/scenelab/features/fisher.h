#pragma once
// Mid-level encodings beyond hard bag of words: Fisher vectors (Perronnin et
// al. 2010, "improved": signed square root and L2 normalisation) over a
// diagonal Gaussian mixture, and VLAD (Jegou et al. 2010), both through
// VLFeat (vl_gmm, vl_fisher, vl_vlad) on PCA-reduced descriptors.
#include <cstdint>
#include <string>
#include <vector>

#include "scenelab/features/collective.h"
#include "scenelab/features/dense_sift.h"
#include "scenelab/features/types.h"
#include "scenelab/features/vocabulary.h"

namespace scenelab::features {

// Principal components of a descriptor sample (Eigen's self-adjoint solver on
// the covariance), largest variance first.
class Pca {
 public:
  Pca() = default;
  // dim: components kept, in [1, sample.cols()].
  static Pca Fit(const Matrix& sample, int dim);
  Pca(Eigen::RowVectorXf mean, Matrix basis) : mean_(std::move(mean)), basis_(std::move(basis)) {}
  int input_dim() const { return static_cast<int>(mean_.size()); }
  int output_dim() const { return static_cast<int>(basis_.rows()); }
  Matrix Project(const Matrix& x) const;  // rows centred, then projected
  Matrix Project(const ByteMatrix& x) const;
  const Eigen::RowVectorXf& mean() const { return mean_; }
  const Matrix& basis() const { return basis_; }  // output_dim x input_dim

 private:
  Eigen::RowVectorXf mean_;
  Matrix basis_;
};

struct GmmOptions {
  int components = 256;     // Gaussians (Chatfield et al. 2011 use 256)
  int max_iterations = 30;  // EM iterations after k-means initialisation
  std::uint64_t seed = 0;   // k-means initialisation
  void Validate() const;
};

// Diagonal-covariance Gaussian mixture: vl_gmm's k-means start and its EM,
// run natively so that the EM can be split over processes (gmm_em.cpp).
class GaussianMixture {
 public:
  GaussianMixture() = default;
  // A fitted mixture from its parts (K x D means and diagonal covariances,
  // 1 x K priors); throws Error on mismatched shapes or a covariance <= 0.
  GaussianMixture(Matrix means, Matrix covariances, Eigen::RowVectorXf priors, double log_likelihood = 0);
  static GaussianMixture Fit(const Matrix& sample, const GmmOptions& opts);
  // The same fit with the EM split over the processes of `comm`: every
  // process passes the whole sample (the initialisation runs on rank 0) and
  // works on its contiguous share of the rows; equal to the one-process fit
  // up to the order of floating-point sums. `threads`: 0 = all cores.
  static GaussianMixture Fit(const Matrix& sample, const GmmOptions& opts, const Collective& comm, int threads);
  int components() const { return static_cast<int>(means_.rows()); }
  int dim() const { return static_cast<int>(means_.cols()); }
  const Matrix& means() const { return means_; }              // K x D
  const Matrix& covariances() const { return covariances_; }  // K x D (diagonals)
  const Eigen::RowVectorXf& priors() const { return priors_; }
  double log_likelihood() const { return log_likelihood_; }

 private:
  Matrix means_, covariances_;
  Eigen::RowVectorXf priors_;
  double log_likelihood_ = 0;
};

// Spatial cells shared by the encoders: for each grid side g, g x g cells;
// each cell's vector is normalised on its own, then all are concatenated and
// scaled by 1/sqrt(cells) so the whole vector has unit L2 norm.
struct SpatialGrids {
  std::vector<int> sides = {1};  // e.g. {1, 2}: whole image plus 2 x 2 quadrants
  void Validate(const char* what) const;
  int cells() const;
  // Cell index (over all grids, in order) of a frame for grid number `g`.
  int CellOf(std::size_t g, float x, float y, int width, int height) const;
};

struct FisherOptions {
  SpatialGrids grids;    // default: one global vector
  bool improved = true;  // signed square root + L2 (VL_FISHER_FLAG_IMPROVED)
  void Validate() const;
};

class FisherEncoder {
 public:
  FisherEncoder(const Pca& pca, const GaussianMixture& gmm, const FisherOptions& opts);
  int dim() const;  // 2 * D * K per cell
  // Thread-safe. The statistics go through three GEMMs (log-likelihoods,
  // first and second order moments) with vl_fisher's exact formulas,
  // including its 1e-6 posterior cut-off: about 10x faster than vl_fisher.
  void Encode(const SiftFeatures& f, float* out) const;
  // The same vector through VLFeat's vl_fisher_encode (the reference).
  void EncodeReference(const SiftFeatures& f, float* out) const;

 private:
  void EncodeCell(const Matrix& x, float* out) const;
  const Pca& pca_;
  const GaussianMixture& gmm_;
  FisherOptions opts_;
  Matrix loglik_weights_;           // K x 2D: [-1/(2 sigma^2) | mu / sigma^2]
  Eigen::RowVectorXf loglik_bias_;  // per component: log prior - log normaliser - |mu/sigma|^2 / 2
};

struct VladOptions {
  SpatialGrids grids;
  bool normalize_components = true;  // intra-normalisation (Arandjelovic & Zisserman 2013)
  bool square_root = true;           // signed square root before the L2 norm
  void Validate() const;
};

// VLAD over a k-means vocabulary of PCA-reduced descriptors, hard assignment.
class VladEncoder {
 public:
  VladEncoder(const Pca& pca, const Vocabulary& vocabulary, const VladOptions& opts);
  int dim() const;  // D * K per cell
  void Encode(const SiftFeatures& f, float* out) const;

 private:
  const Pca& pca_;
  const Vocabulary& vocab_;
  VladOptions opts_;
};

}  // namespace scenelab::features

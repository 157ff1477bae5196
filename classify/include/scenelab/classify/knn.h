#pragma once
// k-nearest-neighbour classification.
//
// Distances: L2 is the *squared* Euclidean distance, L1 the sum of absolute
// differences, chi2 the sum of (a-b)^2/(a+b) over dimensions with a+b > 0.
// Neighbours are ordered by (distance, training index), so equal distances
// resolve to the lower training index, whatever the thread count.
//
// Exact search is brute force, blocked over queries and training rows so
// that memory stays bounded (query_block x train_block distances at a
// time), multi-threaded over query blocks. L2 goes through a GEMM with
// precomputed norms; L1 and chi2 through vectorised kernels. On 8-bit data
// (raw pixels, 0..255 or 0..255/255) both L1 and L2 are exact integers: sums
// of absolute differences, and |q|^2 + |t|^2 - 2 q.t with int32 dot products
// (AVX-512 VNNI where the CPU has it), ranked as integers. Approximate search uses FLANN's randomised kd-trees
// or hierarchical k-means tree, optionally on principal components with the
// candidates re-ranked exactly (flann_pca_dims).
#include <memory>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "scenelab/features/collective.h"
#include "scenelab/features/types.h"

namespace scenelab::classify {

using features::Matrix;
using IndexMatrix = Eigen::Matrix<int, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

enum class Metric { kL1, kL2, kChi2 };
Metric ParseMetric(const std::string& s);  // l1 | l2 | chi2
std::string ToString(Metric m);

enum class SearchAlgorithm { kBruteForce, kKdTree, kKMeansTree };
SearchAlgorithm ParseSearchAlgorithm(const std::string& s);  // brute | kdtree | kmeans
std::string ToString(SearchAlgorithm a);

struct KnnOptions {
  SearchAlgorithm algorithm = SearchAlgorithm::kBruteForce;  // exact by default
  int threads = 0;                                           // 0 = all cores
  int query_block = 256;                                     // queries per block (bounds memory with train_block)
  int train_block = 4096;                                    // training rows per block
  int flann_trees = 4;                                       // randomised kd-trees (FLANN's default is 4)
  int flann_checks = 64;                                     // leaves visited per query; more = closer to exact
  int flann_branching = 32;                                  // k-means tree branching factor (FLANN default)
  int flann_kmeans_iterations = 11;  // k-means tree: clustering iterations per node (FLANN default)
  // > 0: FLANN's autotuning picks the index (kd-trees or k-means tree, their
  // parameters, and checks) for this recall on a sample of the training set.
  double flann_target_precision = 0;
  // > 0 (L2 only): FLANN indexes the training rows projected onto this many
  // principal components, and each query's `flann_rerank` candidates from it
  // are re-ranked by exact L2 in the full space. High-dimensional pixels
  // then search in a space where trees work, and the reported distances stay exact.
  int flann_pca_dims = 0;
  int flann_rerank = 32;  // with flann_pca_dims: candidates re-ranked per query
  // Seeds the k-means tree (k-means++ centres) and the PCA sample. Debian's
  // FLANN 1.9 shuffles each randomised kd-tree with std::random_device, so
  // kd-tree results vary slightly from run to run whatever the seed; the
  // exact search and the k-means tree repeat exactly.
  std::uint64_t seed = 0;
  void Validate() const;
};

// The k nearest training rows of each query, nearest first.
struct Neighbors {
  IndexMatrix indices;  // queries x k
  Matrix distances;     // queries x k, in the metric's units (see above)
  Metric metric = Metric::kL2;
  int k() const { return static_cast<int>(indices.cols()); }
};

struct VoteResult {
  std::vector<int> labels;    // predicted class per query
  std::vector<float> scores;  // share of the (weighted) votes won by that class
};

class KnnClassifier {
 public:
  explicit KnnClassifier(const KnnOptions& opts = {});
  ~KnnClassifier();
  KnnClassifier(KnnClassifier&&) noexcept;
  KnnClassifier& operator=(KnnClassifier&&) noexcept;

  // Training rows and their labels in [0, num_classes).
  void Fit(Matrix train, std::vector<int> labels, int num_classes);
  std::size_t train_size() const;
  int num_classes() const { return num_classes_; }

  // One search serves every k' <= k: Vote() reads the first k' columns.
  Neighbors Search(const Matrix& queries, int k, Metric metric) const;

  // Majority vote over the first k neighbours. A tie between classes goes to
  // the tied class whose nearest member ranks first. With `distance_weighted`
  // each neighbour votes 1/(d + 1e-9), d being the (non-squared) distance.
  VoteResult Vote(const Neighbors& nn, int k, bool distance_weighted = false) const;

  // Classes ranked per query, best first, `top` of them (top-5 accuracy):
  // by votes among the first k neighbours (ties as in Vote: the class whose
  // nearest member ranks first); classes without a vote follow in the order
  // their nearest member appears among all the neighbours searched, then by
  // class index. The first entry is always Vote's label.
  std::vector<std::vector<int>> Rank(const Neighbors& nn, int k, bool distance_weighted, int top) const;

  // Search + Vote.
  VoteResult Predict(const Matrix& queries, int k, Metric metric, bool distance_weighted = false) const;

  // Counts Search() calls; the sweep tests use it to show reuse.
  std::size_t searches_performed() const { return searches_; }
  const KnnOptions& options() const { return opts_; }

 private:
  void CheckSearch(const Matrix& queries, int k) const;
  void SearchFlann(const Matrix& queries, int k, Metric metric, Neighbors* nn) const;
  bool SearchBytes(const Matrix& queries, int k, Metric metric, Neighbors* nn) const;
  void SearchFloat(const Matrix& queries, int k, Metric metric, Neighbors* nn) const;
  void FlannSearch(const float* queries, Eigen::Index nq, Eigen::Index dim, int k, int* indices,
                   float* distances) const;
  void SearchProjected(const Matrix& queries, int k, Neighbors* nn) const;
  void SearchL1Bytes(const Matrix& queries, int k, Neighbors* nn) const;
  void SearchL2Bytes(const Matrix& queries, int k, Neighbors* nn) const;
  double Tally(const Neighbors& nn, Eigen::Index q, int k, bool distance_weighted, std::vector<double>* votes,
               std::vector<int>* first_rank) const;
  struct Flann;
  struct ByteRows;  // 8-bit copy of train_ for L1 and L2, built at the first search
  KnnOptions opts_;
  Matrix train_;
  mutable Eigen::VectorXf train_norms_;  // |t|^2 for the float L2 path, built at its first search
  std::vector<int> labels_;
  int num_classes_ = 0;
  mutable std::size_t searches_ = 0;
  mutable std::unique_ptr<Flann> flann_;
  mutable std::unique_ptr<ByteRows> bytes_;
};

// Search() with the queries split across the processes of `comm` (an MPI
// job) in contiguous runs of whole query blocks (KnnOptions::query_block),
// each process searching its run against the same fitted training set; the neighbour lists are gathered in query order,
// so every process gets exactly Search()'s result. Called by every process,
// with the same queries.
Neighbors SearchSharded(const KnnClassifier& knn, const Matrix& queries, int k, Metric metric,
                        const features::Collective& comm);

// Plain reference implementation (one query at a time, full sort); used by
// the tests to check the fast paths.
Neighbors NaiveSearch(const Matrix& train, const Matrix& queries, int k, Metric metric);

}  // namespace scenelab::classify

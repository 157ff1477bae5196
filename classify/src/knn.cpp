#include "scenelab/classify/knn.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <flann/flann.hpp>

#include "kernels.h"
#include "scenelab/features/vocabulary.h"
#include "scenelab/data/error.h"
#include "scenelab/data/parallel.h"

namespace scenelab::classify {

Metric ParseMetric(const std::string& s) {
  if (s == "l1" || s == "L1") return Metric::kL1;
  if (s == "l2" || s == "L2") return Metric::kL2;
  if (s == "chi2" || s == "CHI2") return Metric::kChi2;
  throw Error("metric: unknown value '" + s + "' (expected l1, l2 or chi2)");
}

std::string ToString(Metric m) {
  switch (m) {
    case Metric::kL1: return "l1";
    case Metric::kL2: return "l2";
    case Metric::kChi2: return "chi2";
  }
  return "?";
}

SearchAlgorithm ParseSearchAlgorithm(const std::string& s) {
  if (s == "brute") return SearchAlgorithm::kBruteForce;
  if (s == "kdtree") return SearchAlgorithm::kKdTree;
  if (s == "kmeans") return SearchAlgorithm::kKMeansTree;
  throw Error("knn index: unknown value '" + s + "' (expected brute, kdtree or kmeans)");
}

std::string ToString(SearchAlgorithm a) {
  switch (a) {
    case SearchAlgorithm::kBruteForce: return "brute";
    case SearchAlgorithm::kKdTree: return "kdtree";
    case SearchAlgorithm::kKMeansTree: return "kmeans";
  }
  return "?";
}

void KnnOptions::Validate() const {
  if (query_block < 1) throw Error("KnnOptions.query_block must be >= 1, got " + std::to_string(query_block));
  if (train_block < 1) throw Error("KnnOptions.train_block must be >= 1, got " + std::to_string(train_block));
  if (flann_trees < 1) throw Error("KnnOptions.flann_trees must be >= 1, got " + std::to_string(flann_trees));
  if (flann_checks < 1) throw Error("KnnOptions.flann_checks must be >= 1, got " + std::to_string(flann_checks));
  if (flann_branching < 2) throw Error("KnnOptions.flann_branching must be >= 2, got " + std::to_string(flann_branching));
  if (flann_kmeans_iterations < 1) {
    throw Error("KnnOptions.flann_kmeans_iterations must be >= 1, got " + std::to_string(flann_kmeans_iterations));
  }
  if (!(flann_target_precision >= 0 && flann_target_precision < 1)) {
    throw Error("KnnOptions.flann_target_precision must be in [0, 1), got " + std::to_string(flann_target_precision));
  }
}

struct KnnClassifier::Flann {
  Metric metric;
  std::unique_ptr<flann::Index<flann::L2<float>>> l2;
  std::unique_ptr<flann::Index<flann::L1<float>>> l1;
  std::unique_ptr<flann::Index<flann::ChiSquareDistance<float>>> chi2;
};

KnnClassifier::KnnClassifier(const KnnOptions& opts) : opts_(opts) { opts_.Validate(); }
KnnClassifier::~KnnClassifier() = default;
KnnClassifier::KnnClassifier(KnnClassifier&&) noexcept = default;
KnnClassifier& KnnClassifier::operator=(KnnClassifier&&) noexcept = default;

void KnnClassifier::Fit(Matrix train, std::vector<int> labels, int num_classes) {
  if (static_cast<std::size_t>(train.rows()) != labels.size()) {
    throw Error("KnnClassifier::Fit: " + std::to_string(train.rows()) + " training rows but " +
                std::to_string(labels.size()) + " labels");
  }
  if (train.rows() == 0) throw Error("KnnClassifier::Fit: empty training set");
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0 || labels[i] >= num_classes) {
      throw Error("KnnClassifier::Fit: label " + std::to_string(labels[i]) + " of training row " + std::to_string(i) +
                  " is outside [0, " + std::to_string(num_classes) + ")");
    }
  }
  train_ = std::move(train);
  labels_ = std::move(labels);
  num_classes_ = num_classes;
  train_norms_ = train_.rowwise().squaredNorm();
  flann_.reset();
}

std::size_t KnnClassifier::train_size() const { return static_cast<std::size_t>(train_.rows()); }

namespace {
// Keeps the k smallest (distance, index) pairs, sorted.
struct TopK {
  int k;
  float* d;
  int* idx;
  int size = 0;
  void Push(float dist, int i) {
    if (size == k) {
      if (dist > d[k - 1] || (dist == d[k - 1] && i > idx[k - 1])) return;
      --size;
    }
    int p = size++;
    while (p > 0 && (d[p - 1] > dist || (d[p - 1] == dist && idx[p - 1] > i))) {
      d[p] = d[p - 1];
      idx[p] = idx[p - 1];
      --p;
    }
    d[p] = dist;
    idx[p] = i;
  }
};

float MetricDistance(const float* a, const float* b, Eigen::Index dim, Metric m) {
  double s = 0;
  for (Eigen::Index d = 0; d < dim; ++d) {
    const double x = a[d], y = b[d];
    if (m == Metric::kL2) s += (x - y) * (x - y);
    else if (m == Metric::kL1) s += std::fabs(x - y);
    else if (x + y > 0) s += (x - y) * (x - y) / (x + y);
  }
  return static_cast<float>(s);
}
}  // namespace

Neighbors KnnClassifier::Search(const Matrix& queries, int k, Metric metric) const {
  if (train_.rows() == 0) throw Error("KnnClassifier::Search: Fit() was not called");
  if (k < 1) throw Error("k must be >= 1, got " + std::to_string(k));
  if (static_cast<Eigen::Index>(k) > train_.rows()) {
    throw Error("k = " + std::to_string(k) + " is larger than the training set (" + std::to_string(train_.rows()) +
                " samples)");
  }
  if (queries.cols() != train_.cols()) {
    throw Error("queries have " + std::to_string(queries.cols()) + " dimensions, the training set " +
                std::to_string(train_.cols()));
  }
  ++searches_;
  features::UseSingleThreadedBlas();
  const Eigen::Index nq = queries.rows();
  Neighbors nn;
  nn.metric = metric;
  nn.indices.resize(nq, k);
  nn.distances.resize(nq, k);
  if (nq == 0) return nn;

  if (opts_.algorithm != SearchAlgorithm::kBruteForce) {
    if (!flann_ || flann_->metric != metric) {
      flann_ = std::make_unique<Flann>();
      flann_->metric = metric;
      flann::Matrix<float> data(const_cast<float*>(train_.data()), train_.rows(), train_.cols());
      flann::IndexParams params =
          opts_.flann_target_precision > 0
              ? flann::IndexParams(flann::AutotunedIndexParams(static_cast<float>(opts_.flann_target_precision), 0.01f, 0, 0.1f))
          : opts_.algorithm == SearchAlgorithm::kKdTree
              ? flann::IndexParams(flann::KDTreeIndexParams(opts_.flann_trees))
              : flann::IndexParams(flann::KMeansIndexParams(opts_.flann_branching, opts_.flann_kmeans_iterations));
      flann::seed_random(static_cast<unsigned>(opts_.seed));
      if (metric == Metric::kL2) {
        flann_->l2 = std::make_unique<flann::Index<flann::L2<float>>>(data, params);
        flann_->l2->buildIndex();
      } else if (metric == Metric::kL1) {
        flann_->l1 = std::make_unique<flann::Index<flann::L1<float>>>(data, params);
        flann_->l1->buildIndex();
      } else {
        flann_->chi2 = std::make_unique<flann::Index<flann::ChiSquareDistance<float>>>(data, params);
        flann_->chi2->buildIndex();
      }
    }
    flann::Matrix<float> q(const_cast<float*>(queries.data()), queries.rows(), queries.cols());
    flann::Matrix<int> idx(nn.indices.data(), nq, k);
    flann::Matrix<float> dist(nn.distances.data(), nq, k);
    flann::SearchParams sp(opts_.flann_target_precision > 0 ? flann::FLANN_CHECKS_AUTOTUNED : opts_.flann_checks);
    sp.cores = ResolveThreads(opts_.threads);
    if (flann_->l2) flann_->l2->knnSearch(q, idx, dist, k, sp);
    else if (flann_->l1) flann_->l1->knnSearch(q, idx, dist, k, sp);
    else flann_->chi2->knnSearch(q, idx, dist, k, sp);
    return nn;
  }

  const Eigen::Index nt = train_.rows(), dim = train_.cols();
  const Eigen::Index qb = opts_.query_block, tb = opts_.train_block;
  const std::size_t nblocks = static_cast<std::size_t>((nq + qb - 1) / qb);
  ParallelForRange(nblocks, opts_.threads, 1, [&](std::size_t b0, std::size_t b1) {
    Matrix dist;  // query block x train block, reused
    for (std::size_t blk = b0; blk < b1; ++blk) {
      const Eigen::Index q0 = static_cast<Eigen::Index>(blk) * qb;
      const Eigen::Index qn = std::min(qb, nq - q0);
      std::vector<TopK> tops;
      for (Eigen::Index i = 0; i < qn; ++i) {
        tops.push_back(TopK{k, nn.distances.row(q0 + i).data(), nn.indices.row(q0 + i).data()});
      }
      for (Eigen::Index t0 = 0; t0 < nt; t0 += tb) {
        const Eigen::Index tn = std::min(tb, nt - t0);
        dist.resize(qn, tn);
        if (metric == Metric::kL2) {
          dist.noalias() = queries.middleRows(q0, qn) * train_.middleRows(t0, tn).transpose();
          for (Eigen::Index i = 0; i < qn; ++i) {
            const float qn2 = queries.row(q0 + i).squaredNorm();
            float* row = dist.row(i).data();
            for (Eigen::Index j = 0; j < tn; ++j) row[j] = std::max(0.0f, qn2 + train_norms_[t0 + j] - 2 * row[j]);
          }
        } else {
          for (Eigen::Index i = 0; i < qn; ++i) {
            const float* q = queries.row(q0 + i).data();
            const float* t = train_.row(t0).data();
            if (metric == Metric::kL1) {
              kernels::L1Block(q, t, static_cast<std::size_t>(tn), static_cast<std::size_t>(dim), dist.row(i).data());
            } else {
              kernels::Chi2Block(q, t, static_cast<std::size_t>(tn), static_cast<std::size_t>(dim), dist.row(i).data());
            }
          }
        }
        for (Eigen::Index i = 0; i < qn; ++i) {
          const float* row = dist.row(i).data();
          TopK& top = tops[static_cast<std::size_t>(i)];
          for (Eigen::Index j = 0; j < tn; ++j) {
            if (top.size < k || row[j] <= top.d[k - 1]) top.Push(row[j], static_cast<int>(t0 + j));
          }
        }
      }
    }
  });
  return nn;
}

VoteResult KnnClassifier::Vote(const Neighbors& nn, int k, bool distance_weighted) const {
  if (k < 1 || k > nn.k()) {
    throw Error("Vote: k = " + std::to_string(k) + " outside the " + std::to_string(nn.k()) + " neighbours searched");
  }
  const Eigen::Index nq = nn.indices.rows();
  VoteResult r;
  r.labels.resize(static_cast<std::size_t>(nq));
  r.scores.resize(static_cast<std::size_t>(nq));
  std::vector<double> votes(static_cast<std::size_t>(num_classes_));
  std::vector<int> first_rank(static_cast<std::size_t>(num_classes_));
  for (Eigen::Index q = 0; q < nq; ++q) {
    std::fill(votes.begin(), votes.end(), 0.0);
    std::fill(first_rank.begin(), first_rank.end(), std::numeric_limits<int>::max());
    double total = 0;
    for (int j = 0; j < k; ++j) {
      const int idx = nn.indices(q, j);
      if (idx < 0) continue;  // FLANN may return fewer neighbours
      const int c = labels_[static_cast<std::size_t>(idx)];
      double w = 1.0;
      if (distance_weighted) {
        // L2 distances are squared; weigh by the Euclidean distance.
        const double d = nn.metric == Metric::kL2 ? std::sqrt(std::max(0.0f, nn.distances(q, j))) : nn.distances(q, j);
        w = 1.0 / (d + 1e-9);
      }
      votes[static_cast<std::size_t>(c)] += w;
      total += w;
      first_rank[static_cast<std::size_t>(c)] = std::min(first_rank[static_cast<std::size_t>(c)], j);
    }
    int best = 0;
    for (int c = 1; c < num_classes_; ++c) {
      const auto uc = static_cast<std::size_t>(c), ub = static_cast<std::size_t>(best);
      if (votes[uc] > votes[ub] || (votes[uc] == votes[ub] && first_rank[uc] < first_rank[ub])) best = c;
    }
    r.labels[static_cast<std::size_t>(q)] = best;
    r.scores[static_cast<std::size_t>(q)] = total > 0 ? static_cast<float>(votes[static_cast<std::size_t>(best)] / total) : 0.0f;
  }
  return r;
}

VoteResult KnnClassifier::Predict(const Matrix& queries, int k, Metric metric, bool distance_weighted) const {
  return Vote(Search(queries, k, metric), k, distance_weighted);
}

Neighbors NaiveSearch(const Matrix& train, const Matrix& queries, int k, Metric metric) {
  Neighbors nn;
  nn.metric = metric;
  nn.indices.resize(queries.rows(), k);
  nn.distances.resize(queries.rows(), k);
  std::vector<std::pair<float, int>> all(static_cast<std::size_t>(train.rows()));
  for (Eigen::Index q = 0; q < queries.rows(); ++q) {
    for (Eigen::Index t = 0; t < train.rows(); ++t) {
      all[static_cast<std::size_t>(t)] = {MetricDistance(queries.row(q).data(), train.row(t).data(), train.cols(), metric),
                                          static_cast<int>(t)};
    }
    std::sort(all.begin(), all.end());
    for (int j = 0; j < k; ++j) {
      nn.distances(q, j) = all[static_cast<std::size_t>(j)].first;
      nn.indices(q, j) = all[static_cast<std::size_t>(j)].second;
    }
  }
  return nn;
}

}  // namespace scenelab::classify

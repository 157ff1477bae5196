#include "scenelab/classify/knn.h"
#include <atomic>

#include <algorithm>
#include <cmath>
#include <limits>

#include <flann/flann.hpp>

#include "kernels.h"
#include "scenelab/data/error.h"
#include "scenelab/data/parallel.h"
#include "scenelab/data/rng.h"
#include "scenelab/features/fisher.h"
#include "scenelab/features/vocabulary.h"

namespace scenelab::classify {

Metric ParseMetric(const std::string& s) {
  if (s == "l1" || s == "L1") return Metric::kL1;
  if (s == "l2" || s == "L2") return Metric::kL2;
  if (s == "chi2" || s == "CHI2") return Metric::kChi2;
  throw Error("metric: unknown value '" + s + "' (expected l1, l2 or chi2)");
}

std::string ToString(Metric m) {
  switch (m) {
    case Metric::kL1:
      return "l1";
    case Metric::kL2:
      return "l2";
    case Metric::kChi2:
      return "chi2";
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
    case SearchAlgorithm::kBruteForce:
      return "brute";
    case SearchAlgorithm::kKdTree:
      return "kdtree";
    case SearchAlgorithm::kKMeansTree:
      return "kmeans";
  }
  return "?";
}

void KnnOptions::Validate() const {
  if (query_block < 1) throw Error("KnnOptions.query_block must be >= 1, got " + std::to_string(query_block));
  if (train_block < 1) throw Error("KnnOptions.train_block must be >= 1, got " + std::to_string(train_block));
  if (flann_trees < 1) throw Error("KnnOptions.flann_trees must be >= 1, got " + std::to_string(flann_trees));
  if (flann_checks < 1) throw Error("KnnOptions.flann_checks must be >= 1, got " + std::to_string(flann_checks));
  if (flann_branching < 2)
    throw Error("KnnOptions.flann_branching must be >= 2, got " + std::to_string(flann_branching));
  if (flann_kmeans_iterations < 1) {
    throw Error("KnnOptions.flann_kmeans_iterations must be >= 1, got " + std::to_string(flann_kmeans_iterations));
  }
  if (!(flann_target_precision >= 0 && flann_target_precision < 1)) {
    throw Error("KnnOptions.flann_target_precision must be in [0, 1), got " + std::to_string(flann_target_precision));
  }
  if (flann_pca_dims < 0)
    throw Error("KnnOptions.flann_pca_dims (--flann-pca) must be >= 0, got " + std::to_string(flann_pca_dims));
  if (flann_rerank < 1)
    throw Error("KnnOptions.flann_rerank (--flann-rerank) must be >= 1, got " + std::to_string(flann_rerank));
}

struct KnnClassifier::Flann {
  Metric metric;
  features::Pca pca;  // with flann_pca_dims: the projection, and
  Matrix projected;   // the projected training rows the index points into
  std::unique_ptr<flann::Index<flann::L2<float>>> l2;
  std::unique_ptr<flann::Index<flann::L1<float>>> l1;
  std::unique_ptr<flann::Index<flann::ChiSquareDistance<float>>> chi2;
};

// Raw 8-bit data (pixels as 0..255, or as 0..255 / 255) packed as bytes, so
// that L1 runs on integer sums of absolute differences (vpsadbw).
struct KnnClassifier::ByteRows {
  float scale = 0;  // value = scale * byte; 0: the training data are not 8-bit
  std::size_t stride = 0;
  kernels::UninitVector<std::uint8_t> rows;
  // For exact L2, built at the first L2 search: |t|^2 per row, and the rows
  // as vpdpbusd panels when the CPU has VNNI.
  bool l2_ready = false;
  std::vector<std::int32_t> norms;
  kernels::U8Panels panels;
};

namespace {
// The quantisation step of `m` when every value is step * b for an integer b
// in [0, 255] (up to float rounding), for step 1 or 1/255; else 0.
float ByteScale(const Matrix& m, int threads) {
  for (const float step : {1.0f, 1.0f / 255.0f}) {
    const float inv = step == 1.0f ? 1.0f : 255.0f;
    std::atomic<bool> ok{true};
    const float* p = m.data();
    ParallelForRange(static_cast<std::size_t>(m.size()), threads, 1 << 16, [&](std::size_t b, std::size_t e) {
      constexpr std::size_t kChunk = 4096;  // branch-free inner loop, checked per chunk
      for (std::size_t c = b; c < e && ok.load(std::memory_order_relaxed); c += kChunk) {
        bool good = true;
        for (std::size_t i = c; i < std::min(e, c + kChunk); ++i) {
          const float v = p[i] * inv;
          const float r = std::nearbyint(v);
          good &= r >= 0 && r <= 255 && std::fabs(v - r) <= 1e-3f;
        }
        if (!good) ok = false;
      }
    });
    if (ok) return step;
  }
  return 0;
}

// Rows [r0, r0 + rn) of `m` as bytes (value / scale), zero-padded to
// `stride`; false when a value is not a byte at that scale.
bool PackBytes(const Matrix& m, Eigen::Index r0, Eigen::Index rn, float scale, std::size_t stride, std::uint8_t* out) {
  const float inv = 1.0f / scale;
  const Eigen::Index dim = m.cols();
  bool good = true;
  for (Eigen::Index i = 0; i < rn; ++i) {
    std::uint8_t* dst = out + static_cast<std::size_t>(i) * stride;
    const float* src = m.row(r0 + i).data();
    for (Eigen::Index d = 0; d < dim; ++d) {  // branch-free: vectorises
      const float v = src[d] * inv;
      const float r = std::min(255.0f, std::max(0.0f, std::nearbyint(v)));
      good &= std::fabs(v - r) <= 1e-3f;
      dst[d] = static_cast<std::uint8_t>(r);
    }
    std::fill(dst + dim, dst + stride, std::uint8_t{0});
  }
  return good;
}
}  // namespace

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
  train_norms_.resize(0);  // computed by the first float L2 search (8-bit data never need them)
  flann_.reset();
  bytes_.reset();
}

std::size_t KnnClassifier::train_size() const { return static_cast<std::size_t>(train_.rows()); }

namespace {
// Keeps the k smallest (distance, index) pairs, sorted.
template <typename D>
struct TopKOf {
  int k;
  D* d;
  int* idx;
  int size = 0;
  void Push(D dist, int i) {
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
using TopK = TopKOf<float>;

float MetricDistance(const float* a, const float* b, Eigen::Index dim, Metric m) {
  double s = 0;
  for (Eigen::Index d = 0; d < dim; ++d) {
    const double x = a[d], y = b[d];
    if (m == Metric::kL2)
      s += (x - y) * (x - y);
    else if (m == Metric::kL1)
      s += std::fabs(x - y);
    else if (x + y > 0)
      s += (x - y) * (x - y) / (x + y);
  }
  return static_cast<float>(s);
}
}  // namespace

// The checks every search path shares: a fitted set, 1 <= k <= its size,
// matching dimensions.
void KnnClassifier::CheckSearch(const Matrix& queries, int k) const {
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
}

Neighbors KnnClassifier::Search(const Matrix& queries, int k, Metric metric) const {
  CheckSearch(queries, k);
  ++searches_;
  features::UseSingleThreadedBlas();
  Neighbors nn;
  nn.metric = metric;
  nn.indices.resize(queries.rows(), k);
  nn.distances.resize(queries.rows(), k);
  if (queries.rows() == 0) return nn;
  if (opts_.algorithm != SearchAlgorithm::kBruteForce)
    SearchFlann(queries, k, metric, &nn);
  else if (!((metric == Metric::kL1 || metric == Metric::kL2) && SearchBytes(queries, k, metric, &nn)))
    SearchFloat(queries, k, metric, &nn);
  return nn;
}

// FLANN: the index (on principal components when asked) is built at the
// first search with a metric and kept.
void KnnClassifier::SearchFlann(const Matrix& queries, int k, Metric metric, Neighbors* nn) const {
  if (opts_.flann_pca_dims > 0 && metric != Metric::kL2) {
    throw Error("--flann-pca works with the L2 metric only (a projection preserves Euclidean distances), got " +
                ToString(metric));
  }
  if (opts_.flann_pca_dims > train_.cols()) {
    throw Error("--flann-pca " + std::to_string(opts_.flann_pca_dims) + " exceeds the " +
                std::to_string(train_.cols()) + " dimensions of the data");
  }
  if (!flann_ || flann_->metric != metric) {
    flann_.reset();
    auto fresh = std::make_unique<Flann>();  // committed once built: a failed build leaves no half-built index
    fresh->metric = metric;
    flann::Matrix<float> data(const_cast<float*>(train_.data()), train_.rows(), train_.cols());
    flann::IndexParams params =
        opts_.flann_target_precision > 0 ? flann::IndexParams(flann::AutotunedIndexParams(
                                               static_cast<float>(opts_.flann_target_precision), 0.01f, 0, 0.1f))
        : opts_.algorithm == SearchAlgorithm::kKdTree
            ? flann::IndexParams(flann::KDTreeIndexParams(opts_.flann_trees))
            : flann::IndexParams(flann::KMeansIndexParams(opts_.flann_branching, opts_.flann_kmeans_iterations,
                                                          flann::FLANN_CENTERS_KMEANSPP));
    flann::seed_random(static_cast<unsigned>(opts_.seed));
    if (opts_.flann_pca_dims > 0) {
      // The principal axes from a seeded sample of up to 20,000 rows.
      std::vector<Eigen::Index> rows(static_cast<std::size_t>(train_.rows()));
      for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<Eigen::Index>(i);
      Rng rng(opts_.seed);
      rng.Shuffle(rows);
      rows.resize(std::min<std::size_t>(rows.size(), 20000));
      std::sort(rows.begin(), rows.end());
      Matrix sample(static_cast<Eigen::Index>(rows.size()), train_.cols());
      for (std::size_t i = 0; i < rows.size(); ++i) sample.row(static_cast<Eigen::Index>(i)) = train_.row(rows[i]);
      fresh->pca = features::Pca::Fit(sample, opts_.flann_pca_dims);
      fresh->projected = fresh->pca.Project(train_);
      data = flann::Matrix<float>(fresh->projected.data(), fresh->projected.rows(), fresh->projected.cols());
    }
    if (metric == Metric::kL2) {
      fresh->l2 = std::make_unique<flann::Index<flann::L2<float>>>(data, params);
      fresh->l2->buildIndex();
    } else if (metric == Metric::kL1) {
      fresh->l1 = std::make_unique<flann::Index<flann::L1<float>>>(data, params);
      fresh->l1->buildIndex();
    } else {
      fresh->chi2 = std::make_unique<flann::Index<flann::ChiSquareDistance<float>>>(data, params);
      fresh->chi2->buildIndex();
    }
    flann_ = std::move(fresh);
  }
  if (flann_->projected.size() > 0) {
    SearchProjected(queries, k, nn);
    return;
  }
  FlannSearch(queries.data(), queries.rows(), queries.cols(), k, nn->indices.data(), nn->distances.data());
}

// Exact L1 and L2 on 8-bit rows, when the training set and the queries are
// bytes (raw pixels, or 0..255 scaled by 1/255): integer sums, exact. The
// byte copy is made and checked at the first search. False: not bytes.
bool KnnClassifier::SearchBytes(const Matrix& queries, int k, Metric metric, Neighbors* nn) const {
  const Eigen::Index nt = train_.rows(), dim = train_.cols();
  if (!bytes_) {
    bytes_ = std::make_unique<ByteRows>();
    // Converted and checked in one pass, at the scale the first row
    // suggests (raw 0..255 first, then 0..255/255).
    const std::size_t a = kernels::kByteRowAlign;
    bytes_->stride = (static_cast<std::size_t>(dim) + a - 1) / a * a;
    std::vector<std::uint8_t> probe(bytes_->stride);
    for (const float step : {1.0f, 1.0f / 255.0f}) {
      if (!PackBytes(train_, 0, 1, step, bytes_->stride, probe.data())) continue;
      bytes_->rows.resize(static_cast<std::size_t>(nt) * bytes_->stride);
      std::atomic<bool> ok{true};
      ParallelForRange(static_cast<std::size_t>(nt), opts_.threads, 4096, [&](std::size_t r0, std::size_t r1) {
        if (!PackBytes(train_, static_cast<Eigen::Index>(r0), static_cast<Eigen::Index>(r1 - r0), step, bytes_->stride,
                       bytes_->rows.data() + r0 * bytes_->stride)) {
          ok = false;
        }
      });
      if (ok) {
        bytes_->scale = step;
        break;
      }
    }
    if (bytes_->scale == 0) kernels::UninitVector<std::uint8_t>().swap(bytes_->rows);
  }
  if (bytes_->scale == 0 || ByteScale(queries, opts_.threads) != bytes_->scale) return false;
  if (metric == Metric::kL1)
    SearchL1Bytes(queries, k, nn);
  else
    SearchL2Bytes(queries, k, nn);
  return true;
}

// Exact search in float: query blocks x training blocks, GEMM for L2 and
// the vectorised kernels for L1 and chi2, a running top-k per query.
void KnnClassifier::SearchFloat(const Matrix& queries, int k, Metric metric, Neighbors* nn) const {
  const Eigen::Index nq = queries.rows(), nt = train_.rows(), dim = train_.cols();
  const Eigen::Index qb = opts_.query_block, tb = opts_.train_block;
  const std::size_t nblocks = static_cast<std::size_t>((nq + qb - 1) / qb);
  if (metric == Metric::kL2 && train_norms_.size() != nt) train_norms_ = train_.rowwise().squaredNorm();
  ParallelForRange(nblocks, opts_.threads, 1, [&](std::size_t b0, std::size_t b1) {
    Matrix dist;  // query block x train block, reused
    for (std::size_t blk = b0; blk < b1; ++blk) {
      const Eigen::Index q0 = static_cast<Eigen::Index>(blk) * qb;
      const Eigen::Index qn = std::min(qb, nq - q0);
      std::vector<TopK> tops;
      for (Eigen::Index i = 0; i < qn; ++i) {
        tops.push_back(TopK{k, nn->distances.row(q0 + i).data(), nn->indices.row(q0 + i).data()});
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
}

// FLANN's own multi-core search needs OpenMP in the including code; the
// queries are split into blocks over our threads instead (searching a built
// index is read-only).
void KnnClassifier::FlannSearch(const float* queries, Eigen::Index nq, Eigen::Index dim, int k, int* indices,
                                float* distances) const {
  flann::SearchParams sp(opts_.flann_target_precision > 0 ? flann::FLANN_CHECKS_AUTOTUNED : opts_.flann_checks);
  sp.cores = 1;
  constexpr std::size_t kBlock = 128;
  const std::size_t nblocks = (static_cast<std::size_t>(nq) + kBlock - 1) / kBlock;
  ParallelForRange(nblocks, opts_.threads, 1, [&](std::size_t b0, std::size_t b1) {
    for (std::size_t b = b0; b < b1; ++b) {
      const std::size_t r0 = b * kBlock, rn = std::min(kBlock, static_cast<std::size_t>(nq) - r0);
      const auto off = r0 * static_cast<std::size_t>(k);
      flann::Matrix<float> q(const_cast<float*>(queries) + r0 * static_cast<std::size_t>(dim), rn,
                             static_cast<std::size_t>(dim));
      flann::Matrix<int> idx(indices + off, rn, static_cast<std::size_t>(k));
      flann::Matrix<float> dist(distances + off, rn, static_cast<std::size_t>(k));
      if (flann_->l2)
        flann_->l2->knnSearch(q, idx, dist, static_cast<std::size_t>(k), sp);
      else if (flann_->l1)
        flann_->l1->knnSearch(q, idx, dist, static_cast<std::size_t>(k), sp);
      else
        flann_->chi2->knnSearch(q, idx, dist, static_cast<std::size_t>(k), sp);
    }
  });
}

// FLANN on the PCA-projected rows for flann_rerank candidates, then exact
// L2 over those candidates in the full space.
void KnnClassifier::SearchProjected(const Matrix& queries, int k, Neighbors* nn) const {
  const Eigen::Index nq = queries.rows();
  const int kc = static_cast<int>(std::min<Eigen::Index>(std::max(k, opts_.flann_rerank), train_.rows()));
  Matrix qp = flann_->pca.Project(queries);
  IndexMatrix cand(nq, kc);
  Matrix cdist(nq, kc);
  FlannSearch(qp.data(), nq, qp.cols(), kc, cand.data(), cdist.data());
  ParallelForRange(static_cast<std::size_t>(nq), opts_.threads, 64, [&](std::size_t q0, std::size_t q1) {
    for (std::size_t qi = q0; qi < q1; ++qi) {
      const auto i = static_cast<Eigen::Index>(qi);
      TopK top{k, nn->distances.row(i).data(), nn->indices.row(i).data()};
      for (int j = 0; j < kc; ++j) {
        const int c = cand(i, j);
        if (c < 0) continue;
        top.Push((queries.row(i) - train_.row(c)).squaredNorm(), c);
      }
      for (int j = top.size; j < k; ++j) {  // fewer candidates than k: mark the rest missing
        nn->indices(i, j) = -1;
        nn->distances(i, j) = std::numeric_limits<float>::infinity();
      }
    }
  });
}

// L1 over the byte rows. Training blocks of 512 rows (about 400 kB for
// 784-d pixels) stay in L2 while every query of the block passes over them.
void KnnClassifier::SearchL1Bytes(const Matrix& queries, int k, Neighbors* nn) const {
  const Eigen::Index nq = queries.rows(), nt = train_.rows();
  const Eigen::Index qb = opts_.query_block, tb = std::min<Eigen::Index>(opts_.train_block, 512);
  const std::size_t stride = bytes_->stride;
  const float scale = bytes_->scale;
  const std::size_t nblocks = static_cast<std::size_t>((nq + qb - 1) / qb);
  ParallelForRange(nblocks, opts_.threads, 1, [&](std::size_t b0, std::size_t b1) {
    std::vector<std::uint8_t> qbytes;
    std::vector<float> dist;
    for (std::size_t blk = b0; blk < b1; ++blk) {
      const Eigen::Index q0 = static_cast<Eigen::Index>(blk) * qb;
      const Eigen::Index qn = std::min(qb, nq - q0);
      qbytes.resize(static_cast<std::size_t>(qn) * stride);
      PackBytes(queries, q0, qn, scale, stride, qbytes.data());
      std::vector<TopK> tops;
      for (Eigen::Index i = 0; i < qn; ++i) {
        tops.push_back(TopK{k, nn->distances.row(q0 + i).data(), nn->indices.row(q0 + i).data()});
      }
      dist.resize(static_cast<std::size_t>(tb));
      for (Eigen::Index t0 = 0; t0 < nt; t0 += tb) {
        const Eigen::Index tn = std::min(tb, nt - t0);
        const std::uint8_t* t = bytes_->rows.data() + static_cast<std::size_t>(t0) * stride;
        for (Eigen::Index i = 0; i < qn; ++i) {
          kernels::L1BlockU8(qbytes.data() + static_cast<std::size_t>(i) * stride, t, static_cast<std::size_t>(tn),
                             stride, scale, dist.data());
          TopK& top = tops[static_cast<std::size_t>(i)];
          for (Eigen::Index j = 0; j < tn; ++j) {
            const float d = dist[static_cast<std::size_t>(j)];
            if (top.size < k || d <= top.d[k - 1]) top.Push(d, static_cast<int>(t0 + j));
          }
        }
      }
    }
  });
}

// Exact L2 over the byte rows: |q|^2 + |t|^2 - 2 q.t in int32, ranked as
// integers (ties to the lower index), reported as scale^2 * distance.
// Training blocks of 512 rows (32 panels) stay in L2 while every group of
// four queries (32 on AMX tiles) of the block passes over them.
void KnnClassifier::SearchL2Bytes(const Matrix& queries, int k, Neighbors* nn) const {
  const Eigen::Index nq = queries.rows(), nt = train_.rows();
  const std::size_t stride = bytes_->stride;
  const float scale = bytes_->scale;
  const bool panels = kernels::PanelsSupported(), tiles = kernels::TilesSupported();
  if (!bytes_->l2_ready) {
    bytes_->norms.resize(static_cast<std::size_t>(nt));
    ParallelForRange(static_cast<std::size_t>(nt), opts_.threads, 4096, [&](std::size_t r0, std::size_t r1) {
      for (std::size_t j = r0; j < r1; ++j) {
        const std::uint8_t* t = bytes_->rows.data() + j * stride;
        std::int32_t s = 0;
        for (std::size_t d = 0; d < stride; ++d) s += static_cast<std::int32_t>(t[d]) * t[d];
        bytes_->norms[j] = s;
      }
    });
    if (panels) {
      bytes_->panels = kernels::PackU8Panels(bytes_->rows.data(), static_cast<std::size_t>(nt), stride,
                                             static_cast<std::size_t>(train_.cols()), opts_.threads,
                                             tiles ? kernels::kTileGroups : 1);
    }
    bytes_->l2_ready = true;
  }
  constexpr Eigen::Index kTrainBlock = 512;  // a multiple of the 16-row panels
  const Eigen::Index qb = opts_.query_block;
  const std::size_t nblocks = static_cast<std::size_t>((nq + qb - 1) / qb);
  ParallelForRange(nblocks, opts_.threads, 1, [&](std::size_t b0, std::size_t b1) {
    std::vector<std::uint8_t> qbytes;
    std::vector<std::int32_t> qnorm, qsum, topd;
    // Queries per pass over a training block: 4 for the vpdpbusd panels, 32
    // (two rows of tiles) on AMX.
    const Eigen::Index group = tiles ? 32 : 4;
    std::vector<std::int32_t> dots(static_cast<std::size_t>(group * kTrainBlock));
    for (std::size_t blk = b0; blk < b1; ++blk) {
      const Eigen::Index q0 = static_cast<Eigen::Index>(blk) * qb;
      const Eigen::Index qn = std::min(qb, nq - q0);
      qbytes.resize(static_cast<std::size_t>(qn) * stride);
      PackBytes(queries, q0, qn, scale, stride, qbytes.data());
      qnorm.assign(static_cast<std::size_t>(qn), 0);
      qsum.assign(static_cast<std::size_t>(qn), 0);
      for (Eigen::Index i = 0; i < qn; ++i) {
        const std::uint8_t* q = qbytes.data() + static_cast<std::size_t>(i) * stride;
        for (std::size_t d = 0; d < stride; ++d) {
          qnorm[static_cast<std::size_t>(i)] += static_cast<std::int32_t>(q[d]) * q[d];
          qsum[static_cast<std::size_t>(i)] += q[d];
        }
      }
      topd.assign(static_cast<std::size_t>(qn * k), 0);
      std::vector<TopKOf<std::int32_t>> tops;
      for (Eigen::Index i = 0; i < qn; ++i) {
        tops.push_back(TopKOf<std::int32_t>{k, topd.data() + i * k, nn->indices.row(q0 + i).data()});
      }
      for (Eigen::Index t0 = 0; t0 < nt; t0 += kTrainBlock) {
        const Eigen::Index tn = std::min(kTrainBlock, nt - t0);
        for (Eigen::Index i = 0; i < qn; i += group) {
          const int r = static_cast<int>(std::min<Eigen::Index>(group, qn - i));
          const std::uint8_t* qp[4];
          for (int rr = 0; rr < std::min(r, 4); ++rr)
            qp[rr] = qbytes.data() + static_cast<std::size_t>(i + rr) * stride;
          if (tiles) {
            kernels::DotTilesU8(bytes_->panels, qp[0], stride, qsum.data() + i, r, static_cast<std::size_t>(t0 / 16),
                                static_cast<std::size_t>((tn + 15) / 16), dots.data(), kTrainBlock);
          } else if (panels) {
            kernels::DotPanelsU8(bytes_->panels, qp, qsum.data() + i, r, static_cast<std::size_t>(t0 / 16),
                                 static_cast<std::size_t>((tn + 15) / 16), dots.data(), kTrainBlock);
          } else {
            for (int rr = 0; rr < r; ++rr) {
              kernels::DotBlockU8(qp[rr], bytes_->rows.data() + static_cast<std::size_t>(t0) * stride,
                                  static_cast<std::size_t>(tn), stride, dots.data() + rr * kTrainBlock);
            }
          }
          for (int rr = 0; rr < r; ++rr) {
            const std::int32_t qq = qnorm[static_cast<std::size_t>(i + rr)];
            const std::int32_t* dr = dots.data() + rr * kTrainBlock;
            const std::int32_t* tnorm = bytes_->norms.data() + t0;
            auto& top = tops[static_cast<std::size_t>(i + rr)];
            for (Eigen::Index j = 0; j < tn; ++j) {
              const std::int32_t d = qq + tnorm[j] - 2 * dr[j];
              if (top.size < k || d <= top.d[k - 1]) top.Push(d, static_cast<int>(t0 + j));
            }
          }
        }
      }
      const float scale2 = scale * scale;
      for (Eigen::Index i = 0; i < qn; ++i) {
        for (int j = 0; j < k; ++j)
          nn->distances(q0 + i, j) = scale2 * static_cast<float>(topd[static_cast<std::size_t>(i * k + j)]);
      }
    }
  });
}

// Votes of query q's first k neighbours per class, and the rank of each
// class's nearest member among them; returns the total weight.
double KnnClassifier::Tally(const Neighbors& nn, Eigen::Index q, int k, bool distance_weighted,
                            std::vector<double>* votes, std::vector<int>* first_rank) const {
  std::fill(votes->begin(), votes->end(), 0.0);
  std::fill(first_rank->begin(), first_rank->end(), std::numeric_limits<int>::max());
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
    (*votes)[static_cast<std::size_t>(c)] += w;
    total += w;
    (*first_rank)[static_cast<std::size_t>(c)] = std::min((*first_rank)[static_cast<std::size_t>(c)], j);
  }
  return total;
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
    const double total = Tally(nn, q, k, distance_weighted, &votes, &first_rank);
    int best = 0;
    for (int c = 1; c < num_classes_; ++c) {
      const auto uc = static_cast<std::size_t>(c), ub = static_cast<std::size_t>(best);
      if (votes[uc] > votes[ub] || (votes[uc] == votes[ub] && first_rank[uc] < first_rank[ub])) best = c;
    }
    r.labels[static_cast<std::size_t>(q)] = best;
    r.scores[static_cast<std::size_t>(q)] =
        total > 0 ? static_cast<float>(votes[static_cast<std::size_t>(best)] / total) : 0.0f;
  }
  return r;
}

std::vector<std::vector<int>> KnnClassifier::Rank(const Neighbors& nn, int k, bool distance_weighted, int top) const {
  if (k < 1 || k > nn.k()) {
    throw Error("Rank: k = " + std::to_string(k) + " outside the " + std::to_string(nn.k()) + " neighbours searched");
  }
  if (top < 1) throw Error("Rank: top must be >= 1, got " + std::to_string(top));
  const Eigen::Index nq = nn.indices.rows();
  std::vector<std::vector<int>> out(static_cast<std::size_t>(nq));
  std::vector<double> votes(static_cast<std::size_t>(num_classes_));
  std::vector<int> first_rank(static_cast<std::size_t>(num_classes_));
  std::vector<int> seen(static_cast<std::size_t>(num_classes_));
  for (Eigen::Index q = 0; q < nq; ++q) {
    Tally(nn, q, k, distance_weighted, &votes, &first_rank);
    // Beyond the k voters: the order of first appearance among all neighbours searched.
    std::fill(seen.begin(), seen.end(), std::numeric_limits<int>::max());
    for (int j = nn.k() - 1; j >= 0; --j) {
      const int idx = nn.indices(q, j);
      if (idx >= 0) seen[static_cast<std::size_t>(labels_[static_cast<std::size_t>(idx)])] = j;
    }
    std::vector<int> order(static_cast<std::size_t>(num_classes_));
    for (int c = 0; c < num_classes_; ++c) order[static_cast<std::size_t>(c)] = c;
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
      const auto ua = static_cast<std::size_t>(a), ub = static_cast<std::size_t>(b);
      if (votes[ua] != votes[ub]) return votes[ua] > votes[ub];
      if (first_rank[ua] != first_rank[ub]) return first_rank[ua] < first_rank[ub];
      return seen[ua] < seen[ub];
    });
    order.resize(static_cast<std::size_t>(std::min(top, num_classes_)));
    out[static_cast<std::size_t>(q)] = std::move(order);
  }
  return out;
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
      all[static_cast<std::size_t>(t)] = {
          MetricDistance(queries.row(q).data(), train.row(t).data(), train.cols(), metric), static_cast<int>(t)};
    }
    std::sort(all.begin(), all.end());
    for (int j = 0; j < k; ++j) {
      nn.distances(q, j) = all[static_cast<std::size_t>(j)].first;
      nn.indices(q, j) = all[static_cast<std::size_t>(j)].second;
    }
  }
  return nn;
}

Neighbors SearchSharded(const KnnClassifier& knn, const Matrix& queries, int k, Metric metric,
                        const features::Collective& comm) {
  if (comm.size() == 1) return knn.Search(queries, k, metric);
  const Eigen::Index n = queries.rows();
  // Whole query blocks per rank: Search() computes block by block, and a
  // block's distances come from the same kernel calls with the same shapes
  // whichever process runs it, so the bits match the one-process search.
  const Eigen::Index qb = knn.options().query_block, blocks = (n + qb - 1) / qb;
  const auto cut = [&](int r) { return std::min(n, blocks * r / comm.size() * qb); };
  const Eigen::Index lo = cut(comm.rank()), hi = cut(comm.rank() + 1);
  const Neighbors mine = knn.Search(Matrix(queries.middleRows(lo, hi - lo)), k, metric);
  // Indices (below 2^31) and float distances are exact as doubles.
  std::vector<double> packed;
  packed.reserve(static_cast<std::size_t>(2 * mine.indices.size()));
  for (Eigen::Index q = 0; q < mine.indices.rows(); ++q) {
    for (Eigen::Index j = 0; j < mine.indices.cols(); ++j) {
      packed.push_back(mine.indices(q, j));
      packed.push_back(mine.distances(q, j));
    }
  }
  const std::vector<double> all = comm.AllGather(packed);
  Neighbors nn;
  nn.metric = metric;
  const Eigen::Index kk = k;
  if (static_cast<Eigen::Index>(all.size()) != 2 * n * kk) {
    throw Error("kNN over " + std::to_string(comm.size()) + " processes: gathered " + std::to_string(all.size()) +
                " values, expected " + std::to_string(2 * n * kk));
  }
  nn.indices.resize(n, kk);
  nn.distances.resize(n, kk);
  std::size_t at = 0;
  for (Eigen::Index q = 0; q < n; ++q) {
    for (Eigen::Index j = 0; j < kk; ++j) {
      nn.indices(q, j) = static_cast<int>(all[at++]);
      nn.distances(q, j) = static_cast<float>(all[at++]);
    }
  }
  return nn;
}

}  // namespace scenelab::classify

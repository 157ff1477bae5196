// Expectation-maximisation for the diagonal Gaussian mixture of Fisher
// vectors, split over the processes of an MPI job.
//
// It is vl_gmm's algorithm step for step (VLFeat 0.9.21, vl/gmm.c), so that
// the one-process fit is VLFeat's fit to float rounding: vl_gmm's own k-means
// initialisation (vl_gmm_init_with_kmeans, on rank 0, then broadcast), its
// covariance lower bounds, E-steps with the log-likelihood, stopping after
// max_iterations or once the relative log-likelihood change is below 1e-5,
// restarting nearly empty modes from the third iteration by splitting the
// mode of largest entropy contribution along its widest dimension, and
// M-steps that skip posteriors below 1e-2 / K and centre the second moments
// on the previous means. What changes is where the sums are made: each
// process takes a contiguous share of the sample rows (whole blocks of
// 2048), and the per-mode
// masses, first and second moments and the log-likelihood are summed over
// the processes (Collective::Sum, in rank order). The result equals the
// one-process fit up to the order of floating-point additions.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include "scenelab/data/error.h"
#include "scenelab/data/parallel.h"
#include "scenelab/features/collective.h"
#include "scenelab/features/fisher.h"

#include "gmm_terms.h"

extern "C" {
#include <vl/gmm.h>
#include <vl/random.h>
}

namespace scenelab::features {

namespace {
constexpr double kMinPosterior = 1e-2;  // VL_GMM_MIN_POSTERIOR
constexpr double kMinPrior = 1e-6;      // VL_GMM_MIN_PRIOR
constexpr Eigen::Index kBlock = 2048;   // rows per E/M block: sums do not depend on the thread count

using MatrixXdR = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct Mixture {
  Matrix means, covs;  // K x D
  Eigen::VectorXd priors;
  std::vector<double> lower;  // per-dimension covariance lower bounds
};

void ApplyBounds(Mixture* m) {
  for (Eigen::Index k = 0; k < m->covs.rows(); ++k) {
    for (Eigen::Index j = 0; j < m->covs.cols(); ++j) {
      if (m->covs(k, j) < m->lower[static_cast<std::size_t>(j)])
        m->covs(k, j) = static_cast<float>(m->lower[static_cast<std::size_t>(j)]);
    }
  }
}

// E-step on `x` (this process's rows): posteriors (rows x K) and the sum of
// the rows' log-likelihoods.
double Expectation(const Mixture& m, const Matrix& x, Matrix* post, int threads) {
  const Eigen::Index n = x.rows(), k = m.means.rows();
  Matrix w;
  Eigen::RowVectorXf b;
  detail::GaussianLogLikelihoodTerms(
      m.means, m.covs,
      [&](Eigen::Index c) {
        return m.priors[c] < kMinPrior ? -std::numeric_limits<double>::infinity() : std::log(m.priors[c]);
      },
      &w, &b);
  post->resize(n, k);
  const auto blocks = static_cast<std::size_t>((n + kBlock - 1) / kBlock);
  std::vector<double> ll(blocks, 0.0);
  ParallelFor(blocks, threads, [&](std::size_t blk) {
    const Eigen::Index r0 = static_cast<Eigen::Index>(blk) * kBlock, rn = std::min(kBlock, n - r0);
    Matrix logp = detail::GaussianLogLikelihoods(x.middleRows(r0, rn), w, b);
    double sum_ll = 0;
    for (Eigen::Index i = 0; i < rn; ++i) {
      auto row = logp.row(i);
      const float mx = row.maxCoeff();
      row = (row.array() - mx).exp().matrix();
      const double s = row.template cast<double>().sum();
      row /= static_cast<float>(s);
      sum_ll += std::log(s) + mx;
    }
    post->middleRows(r0, rn) = logp;
    ll[blk] = sum_ll;
  });
  double total = 0;
  for (double v : ll) total += v;
  return total;
}

// M-step: masses, means and covariances from this process's posteriors,
// summed over the processes; vl_gmm's update rules.
void Maximization(Mixture* m, const Matrix& x, const Matrix& post, const Collective& comm, int threads) {
  const Eigen::Index n = x.rows(), k = m->means.rows(), d = m->means.cols();
  const Matrix old = m->means;
  const double skip = kMinPosterior / static_cast<double>(k);
  const auto blocks = static_cast<std::size_t>((n + kBlock - 1) / kBlock);
  // Per block: [mass (K) | sum p x (K x D) | sum p (x - old)^2 (K x D)].
  const Eigen::Index width = k + 2 * k * d;
  MatrixXdR partial = MatrixXdR::Zero(static_cast<Eigen::Index>(blocks), width);
  ParallelFor(blocks, threads, [&](std::size_t blk) {
    const Eigen::Index r0 = static_cast<Eigen::Index>(blk) * kBlock, rn = std::min(kBlock, n - r0);
    double* acc = partial.row(static_cast<Eigen::Index>(blk)).data();
    for (Eigen::Index i = r0; i < r0 + rn; ++i) {
      const float* xi = x.row(i).data();
      for (Eigen::Index c = 0; c < k; ++c) {
        const double p = post(i, c);
        if (p < skip) continue;
        acc[c] += p;
        double* s1 = acc + k + c * d;
        double* s2 = acc + k + k * d + c * d;
        const float* mu = old.row(c).data();
        for (Eigen::Index j = 0; j < d; ++j) {
          const double diff = static_cast<double>(xi[j]) - mu[j];
          s1[j] += p * xi[j];
          s2[j] += p * diff * diff;
        }
      }
    }
  });
  std::vector<double> total(static_cast<std::size_t>(width), 0.0);
  for (Eigen::Index blk = 0; blk < partial.rows(); ++blk) {
    for (Eigen::Index j = 0; j < width; ++j) total[static_cast<std::size_t>(j)] += partial(blk, j);
  }
  comm.Sum(total.data(), total.size());
  const double thr = 1e-6 / static_cast<double>(k);
  double mass_sum = 0;
  for (Eigen::Index c = 0; c < k; ++c) {
    const double mass = total[static_cast<std::size_t>(c)];
    const double* s1 = total.data() + k + c * d;
    const double* s2 = total.data() + k + k * d + c * d;
    const double div = mass >= thr ? mass : 1.0;  // modes without mass are not normalised, as vl_gmm
    for (Eigen::Index j = 0; j < d; ++j) {
      const double mu = s1[j] / div;
      double var = s2[j] / div;
      if (mass >= thr) var -= (mu - old(c, j)) * (mu - old(c, j));
      m->means(c, j) = static_cast<float>(mu);
      m->covs(c, j) = static_cast<float>(var);
    }
    m->priors[c] = mass;
    mass_sum += mass;
  }
  ApplyBounds(m);
  m->priors /= std::max(mass_sum, 1e-12);
}

// vl_gmm's restart of nearly empty modes: each is given the half of the
// mode with the largest entropy contribution that lies below that mode's
// mean on its widest dimension, and the mixture is re-estimated.
void RestartEmptyModes(Mixture* m, const Matrix& x, Matrix* post, std::int64_t total_rows, const Collective& comm,
                       int threads) {
  const Eigen::Index k = m->means.rows(), d = m->means.cols();
  if (k <= 1) return;
  std::vector<double> mass(static_cast<std::size_t>(k), 0.0);
  for (Eigen::Index i = 0; i < post->rows(); ++i) {
    for (Eigen::Index c = 0; c < k; ++c) mass[static_cast<std::size_t>(c)] += (*post)(i, c);
  }
  comm.Sum(mass.data(), mass.size());
  const double empty = kMinPosterior * std::max(1.0, static_cast<double>(total_rows) / static_cast<double>(k));
  for (Eigen::Index i_cl = 0; i_cl < k; ++i_cl) {
    if (mass[static_cast<std::size_t>(i_cl)] >= empty) continue;
    double size = -std::numeric_limits<double>::infinity();
    Eigen::Index best = -1;
    for (Eigen::Index j_cl = 0; j_cl < k; ++j_cl) {
      if (m->priors[j_cl] < kMinPrior) continue;
      double s = 0.5 * static_cast<double>(d) * (1.0 + std::log(2 * 3.14159265358979323846));
      for (Eigen::Index j = 0; j < d; ++j) s += 0.5 * std::log(static_cast<double>(m->covs(j_cl, j)));
      s = m->priors[j_cl] * (s - std::log(m->priors[j_cl]));
      if (s > size) {
        size = s;
        best = j_cl;
      }
    }
    const Eigen::Index j_cl = best;
    if (j_cl == i_cl || j_cl < 0) continue;
    Eigen::Index dim = 0;
    for (Eigen::Index j = 1; j < d; ++j) {
      if (m->covs(j_cl, j) > m->covs(j_cl, dim)) dim = j;
    }
    const float mu = m->means(j_cl, dim);
    for (Eigen::Index r = 0; r < x.rows(); ++r) {
      const float p = (*post)(r, j_cl) + (*post)(r, i_cl);
      const bool below = x(r, dim) < mu;
      (*post)(r, i_cl) = below ? p : 0.0f;
      (*post)(r, j_cl) = below ? 0.0f : p;
    }
    Maximization(m, x, *post, comm, threads);
  }
}
}  // namespace

GaussianMixture GaussianMixture::Fit(const Matrix& sample, const GmmOptions& opts, const Collective& comm,
                                     int threads) {
  opts.Validate();
  const auto k = static_cast<vl_size>(opts.components);
  const Eigen::Index d = sample.cols();
  if (static_cast<vl_size>(sample.rows()) < k) {
    throw Error("GMM: " + std::to_string(sample.rows()) + " sampled descriptors are fewer than the " +
                std::to_string(k) + " components (--gmm); sample more per image");
  }
  UseSingleThreadedBlas();
  Mixture m;
  m.means.resize(static_cast<Eigen::Index>(k), d);
  m.covs.resize(static_cast<Eigen::Index>(k), d);
  Matrix priors(1, static_cast<Eigen::Index>(k)), lower(1, d);
  if (comm.rank() == 0) {
    // vl_gmm's own start: its k-means (ANN, 5 iterations, random selection)
    // from VLFeat's per-thread generator, seeded.
    struct Deleter {
      void operator()(VlGMM* g) const { vl_gmm_delete(g); }
    };
    std::unique_ptr<VlGMM, Deleter> gmm(vl_gmm_new(VL_TYPE_FLOAT, static_cast<vl_size>(d), k));
    if (!gmm) throw Error("vl_gmm_new failed");
    vl_gmm_set_verbosity(gmm.get(), 0);
    vl_rand_seed(vl_get_rand(), opts.seed);
    vl_gmm_init_with_kmeans(gmm.get(), sample.data(), static_cast<vl_size>(sample.rows()), nullptr);
    m.means = Eigen::Map<const Matrix>(static_cast<const float*>(vl_gmm_get_means(gmm.get())), m.means.rows(), d);
    m.covs = Eigen::Map<const Matrix>(static_cast<const float*>(vl_gmm_get_covariances(gmm.get())), m.covs.rows(), d);
    priors = Eigen::Map<const Matrix>(static_cast<const float*>(vl_gmm_get_priors(gmm.get())), 1, priors.cols());
    const double* lb = vl_gmm_get_covariance_lower_bounds(gmm.get());
    for (Eigen::Index j = 0; j < d; ++j) lower(0, j) = static_cast<float>(lb[j]);
  }
  comm.Broadcast(&m.means);
  comm.Broadcast(&m.covs);
  comm.Broadcast(&priors);
  comm.Broadcast(&lower);
  m.priors = priors.row(0).transpose().cast<double>();
  for (Eigen::Index j = 0; j < d; ++j) m.lower.push_back(lower(0, j));
  // This process's contiguous share of the sample, in whole blocks of the
  // one-process partition: every row's E-step is then the same product as
  // in one process, and only the order of the moment sums differs.
  const Eigen::Index n = sample.rows(), r = comm.rank(), p = comm.size();
  const Eigen::Index blocks = (n + kBlock - 1) / kBlock;
  const Eigen::Index r0 = std::min(n, blocks * r / p * kBlock), r1 = std::min(n, blocks * (r + 1) / p * kBlock);
  const Matrix x = sample.middleRows(r0, r1 - r0);
  ApplyBounds(&m);
  Matrix post;
  double ll = -std::numeric_limits<double>::infinity(), previous = ll;
  for (int iteration = 0;; ++iteration) {
    ll = Expectation(m, x, &post, threads);
    comm.Sum(&ll, 1);
    if (iteration >= opts.max_iterations) break;
    if (iteration > 0 && std::fabs((ll - previous) / ll) < 1e-5) break;
    previous = ll;
    if (iteration > 1) RestartEmptyModes(&m, x, &post, n, comm, threads);
    Maximization(&m, x, post, comm, threads);
  }
  Eigen::RowVectorXf pr = m.priors.transpose().cast<float>();
  return GaussianMixture(std::move(m.means), std::move(m.covs), std::move(pr), ll);
}

GaussianMixture GaussianMixture::Fit(const Matrix& sample, const GmmOptions& opts) {
  return Fit(sample, opts, SingleProcess(), 0);
}

}  // namespace scenelab::features

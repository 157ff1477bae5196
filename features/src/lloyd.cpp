#include "lloyd.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "avx512.h"

#include "byte_words.h"
#include "scenelab/data/error.h"
#include "scenelab/data/parallel.h"
#include "scenelab/features/collective.h"
#include "scenelab/features/vocabulary.h"

namespace scenelab::features::detail {

ByteMatrix AsBytes(const Matrix& x) {
  if (x.size() == 0) return {};
  ByteMatrix out(x.rows(), x.cols());
  const float* in = x.data();
  std::uint8_t* o = out.data();
  const Eigen::Index n = x.size();
  constexpr Eigen::Index kRun = 4096;  // checked a run at a time, to stop early
  for (Eigen::Index b = 0; b < n; b += kRun) {
    const Eigen::Index e = std::min(n, b + kRun);
    bool ok = true;
    for (Eigen::Index i = b; i < e; ++i) {
      const float v = in[i];
      const float c = v > 0.0f ? (v < 255.0f ? v : 255.0f) : 0.0f;  // NaN -> 0
      const int t = static_cast<int>(c);
      ok &= (c == v) & (static_cast<float>(t) == v);
      o[i] = static_cast<std::uint8_t>(t);
    }
    if (!ok) return {};
  }
  return out;
}

namespace {

using RowMajorXd = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
constexpr Eigen::Index kBlock = 2048;  // rows per parallel work item

// The energy of an assignment from the global per-centre sums S_c and
// counts n_c: sum |x|^2 - 2 sum_c c.S_c + sum_c n_c |c|^2. It, and so the
// stopping decision, does not depend on how the sample is split.
double Energy(double sum_sq, const Matrix& centers, const RowMajorXd& sums, const std::vector<std::int64_t>& counts) {
  double e = sum_sq;
  for (Eigen::Index c = 0; c < centers.rows(); ++c) {
    const Eigen::RowVectorXd cc = centers.row(c).cast<double>();
    e += static_cast<double>(counts[static_cast<std::size_t>(c)]) * cc.squaredNorm() - 2 * cc.dot(sums.row(c));
  }
  return std::max(0.0, e);
}

// The update step. An empty cluster takes the point farthest from its
// centre (`dist`, over all processes, ties to the lower global row): each
// process offers its own farthest, every process merges. `x`: the sample as
// floats or as bytes (the same values).
template <class Rows>
void Update(const Rows& x, std::int64_t offset, const std::vector<float>& dist, const RowMajorXd& sums,
            const std::vector<std::int64_t>& counts, const Collective& comm, Matrix* centers) {
  const Eigen::Index k = centers->rows();
  std::size_t empty = 0;
  for (Eigen::Index c = 0; c < k; ++c) empty += counts[static_cast<std::size_t>(c)] == 0;
  if (empty > 0) {
    std::vector<std::size_t> order(static_cast<std::size_t>(x.rows()));
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    const std::size_t m = std::min(empty, order.size());
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(m), order.end(),
                      [&](std::size_t a, std::size_t b) { return dist[a] > dist[b] || (dist[a] == dist[b] && a < b); });
    std::vector<double> mine;
    Matrix rows(static_cast<Eigen::Index>(m), x.cols());
    for (std::size_t j = 0; j < m; ++j) {
      mine.push_back(dist[order[j]]);
      mine.push_back(static_cast<double>(offset + static_cast<std::int64_t>(order[j])));
      rows.row(static_cast<Eigen::Index>(j)) = x.row(static_cast<Eigen::Index>(order[j])).template cast<float>();
    }
    const std::vector<double> all = comm.AllGather(mine);
    const Matrix far_rows = comm.AllGatherRows(rows);
    std::vector<std::size_t> pick(all.size() / 2);
    for (std::size_t j = 0; j < pick.size(); ++j) pick[j] = j;
    std::sort(pick.begin(), pick.end(), [&](std::size_t a, std::size_t b) {
      return all[2 * a] > all[2 * b] || (all[2 * a] == all[2 * b] && all[2 * a + 1] < all[2 * b + 1]);
    });
    std::size_t next = 0;
    for (Eigen::Index c = 0; c < k; ++c) {
      if (counts[static_cast<std::size_t>(c)] > 0 || next >= pick.size()) continue;
      centers->row(c) = far_rows.row(static_cast<Eigen::Index>(pick[next++]));
    }
  }
  for (Eigen::Index c = 0; c < k; ++c) {
    if (counts[static_cast<std::size_t>(c)] > 0) {
      centers->row(c) = (sums.row(c) / static_cast<double>(counts[static_cast<std::size_t>(c)])).cast<float>();
    }
  }
}

// Float samples: the assignment step is a blocked GEMM in parallel over
// fixed row blocks, the sums in double per block combined in block order,
// so the result does not depend on the thread count.
int LloydFloat(const Matrix& x, std::int64_t offset, Matrix* centers, int max_iterations, double min_energy_variation,
               int threads, const Collective& comm, double* energy) {
  const Eigen::Index n = x.rows(), k = centers->rows(), d = x.cols();
  const Eigen::VectorXf xn = x.rowwise().squaredNorm();
  std::vector<int> assign(static_cast<std::size_t>(n), -1);
  std::vector<float> dist(static_cast<std::size_t>(n), 0.0f);
  const std::size_t blocks = static_cast<std::size_t>((n + kBlock - 1) / kBlock);
  double sum_sq = 0;  // sum |x|^2, in row order
  for (Eigen::Index i = 0; i < n; ++i) sum_sq += static_cast<double>(x.row(i).cast<double>().squaredNorm());
  comm.Sum(&sum_sq, 1);
  double previous = 0;
  int it = 0;
  while (it < max_iterations) {
    const Eigen::VectorXf cn = centers->rowwise().squaredNorm();
    std::vector<std::size_t> changed(blocks, 0);
    ParallelForRange(blocks, threads, 1, [&](std::size_t b0, std::size_t b1) {
      Matrix dots;
      for (std::size_t b = b0; b < b1; ++b) {
        const Eigen::Index r0 = static_cast<Eigen::Index>(b) * kBlock, rn = std::min(kBlock, n - r0);
        dots.noalias() = x.middleRows(r0, rn) * centers->transpose();
        for (Eigen::Index i = 0; i < rn; ++i) {
          const float* dr = dots.row(i).data();
          int best = 0;
          float bv = cn[0] - 2 * dr[0];
          for (Eigen::Index c = 1; c < k; ++c) {
            const float v = cn[c] - 2 * dr[c];
            if (v < bv) {
              bv = v;
              best = static_cast<int>(c);
            }
          }
          const auto gi = static_cast<std::size_t>(r0 + i);
          if (assign[gi] != best) ++changed[b];
          assign[gi] = best;
          dist[gi] = std::max(0.0f, xn[r0 + i] + bv);
        }
      }
    });
    std::int64_t total_changed = 0;
    for (auto c : changed) total_changed += static_cast<std::int64_t>(c);
    comm.Sum(&total_changed, 1);
    std::vector<Eigen::MatrixXd> block_sums(blocks);
    std::vector<std::vector<std::int64_t>> block_counts(blocks);
    ParallelFor(blocks, threads, [&](std::size_t b) {
      Eigen::MatrixXd sb = Eigen::MatrixXd::Zero(k, d);
      std::vector<std::int64_t> cnt(static_cast<std::size_t>(k), 0);
      const Eigen::Index r0 = static_cast<Eigen::Index>(b) * kBlock, rn = std::min(kBlock, n - r0);
      for (Eigen::Index i = r0; i < r0 + rn; ++i) {
        const int c = assign[static_cast<std::size_t>(i)];
        sb.row(c) += x.row(i).cast<double>();
        ++cnt[static_cast<std::size_t>(c)];
      }
      block_sums[b] = std::move(sb);
      block_counts[b] = std::move(cnt);
    });
    RowMajorXd sums = RowMajorXd::Zero(k, d);
    std::vector<std::int64_t> counts(static_cast<std::size_t>(k), 0);
    for (std::size_t b = 0; b < blocks; ++b) {
      sums += block_sums[b];
      for (Eigen::Index c = 0; c < k; ++c)
        counts[static_cast<std::size_t>(c)] += block_counts[b][static_cast<std::size_t>(c)];
    }
    comm.Sum(sums.data(), static_cast<std::size_t>(sums.size()));
    comm.Sum(counts.data(), counts.size());
    *energy = Energy(sum_sq, *centers, sums, counts);
    ++it;
    if (it > 1 && total_changed == 0) break;
    if (it > 1 && previous - *energy < min_energy_variation * *energy) break;
    previous = *energy;
    Update(x, offset, dist, sums, counts, comm, centers);
  }
  return it;
}

// An upper bound on |x - c|^2: float sums in 16 lanes (x - c is exact in
// float for bytes and centres in [0, 255]), raised by far more than their
// worst relative rounding error (under 2^-24 per term and addition).
// Only the VNNI path calls it: compiled for AVX-512 outright.
#if defined(__x86_64__)
__attribute__((target("avx512f,avx512bw"))) double SquaredDistanceBound(const std::uint8_t* x, const float* c,
                                                                        Eigen::Index d) {
  __m512 acc = _mm512_setzero_ps();
  Eigen::Index j = 0;
  for (; j + 16 <= d; j += 16) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x + j));
    const __m512 v = _mm512_sub_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(bytes)), _mm512_loadu_ps(c + j));
    acc = _mm512_fmadd_ps(v, v, acc);
  }
  double s = _mm512_reduce_add_ps(acc);
  for (; j < d; ++j) {
    const double v = static_cast<double>(x[j]) - static_cast<double>(c[j]);
    s += v * v;
  }
  return s * (1.0 + 1e-4);
}
#else
double SquaredDistanceBound(const std::uint8_t* x, const float* c, Eigen::Index d) {
  double s = 0;
  for (Eigen::Index j = 0; j < d; ++j) {
    const double v = static_cast<double>(x[j]) - static_cast<double>(c[j]);
    s += v * v;
  }
  return s * (1.0 + 1e-4);
}
#endif

}  // namespace

// Byte samples (SIFT): the exact 8-bit assignment of byte_words.h, and the
// per-centre sums kept as integers, updated only for the rows that change
// centre. With `bounds`, Hamerly's (2010) bounds on each row: an upper bound
// u on its distance to its centre and a lower bound l on its distance to
// every other centre, moved by how far the centres move. A row is only
// reassigned when max(l, 2 h(a) - u), with h(a) half the distance from its
// centre a to the nearest other centre, does not exceed u by a margin that
// covers the float rounding of the assignment's comparisons
// (ByteWords::Tolerance): every row it skips would have kept its centre.
int LloydBytes(const ByteMatrix& xb, std::int64_t offset, Matrix* centers, int max_iterations,
               double min_energy_variation, int threads, const Collective& comm, double* energy, bool bounds,
               std::int64_t* reassigned) {
  const Eigen::Index n = xb.rows(), k = centers->rows(), d = xb.cols();
  const auto rows = static_cast<std::size_t>(n);
  const auto words_n = static_cast<std::size_t>(k);
  constexpr double kInf = std::numeric_limits<double>::infinity();
  std::vector<int> assign(rows, -1);
  std::vector<double> upper(rows, kInf), lower(rows, 0.0), xsq(rows, 0.0);
  double sum_sq = 0;  // sum |x|^2: an integer, exact in double
  for (std::size_t i = 0; i < rows; ++i) {
    const std::uint8_t* r = xb.data() + static_cast<Eigen::Index>(i) * d;
    std::int64_t s = 0;
    for (Eigen::Index j = 0; j < d; ++j) s += static_cast<std::int64_t>(r[j]) * r[j];
    xsq[i] = static_cast<double>(s);
    sum_sq += xsq[i];
  }
  comm.Sum(&sum_sq, 1);
  // This process's per-centre sums and counts: integers, exact, so they may
  // be updated row by row and summed over processes in any order.
  std::vector<std::int64_t> local_sums(words_n * static_cast<std::size_t>(d), 0), local_counts(words_n, 0);
  std::vector<Eigen::Index> todo;
  std::vector<int> words;
  std::vector<double> others;
  std::vector<double> half(words_n, kInf);
  std::vector<float> dist;
  double previous = 0;
  int it = 0;
  while (it < max_iterations) {
    const Eigen::VectorXf cn = centers->rowwise().squaredNorm();
    const ByteWords bw(*centers, cn);
    if (!bw.usable()) throw Error("k-means: centres left the byte range (internal error)");
    todo.clear();
    if (!bounds || it == 0) {
      for (Eigen::Index i = 0; i < n; ++i) todo.push_back(i);
    } else {
      // h(c): half the distance from centre c to its nearest other centre.
      const Eigen::MatrixXd c = centers->cast<double>();
      const Eigen::MatrixXd gram = c * c.transpose();
      for (Eigen::Index a = 0; a < k; ++a) {
        double m = kInf;
        for (Eigen::Index b = 0; b < k; ++b) {
          if (b != a) m = std::min(m, gram(a, a) + gram(b, b) - 2 * gram(a, b));
        }
        half[static_cast<std::size_t>(a)] = 0.5 * std::sqrt(std::max(0.0, m));
      }
      const std::size_t blocks = (rows + kBlock - 1) / kBlock;
      std::vector<std::vector<Eigen::Index>> block_todo(blocks);
      ParallelFor(blocks, threads, [&](std::size_t b) {
        const std::size_t r0 = b * kBlock, r1 = std::min(rows, r0 + kBlock);
        for (std::size_t i = r0; i < r1; ++i) {
          const auto a = static_cast<std::size_t>(assign[i]);
          const double tol2 = 2 * bw.Tolerance(xsq[i]);
          const auto separated = [&] {
            const double lo = std::max(lower[i], 2 * half[a] - upper[i]);
            return lo > upper[i] && (lo - upper[i]) * (lo + upper[i]) > tol2;
          };
          if (separated()) continue;
          upper[i] = std::sqrt(SquaredDistanceBound(xb.data() + static_cast<Eigen::Index>(i) * d,
                                                    centers->row(static_cast<Eigen::Index>(a)).data(), d));
          if (separated()) continue;
          block_todo[b].push_back(static_cast<Eigen::Index>(i));
        }
      });
      for (const auto& t : block_todo) todo.insert(todo.end(), t.begin(), t.end());
    }
    if (reassigned) *reassigned += static_cast<std::int64_t>(todo.size());
    words.resize(todo.size());
    others.resize(todo.size());
    const std::size_t chunks = (todo.size() + kBlock - 1) / kBlock;
    ParallelFor(chunks, threads, [&](std::size_t b) {
      const std::size_t t0 = b * kBlock, t1 = std::min(todo.size(), t0 + kBlock);
      bw.AssignIndexed(xb.data(), todo.data() + t0, static_cast<Eigen::Index>(t1 - t0), words.data() + t0,
                       others.data() + t0);
      for (std::size_t t = t0; t < t1; ++t) {
        const auto i = static_cast<std::size_t>(todo[t]);
        upper[i] = std::sqrt(SquaredDistanceBound(xb.data() + todo[t] * d, centers->row(words[t]).data(), d));
        lower[i] = std::sqrt(std::max(0.0, others[t]));
      }
    });
    std::int64_t total_changed = 0;
    for (std::size_t t = 0; t < todo.size(); ++t) {
      const auto i = static_cast<std::size_t>(todo[t]);
      const int w = words[t];
      if (assign[i] == w) continue;
      ++total_changed;
      const std::uint8_t* r = xb.data() + todo[t] * d;
      if (assign[i] >= 0) {
        std::int64_t* s = local_sums.data() + static_cast<std::size_t>(assign[i]) * static_cast<std::size_t>(d);
        for (Eigen::Index j = 0; j < d; ++j) s[j] -= r[j];
        --local_counts[static_cast<std::size_t>(assign[i])];
      }
      std::int64_t* s = local_sums.data() + static_cast<std::size_t>(w) * static_cast<std::size_t>(d);
      for (Eigen::Index j = 0; j < d; ++j) s[j] += r[j];
      ++local_counts[static_cast<std::size_t>(w)];
      assign[i] = w;
    }
    comm.Sum(&total_changed, 1);
    // MPI_Allreduce of K x d integers per rank, not K x d x ranks.
    std::vector<std::int64_t> exact = local_sums, counts = local_counts;
    comm.Sum(exact.data(), exact.size());
    comm.Sum(counts.data(), counts.size());
    RowMajorXd sums(k, d);
    for (std::size_t i = 0; i < exact.size(); ++i) sums.data()[i] = static_cast<double>(exact[i]);
    *energy = Energy(sum_sq, *centers, sums, counts);
    ++it;
    if (it > 1 && total_changed == 0) break;
    if (it > 1 && previous - *energy < min_energy_variation * *energy) break;
    previous = *energy;
    if (std::find(counts.begin(), counts.end(), 0) != counts.end()) {
      // Distances to the centres only an empty cluster's reseeding reads.
      // In float, as the float sample's rows were: the same sums in the same order.
      dist.resize(rows);
      Eigen::RowVectorXf row(d);
      for (std::size_t i = 0; i < rows; ++i) {
        row = xb.row(static_cast<Eigen::Index>(i)).cast<float>();
        dist[i] = (row - centers->row(assign[i])).squaredNorm();
      }
    }
    const Matrix before = *centers;
    Update(xb, offset, dist, sums, counts, comm, centers);
    if (!bounds) continue;
    // Move the bounds by how far the centres moved: u by its own centre's
    // step, l by the largest step of any other centre.
    std::vector<double> moved(words_n);
    std::size_t far = 0;
    for (std::size_t c = 0; c < words_n; ++c) {
      const auto ci = static_cast<Eigen::Index>(c);
      moved[c] = (centers->row(ci).cast<double>() - before.row(ci).cast<double>()).norm();
      if (moved[c] > moved[far]) far = c;
    }
    double second = 0;
    for (std::size_t c = 0; c < words_n; ++c) {
      if (c != far) second = std::max(second, moved[c]);
    }
    for (std::size_t i = 0; i < rows; ++i) {
      const auto a = static_cast<std::size_t>(assign[i]);
      upper[i] += moved[a];
      lower[i] -= a == far ? second : moved[far];
    }
  }
  return it;
}

bool BytePathFits(Eigen::Index dim) { return ByteWords::Supported() && dim % 4 == 0 && dim <= 4096; }

int Lloyd(const Matrix& x, std::int64_t offset, Matrix* centers, int max_iterations, double min_energy_variation,
          int threads, const Collective& comm, double* energy, bool bounds, std::int64_t* reassigned,
          const ByteMatrix* x_bytes) {
  // Both paths make small BLAS calls between their parallel loops; OpenBLAS's
  // own threads would spin on the cores those loops need.
  UseSingleThreadedBlas();
  if (reassigned) *reassigned = 0;
  // SIFT samples are bytes stored as floats: they take the exact 8-bit
  // integer assignment. Every process must take the same path (their
  // collectives differ), so the choice is agreed over all of them.
  ByteMatrix converted;
  const ByteMatrix* xb = &converted;
  const bool fits = BytePathFits(x.cols());
  if (fits && x_bytes) {
    xb = x_bytes;
  } else if (fits) {
    converted = AsBytes(x);
  }
  std::int64_t not_bytes = fits && (x.rows() == 0 || xb->size() > 0) ? 0 : 1;
  comm.Sum(&not_bytes, 1);
  if (not_bytes == 0) {
    if (xb->size() == 0) {
      converted.resize(0, x.cols());
      xb = &converted;
    }
    return LloydBytes(*xb, offset, centers, max_iterations, min_energy_variation, threads, comm, energy, bounds,
                      reassigned);
  }
  const int it = LloydFloat(x, offset, centers, max_iterations, min_energy_variation, threads, comm, energy);
  if (reassigned) *reassigned = static_cast<std::int64_t>(x.rows()) * it;
  return it;
}

}  // namespace scenelab::features::detail

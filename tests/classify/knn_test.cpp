#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "expect_error.h"
#include "thread_group.h"

#include "kernels.h"
#include "scenelab/classify/knn.h"
#include "scenelab/data/cpu.h"
#include "scenelab/data/error.h"
#include "scenelab/data/rng.h"
#include "scenelab/data/tiles.h"

using namespace scenelab;
using namespace scenelab::classify;

namespace {
Matrix RandomMatrix(int rows, int cols, std::uint64_t seed, bool positive = false) {
  Matrix m(rows, cols);
  Rng r(seed);
  for (int i = 0; i < rows; ++i) {
    for (int j = 0; j < cols; ++j) m(i, j) = static_cast<float>(positive ? r.Uniform() : r.Uniform() * 2 - 1);
  }
  return m;
}
std::vector<int> Labels(int n, int classes) {
  std::vector<int> l(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) l[static_cast<std::size_t>(i)] = i % classes;
  return l;
}
}  // namespace

TEST(Classify_KnnClassifier, BruteForceMatchesNaiveReference) {
  // Odd sizes exercise the block edges and the kernels' tails.
  const Matrix train = RandomMatrix(301, 37, 1, true), queries = RandomMatrix(45, 37, 2, true);
  for (Metric m : {Metric::kL1, Metric::kL2, Metric::kChi2}) {
    KnnOptions o;
    o.query_block = 16;
    o.train_block = 64;
    KnnClassifier knn(o);
    knn.Fit(train, Labels(301, 5), 5);
    const auto fast = knn.Search(queries, 7, m);
    const auto ref = NaiveSearch(train, queries, 7, m);
    EXPECT_EQ(fast.indices, ref.indices) << ToString(m);
    EXPECT_TRUE(fast.distances.isApprox(ref.distances, 1e-4f)) << ToString(m);
  }
}

TEST(Classify_KnnClassifier, IdenticalForOneAndTwoThreads) {
  const Matrix train = RandomMatrix(500, 64, 3), queries = RandomMatrix(300, 64, 4);
  KnnOptions o1, o2;
  o1.threads = 1;
  o2.threads = 2;
  KnnClassifier a(o1), b(o2);
  a.Fit(train, Labels(500, 10), 10);
  b.Fit(train, Labels(500, 10), 10);
  for (Metric m : {Metric::kL1, Metric::kL2}) {
    const auto x = a.Search(queries, 10, m), y = b.Search(queries, 10, m);
    EXPECT_EQ(x.indices, y.indices);
    EXPECT_EQ(x.distances, y.distances);
  }
}

// Queries split over 2, 3 and 5 ranks (in-process, thread_group.h), each
// rank searching its block: every rank gets exactly Search()'s neighbours
// and distances, on float data, on 8-bit data (the exact integer path) and
// with more ranks than queries.
TEST(Classify_KnnClassifier, ShardedSearchEqualsSearch) {
  Matrix bytes = RandomMatrix(200, 48, 8, true);
  bytes = (bytes * 255.0f).array().round().matrix();
  const Matrix floats = RandomMatrix(200, 48, 9, true);
  for (const Matrix* train : std::vector<const Matrix*>{&floats, &bytes}) {
    KnnOptions o;
    o.query_block = 8;  // ranks get whole blocks: 41 queries are 6 blocks
    KnnClassifier knn(o);
    knn.Fit(*train, Labels(200, 4), 4);
    for (const int nq : {3, 41}) {
      const Matrix queries = train == &bytes ? Matrix(bytes.topRows(nq).reverse()) : RandomMatrix(nq, 48, 10, true);
      for (Metric m : {Metric::kL1, Metric::kL2, Metric::kChi2}) {
        const auto whole = knn.Search(queries, 6, m);
        for (int ranks : {2, 3, 5}) {
          fixtures::ThreadGroup group(ranks);
          std::vector<Neighbors> got(static_cast<std::size_t>(ranks));
          std::vector<std::thread> threads;
          for (int r = 0; r < ranks; ++r) {
            threads.emplace_back([&, r] {
              // Each rank its own classifier, as each MPI process has (Search
              // builds lazy state and is not meant to be shared by threads).
              KnnClassifier mine(o);
              mine.Fit(*train, Labels(200, 4), 4);
              got[static_cast<std::size_t>(r)] =
                  SearchSharded(mine, queries, 6, m, fixtures::ThreadGroup::Member(&group, r));
            });
          }
          for (auto& t : threads) t.join();
          for (int r = 0; r < ranks; ++r) {
            EXPECT_EQ(got[static_cast<std::size_t>(r)].indices, whole.indices) << ToString(m) << " " << ranks;
            EXPECT_EQ(got[static_cast<std::size_t>(r)].distances, whole.distances) << ToString(m) << " " << ranks;
          }
        }
      }
    }
  }
}

TEST(Classify_KnnClassifier, EqualDistancesGoToLowerIndexAndVoteTiesToNearestClass) {
  // Training points: duplicates at distance 1 from the query, plus a farther one.
  Matrix train(5, 2);
  train << 1, 0,  // 0: class 2
      0, 1,       // 1: class 1  (same distance as 0)
      -1, 0,      // 2: class 1  (same distance)
      0, -1,      // 3: class 2  (same distance)
      5, 5;       // 4: class 0
  KnnClassifier knn;
  knn.Fit(train, {2, 1, 1, 2, 0}, 3);
  Matrix q = Matrix::Zero(1, 2);
  const auto nn = knn.Search(q, 4, Metric::kL2);
  EXPECT_EQ(nn.indices(0, 0), 0);
  EXPECT_EQ(nn.indices(0, 1), 1);
  EXPECT_EQ(nn.indices(0, 2), 2);
  EXPECT_EQ(nn.indices(0, 3), 3);
  // k = 2: one vote each for classes 2 and 1; class 2's member ranks first.
  EXPECT_EQ(knn.Vote(nn, 2).labels[0], 2);
  EXPECT_FLOAT_EQ(knn.Vote(nn, 2).scores[0], 0.5f);
  // k = 3: class 1 has two votes.
  EXPECT_EQ(knn.Vote(nn, 3).labels[0], 1);
}

TEST(Classify_KnnClassifier, DistanceWeightingFavoursCloseNeighbours) {
  Matrix train(3, 1);
  train << 0.1f, 2.0f, 2.1f;
  KnnClassifier knn;
  knn.Fit(train, {0, 1, 1}, 2);
  Matrix q(1, 1);
  q << 0.0f;
  EXPECT_EQ(knn.Predict(q, 3, Metric::kL1, false).labels[0], 1);
  EXPECT_EQ(knn.Predict(q, 3, Metric::kL1, true).labels[0], 0);
}

TEST(Classify_KnnClassifier, RejectsKLargerThanTrainingSet) {
  KnnClassifier knn;
  knn.Fit(RandomMatrix(5, 3, 5), Labels(5, 2), 2);
  try {
    knn.Search(RandomMatrix(2, 3, 6), 6, Metric::kL2);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("k = 6 is larger than the training set (5 samples)"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(knn.Search(RandomMatrix(2, 4, 6), 1, Metric::kL2), Error);
  EXPECT_THROW(knn.Fit(RandomMatrix(5, 3, 5), {0, 1, 7, 0, 1}, 2), Error);
}

TEST(Classify_KnnClassifier, FlannKdTreeHasHighRecall) {
  const Matrix train = RandomMatrix(2000, 16, 7), queries = RandomMatrix(200, 16, 8);
  KnnOptions o;
  o.algorithm = SearchAlgorithm::kKdTree;
  o.flann_checks = 512;
  KnnClassifier approx(o), exact;
  approx.Fit(train, Labels(2000, 4), 4);
  exact.Fit(train, Labels(2000, 4), 4);
  const auto a = approx.Search(queries, 1, Metric::kL2), e = exact.Search(queries, 1, Metric::kL2);
  int hits = 0;
  for (int i = 0; i < 200; ++i) hits += a.indices(i, 0) == e.indices(i, 0);
  EXPECT_GE(hits, 180);  // recall@1 >= 0.9 at 512 checks
}

TEST(Classify_KnnClassifier, OneSearchServesEveryK) {
  KnnClassifier knn;
  knn.Fit(RandomMatrix(50, 4, 9), Labels(50, 3), 3);
  const auto nn = knn.Search(RandomMatrix(10, 4, 10), 10, Metric::kL1);
  for (int k = 1; k <= 10; ++k) EXPECT_EQ(knn.Vote(nn, k).labels.size(), 10u);
  EXPECT_EQ(knn.searches_performed(), 1u);
  EXPECT_THROW(knn.Vote(nn, 11), Error);
}

TEST(Classify_KnnClassifier, EightBitDataTakeTheIntegerL1PathWithTheSameNeighbours) {
  // Raw pixels (0..255) and pixels / 255; 787 dimensions leave a tail past the 64-byte rows.
  const int nt = 530, nq = 33, dim = 787;
  Matrix train(nt, dim), queries(nq, dim);
  Rng r(9);
  for (Eigen::Index i = 0; i < train.size(); ++i) train.data()[i] = static_cast<float>(r.Below(256));
  for (Eigen::Index i = 0; i < queries.size(); ++i) queries.data()[i] = static_cast<float>(r.Below(256));
  KnnOptions o;
  o.query_block = 8;
  o.train_block = 100;
  KnnClassifier raw(o), scaled(o);
  raw.Fit(train, Labels(nt, 4), 4);
  scaled.Fit(train / 255.0f, Labels(nt, 4), 4);
  const auto a = raw.Search(queries, 9, Metric::kL1);
  const auto ref = NaiveSearch(train, queries, 9, Metric::kL1);  // integer sums: exact in double
  EXPECT_EQ(a.indices, ref.indices);
  EXPECT_EQ(a.distances, ref.distances);
  const auto b = scaled.Search(queries / 255.0f, 9, Metric::kL1);
  EXPECT_EQ(b.indices, ref.indices);
  EXPECT_TRUE(b.distances.isApprox(ref.distances / 255.0f, 1e-6f));
  // Queries that are not 8-bit fall back to the float kernel, still exact.
  Matrix off = queries / 255.0f;
  off(0, 0) += 0.3f / 255.0f;
  const auto c = scaled.Search(off, 9, Metric::kL1);
  const auto cref = NaiveSearch(Matrix(train / 255.0f), off, 9, Metric::kL1);
  // Integer sums tie often; float rounding may order tied rows differently, so
  // compare the distances, and each reported distance with its row's.
  EXPECT_TRUE(c.distances.isApprox(cref.distances, 1e-5f));
  for (int i = 0; i < nq; ++i) {
    for (int j = 0; j < 9; ++j) {
      EXPECT_NEAR(c.distances(i, j), (off.row(i) - train.row(c.indices(i, j)) / 255.0f).cwiseAbs().sum(), 1e-3f);
    }
  }
}

TEST(Classify_KnnClassifier, FlannOnPrincipalComponentsReranksExactly) {
  // 200-d rows near a 12-d subspace, as pixels are: the index works on 12 components.
  const Matrix latent = RandomMatrix(2200, 12, 11), mix = RandomMatrix(12, 200, 12),
               noise = RandomMatrix(2200, 200, 13);
  const Matrix all = latent * mix + 0.05f * noise;
  const Matrix train = all.topRows(2000), queries = all.bottomRows(200);
  KnnOptions o;
  o.algorithm = SearchAlgorithm::kKdTree;
  o.flann_checks = 128;
  o.flann_pca_dims = 12;
  o.flann_rerank = 16;
  o.seed = 3;
  KnnClassifier approx(o), exact;
  approx.Fit(train, Labels(2000, 4), 4);
  exact.Fit(train, Labels(2000, 4), 4);
  const auto a = approx.Search(queries, 5, Metric::kL2), e = exact.Search(queries, 5, Metric::kL2);
  int hits = 0;
  for (int i = 0; i < 200; ++i) {
    hits += a.indices(i, 0) == e.indices(i, 0);
    for (int j = 0; j < 5; ++j) {  // distances are exact, in the full space, nearest first
      const float d = (queries.row(i) - train.row(a.indices(i, j))).squaredNorm();
      EXPECT_NEAR(a.distances(i, j), d, 1e-4f * (1 + d));
      if (j > 0) {
        EXPECT_LE(a.distances(i, j - 1), a.distances(i, j));
      }
    }
  }
  EXPECT_GE(hits, 180);  // recall@1 >= 0.9
  // Seeded: the k-means tree (k-means++ centres from FLANN's seeded rand) repeats
  // exactly. (FLANN's kd-trees draw from std::random_device: not repeatable.)
  o.algorithm = SearchAlgorithm::kKMeansTree;
  KnnClassifier k1(o), k2(o);
  k1.Fit(train, Labels(2000, 4), 4);
  k2.Fit(train, Labels(2000, 4), 4);
  const auto m1 = k1.Search(queries, 5, Metric::kL2);
  EXPECT_EQ(m1.indices, k2.Search(queries, 5, Metric::kL2).indices);
  int khits = 0;
  for (int i = 0; i < 200; ++i) khits += m1.indices(i, 0) == e.indices(i, 0);
  EXPECT_GE(khits, 180);
  // A projection preserves L2 only.
  EXPECT_MESSAGE(approx.Search(queries, 1, Metric::kL1), "--flann-pca works with the L2 metric only");
  o.flann_pca_dims = 201;
  KnnClassifier wide(o);
  wide.Fit(train, Labels(2000, 4), 4);
  EXPECT_MESSAGE(wide.Search(queries, 1, Metric::kL2), "--flann-pca 201 exceeds the 200 dimensions of the data");
  KnnOptions bad;
  bad.flann_pca_dims = -1;
  EXPECT_MESSAGE(bad.Validate(), "flann_pca_dims (--flann-pca) must be >= 0, got -1");
  bad.flann_pca_dims = 8;
  bad.flann_rerank = 0;
  EXPECT_MESSAGE(bad.Validate(), "flann_rerank (--flann-rerank) must be >= 1, got 0");
}

TEST(Classify_KnnClassifier, RankOrdersByVotesThenNearestMemberThenFirstAppearance) {
  // Query at the origin; neighbours in distance order: 0 (class 3), 1 (class 1),
  // 2 (class 1), 3 (class 0), 4 (class 2); class 4 has no training point near.
  Matrix train(6, 1);
  train << 1, 2, 3, 4, 5, 100;
  KnnClassifier knn;
  knn.Fit(train, {3, 1, 1, 0, 2, 4}, 5);
  const auto nn = knn.Search(Matrix::Zero(1, 1), 5, Metric::kL1);
  // k = 3: class 1 has two votes, class 3 one; the rest follow by first appearance
  // among the 5 neighbours searched (0 then 2), then by index (4).
  const auto r3 = knn.Rank(nn, 3, false, 5);
  EXPECT_EQ(r3[0], (std::vector<int>{1, 3, 0, 2, 4}));
  EXPECT_EQ(r3[0][0], knn.Vote(nn, 3).labels[0]);
  // k = 2: one vote each for 3 and 1; class 3's member ranks first, as Vote decides.
  const auto r2 = knn.Rank(nn, 2, false, 2);
  EXPECT_EQ(r2[0], (std::vector<int>{3, 1}));
  EXPECT_EQ(r2[0][0], knn.Vote(nn, 2).labels[0]);
  EXPECT_THROW(knn.Rank(nn, 6, false, 5), Error);
}

// The kernels run the path ActiveIsa() names: the CPU's best, capped by
// SCENELAB_ISA. ctest runs this suite once per level (Isa.* tests), so the
// AVX2 and scalar paths run on an AVX-512 machine too.
TEST(Classify_Kernels, DispatchFollowsTheCpuCappedByScenelabIsa) {
  const Isa want = RequestedIsa();
  if (want > CpuIsa()) {
    GTEST_SKIP() << "SCENELAB_ISA=" << ToString(want) << " but this CPU only has " << ToString(CpuIsa());
  }
  EXPECT_EQ(ActiveIsa(), want);
  const char* sad = want >= Isa::kAvx512 ? "avx512bw" : want == Isa::kAvx2 ? "avx2" : "scalar";
  EXPECT_STREQ(kernels::L1BlockU8Isa(), sad);
  const char* flt = want >= Isa::kAvx512 ? "avx512" : want == Isa::kAvx2 ? "avx2" : "scalar";
  EXPECT_STREQ(kernels::FloatBlockIsa(), flt);
  const char* model = std::getenv("SCENELAB_TILE_MODEL");
  const bool modelled = model && std::string(model) == "1" && want >= Isa::kVnni;
  const char* l2 = modelled               ? "amx-model"
                   : want == Isa::kAmx    ? "amx"
                   : want == Isa::kVnni   ? "vnni"
                   : want == Isa::kAvx512 ? "avx512bw"
                   : want == Isa::kAvx2   ? "avx2"
                                          : "scalar";
  EXPECT_STREQ(kernels::L2U8Isa(), l2);
  EXPECT_EQ(kernels::PanelsSupported(), want >= Isa::kVnni);
  EXPECT_EQ(kernels::TilesSupported(), want == Isa::kAmx || modelled);
}

// A CPU that lists AMX int8 (and VNNI) in /proc/cpuinfo reaches the tile
// level. Only Linux's refusal of the tile state to this process (asked for
// again here, to tell the two apart) may keep it at vnni: then the test
// says so; a level of vnni with the grant given is a bug in the probe.
TEST(Classify_Kernels, CpuWithAmxInt8ReachesTheTileLevel) {
  if (!CpuFlag("amx_int8") || !CpuFlag("amx_tile") || !CpuFlag("avx512_vnni")) {
    GTEST_SKIP() << "this CPU has no amx_int8 (its best level is " << ToString(CpuIsa()) << ")";
  }
  if (CpuIsa() == Isa::kAmx) return;
  if (const std::string refused = RequestTileState(); !refused.empty()) {
    GTEST_SKIP() << "the CPU lists amx_int8, but Linux refused this process the tile state (" << refused
                 << "): the level stays " << ToString(CpuIsa());
  }
  std::string check;
#if defined(__x86_64__) && defined(__GNUC__)
  tiles::AmxTiles tl;
  check = tiles::ProductsAgree(tl) ? "passes" : "fails: the tile program's products are wrong";
#endif
  ADD_FAILURE() << "the CPU lists amx_int8 and Linux grants the tiles, but the probe gave " << ToString(CpuIsa())
                << "; the tiles' start-up check (tiles::ProductsAgree) " << check;
}

// Every path sums in the same 16 lanes: bit-equal to this plain reference,
// at lengths that leave tails, with zeros (chi2 skips q + t = 0).
TEST(Classify_Kernels, FloatKernelsEqualTheFixedLaneReferenceBitForBit) {
  Rng r(21);
  for (std::size_t dim : {1u, 15u, 16u, 17u, 64u, 131u}) {
    const std::size_t n = 7;
    std::vector<float> q(dim), t(n * dim);
    for (auto& v : q) v = r.Uniform() < 0.2 ? 0.0f : static_cast<float>(r.Uniform());
    for (auto& v : t) v = r.Uniform() < 0.2 ? 0.0f : static_cast<float>(r.Uniform());
    std::vector<float> l1(n), chi2(n);
    kernels::L1Block(q.data(), t.data(), n, dim, l1.data());
    kernels::Chi2Block(q.data(), t.data(), n, dim, chi2.data());
    for (std::size_t j = 0; j < n; ++j) {
      float a[16] = {0}, c[16] = {0};
      for (std::size_t d = 0; d < dim; ++d) {
        const float x = q[d], y = t[j * dim + d];
        a[d % 16] += std::fabs(x - y);
        c[d % 16] += x + y > 0 ? (x - y) * (x - y) / (x + y) : 0.0f;
      }
      float sa = 0, sc = 0;
      for (int l = 0; l < 16; ++l) {
        sa += a[l];
        sc += c[l];
      }
      EXPECT_EQ(l1[j], sa) << "dim " << dim << " row " << j << " path " << kernels::FloatBlockIsa();
      EXPECT_EQ(chi2[j], sc) << "dim " << dim << " row " << j << " path " << kernels::FloatBlockIsa();
    }
  }
}

// Integer SAD at the worst cases: all 0 against all 255, and lengths that are
// not a multiple of 64 (zero-padded rows).
TEST(Classify_Kernels, ByteSadIsExactAtTheExtremes) {
  for (std::size_t dim : {1u, 63u, 64u, 65u, 784u}) {
    const std::size_t stride = (dim + kernels::kByteRowAlign - 1) / kernels::kByteRowAlign * kernels::kByteRowAlign;
    const std::size_t n = 5;
    std::vector<std::uint8_t> q(stride, 0), t(n * stride, 0);
    for (std::size_t d = 0; d < dim; ++d) q[d] = 255;
    for (std::size_t j = 0; j < n; ++j) {
      for (std::size_t d = 0; d < dim; ++d)
        t[j * stride + d] = j % 2 ? 0 : static_cast<std::uint8_t>((d * 7 + j) % 256);
    }
    std::vector<float> out(n);
    kernels::L1BlockU8(q.data(), t.data(), n, stride, 1.0f, out.data());
    for (std::size_t j = 0; j < n; ++j) {
      double ref = 0;
      for (std::size_t d = 0; d < dim; ++d) ref += std::abs(255.0 - t[j * stride + d]);
      EXPECT_EQ(static_cast<double>(out[j]), ref)
          << "dim " << dim << " row " << j << " path " << kernels::L1BlockU8Isa();
    }
  }
}

// Exact integer dots at the worst cases (all 0, all 255, lengths that are not
// a multiple of 4 or 64), on the path SCENELAB_ISA selects, and, where the CPU
// has VNNI, through the vpdpbusd panels for 1..4 queries and partial panels.
TEST(Classify_Kernels, ByteDotsAreExactAtTheExtremes) {
  Rng r(5);
  for (std::size_t dim : {1u, 3u, 63u, 64u, 65u, 784u, 787u}) {
    const std::size_t stride = (dim + kernels::kByteRowAlign - 1) / kernels::kByteRowAlign * kernels::kByteRowAlign;
    const std::size_t n = 37;  // two full panels and a partial one
    std::vector<std::uint8_t> t(n * stride, 0);
    for (std::size_t j = 0; j < n; ++j) {
      for (std::size_t d = 0; d < dim; ++d) {
        t[j * stride + d] = j % 3 == 0 ? 255 : j % 3 == 1 ? 0 : static_cast<std::uint8_t>(r.Below(256));
      }
    }
    std::vector<std::vector<std::uint8_t>> qs(4, std::vector<std::uint8_t>(stride, 0));
    for (std::size_t d = 0; d < dim; ++d) {
      qs[0][d] = 255;
      qs[2][d] = static_cast<std::uint8_t>(r.Below(256));
      qs[3][d] = static_cast<std::uint8_t>(d % 2 ? 255 : 0);
    }  // qs[1] stays all 0
    auto ref = [&](std::size_t qi, std::size_t j) {
      std::int64_t s = 0;
      for (std::size_t d = 0; d < dim; ++d) s += std::int64_t{qs[qi][d]} * t[j * stride + d];
      return s;
    };
    std::vector<std::int32_t> out(n);
    for (std::size_t qi = 0; qi < 4; ++qi) {
      kernels::DotBlockU8(qs[qi].data(), t.data(), n, stride, out.data());
      for (std::size_t j = 0; j < n; ++j)
        EXPECT_EQ(out[j], ref(qi, j)) << "dim " << dim << " path " << kernels::L2U8Isa();
    }
    if (!kernels::PanelsSupported()) continue;
    const auto panels = kernels::PackU8Panels(t.data(), n, stride, dim);
    ASSERT_EQ(panels.panels, 3u);
    for (int nq = 1; nq <= 4; ++nq) {
      const std::uint8_t* qp[4];
      std::int32_t sums[4];
      for (int i = 0; i < nq; ++i) {
        qp[i] = qs[static_cast<std::size_t>(i)].data();
        sums[i] = 0;
        for (std::size_t d = 0; d < stride; ++d) sums[i] += qp[i][d];
      }
      // Panels 1..2 only: rows 16..36 (the last panel partial).
      std::vector<std::int32_t> dots(4 * 32, -1);
      kernels::DotPanelsU8(panels, qp, sums, nq, 1, 2, dots.data(), 32);
      for (int i = 0; i < nq; ++i) {
        for (std::size_t j = 16; j < n; ++j) {
          EXPECT_EQ(dots[static_cast<std::size_t>(i) * 32 + (j - 16)], ref(static_cast<std::size_t>(i), j))
              << "vnni panels, dim " << dim << " query " << i << " row " << j;
        }
      }
    }
  }
}

// The AMX tile loop, on the software model of the tiles on every machine
// and on the real tiles where the CPU has them: exact dots at the extremes
// (all 0, all 255; lengths that leave a partial 64-byte tile column), for 1,
// 15, 16, 17 and 32 queries (one or two rows of tiles, padded or not), whole
// and odd runs of panels, and a partial last panel.
TEST(Classify_Kernels, TileDotsAreExactOnTheModelAndOnAmx) {
  Rng r(9);
  for (std::size_t dim : {1u, 63u, 64u, 65u, 128u, 784u, 787u}) {
    const std::size_t stride = (dim + kernels::kByteRowAlign - 1) / kernels::kByteRowAlign * kernels::kByteRowAlign;
    const std::size_t n = 53;  // three full panels and a partial one
    std::vector<std::uint8_t> t(n * stride, 0), q(32 * stride, 0);
    for (std::size_t j = 0; j < n; ++j) {
      for (std::size_t d = 0; d < dim; ++d)
        t[j * stride + d] = j % 3 == 0 ? 255 : j % 3 == 1 ? 0 : static_cast<std::uint8_t>(r.Below(256));
    }
    for (std::size_t i = 0; i < 32; ++i) {
      for (std::size_t d = 0; d < dim; ++d)
        q[i * stride + d] = i % 4 == 0 ? 255 : i % 4 == 1 ? 0 : static_cast<std::uint8_t>(r.Below(256));
    }
    std::int32_t sums[32] = {};
    for (std::size_t i = 0; i < 32; ++i) {
      for (std::size_t d = 0; d < stride; ++d) sums[i] += q[i * stride + d];
    }
    auto ref = [&](std::size_t i, std::size_t j) {
      std::int64_t s = 0;
      for (std::size_t d = 0; d < dim; ++d) s += std::int64_t{q[i * stride + d]} * t[j * stride + d];
      return s;
    };
    const auto panels = kernels::PackU8Panels(t.data(), n, stride, dim, 1, kernels::kTileGroups);
    ASSERT_EQ(panels.panels, 4u);
    ASSERT_EQ(panels.groups % kernels::kTileGroups, 0u);
    ASSERT_EQ(panels.groups * 4, stride);
    using Fn = void (*)(const kernels::U8Panels&, const std::uint8_t*, std::size_t, const std::int32_t*, int,
                        std::size_t, std::size_t, std::int32_t*, std::size_t);
    std::vector<std::pair<const char*, Fn>> paths = {{"model", kernels::DotTilesU8Emulated}};
    if (kernels::TilesSupported()) paths.emplace_back("amx", kernels::DotTilesU8);
    for (const auto& [name, fn] : paths) {
      for (int nq : {1, 15, 16, 17, 32}) {
        // Panels 1..3 (rows 16..52: an odd run, the last panel partial), then 0..3.
        for (const auto& [p0, np] : std::vector<std::pair<std::size_t, std::size_t>>{{1, 3}, {0, 4}}) {
          const std::size_t width = 16 * np;
          std::vector<std::int32_t> dots(static_cast<std::size_t>(nq) * width + 16, -7);
          // Exactly nq rows, so that a read past them is caught under ASan.
          const std::vector<std::uint8_t> qn(q.begin(), q.begin() + static_cast<std::ptrdiff_t>(nq * stride));
          fn(panels, qn.data(), stride, sums, nq, p0, np, dots.data(), width);
          for (int i = 0; i < nq; ++i) {
            for (std::size_t j = 16 * p0; j < n; ++j) {
              ASSERT_EQ(dots[static_cast<std::size_t>(i) * width + (j - 16 * p0)], ref(static_cast<std::size_t>(i), j))
                  << name << " tiles, dim " << dim << " queries " << nq << " panels " << p0 << "+" << np << " query "
                  << i << " row " << j;
            }
          }
          // Nothing written past the nq rows of output.
          for (std::size_t x = static_cast<std::size_t>(nq) * width; x < dots.size(); ++x) ASSERT_EQ(dots[x], -7);
        }
      }
    }
  }
  std::vector<std::uint8_t> t(64, 1);
  const auto unaligned = kernels::PackU8Panels(t.data(), 1, 64, 64);  // 16 groups happen to align
  EXPECT_EQ(unaligned.groups, 16u);
  const auto narrow = kernels::PackU8Panels(t.data(), 1, 64, 20);
  EXPECT_EQ(narrow.groups, 5u);
  std::int32_t out[16];
  const std::int32_t sum = 64;
  EXPECT_THROW(kernels::DotTilesU8Emulated(narrow, t.data(), 64, &sum, 1, 0, 1, out, 16), std::logic_error);
  EXPECT_THROW(kernels::DotTilesU8Emulated(unaligned, t.data(), 64, &sum, 33, 0, 1, out, 16), std::logic_error);
  EXPECT_THROW(kernels::DotTilesU8Emulated(unaligned, t.data(), 64, &sum, 1, 0, 2, out, 16), std::logic_error);
}

// The integer L2 path equals the double reference exactly: the same
// neighbours in the same order, and distances equal as integers.
TEST(Classify_KnnClassifier, EightBitDataTakeTheExactIntegerL2Path) {
  const int nt = 1030, nq = 37, dim = 787;
  Matrix train(nt, dim), queries(nq, dim);
  Rng r(17);
  for (Eigen::Index i = 0; i < train.size(); ++i) train.data()[i] = static_cast<float>(r.Below(256));
  for (Eigen::Index i = 0; i < queries.size(); ++i) queries.data()[i] = static_cast<float>(r.Below(256));
  // Worst cases: an all-255 query against an all-0 row, and exact duplicates
  // (ties go to the lower index).
  queries.row(0).setConstant(255);
  train.row(5).setZero();
  train.row(900) = train.row(17);
  queries.row(1) = train.row(17);
  KnnOptions o;
  o.query_block = 8;
  KnnClassifier raw(o), scaled(o);
  raw.Fit(train, Labels(nt, 4), 4);
  scaled.Fit(train / 255.0f, Labels(nt, 4), 4);
  const int k = 12;
  const auto a = raw.Search(queries, k, Metric::kL2);
  // Reference: exact in 64-bit integers, ordered by (distance, index).
  for (int i = 0; i < nq; ++i) {
    std::vector<std::pair<std::int64_t, int>> all;
    for (int j = 0; j < nt; ++j) {
      std::int64_t s = 0;
      for (int d = 0; d < dim; ++d) {
        const auto x = static_cast<std::int64_t>(queries(i, d)) - static_cast<std::int64_t>(train(j, d));
        s += x * x;
      }
      all.emplace_back(s, j);
    }
    std::partial_sort(all.begin(), all.begin() + k, all.end());
    for (int j = 0; j < k; ++j) {
      ASSERT_EQ(a.indices(i, j), all[static_cast<std::size_t>(j)].second)
          << "query " << i << " rank " << j << " path " << kernels::L2U8Isa();
      EXPECT_EQ(a.distances(i, j), static_cast<float>(all[static_cast<std::size_t>(j)].first))
          << "query " << i << " rank " << j;
    }
  }
  EXPECT_EQ(a.distances(0, 0) >= 0, true);
  EXPECT_EQ(a.indices(1, 0), 17);
  EXPECT_EQ(a.indices(1, 1), 900);
  EXPECT_EQ(a.distances(1, 0), 0.0f);
  // Other settings give the same neighbours and distances.
  auto expect_same_search = [&](KnnOptions changed, const char* what) {
    KnnClassifier other(changed);
    other.Fit(train, Labels(nt, 4), 4);
    const auto c = other.Search(queries, k, Metric::kL2);
    EXPECT_EQ(c.indices, a.indices) << what;
    EXPECT_EQ(c.distances, a.distances) << what;
  };
  // All 37 queries in one block: on the tile path, a group of 32 and one of 5.
  KnnOptions whole = o;
  whole.query_block = 64;
  expect_same_search(whole, "one block of 37 queries");
  // Pixels / 255: the same neighbours; distances scaled by 1/255^2.
  const auto b = scaled.Search(queries / 255.0f, k, Metric::kL2);
  EXPECT_EQ(b.indices, a.indices);
  EXPECT_TRUE(b.distances.isApprox(a.distances / (255.0f * 255.0f), 1e-6f));
  // One and two threads agree.
  KnnOptions o1 = o;
  o1.threads = 1;
  expect_same_search(o1, "one thread");
}

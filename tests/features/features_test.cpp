#include <gtest/gtest.h>

#include <cmath>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include "expect_error.h"
#include "fixtures.h"
#include "scenelab/data/error.h"
#include "scenelab/data/io.h"
#include "scenelab/data/rng.h"
#include "scenelab/features/bow.h"
#include "scenelab/features/cache.h"
#include "scenelab/features/collective.h"
#include "scenelab/features/dense_sift.h"
#include "scenelab/features/gist.h"
#include "scenelab/features/tiny_image.h"
#include "scenelab/features/vocabulary.h"
#include "thread_group.h"

using namespace scenelab;
using namespace scenelab::features;
using scenelab::fixtures::TempDir;
using scenelab::fixtures::ThreadGroup;

namespace {
BowOptions Pyramid(int levels) {
  BowOptions o;
  o.pyramid_levels = levels;
  return o;
}
cv::Mat Noise(int w, int h, std::uint64_t seed) {
  cv::Mat m(h, w, CV_8U);
  Rng r(seed);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) m.at<unsigned char>(y, x) = static_cast<unsigned char>(r.Below(256));
  }
  return m;
}

data::Dataset InMemoryDataset(int n, int w, int h) {
  std::vector<data::Sample> s;
  for (int i = 0; i < n; ++i) s.push_back({i % 3, "mem#" + std::to_string(i), fixtures::ClassImage(i % 3, i, w, h)});
  return data::Dataset({"a", "b", "c"}, s);
}
}  // namespace

TEST(Features_TinyImage, ZeroMeanUnitLengthAndSize) {
  TinyImageOptions o;
  TinyImage tiny(o);
  const Matrix f = tiny.Compute(Noise(120, 90, 1));
  ASSERT_EQ(f.cols(), 256);
  EXPECT_NEAR(f.mean(), 0.0, 1e-6);
  EXPECT_NEAR(f.norm(), 1.0, 1e-5);
  o.norm = Norm::kL1;
  o.size = 8;
  const Matrix g = TinyImage(o).Compute(Noise(50, 70, 2));
  ASSERT_EQ(g.cols(), 64);
  EXPECT_NEAR(g.cwiseAbs().sum(), 1.0, 1e-5);
}

TEST(Features_TinyImage, AreaResizeOfConstantBlocksIsExact) {
  // A 32x32 image of 2x2 constant blocks shrinks to exactly those blocks.
  cv::Mat img(32, 32, CV_8U);
  for (int y = 0; y < 32; ++y) {
    for (int x = 0; x < 32; ++x) img.at<unsigned char>(y, x) = static_cast<unsigned char>((x / 2 + y / 2 * 16) % 256);
  }
  TinyImageOptions o;
  o.zero_mean = false;
  o.norm = Norm::kNone;
  const Matrix f = TinyImage(o).Compute(img);
  for (int i = 0; i < 256; ++i) EXPECT_NEAR(f(0, i), ((i % 16) + (i / 16) * 16) % 256 / 255.0, 1e-6);
}

TEST(Features_TinyImage, CropSquareTakesTheCentre) {
  cv::Mat img(20, 40, CV_8U, cv::Scalar(0));
  img(cv::Rect(10, 0, 20, 20)).setTo(200);  // the centre square is bright
  TinyImageOptions o;
  o.crop_square = true;
  o.zero_mean = false;
  o.norm = Norm::kNone;
  o.size = 4;
  const Matrix f = TinyImage(o).Compute(img);
  EXPECT_NEAR(f.minCoeff(), 200 / 255.0, 1e-6);
  o.size = 0;
  EXPECT_THROW(TinyImage{o}, Error);
}

TEST(Features_DenseSift, DescriptorCountForSizeAndStep) {
  DenseSiftOptions o;
  o.step = 5;
  o.bin_sizes = {8};
  DenseSift sift(o);
  const auto f = sift.Compute(Noise(100, 80, 3));
  // VLFeat: ((W-1-3*bin)/step + 1) * ((H-1-3*bin)/step + 1) frames.
  EXPECT_EQ(f.descriptors.rows(), ((99 - 24) / 5 + 1) * ((79 - 24) / 5 + 1));
  EXPECT_EQ(f.descriptors.cols(), 128);
  EXPECT_EQ(f.frames(0, 2), 8.0f);
  EXPECT_EQ(f.width, 100);
  // Reusing the filter on another size gives that size's count.
  const auto g = sift.Compute(Noise(60, 60, 4));
  EXPECT_EQ(g.descriptors.rows(), ((59 - 24) / 5 + 1) * ((59 - 24) / 5 + 1));
}

TEST(Features_DenseSift, MultiScaleAndRootSift) {
  DenseSiftOptions o = DenseSiftOptions::Phow();
  DenseSift sift(o);
  const auto f = sift.Compute(Noise(80, 80, 5));
  EXPECT_GT(f.descriptors.rows(), 0);
  std::set<float> scales;
  for (Eigen::Index i = 0; i < f.frames.rows(); ++i) scales.insert(f.frames(i, 2));
  EXPECT_EQ(scales, (std::set<float>{4, 6, 8, 10}));
  o.root_sift = true;
  const auto r = DenseSift(o).Compute(Noise(80, 80, 5));
  ASSERT_EQ(r.descriptors.rows(), f.descriptors.rows());
  // RootSIFT descriptors have unit L2 norm before byte scaling (sqrt of an L1-normalised vector).
  const Eigen::VectorXf d = r.descriptors.row(r.descriptors.rows() / 2).cast<float>().transpose() / 512.0f;
  EXPECT_NEAR(d.norm(), 1.0, 0.08);
}

TEST(Features_DenseSift, RejectsTinyImagesAndBadOptions) {
  DenseSiftOptions o;
  DenseSift sift(o);
  try {
    sift.Compute(Noise(1, 1, 6));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("1x1 pixels is smaller than one SIFT descriptor"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(sift.Compute(Noise(20, 20, 6)), Error);  // bin 8 needs 25 pixels
  o.step = 0;
  try {
    DenseSift{o};
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("step"), std::string::npos);
  }
}

TEST(Features_DenseSift, SameResultsForOneAndTwoThreads) {
  const auto ds = InMemoryDataset(9, 64, 48);
  DenseSiftOptions o;
  o.step = 4;
  const auto a = ComputeDenseSift(ds, o, 1);
  const auto b = ComputeDenseSift(ds, o, 2);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].descriptors, b[i].descriptors);
    EXPECT_EQ(a[i].frames, b[i].frames);
  }
}

TEST(Features_Vocabulary, FindsWellSeparatedClusters) {
  // Four clusters around distinct corners of the 128-d cube.
  Matrix truth = Matrix::Zero(4, 128);
  for (int c = 0; c < 4; ++c) truth.block(c, c * 32, 1, 32).setConstant(100.0f);
  Matrix sample(400, 128);
  Rng r(7);
  for (int i = 0; i < 400; ++i) {
    for (int d = 0; d < 128; ++d) sample(i, d) = truth(i % 4, d) + static_cast<float>(r.Uniform() * 4 - 2);
  }
  for (const KmeansAlgorithm algo : {KmeansAlgorithm::kGemm, KmeansAlgorithm::kElkan}) {
    VocabularyOptions o;
    o.size = 4;
    o.algorithm = algo;
    o.seed = 3;
    const Vocabulary v = VocabularyBuilder(o).Cluster(sample);
    ASSERT_EQ(v.size(), 4);
    for (int c = 0; c < 4; ++c) {
      float best = 1e30f;
      for (int w = 0; w < 4; ++w) best = std::min(best, (v.centers().row(w) - truth.row(c)).norm());
      EXPECT_LT(best, 2.0f) << KmeansAlgorithmNames().Show(algo) << " missed cluster " << c;
    }
    // Every sample goes to the word nearest its true centre.
    const auto words = v.Assign(sample);
    for (int i = 4; i < 400; ++i) EXPECT_EQ(words[i], words[i % 4]);
  }
}

// k-means stops on convergence as vl_kmeans does: relative energy change
// under min_energy_variation, or no assignment changed.
TEST(Features_Vocabulary, StopsEarlyOnConvergenceWithNonIncreasingEnergy) {
  // Eight well-separated byte-valued clusters (the byte path, as SIFT).
  Rng r(21);
  Matrix sample(4000, 128);
  for (int i = 0; i < 4000; ++i) {
    const int c = i % 8;
    for (int d = 0; d < 128; ++d) {
      sample(i, d) = std::round(static_cast<float>((d / 16 == c ? 150 : 20) + r.Uniform() * 30));
    }
  }
  VocabularyOptions o;
  o.size = 8;
  o.seed = 5;
  o.max_iterations = 100;
  const Vocabulary v = VocabularyBuilder(o, 2).Cluster(sample);
  EXPECT_GE(v.iterations(), 2);
  EXPECT_LT(v.iterations(), 10) << "well-separated clusters converge in a few iterations";
  // Energy after m iterations, m = 1..: non-increasing, and a run capped at
  // the converged count ends at the same energy.
  o.min_energy_variation = 0;
  double previous = 1e300;
  for (int m = 1; m <= 6; ++m) {
    o.max_iterations = m;
    const Vocabulary vm = VocabularyBuilder(o, 1).Cluster(sample);
    EXPECT_LE(vm.energy(), previous * (1 + 1e-6)) << "energy rose at iteration " << m;
    EXPECT_LE(vm.iterations(), m);
    previous = vm.energy();
  }
  EXPECT_NEAR(previous, v.energy(), 1e-6 * v.energy());

  // Noisy, overlapping data: a loose threshold stops sooner than a tight one,
  // at a slightly higher energy.
  Matrix blob(3000, 16);
  for (int i = 0; i < blob.rows(); ++i) {
    for (int d = 0; d < 16; ++d) blob(i, d) = static_cast<float>(r.Uniform() * 100);
  }
  VocabularyOptions loose;
  loose.size = 30;
  loose.seed = 2;
  loose.min_energy_variation = 1e-2;
  VocabularyOptions tight = loose;
  tight.min_energy_variation = 0;
  const Vocabulary a = VocabularyBuilder(loose, 2).Cluster(blob);
  const Vocabulary b = VocabularyBuilder(tight, 2).Cluster(blob);
  EXPECT_LT(a.iterations(), b.iterations());
  EXPECT_GE(a.energy(), b.energy());
  EXPECT_LT(a.energy(), 1.05 * b.energy());

  VocabularyOptions bad;
  bad.min_energy_variation = -1;
  try {
    bad.Validate();
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("min_energy_variation must be in [0, 1), got -1"), std::string::npos)
        << e.what();
  }
}

TEST(Features_Vocabulary, SeededThreadIndependentAndSavedWithParameters) {
  const auto ds = InMemoryDataset(6, 64, 64);
  const auto sift = ComputeDenseSift(ds, DenseSiftOptions{}, 2);
  VocabularyOptions o;
  o.size = 10;
  o.descriptors_per_image = 30;
  o.seed = 11;
  const auto a = VocabularyBuilder(o, 1).Build(sift);
  const auto b = VocabularyBuilder(o, 2).Build(sift);
  EXPECT_EQ(a.centers(), b.centers());
  o.seed = 12;
  const auto c = VocabularyBuilder(o, 2).Build(sift);
  EXPECT_NE(a.centers(), c.centers());

  TempDir dir;
  const std::string p = (dir / "vocab.bin").string();
  a.Save(p);
  const auto l = Vocabulary::Load(p);
  EXPECT_EQ(l.centers(), a.centers());
  EXPECT_EQ(l.params().size, 10);
  EXPECT_EQ(l.params().seed, 11u);
  EXPECT_EQ(l.params().descriptors_per_image, 30);
  EXPECT_EQ(l.iterations(), a.iterations());
  EXPECT_GT(l.iterations(), 0);
  EXPECT_EQ(l.params().min_energy_variation, a.params().min_energy_variation);
  SaveMatrixCache((dir / "other.bin").string(), "tiny-v1|size=16", a.centers());
  try {
    Vocabulary::Load((dir / "other.bin").string());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("other.bin: not a scenelab vocabulary file"), std::string::npos) << e.what();
  }
  auto bytes = ReadFileBytes(p);
  bytes[bytes.size() / 2] ^= 0x10;
  fixtures::WriteBytes(p, bytes);
  try {
    Vocabulary::Load(p);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("checksum"), std::string::npos) << e.what();
  }
}

TEST(Features_BowEncoder, HistogramsSumToOneAndPyramidWeights) {
  Matrix centers(3, 128);
  centers.setZero();
  centers(1, 0) = 100;
  centers(2, 1) = 100;
  Vocabulary v(centers, {}, 0);
  SiftFeatures f;
  f.width = 100;
  f.height = 100;
  f.descriptors = ByteMatrix::Zero(4, 128);
  f.descriptors(1, 0) = 100;  // word 1
  f.descriptors(2, 1) = 100;  // word 2
  f.descriptors(3, 1) = 100;  // word 2
  f.frames.resize(4, 3);
  f.frames << 10, 10, 8, 90, 10, 8, 10, 90, 8, 90, 90, 8;
  BowEncoder plain(v, Pyramid(0));
  std::vector<float> h(static_cast<std::size_t>(plain.dim()));
  plain.Encode(f, h.data());
  EXPECT_FLOAT_EQ(h[0], 0.25f);
  EXPECT_FLOAT_EQ(h[1], 0.25f);
  EXPECT_FLOAT_EQ(h[2], 0.5f);
  BowEncoder pyr(v, Pyramid(1));
  ASSERT_EQ(pyr.dim(), 3 * 5);
  std::vector<float> p(static_cast<std::size_t>(pyr.dim()));
  pyr.Encode(f, p.data());
  float sum = 0;
  for (float x : p) sum += x;
  EXPECT_NEAR(sum, 1.0, 1e-6);
  // L = 1: both levels weigh 1/2; level 0 holds half the mass.
  EXPECT_FLOAT_EQ(p[2], 0.25f);
  // Level 1, cell (x=1, y=1) holds descriptor 3 (word 2) with weight 1/2 / 4.
  EXPECT_FLOAT_EQ(p[3 + 3 * 3 + 2], 0.125f);
  EXPECT_THROW(BowEncoder(v, Pyramid(-1)), Error);
}

TEST(Features_Cache, DetectsFlippedBitTruncationAndKeyMismatch) {
  TempDir dir;
  const std::string p = (dir / "m.bin").string();
  Matrix m = Matrix::Random(20, 7);
  SaveMatrixCache(p, "key-a", m);
  std::string why;
  auto ok = LoadMatrixCache(p, "key-a", &why);
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, m);
  EXPECT_FALSE(LoadMatrixCache(p, "key-b", &why));
  EXPECT_NE(why.find("key mismatch"), std::string::npos) << why;
  auto bytes = ReadFileBytes(p);
  auto flipped = bytes;
  flipped[60] ^= 0x01;
  fixtures::WriteBytes(p, flipped);
  EXPECT_FALSE(LoadMatrixCache(p, "key-a", &why));
  EXPECT_NE(why.find("checksum"), std::string::npos) << why;
  bytes.resize(bytes.size() - 30);
  fixtures::WriteBytes(p, bytes);
  EXPECT_FALSE(LoadMatrixCache(p, "key-a", &why));
  EXPECT_FALSE(LoadMatrixCache((dir / "none.bin").string(), "key-a", &why));
  EXPECT_EQ(why, "missing");
}

// GIST on generated sinusoidal gratings: the strongest of the 32 filters is
// the one at the grating's scale and orientation (LMgist's filter layout:
// scale f0 = 0.3 / 1.85^i cycles per pixel, orientation j responds to
// gratings at angle -pi j / 8 modulo pi).
TEST(Features_Gist, GratingsPeakAtTheirScaleAndOrientation) {
  const GistOptions o;
  const Gist gist(o);
  ASSERT_EQ(gist.dim(), 512);
  ASSERT_EQ(gist.filters(), 32);
  const double pi = std::acos(-1.0);
  for (int scale : {0, 1, 2}) {
    const double f = 0.3 / std::pow(1.85, scale);  // cycles per pixel at 256 x 256
    for (int a = 0; a < 8; ++a) {
      const double phi = pi / 8 * a;
      cv::Mat img(256, 256, CV_8U);
      for (int y = 0; y < 256; ++y) {
        for (int x = 0; x < 256; ++x) {
          img.at<unsigned char>(y, x) = cv::saturate_cast<unsigned char>(
              128 + 100 * std::sin(2 * pi * f * (x * std::cos(phi) + y * std::sin(phi))));
        }
      }
      std::vector<float> g(512);
      gist.Compute(img, g.data());
      int best = 0;
      double best_energy = -1;
      for (int n = 0; n < 32; ++n) {
        double e = 0;
        for (int c = 0; c < 16; ++c) e += g[static_cast<std::size_t>(n * 16 + c)];
        if (e > best_energy) {
          best_energy = e;
          best = n;
        }
      }
      EXPECT_EQ(best / 8, scale) << "grating f " << f << " angle " << a << "pi/8";
      EXPECT_EQ(best % 8, (8 - a) % 8) << "grating f " << f << " angle " << a << "pi/8";
    }
  }
  // A flat image has no energy anywhere; every value is finite.
  std::vector<float> flat(512);
  gist.Compute(cv::Mat(100, 150, CV_8U, cv::Scalar(90)), flat.data());
  for (float v : flat) {
    EXPECT_TRUE(std::isfinite(v));
    EXPECT_LT(v, 1e-3f);
  }
  GistOptions bad;
  bad.orientations = {8, 0};
  EXPECT_MESSAGE(bad.Validate(), "GistOptions.orientations (--gist-orientations) must be in [1, 64] per scale, got 0");
  bad = GistOptions{};
  bad.grid = 0;
  EXPECT_MESSAGE(bad.Validate(), "GistOptions.grid (--gist-grid) must be in [1, image_size], got 0");
}

TEST(Features_Gist, SameOutputForOneAndTwoThreads) {
  std::vector<data::Sample> s;
  for (int i = 0; i < 6; ++i) s.push_back({i % 2, "mem#" + std::to_string(i), fixtures::ClassImage(i % 2, i, 80, 60)});
  const data::Dataset ds({"a", "b"}, s);
  GistOptions o;
  o.image_size = 64;
  o.boundary = 8;
  const Matrix a = ComputeGist(ds, o, 1), b = ComputeGist(ds, o, 2);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.cols(), 512);
  EXPECT_GT(a.row(0).sum(), 0.0f);
}

namespace {
// `ranks` processes, each with a contiguous (uneven) share of `sample`.
std::vector<Vocabulary> ClusterSplit(const VocabularyOptions& o, const Matrix& sample, int ranks) {
  ThreadGroup group(ranks);
  std::vector<Vocabulary> out(static_cast<std::size_t>(ranks));
  std::vector<std::thread> threads;
  std::vector<std::string> errors(static_cast<std::size_t>(ranks));
  for (int r = 0; r < ranks; ++r) {
    threads.emplace_back([&, r] {
      // Shares of 40%, 35%, 25% (3 ranks) or 60/40 (2): deliberately uneven.
      const double cut[4] = {0, ranks == 2 ? 0.6 : 0.4, ranks == 2 ? 1.0 : 0.75, 1.0};
      const auto b = static_cast<Eigen::Index>(cut[r] * static_cast<double>(sample.rows()));
      const auto e = static_cast<Eigen::Index>(cut[r + 1] * static_cast<double>(sample.rows()));
      ThreadGroup::Member me(&group, r);
      try {
        out[static_cast<std::size_t>(r)] = VocabularyBuilder(o, 1).Cluster(Matrix(sample.middleRows(b, e - b)), me);
      } catch (const std::exception& ex) {
        errors[static_cast<std::size_t>(r)] = ex.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& e : errors) EXPECT_EQ(e, "");
  return out;
}
}  // namespace

// k-means split across processes (MPI ranks) sums exact integers on byte
// samples: the vocabulary is bit-identical to one process's, for 2 and 3
// ranks, also when clusters empty out and take the farthest points.
TEST(Features_Vocabulary, SplitAcrossProcessesIsBitIdentical) {
  Rng r(31);
  Matrix spread(3000, 128), dup(600, 128);
  for (Eigen::Index i = 0; i < spread.rows(); ++i) {
    const int c = static_cast<int>(i % 12);
    for (int d = 0; d < 128; ++d)
      spread(i, d) = std::round(static_cast<float>((d % 12 == c ? 120 : 10) + r.Uniform() * 80));
  }
  // 25 distinct points, 40 words: duplicate centres, so clusters empty out.
  for (Eigen::Index i = 0; i < dup.rows(); ++i) {
    Rng p(static_cast<std::uint64_t>(i % 25));
    for (int d = 0; d < 128; ++d) dup(i, d) = static_cast<float>(p.Below(256));
  }
  for (const auto& [sample, words] : {std::pair<const Matrix*, int>{&spread, 30}, {&dup, 40}}) {
    VocabularyOptions o;
    o.size = words;
    o.seed = 9;
    const Vocabulary one = VocabularyBuilder(o, 1).Cluster(*sample);
    EXPECT_GE(one.iterations(), 2);
    for (int ranks : {2, 3}) {
      const auto split = ClusterSplit(o, *sample, ranks);
      for (int q = 0; q < ranks; ++q) {
        const Vocabulary& v = split[static_cast<std::size_t>(q)];
        EXPECT_EQ(v.centers(), one.centers()) << ranks << " ranks, rank " << q << ", " << words << " words";
        EXPECT_EQ(v.energy(), one.energy()) << ranks << " ranks, rank " << q;
        EXPECT_EQ(v.iterations(), one.iterations()) << ranks << " ranks, rank " << q;
      }
    }
  }
  // Only the gemm algorithm runs split.
  VocabularyOptions elkan;
  elkan.size = 5;
  elkan.algorithm = KmeansAlgorithm::kElkan;
  ThreadGroup g(2);
  std::string e0, e1;
  std::thread t0([&] {
    e0 = fixtures::ErrorOf(
        [&] { VocabularyBuilder(elkan, 1).Cluster(Matrix(spread.topRows(100)), ThreadGroup::Member(&g, 0)); });
  });
  std::thread t1([&] {
    e1 = fixtures::ErrorOf(
        [&] { VocabularyBuilder(elkan, 1).Cluster(Matrix(spread.middleRows(100, 100)), ThreadGroup::Member(&g, 1)); });
  });
  t0.join();
  t1.join();
  EXPECT_NE(e0.find("must be gemm when the sample is split across processes, got 'elkan'"), std::string::npos) << e0;
}

// ------------------------------------------------------------ GMM EM

#include "scenelab/features/fisher.h"

extern "C" {
#include <vl/gmm.h>
#include <vl/random.h>
}

namespace {
// 6 Gaussian blobs in 8 dimensions with different spreads and sizes.
Matrix Blobs8(std::uint64_t seed) {
  Rng r(seed);
  Matrix x(9000, 8);  // 5 blocks of the EM's 2048 rows
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    const int c = static_cast<int>(r.Below(6));
    for (int d = 0; d < 8; ++d) {
      const double u = r.Uniform() + r.Uniform() + r.Uniform() - 1.5;  // roughly normal
      x(i, d) = static_cast<float>((d == c ? 6.0 : 0.0) + (d == (c + 3) % 8 ? -4.0 : 0.0) + (1 + 0.3 * c) * u);
    }
  }
  return x;
}

std::vector<GaussianMixture> FitSplit(const Matrix& x, const GmmOptions& o, int ranks) {
  ThreadGroup group(ranks);
  std::vector<GaussianMixture> out(static_cast<std::size_t>(ranks));
  std::vector<std::string> errors(static_cast<std::size_t>(ranks));
  std::vector<std::thread> threads;
  for (int r = 0; r < ranks; ++r) {
    threads.emplace_back([&, r] {
      ThreadGroup::Member me(&group, r);
      try {
        out[static_cast<std::size_t>(r)] = GaussianMixture::Fit(x, o, me, 1);
      } catch (const std::exception& e) {
        errors[static_cast<std::size_t>(r)] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& e : errors) EXPECT_EQ(e, "");
  return out;
}

double MaxRelative(const Matrix& a, const Matrix& b) {
  return ((a - b).array().abs() / (b.array().abs() + 1e-3f)).maxCoeff();
}
}  // namespace

// The native EM runs vl_gmm's steps from vl_gmm's own start: the same
// mixture as vl_gmm_cluster, to float rounding.
TEST(Features_GaussianMixture, NativeEmIsVlGmm) {
  const Matrix x = Blobs8(5);
  GmmOptions o;
  o.components = 8;
  o.max_iterations = 25;
  o.seed = 3;
  const GaussianMixture ours = GaussianMixture::Fit(x, o);
  VlGMM* g = vl_gmm_new(VL_TYPE_FLOAT, 8, 8);
  vl_gmm_set_max_num_iterations(g, 25);
  vl_gmm_set_initialization(g, VlGMMKMeans);
  vl_gmm_set_verbosity(g, 0);
  vl_rand_seed(vl_get_rand(), 3);
  const double ll = vl_gmm_cluster(g, x.data(), static_cast<vl_size>(x.rows()));
  const Matrix means = Eigen::Map<const Matrix>(static_cast<const float*>(vl_gmm_get_means(g)), 8, 8);
  const Matrix covs = Eigen::Map<const Matrix>(static_cast<const float*>(vl_gmm_get_covariances(g)), 8, 8);
  const Eigen::RowVectorXf priors =
      Eigen::Map<const Eigen::RowVectorXf>(static_cast<const float*>(vl_gmm_get_priors(g)), 8);
  vl_gmm_delete(g);
  EXPECT_NEAR(ours.log_likelihood(), ll, 1e-5 * std::fabs(ll));
  EXPECT_LT(MaxRelative(ours.means(), means), 1e-3);
  EXPECT_LT(MaxRelative(ours.covariances(), covs), 1e-3);
  EXPECT_LT((ours.priors() - priors).cwiseAbs().maxCoeff(), 1e-4);
}

// Split over 2 and 3 processes in whole blocks, each row's E-step is the
// one-process product and only the order of the double moment sums
// differs: the mixture equals the one-process fit within 1e-6 relative (the
// stated tolerance; here its floats come out identical). One process gives
// the same bits for 1 and 2 threads.
TEST(Features_GaussianMixture, SplitEmEqualsOneProcessWithinRounding) {
  const Matrix x = Blobs8(7);
  GmmOptions o;
  o.components = 12;  // more modes than blobs: some thin out
  o.max_iterations = 30;
  o.seed = 1;
  const GaussianMixture one = GaussianMixture::Fit(x, o, SingleProcess(), 1);
  const GaussianMixture two_threads = GaussianMixture::Fit(x, o, SingleProcess(), 2);
  EXPECT_EQ(one.means(), two_threads.means());
  EXPECT_EQ(one.covariances(), two_threads.covariances());
  EXPECT_EQ(one.log_likelihood(), two_threads.log_likelihood());
  for (int ranks : {2, 3}) {
    const auto split = FitSplit(x, o, ranks);
    for (int q = 0; q < ranks; ++q) {
      const GaussianMixture& m = split[static_cast<std::size_t>(q)];
      EXPECT_LT(MaxRelative(m.means(), one.means()), 1e-6) << ranks << " ranks, rank " << q;
      EXPECT_LT(MaxRelative(m.covariances(), one.covariances()), 1e-6) << ranks << " ranks, rank " << q;
      EXPECT_LT((m.priors() - one.priors()).cwiseAbs().maxCoeff(), 1e-7) << ranks << " ranks, rank " << q;
      EXPECT_NEAR(m.log_likelihood(), one.log_likelihood(), 1e-12 * std::fabs(one.log_likelihood()));
      // Every process ends with the same mixture.
      EXPECT_EQ(m.means(), split[0].means());
      EXPECT_EQ(m.priors(), split[0].priors());
    }
  }
}

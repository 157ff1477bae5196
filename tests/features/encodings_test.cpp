// Kernel maps, explicit spatial grids, kd-tree quantiser, PCA, Fisher
// vectors and VLAD on generated data.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <set>

#include "scenelab/data/cpu.h"
#include "scenelab/data/tiles.h"

#include "byte_words.h"
#include "expect_error.h"
#include "lloyd.h"

#include <cmath>

#include <opencv2/core.hpp>

#include "scenelab/data/error.h"
#include "scenelab/data/rng.h"
#include "scenelab/features/bow.h"
#include "scenelab/features/collective.h"
#include "scenelab/features/dense_sift.h"
#include "scenelab/features/fisher.h"
#include "scenelab/features/homkermap.h"
#include "scenelab/features/vocabulary.h"

using namespace scenelab;
using namespace scenelab::features;

namespace {
Matrix RandomHistograms(int rows, int cols, std::uint64_t seed) {
  Matrix m(rows, cols);
  Rng r(seed);
  for (int i = 0; i < rows; ++i) {
    for (int j = 0; j < cols; ++j) m(i, j) = static_cast<float>(r.Uniform() < 0.2 ? 0.0 : r.Uniform());
    m.row(i) /= m.row(i).sum();
  }
  return m;
}

// The gamma-homogeneous chi2 kernel: sum 2 (xy)^((gamma+1)/2) / (x + y).
double Chi2Kernel(const Eigen::RowVectorXf& x, const Eigen::RowVectorXf& y, double gamma) {
  double k = 0;
  for (Eigen::Index i = 0; i < x.size(); ++i) {
    if (x[i] + y[i] > 0) k += 2 * std::pow(double(x[i]) * y[i], (gamma + 1) / 2) / (double(x[i]) + y[i]);
  }
  return k;
}

ByteMatrix RandomDescriptors(int n, int dim, std::uint64_t seed) {
  ByteMatrix d(n, dim);
  Rng r(seed);
  for (int i = 0; i < n; ++i) {
    // Three well-separated clusters, so a small mixture has structure to find.
    const int c = static_cast<int>(r.Below(3));
    for (int j = 0; j < dim; ++j) {
      const int base = (j % 3 == c) ? 180 : 40;
      d(i, j) = static_cast<std::uint8_t>(base + static_cast<int>(r.Below(40)));
    }
  }
  return d;
}

SiftFeatures GridFeatures(const ByteMatrix& d, int width, int height, std::uint64_t seed) {
  SiftFeatures f;
  f.descriptors = d;
  f.frames.resize(d.rows(), 3);
  Rng r(seed);
  for (Eigen::Index i = 0; i < d.rows(); ++i) {
    f.frames(i, 0) = static_cast<float>(r.Below(static_cast<std::uint64_t>(width)));
    f.frames(i, 1) = static_cast<float>(r.Below(static_cast<std::uint64_t>(height)));
    f.frames(i, 2) = 8;
  }
  f.width = width;
  f.height = height;
  return f;
}
}  // namespace

TEST(Features_HomogeneousKernelMap, InnerProductsApproximateChi2) {
  const Matrix h = RandomHistograms(30, 40, 1);
  for (double gamma : {1.0, 0.5}) {
    HomKerMapOptions o;
    o.gamma = gamma;
    o.order = 3;
    const HomogeneousKernelMap map(o);
    EXPECT_EQ(map.expansion(), 7);
    const Matrix psi = map.Apply(h, 2);
    ASSERT_EQ(psi.cols(), 40 * 7);
    double worst = 0;
    for (int a = 0; a < h.rows(); ++a) {
      for (int b = 0; b < h.rows(); ++b) {
        const double k = Chi2Kernel(h.row(a), h.row(b), gamma);
        const double approx = psi.row(a).dot(psi.row(b));
        worst = std::max(worst, std::abs(approx - k) / k);
      }
    }
    // Vedaldi & Zisserman 2012: order 3 is within about 1% of the kernel.
    EXPECT_LT(worst, 0.01) << "gamma " << gamma;
  }
  // Order 1 (the PHOW recipe) is coarser but still close.
  HomKerMapOptions o1;
  const HomogeneousKernelMap map1(o1);
  const Matrix psi1 = map1.Apply(h);
  double worst = 0;
  for (int a = 0; a < h.rows(); ++a) {
    for (int b = 0; b < h.rows(); ++b) {
      const double k = Chi2Kernel(h.row(a), h.row(b), 0.5);
      worst = std::max(worst, std::abs(psi1.row(a).dot(psi1.row(b)) - k) / k);
    }
  }
  EXPECT_LT(worst, 0.05);
  HomKerMapOptions bad;
  bad.gamma = 0;
  EXPECT_THROW(HomogeneousKernelMap{bad}, Error);
  EXPECT_THROW(ParseHomogeneousKernel("rbf"), Error);
  EXPECT_MESSAGE(HomogeneousKernelMap{bad}, "--homkermap-gamma");
  EXPECT_MESSAGE(ParseHomogeneousKernel("rbf"), "'rbf'");
}

TEST(Features_BowEncoder, ExplicitGridsNormaliseEachGridThenTheWhole) {
  const ByteMatrix d = RandomDescriptors(200, 16, 2);
  Matrix centers(5, 16);
  for (int k = 0; k < 5; ++k) centers.row(k) = d.row(k).cast<float>();
  const Vocabulary v(centers, VocabularyOptions{}, 0);
  BowOptions o;
  o.grids = {2, 4};
  const BowEncoder enc(v, o);
  EXPECT_EQ(enc.dim(), 5 * (4 + 16));
  const SiftFeatures f = GridFeatures(d, 64, 48, 3);
  std::vector<float> h(static_cast<std::size_t>(enc.dim()));
  enc.Encode(f, h.data());
  double g2 = 0, g4 = 0;
  for (int i = 0; i < 5 * 4; ++i) g2 += h[static_cast<std::size_t>(i)];
  for (int i = 5 * 4; i < enc.dim(); ++i) g4 += h[static_cast<std::size_t>(i)];
  EXPECT_NEAR(g2, 0.5, 1e-5);
  EXPECT_NEAR(g4, 0.5, 1e-5);
  // A frame at the far corner lands in the last cell of each grid.
  SiftFeatures one = f;
  one.descriptors = d.topRows(1);
  one.frames = Matrix(1, 3);
  one.frames << 63, 47, 8;
  enc.Encode(one, h.data());
  const int w = v.Assign(one.descriptors)[0];
  EXPECT_FLOAT_EQ(h[static_cast<std::size_t>(3 * 5 + w)], 0.5f);
  EXPECT_FLOAT_EQ(h[static_cast<std::size_t>(5 * 4 + 15 * 5 + w)], 0.5f);
  BowOptions bad;
  bad.grids = {0};
  EXPECT_THROW(bad.Validate(), Error);
  EXPECT_MESSAGE(bad.Validate(), "--grids");
}

// One spatial-cell convention for every encoder, the PHOW recipe's:
// vl_binsearch of the 1-based centre over linspace(1, extent, cells + 1).
TEST(Features_SpatialCell, FollowsThePhowRecipeInEveryEncoder) {
  // The recipe, written out: the last edge <= x + 1, the final edge inclusive.
  auto recipe = [](float x, int extent, int cells) {
    int bin = 0;
    for (int j = 1; j < cells; ++j) {
      const double edge = 1.0 + static_cast<double>(j) * (extent - 1) / cells;
      if (x + 1.0 >= edge) bin = j;
    }
    return bin;
  };
  for (int extent : {11, 48, 64, 101, 256}) {
    for (int cells : {1, 2, 3, 4, 8}) {
      for (float x = 0; x <= static_cast<float>(extent - 1); x += 0.5f) {
        EXPECT_EQ(SpatialCell(x, extent, cells), recipe(x, extent, cells)) << x << " " << extent << " " << cells;
      }
    }
  }
  EXPECT_EQ(SpatialCell(5.0f, 11, 2), 1);  // the middle edge starts the second cell
  EXPECT_EQ(SpatialCell(4.9f, 11, 2), 0);
  EXPECT_EQ(SpatialCell(10.0f, 11, 2), 1);  // the last pixel, in the last cell
  // The pyramid, the grids and the Fisher/VLAD cells place a frame alike.
  SpatialGrids grids;
  grids.sides = {1, 2, 4};
  for (float x : {0.0f, 31.0f, 31.5f, 32.0f, 63.0f}) {
    for (float y : {0.0f, 23.0f, 23.5f, 47.0f}) {
      EXPECT_EQ(grids.CellOf(2, x, y, 64, 48), 1 + 4 + SpatialCell(y, 48, 4) * 4 + SpatialCell(x, 64, 4));
    }
  }
}

TEST(Features_KdTreeQuantizer, ExactWhenAllowedToCompareEveryWordAndCloseOtherwise) {
  const ByteMatrix d = RandomDescriptors(2000, 32, 4);
  VocabularyOptions vo;
  vo.size = 40;
  vo.descriptors_per_image = 2000;
  vo.max_iterations = 10;
  const Vocabulary v = VocabularyBuilder(vo, 1).Cluster(Matrix(d.cast<float>()));
  const auto exact = v.Assign(d);
  KdTreeQuantizerOptions all;
  all.max_comparisons = 0;  // unbounded: best-bin-first visits everything it must
  EXPECT_EQ(KdTreeQuantizer(v, all).Assign(d), exact);
  KdTreeQuantizerOptions some;
  some.max_comparisons = 10;
  const auto approx = KdTreeQuantizer(v, some).Assign(d);
  std::size_t same = 0;
  for (std::size_t i = 0; i < exact.size(); ++i) same += approx[i] == exact[i];
  EXPECT_GT(same, exact.size() / 2);
}

TEST(Features_VocabularyBuilder, SampleImagesIsASeededSubset) {
  VocabularyOptions o;
  o.images = 7;
  o.seed = 5;
  const auto a = VocabularyBuilder(o).SampleImages(50);
  ASSERT_EQ(a.size(), 7u);
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
  EXPECT_EQ(std::adjacent_find(a.begin(), a.end()), a.end());
  EXPECT_EQ(a, VocabularyBuilder(o).SampleImages(50));
  o.seed = 6;
  EXPECT_NE(a, VocabularyBuilder(o).SampleImages(50));
  o.images = 0;
  EXPECT_EQ(VocabularyBuilder(o).SampleImages(4), (std::vector<std::size_t>{0, 1, 2, 3}));
}

TEST(Features_VocabularyBuilder, SampleOfPlacesEachImagesDrawInOrder) {
  // Images of 300, 40 (fewer than descriptors_per_image: all of them) and 0
  // descriptors, sampled as training images 9, 2 and 4.
  VocabularyOptions o;
  o.descriptors_per_image = 100;
  o.seed = 3;
  const VocabularyBuilder b(o);
  std::vector<SiftFeatures> f(3);
  f[0].descriptors = RandomDescriptors(300, 128, 1);
  f[1].descriptors = RandomDescriptors(40, 128, 2);
  f[2].descriptors = ByteMatrix(0, 128);
  const std::vector<const SiftFeatures*> images = {&f[0], &f[1], &f[2]};
  const std::vector<std::size_t> numbers = {9, 2, 4};
  const Matrix s = b.SampleOf(images, numbers);
  ASSERT_EQ(s.rows(), 140);
  ASSERT_EQ(s.cols(), 128);
  EXPECT_EQ(b.SampleRows(300), 100);
  EXPECT_EQ(b.SampleRows(40), 40);
  EXPECT_EQ(s, VocabularyBuilder::Stack({b.SampleImage(f[0], 9), b.SampleImage(f[1], 2), b.SampleImage(f[2], 4)}));
  // Each image's rows are distinct descriptors of that image, drawn by its
  // own number: another number draws another subset.
  std::set<std::vector<float>> rows;
  for (Eigen::Index i = 0; i < 100; ++i) {
    bool found = false;
    for (Eigen::Index j = 0; j < 300 && !found; ++j) found = s.row(i) == f[0].descriptors.row(j).cast<float>();
    EXPECT_TRUE(found) << "row " << i;
    rows.insert(std::vector<float>(s.row(i).data(), s.row(i).data() + 128));
  }
  EXPECT_EQ(rows.size(), 100u);
  EXPECT_EQ(s.middleRows(100, 40), f[1].descriptors.cast<float>());
  EXPECT_NE(s.topRows(100), b.SampleImage(f[0], 10));
  EXPECT_MESSAGE(b.SampleOf(images, {9, 2}), "3 images but 2 image numbers");
  SiftFeatures wide;
  wide.descriptors = RandomDescriptors(10, 132, 4);
  EXPECT_MESSAGE(b.SampleOf({&f[0], &wide}, {9, 5}),
                 "training image 5 has 132-dimensional descriptors, the images before it 128-dimensional");
  // The byte sample holds the same rows.
  const ByteMatrix bytes = b.SampleBytesOf(images, numbers);
  ASSERT_EQ(bytes.rows(), 140);
  EXPECT_EQ(Matrix(bytes.cast<float>()), s);
  EXPECT_MESSAGE(b.SampleBytesOf(images, {9}), "3 images but 1 image numbers");
  EXPECT_MESSAGE(b.SampleBytesOf({&f[0], &wide}, {9, 5}), "training image 5 has 132-dimensional descriptors");
}

// Cluster of a byte sample skips the float copy on the gemm k-means and
// converts for the others: either way the vocabulary of the rows as floats.
TEST(Features_VocabularyBuilder, ByteSampleGivesTheFloatSamplesVocabulary) {
  const ByteMatrix sample = RandomDescriptors(3000, 128, 8);
  for (const KmeansAlgorithm algorithm : {KmeansAlgorithm::kGemm, KmeansAlgorithm::kElkan}) {
    VocabularyOptions o;
    o.size = 24;
    o.seed = 11;
    o.algorithm = algorithm;
    const Vocabulary from_bytes = VocabularyBuilder(o, 2).Cluster(sample);
    const Vocabulary from_floats = VocabularyBuilder(o, 2).Cluster(Matrix(sample.cast<float>()));
    const std::string what = KmeansAlgorithmNames().Show(algorithm);
    ASSERT_EQ(from_bytes.centers().rows(), 24) << what;
    EXPECT_EQ(0, std::memcmp(from_bytes.centers().data(), from_floats.centers().data(),
                             sizeof(float) * static_cast<std::size_t>(from_floats.centers().size())))
        << what;
    EXPECT_EQ(from_bytes.energy(), from_floats.energy()) << what;
    EXPECT_EQ(from_bytes.iterations(), from_floats.iterations()) << what;
    if (algorithm == KmeansAlgorithm::kGemm) {
      EXPECT_GT(from_bytes.iterations(), 1) << "gemm counts its iterations";
    }
    // Another seed, another vocabulary: the seed reaches the byte path.
    o.seed = 12;
    EXPECT_NE(VocabularyBuilder(o, 2).Cluster(sample).centers(), from_bytes.centers()) << what;
  }
  VocabularyOptions big;
  big.size = 50;
  EXPECT_MESSAGE(VocabularyBuilder(big).Cluster(ByteMatrix(RandomDescriptors(20, 128, 9))),
                 "vocabulary of 50 words needs at least as many descriptors, got 20");
}

TEST(Features_Pca, FindsTheDirectionsOfLargestVarianceInOrder) {
  // Variance 9 along x, 4 along y, 0.01 along z.
  Matrix x(3000, 3);
  Rng r(8);
  for (int i = 0; i < x.rows(); ++i) {
    x(i, 0) = static_cast<float>(3 * (r.Uniform() - 0.5) * std::sqrt(12.0));
    x(i, 1) = static_cast<float>(2 * (r.Uniform() - 0.5) * std::sqrt(12.0));
    x(i, 2) = static_cast<float>(0.1 * (r.Uniform() - 0.5) * std::sqrt(12.0)) + 5;
  }
  const Pca p = Pca::Fit(x, 2);
  EXPECT_EQ(p.output_dim(), 2);
  EXPECT_NEAR(std::abs(p.basis()(0, 0)), 1.0, 1e-2);
  EXPECT_NEAR(std::abs(p.basis()(1, 1)), 1.0, 1e-2);
  const Matrix y = p.Project(x);
  EXPECT_NEAR(y.col(0).mean(), 0.0, 1e-3);
  const double v0 = y.col(0).squaredNorm() / y.rows(), v1 = y.col(1).squaredNorm() / y.rows();
  EXPECT_NEAR(v0, 9.0, 0.6);
  EXPECT_NEAR(v1, 4.0, 0.3);
  // Rebuilt from its parts (as an encoder's model file stores it).
  const Pca back(p.mean(), p.basis());
  EXPECT_EQ(back.basis(), p.basis());
  EXPECT_EQ(back.Project(x), y);
  EXPECT_THROW(Pca::Fit(x, 4), Error);
  EXPECT_MESSAGE(Pca::Fit(x, 4), "(--pca) must be in [1, 3], got 4");
}

TEST(Features_FisherEncoder, DimensionsAndImprovedNormalisation) {
  const ByteMatrix d = RandomDescriptors(3000, 24, 9);
  const Matrix sample = d.cast<float>();
  const Pca pca = Pca::Fit(sample, 8);
  GmmOptions go;
  go.components = 4;
  go.max_iterations = 20;
  const GaussianMixture gmm = GaussianMixture::Fit(pca.Project(sample), go);
  EXPECT_EQ(gmm.components(), 4);
  EXPECT_EQ(gmm.dim(), 8);
  EXPECT_NEAR(gmm.priors().sum(), 1.0, 1e-4);
  EXPECT_TRUE((gmm.covariances().array() > 0).all());
  const GaussianMixture back(gmm.means(), gmm.covariances(), gmm.priors());
  EXPECT_EQ(back.means(), gmm.means());
  EXPECT_EQ(back.priors(), gmm.priors());
  Matrix bad_cov = gmm.covariances();
  bad_cov(1, 2) = 0;
  EXPECT_MESSAGE(GaussianMixture(gmm.means(), bad_cov, gmm.priors()), "non-positive covariance");
  EXPECT_MESSAGE(GaussianMixture(gmm.means(), gmm.covariances(), gmm.priors().head(3)), "do not fit together");

  const SiftFeatures f = GridFeatures(d.topRows(500), 100, 80, 10);
  FisherOptions fo;
  const FisherEncoder global(pca, gmm, fo);
  EXPECT_EQ(global.dim(), 2 * 8 * 4);
  std::vector<float> v(static_cast<std::size_t>(global.dim()));
  global.Encode(f, v.data());
  EXPECT_NEAR(Eigen::Map<Eigen::VectorXf>(v.data(), global.dim()).norm(), 1.0, 1e-4);
  // Signed square root: values are not all of one sign.
  EXPECT_LT(*std::min_element(v.begin(), v.end()), 0);
  EXPECT_GT(*std::max_element(v.begin(), v.end()), 0);

  // The GEMM encoder computes vl_fisher_encode's vector.
  std::vector<float> ref(v.size());
  global.EncodeReference(f, ref.data());
  for (std::size_t i = 0; i < v.size(); ++i) EXPECT_NEAR(v[i], ref[i], 2e-4) << i;

  fo.grids.sides = {1, 2};
  const FisherEncoder spatial(pca, gmm, fo);
  EXPECT_EQ(spatial.dim(), 5 * 2 * 8 * 4);
  std::vector<float> s(static_cast<std::size_t>(spatial.dim()));
  spatial.Encode(f, s.data());
  EXPECT_NEAR(Eigen::Map<Eigen::VectorXf>(s.data(), spatial.dim()).norm(), 1.0, 1e-4);
  // The first cell is the global vector, scaled by 1/sqrt(5).
  for (int i = 0; i < global.dim(); ++i)
    EXPECT_NEAR(s[static_cast<std::size_t>(i)], v[static_cast<std::size_t>(i)] / std::sqrt(5.0f), 1e-5);
  std::vector<float> sref(s.size());
  spatial.EncodeReference(f, sref.data());
  for (std::size_t i = 0; i < s.size(); ++i) EXPECT_NEAR(s[i], sref[i], 2e-4) << i;

  const Pca wrong = Pca::Fit(sample, 6);
  EXPECT_THROW(FisherEncoder(wrong, gmm, FisherOptions{}), Error);
  EXPECT_MESSAGE(FisherEncoder(wrong, gmm, FisherOptions{}), "the PCA gives 6 dimensions, the mixture has 8");
}

TEST(Features_VladEncoder, DimensionsAndIntraNormalisation) {
  const ByteMatrix d = RandomDescriptors(2000, 24, 11);
  const Matrix sample = d.cast<float>();
  const Pca pca = Pca::Fit(sample, 10);
  VocabularyOptions vo;
  vo.size = 6;
  vo.max_iterations = 20;
  const Vocabulary words = VocabularyBuilder(vo, 1).Cluster(pca.Project(sample));
  const VladEncoder enc(pca, words, VladOptions{});
  EXPECT_EQ(enc.dim(), 10 * 6);
  const SiftFeatures f = GridFeatures(d.topRows(300), 50, 50, 12);
  std::vector<float> v(static_cast<std::size_t>(enc.dim()));
  enc.Encode(f, v.data());
  const Eigen::Map<Eigen::VectorXf> vv(v.data(), enc.dim());
  EXPECT_NEAR(vv.norm(), 1.0, 1e-4);
  // Intra-normalised: every non-empty word's block has the same norm,
  // 1/sqrt(non-empty words) after the global L2; empty words' blocks are 0.
  const auto words_of = words.Assign(pca.Project(f.descriptors));
  int non_empty = 0;
  for (int k = 0; k < 6; ++k) non_empty += std::find(words_of.begin(), words_of.end(), k) != words_of.end();
  ASSERT_GE(non_empty, 2) << "the test needs several occupied words";
  for (int k = 0; k < 6; ++k) {
    const float n = vv.segment(k * 10, 10).norm();
    if (std::find(words_of.begin(), words_of.end(), k) == words_of.end()) {
      EXPECT_EQ(n, 0.0f) << "word " << k;
    } else {
      EXPECT_NEAR(n, 1.0 / std::sqrt(static_cast<double>(non_empty)), 1e-4) << "word " << k;
    }
  }
}

TEST(Features_DenseSift, NativeImplementationMatchesVlfeat) {
  // Smooth structure plus noise plus a flat band (exact zeros must stay zero).
  cv::Mat im(97, 131, CV_8U);
  Rng r(21);
  for (int y = 0; y < im.rows; ++y) {
    for (int x = 0; x < im.cols; ++x) {
      const double v =
          y > 80 ? 90 : 128 + 60 * std::sin(x * 0.21) * std::cos(y * 0.13) + static_cast<double>(r.Below(30));
      im.at<unsigned char>(y, x) = cv::saturate_cast<unsigned char>(v);
    }
  }
  for (int cfg = 0; cfg < 3; ++cfg) {
    DenseSiftOptions o = cfg == 0 ? DenseSiftOptions{} : DenseSiftOptions::Phow();
    if (cfg == 2) o.root_sift = true;
    DenseSiftOptions v = o;
    v.implementation = SiftImplementation::kVlfeat;
    const SiftFeatures a = DenseSift(o).Compute(im), b = DenseSift(v).Compute(im);
    ASSERT_EQ(a.descriptors.rows(), b.descriptors.rows());
    ASSERT_EQ(a.descriptors.rows(), static_cast<Eigen::Index>(DenseSiftFrameCount(im.cols, im.rows, o)));
    EXPECT_EQ(a.frames, b.frames) << cfg;
    long equal = 0, worst = 0;
    for (Eigen::Index i = 0; i < a.descriptors.rows(); ++i) {
      for (int j = 0; j < 128; ++j) {
        const long d = std::abs(long(a.descriptors(i, j)) - long(b.descriptors(i, j)));
        equal += d == 0;
        worst = std::max(worst, d);
      }
    }
    // Float rounding may move a byte by one, never more.
    EXPECT_LE(worst, 1) << cfg;
    EXPECT_GT(static_cast<double>(equal) / (a.descriptors.size()), 0.999) << cfg;
  }
  EXPECT_MESSAGE(SiftImplementationNames().Parse("opencv"), "unknown value 'opencv' (expected native or vlfeat)");
}

TEST(Features_Vocabulary, ByteAssignmentEqualsTheFloatGemm) {
  // Includes all-zero rows (vl_phow's low-contrast descriptors) and words
  // placed so that many descriptors sit near a tie.
  ByteMatrix d = RandomDescriptors(3001, 128, 31);
  for (Eigen::Index i = 0; i < d.rows(); i += 7) d.row(i).setZero();
  VocabularyOptions vo;
  vo.size = 300;
  vo.max_iterations = 5;
  Matrix sample = d.cast<float>();
  const Vocabulary v = VocabularyBuilder(vo, 1).Cluster(sample);
  // Which path ran: an integer one exactly when VNNI is active (the CPU has
  // it and SCENELAB_ISA does not cap it), on tiles at the amx level or on
  // their model when asked; ctest runs this once per level.
  const char* want = ActiveIsa() < Isa::kVnni   ? "float"
                     : tiles::ModelRequested()  ? "amx-model"
                     : ActiveIsa() >= Isa::kAmx ? "amx"
                                                : "vnni";
  EXPECT_STREQ(v.byte_assignment_path(), want);
  if (ActiveIsa() < Isa::kVnni) {
    GTEST_SKIP() << "the 8-bit VNNI path is not active (" << ToString(ActiveIsa()) << "; CPU " << ToString(CpuIsa())
                 << "): the float path was checked by the other tests";
  }
  EXPECT_EQ(v.Assign(d), v.AssignFloat(d));
  // Words duplicated exactly: ties go to the lower index on both paths.
  // (Shifted off the integer grid: k-means++ seeds are data points, and two
  // different integer-valued words can tie exactly, which the float GEMM
  // breaks by rounding.)
  Matrix dup(4, 128);
  dup.row(0) = v.centers().row(3).array() + 0.3f;
  dup.row(1) = dup.row(0);
  dup.row(2) = v.centers().row(5).array() + 0.3f;
  dup.row(3) = dup.row(2);
  const Vocabulary t(dup, vo, 0);
  const auto a = t.Assign(d), b = t.AssignFloat(d);
  EXPECT_EQ(a, b);
  for (int w : a) EXPECT_TRUE(w == 0 || w == 2);
}

// Families of words around `bases` random bases (coordinates lo + [0,
// range)): member m of a family is its base moved along a random +-1/2
// direction by offsets[m] per coordinate. Rows: bytes within +-spread of a
// random base, clamped to [0, 255].
struct WordFamilies {
  Matrix words;
  ByteMatrix rows;
};
WordFamilies MakeWordFamilies(Rng& r, int dim, int bases, int lo, int range, const std::vector<float>& offsets,
                              int rows, int spread) {
  Matrix base(bases, dim);
  for (Eigen::Index i = 0; i < base.size(); ++i) {
    base.data()[i] = static_cast<float>(lo) + static_cast<float>(r.Below(static_cast<std::uint64_t>(range)));
  }
  WordFamilies f{Matrix(bases * static_cast<Eigen::Index>(offsets.size()), dim), ByteMatrix(rows, dim)};
  Eigen::Index k = 0;
  for (Eigen::Index b = 0; b < base.rows(); ++b) {
    for (float t : offsets) {
      for (int j = 0; j < dim; ++j)
        f.words(k, j) = base(b, j) + t * (static_cast<float>(r.Below(1001)) / 1000.0f - 0.5f);
      ++k;
    }
  }
  for (Eigen::Index i = 0; i < f.rows.rows(); ++i) {
    const auto b = static_cast<Eigen::Index>(r.Below(static_cast<std::uint64_t>(bases)));
    for (int j = 0; j < dim; ++j) {
      const int v =
          static_cast<int>(base(b, j)) + static_cast<int>(r.Below(2 * static_cast<std::uint64_t>(spread) + 1)) - spread;
      f.rows(i, j) = static_cast<std::uint8_t>(std::clamp(v, 0, 255));
    }
  }
  return f;
}

TEST(Features_Vocabulary, ByteAssignmentRanksWordsTheFirstEstimatesCannotSeparate) {
  if (ActiveIsa() < Isa::kVnni) {
    GTEST_SKIP() << "the 8-bit VNNI path is not active (" << ToString(ActiveIsa()) << "; CPU " << ToString(CpuIsa())
                 << ")";
  }
  // Families of words around 12 bases: each base moved along random +-1/2
  // directions by 0.003 to 5 per coordinate. SIFT-like bytes (rows around the
  // bases, below 80), so that the family members are all within the first
  // 8-bit estimates' window (2 |x|_1, about 10,000 here) of each other: the
  // refinement with the rounding residuals must rank them, leaving only the
  // closest calls to the float rescoring.
  Rng r(11);
  const int dim = 132;  // not a multiple of 64: the residual dots' masked tail
  const std::vector<float> steps = {0.003f, 0.05f, 0.5f, 2.0f, 5.0f};
  std::vector<float> offsets = steps;  // two members per step
  offsets.insert(offsets.end(), steps.begin(), steps.end());
  const WordFamilies fam = MakeWordFamilies(r, dim, 12, 20, 40, offsets, 4000, 20);
  const Matrix& words = fam.words;
  const ByteMatrix& d = fam.rows;
  VocabularyOptions vo;
  vo.size = static_cast<int>(words.rows());
  const Vocabulary v(words, vo, 0);
  ASSERT_STRNE(v.byte_assignment_path(), "float");
  const auto a = v.Assign(d), f = v.AssignFloat(d);
  // Reference: |c|^2 - 2 x.c in double. Where the best word leads the next
  // by more than any float evaluation can err (1 here: values of about 1e5),
  // both paths must find it; closer calls may go either way within that.
  constexpr double kFloatError = 1.0;
  int decided = 0, refined = 0;
  for (Eigen::Index i = 0; i < d.rows(); ++i) {
    std::vector<double> val(static_cast<std::size_t>(words.rows()));
    for (Eigen::Index w = 0; w < words.rows(); ++w) {
      double dot = 0, norm = 0;
      for (int j = 0; j < dim; ++j) {
        dot += static_cast<double>(d(i, j)) * words(w, j);
        norm += static_cast<double>(words(w, j)) * words(w, j);
      }
      val[static_cast<std::size_t>(w)] = norm - 2 * dot;
    }
    std::vector<double> sorted = val;
    std::partial_sort(sorted.begin(), sorted.begin() + 2, sorted.end());
    const auto best = static_cast<int>(std::min_element(val.begin(), val.end()) - val.begin());
    const auto ai = static_cast<std::size_t>(a[static_cast<std::size_t>(i)]);
    if (sorted[1] - sorted[0] > kFloatError) {
      ++decided;
      // Gaps the 8-bit estimates cannot see (they err by up to |x|_1), which
      // the residuals' precision (|x|_1 / 254 plus the float margin) can.
      if (sorted[1] - sorted[0] < 2 * static_cast<double>(d.row(i).cast<int>().sum())) ++refined;
      EXPECT_EQ(a[static_cast<std::size_t>(i)], best) << "row " << i;
      EXPECT_EQ(f[static_cast<std::size_t>(i)], best) << "row " << i;
    } else {
      EXPECT_LE(val[ai] - sorted[0], kFloatError) << "row " << i;
    }
  }
  EXPECT_GT(refined, 1000);
  EXPECT_GT(decided, 3000);
}

TEST(Features_ByteWords, LowerBoundsOnTheOtherWordsHold) {
  if (ActiveIsa() < Isa::kVnni) {
    GTEST_SKIP() << "the 8-bit VNNI path is not active (" << ToString(ActiveIsa()) << "; CPU " << ToString(CpuIsa())
                 << ")";
  }
  // k-means skips a row while its lower bound on the distance to every other
  // word (`others`, squared) stays above its distance to its own: the bound
  // must never exceed the truth. Three regimes: tight clusters far apart,
  // where a row has one candidate and the bound comes from the other
  // estimates; families of words closer than the float margin, all rescored;
  // and families spread wider than the refinement's window but inside the
  // first estimates' one, where the refinement drops words and the bound
  // comes from their refined estimates.
  Rng r(5);
  const int dim = 128;
  for (const float spread : {0.0f, 2.0f, 20.0f}) {
    const int members = spread == 0 ? 1 : spread < 10 ? 6 : 3;
    std::vector<float> offsets;
    offsets.reserve(static_cast<std::size_t>(members));
    for (int m = 0; m < members; ++m) offsets.push_back(static_cast<float>(m) * spread);
    const WordFamilies fam = MakeWordFamilies(r, dim, 16, 30, 170, offsets, 3000, 5);
    const Matrix& words = fam.words;
    const ByteMatrix& x = fam.rows;
    const Eigen::VectorXf norms = words.rowwise().squaredNorm();
    const detail::ByteWords bw(words, norms);
    ASSERT_TRUE(bw.usable());
    std::vector<int> out(static_cast<std::size_t>(x.rows()));
    std::vector<double> others(out.size());
    bw.AssignIndexed(x.data(), nullptr, x.rows(), out.data(), others.data());
    double tightness = 0;
    for (Eigen::Index i = 0; i < x.rows(); ++i) {
      double own = 0, other = std::numeric_limits<double>::infinity();
      for (Eigen::Index w = 0; w < words.rows(); ++w) {
        double d2 = 0;
        for (int j = 0; j < dim; ++j) {
          const double diff = static_cast<double>(x(i, j)) - words(w, j);
          d2 += diff * diff;
        }
        if (w == out[static_cast<std::size_t>(i)]) {
          own = d2;
        } else {
          other = std::min(other, d2);
        }
      }
      ASSERT_LE(own, other + 1.0) << "spread " << spread << ", row " << i << ": not the nearest word";
      ASSERT_LE(others[static_cast<std::size_t>(i)], other) << "spread " << spread << ", row " << i;
      tightness += others[static_cast<std::size_t>(i)] / other;
    }
    // Not vacuous: on average the bound is most of the true distance.
    EXPECT_GT(tightness / static_cast<double>(x.rows()), 0.5) << "spread " << spread;
  }
}

// One Lloyd step from seeds with a duplicate: the duplicate's cluster is
// empty (ties go to the lower index), and the update gives it the row
// farthest from its own centre (ties to the lower row), computed here in
// exact integers. Both entries of the byte path, floats and bytes alone.
TEST(Features_Vocabulary, EmptyClusterTakesTheRowFarthestFromItsCentre) {
  if (ActiveIsa() < Isa::kVnni) {
    GTEST_SKIP() << "the byte path needs VNNI, not active here (" << ToString(ActiveIsa()) << ")";
  }
  const ByteMatrix bytes = RandomDescriptors(3000, 128, 21);
  const Matrix x = bytes.cast<float>();
  Matrix init(12, 128);
  for (int k = 0; k < 12; ++k) init.row(k) = x.row(7 + 211 * k);
  init.row(5) = init.row(4);
  std::int64_t farthest = -1;
  Eigen::Index far_row = -1;
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    std::int64_t best = std::numeric_limits<std::int64_t>::max();
    for (Eigen::Index k = 0; k < init.rows(); ++k) {
      std::int64_t d = 0;
      for (Eigen::Index j = 0; j < 128; ++j) {
        const auto v = static_cast<std::int64_t>(x(i, j)) - static_cast<std::int64_t>(init(k, j));
        d += v * v;
      }
      best = std::min(best, d);
    }
    if (best > farthest) {
      farthest = best;
      far_row = i;
    }
  }
  ASSERT_GT(farthest, 0);
  Matrix from_floats = init, from_bytes = init;
  double e = 0;
  detail::Lloyd(x, 0, &from_floats, 1, 0.0, 1, SingleProcess(), &e);
  detail::LloydBytes(bytes, 0, &from_bytes, 1, 0.0, 1, SingleProcess(), &e);
  EXPECT_EQ(from_floats.row(5), x.row(far_row)) << "farthest row " << far_row;
  EXPECT_EQ(from_bytes.row(5), x.row(far_row)) << "farthest row " << far_row;
}

TEST(Features_Vocabulary, HamerlyBoundsSkipRowsYetLeaveTheCentresBitIdentical) {
  if (ActiveIsa() < Isa::kVnni) {
    GTEST_SKIP() << "the bounds ride on the 8-bit VNNI assignment, not active here (" << ToString(ActiveIsa())
                 << "; CPU " << ToString(CpuIsa()) << ")";
  }
  // SIFT-like bytes: 40 overlapping clusters, so that k-means takes many
  // iterations and many rows sit near a tie; every 50th row all zero.
  Rng r(7);
  Matrix base(40, 128);
  for (Eigen::Index i = 0; i < base.size(); ++i) base.data()[i] = static_cast<float>(r.Below(60));
  const int n = 6000;
  Matrix x(n, 128);
  for (int i = 0; i < n; ++i) {
    const auto c = static_cast<Eigen::Index>(r.Below(40));
    for (int j = 0; j < 128; ++j) {
      const float v = i % 50 == 0 ? 0.0f : base(c, j) + static_cast<float>(r.Below(200));
      x(i, j) = std::min(255.0f, v);
    }
  }
  // Seeds: 64 data rows, the sixth a copy of the fifth, so that cluster 5
  // starts empty (ties go to the lower index) and is reseeded.
  Matrix init(64, 128);
  for (int k = 0; k < 64; ++k) init.row(k) = x.row(1 + 37 * k);
  init.row(5) = init.row(4);
  for (const int threads : {1, 2}) {
    Matrix bounded = init, full = init;
    double e_bounded = 0, e_full = 0;
    std::int64_t rows_bounded = 0, rows_full = 0;
    const int it_bounded = detail::Lloyd(x, 0, &bounded, 300, 0.0, threads, SingleProcess(), &e_bounded,
                                         /*bounds=*/true, &rows_bounded);
    const int it_full =
        detail::Lloyd(x, 0, &full, 300, 0.0, threads, SingleProcess(), &e_full, /*bounds=*/false, &rows_full);
    EXPECT_GT(it_full, 10) << "the data should need many iterations";
    EXPECT_LT(it_full, 300) << "it should converge (no assignment changes)";
    EXPECT_EQ(it_bounded, it_full);
    EXPECT_EQ(e_bounded, e_full);
    EXPECT_EQ(0, std::memcmp(bounded.data(), full.data(), sizeof(float) * static_cast<std::size_t>(full.size())))
        << "threads " << threads;
    EXPECT_NE(full.row(5), init.row(5)) << "the empty cluster was reseeded";
    // The byte path on the bytes alone (no float copy) is the same k-means,
    // the reseeding of the empty cluster included.
    Matrix from_bytes = init;
    double e_bytes = 0;
    EXPECT_EQ(detail::LloydBytes(detail::AsBytes(x), 0, &from_bytes, 300, 0.0, threads, SingleProcess(), &e_bytes),
              it_full);
    EXPECT_EQ(e_bytes, e_full);
    EXPECT_EQ(0, std::memcmp(from_bytes.data(), full.data(), sizeof(float) * static_cast<std::size_t>(full.size())))
        << "threads " << threads;
    EXPECT_EQ(rows_full, static_cast<std::int64_t>(n) * it_full);
    // The bounds must have skipped a real share of the rows.
    EXPECT_LT(static_cast<double>(rows_bounded), 0.9 * static_cast<double>(rows_full)) << rows_bounded;
  }
}

// At the size the recipe uses (128-d SIFT bytes, PCA to 80, 64 Gaussians) and
// with overlapping clusters, so that many descriptors have several posteriors
// well above zero: the GEMM encoder equals vl_fisher_encode within a relative
// tolerance of 1e-3 of the vector's largest entry (float sums in a different
// order over ~3000 descriptors and 10,240 dimensions).
TEST(Features_FisherEncoder, EqualsVlFisherAtProductionSize) {
  Rng r(77);
  constexpr int kCentres = 64, kDim = 128;
  std::vector<std::array<int, kDim>> centres(kCentres);
  for (auto& c : centres) {
    for (auto& v : c) v = static_cast<int>(r.Below(256));
  }
  auto draw = [&](int n) {
    ByteMatrix d(n, kDim);
    for (int i = 0; i < n; ++i) {
      const auto& c = centres[r.Below(kCentres)];
      for (int j = 0; j < kDim; ++j) {
        // Wide noise: neighbouring clusters overlap.
        const double noise = (r.Uniform() + r.Uniform() + r.Uniform() - 1.5) * 120;
        d(i, j) =
            static_cast<std::uint8_t>(std::clamp(static_cast<int>(c[static_cast<std::size_t>(j)] + noise), 0, 255));
      }
    }
    return d;
  };
  const Matrix sample = draw(12000).cast<float>();
  const Pca pca = Pca::Fit(sample, 80);
  GmmOptions go;
  go.components = 64;
  go.max_iterations = 15;
  const GaussianMixture gmm = GaussianMixture::Fit(pca.Project(sample), go);
  const SiftFeatures f = GridFeatures(draw(3000), 300, 200, 5);
  FisherOptions fo;
  fo.grids.sides = {1, 2};
  const FisherEncoder enc(pca, gmm, fo);
  ASSERT_EQ(enc.dim(), 5 * 2 * 80 * 64);
  std::vector<float> v(static_cast<std::size_t>(enc.dim())), ref(v.size());
  enc.Encode(f, v.data());
  enc.EncodeReference(f, ref.data());
  float peak = 0;
  for (float x : ref) peak = std::max(peak, std::abs(x));
  ASSERT_GT(peak, 0.0f);
  constexpr float kRelative = 1e-3f;
  std::size_t worst = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (std::abs(v[i] - ref[i]) > std::abs(v[worst] - ref[worst])) worst = i;
  }
  EXPECT_LE(std::abs(v[worst] - ref[worst]), kRelative * peak)
      << "entry " << worst << ": " << v[worst] << " vs vl_fisher_encode " << ref[worst] << " (peak " << peak << ")";
  // Overlap check: the mixture really has neighbours sharing descriptors.
  int spread = 0;
  for (float x : ref) spread += std::abs(x) > 1e-3f * peak;
  EXPECT_GT(spread, enc.dim() / 4) << "too few non-zero entries: the clusters do not overlap";
}

// The shared contract of every registered encoder (features/encoder.h),
// one typed suite run for each name in the registry: a new encoder gets
// these tests by registering itself.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "expect_error.h"
#include "fixtures.h"
#include "scenelab/data/error.h"
#include "scenelab/features/cache.h"
#include "scenelab/features/encoder.h"
#include "scenelab/features/vocabulary.h"

namespace fs = std::filesystem;
using namespace scenelab;
using namespace scenelab::features;
using scenelab::fixtures::TempDir;

namespace {
// Small settings every encoder can fit on a few images quickly.
EncoderSettings Small(int threads = 1) {
  EncoderSettings s;
  s.tiny.size = 8;
  s.gist.image_size = 64;
  s.gist.boundary = 8;
  s.vocab.size = 6;
  s.vocab.seed = 5;
  s.pca_dim = 16;
  s.gmm.components = 3;
  s.gmm.seed = 7;
  s.grids = {1, 2};
  s.bow.pyramid_levels = 1;
  s.threads = threads;
  return s;
}

struct Inputs {
  std::vector<cv::Mat> images;
  std::vector<SiftFeatures> sift;
  Matrix sample;  // what the pipeline samples: descriptors of every image
};

const Inputs& TestInputs() {
  static const Inputs in = [] {
    Inputs x;
    DenseSiftOptions o;
    o.step = 6;
    DenseSift ds(o);
    for (int i = 0; i < 6; ++i) {
      x.images.push_back(fixtures::ClassImage(i % 3, i, 64, 64));
      x.sift.push_back(ds.Compute(x.images.back()));
    }
    VocabularyOptions vo;
    vo.descriptors_per_image = 40;
    vo.seed = 5;
    std::vector<const SiftFeatures*> ptrs;
    for (const auto& f : x.sift) ptrs.push_back(&f);
    x.sample = VocabularyBuilder(vo, 1).Sample(ptrs);
    return x;
  }();
  return in;
}

// Every image's vector, through the encoder's own input kind.
Matrix EncodeAll(const Encoder& e) {
  const Inputs& in = TestInputs();
  Matrix out(static_cast<Eigen::Index>(in.images.size()), e.dim());
  for (std::size_t i = 0; i < in.images.size(); ++i) {
    float* row = out.row(static_cast<Eigen::Index>(i)).data();
    if (e.input() == EncoderInput::kImage)
      e.Encode(in.images[i], row);
    else
      e.Encode(in.sift[i], row);
  }
  return out;
}

std::unique_ptr<Encoder> Fitted(const std::string& name, int threads = 1) {
  auto e = MakeEncoder(name, Small(threads));
  if (e->needs_model()) e->Fit(TestInputs().sample, SingleProcess());
  return e;
}

class Features_Encoder : public ::testing::TestWithParam<std::string> {};
}  // namespace

// A bad value of the encoder's own options is refused when it is made, with
// a message naming the option.
TEST_P(Features_Encoder, OptionsAreValidatedWhenMade) {
  EncoderSettings bad = Small();
  const std::string name = GetParam();
  std::string expect;
  if (name == "tiny") {
    bad.tiny.size = 0;
    expect = "size";
  } else if (name == "gist") {
    bad.gist.grid = 0;
    expect = "grid";
  } else if (name == "bow") {
    bad.vocab.size = 0;
    expect = "size";
  } else {
    bad.pca_dim = 200;
    expect = "--pca";
  }
  EXPECT_MESSAGE(MakeEncoder(name, bad), expect);
  EXPECT_NO_THROW(MakeEncoder(name, Small()));
}

// Fit, save, load into a fresh encoder: the same model and the same vectors.
TEST_P(Features_Encoder, FitSaveLoadRoundTripsTheModel) {
  TempDir dir;
  const auto fitted = Fitted(GetParam());
  const std::string path = (dir / "model.bin").string();
  SaveModel(*fitted, path, "key-1");
  auto loaded = MakeEncoder(GetParam(), Small());
  std::string why;
  ASSERT_TRUE(LoadModel(loaded.get(), path, "key-1", &why)) << why;
  const auto a = fitted->Model(), b = loaded->Model();
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    EXPECT_EQ(a[i].second, b[i].second) << a[i].first;
  }
  EXPECT_EQ(EncodeAll(*fitted), EncodeAll(*loaded));
  // Another key is another model.
  auto other = MakeEncoder(GetParam(), Small());
  EXPECT_FALSE(LoadModel(other.get(), path, "key-2", &why));
  EXPECT_NE(why.find("key mismatch"), std::string::npos) << why;
  if (fitted->needs_model()) {
    EXPECT_FALSE(a.empty());
    EXPECT_FALSE(fitted->FitRecord().empty());
  }
}

// The pipeline's one-process fit on the sample's bytes gives the model of
// Fit on the same rows as floats (encoders without a model ignore both).
TEST_P(Features_Encoder, FitOnTheSampleBytesIsFitOnItsFloats) {
  const auto fitted = Fitted(GetParam());
  const Matrix& sample = TestInputs().sample;
  ASSERT_EQ(Matrix(sample.cast<std::uint8_t>().cast<float>()), sample) << "a SIFT sample is bytes";
  auto from_bytes = MakeEncoder(GetParam(), Small(1));
  from_bytes->FitBytes(sample.cast<std::uint8_t>());
  const auto a = fitted->Model(), b = from_bytes->Model();
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].second, b[i].second) << a[i].first;
  EXPECT_EQ(fitted->FitRecord(), from_bytes->FitRecord());
  EXPECT_EQ(EncodeAll(*fitted), EncodeAll(*from_bytes));
}

// dim() values per image, finite, not all zero, and different images differ.
TEST_P(Features_Encoder, EncodesDimValuesPerImage) {
  const auto e = Fitted(GetParam());
  ASSERT_GT(e->dim(), 0);
  const Matrix v = EncodeAll(*e);
  EXPECT_EQ(v.cols(), e->dim());
  EXPECT_TRUE(v.allFinite());
  EXPECT_GT(v.row(0).cwiseAbs().sum(), 0.0f);
  EXPECT_NE(v.row(0), v.row(1));
  // An encoder that needs a model says so instead of encoding without one.
  auto fresh = MakeEncoder(GetParam(), Small());
  if (fresh->needs_model()) {
    EXPECT_MESSAGE(fresh->dim(), "no ");
  }
}

// Fitting with 1 and 2 threads gives the same model and the same vectors.
TEST_P(Features_Encoder, SameOutputForOneAndTwoThreads) {
  const auto one = Fitted(GetParam(), 1), two = Fitted(GetParam(), 2);
  const auto a = one->Model(), b = two->Model();
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].second, b[i].second) << a[i].first;
  EXPECT_EQ(EncodeAll(*one), EncodeAll(*two));
}

// A flipped bit anywhere in the model file is detected: the model is
// rebuilt, never trusted.
TEST_P(Features_Encoder, FlippedBitInTheModelFileIsRejected) {
  TempDir dir;
  const auto fitted = Fitted(GetParam());
  const std::string path = (dir / "model.bin").string();
  SaveModel(*fitted, path, "k");
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  for (const std::size_t at : {bytes.size() / 2, bytes.size() - 1}) {
    std::string flipped = bytes;
    flipped[at] = static_cast<char>(flipped[at] ^ 0x10);
    std::ofstream(path, std::ios::binary) << flipped;
    auto e = MakeEncoder(GetParam(), Small());
    std::string why;
    EXPECT_FALSE(LoadModel(e.get(), path, "k", &why)) << "bit flipped at " << at;
    EXPECT_FALSE(why.empty());
  }
}

INSTANTIATE_TEST_SUITE_P(Registry, Features_Encoder, ::testing::ValuesIn(EncoderNames()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

TEST(Features_EncoderRegistry, UnknownNameListsTheKnownOnes) {
  EXPECT_MESSAGE(MakeEncoder("sift-pyramid", EncoderSettings{}), "tiny, bow, fisher, vlad, gist");
  EXPECT_EQ(EncoderNames().size(), EncoderRegistry().size());
}

// A model of the wrong shape (another vocabulary size) is refused with the
// matrix named, not silently used.
TEST(Features_EncoderRegistry, ModelOfAnotherShapeIsRefused) {
  auto e = MakeEncoder("bow", Small());
  Matrix words = Matrix::Zero(5, 128);  // 5 words where 6 are configured
  EXPECT_MESSAGE(e->SetModel({{"words", words}}), "'words' is 5 x 128, expected 6 x 128");
  EXPECT_MESSAGE(e->SetModel({}), "no matrix 'words'");
}

#pragma once
// One shape for every feature type of the classical pipelines. An Encoder
// turns an image, or its dense SIFT descriptors, into one vector; those that
// need a model (a vocabulary, PCA + a Gaussian mixture) fit it on a sample
// of training descriptors and hand it over as named matrices, which
// SaveModel / LoadModel keep in the cache's checksummed format and an MPI
// job broadcasts. MakeEncoder is the registry, as cnn's model registry is:
// adding a feature type is its own header, source and test plus one line
// in encoder.cpp's table (docs/ARCHITECTURE.md, "Adding an encoder").
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <opencv2/core.hpp>

#include "scenelab/features/bow.h"
#include "scenelab/features/collective.h"
#include "scenelab/features/dense_sift.h"
#include "scenelab/features/fisher.h"
#include "scenelab/features/gist.h"
#include "scenelab/features/tiny_image.h"
#include "scenelab/features/types.h"
#include "scenelab/features/vocabulary.h"

namespace scenelab::features {

// Every option any registered encoder reads; each reads its own and
// validates them when made.
struct EncoderSettings {
  TinyImageOptions tiny;        // tiny
  GistOptions gist;             // gist
  VocabularyOptions vocab;      // bow, vlad: the words (seed: k-means++)
  BowOptions bow;               // bow: pyramid or grids, quantiser
  std::vector<int> grids;       // fisher, vlad: spatial grid sides (empty: one global vector)
  int pca_dim = 80;             // fisher, vlad: descriptors PCA-reduced to this (128 = keep all)
  GmmOptions gmm;               // fisher (seed: the mixture's k-means initialisation)
  bool fisher_improved = true;  // fisher: signed square root + L2
  int threads = 0;              // fitting (k-means); 0 = all cores
};

enum class EncoderInput { kImage, kDenseSift };

using NamedMatrix = std::pair<std::string, Matrix>;

class Encoder {
 public:
  virtual ~Encoder() = default;
  virtual std::string name() const = 0;
  virtual EncoderInput input() const = 0;
  // Model encoders: Fit (or SetModel) before dim() and Encode.
  virtual bool needs_model() const { return false; }
  // True: Fit takes this process's contiguous share of the sample (k-means
  // summed over `comm`); false: the whole sample, on every process alike.
  virtual bool fit_split() const { return false; }
  virtual void Fit(const Matrix& sample, const Collective& comm);
  // Fit on one process of a sample of descriptors' bytes: Fit of the rows as
  // floats, unless the encoder fits the bytes themselves (bow's k-means).
  virtual void FitBytes(const ByteMatrix& sample);
  virtual std::vector<NamedMatrix> Model() const { return {}; }
  // Throws Error naming what is missing or malformed.
  virtual void SetModel(const std::vector<NamedMatrix>& parts);
  // What the fit did (k-means iterations and energy, log-likelihood).
  virtual std::map<std::string, double> FitRecord() const { return {}; }
  // Why the vectors can be negative (a chi2 distance or a homogeneous
  // kernel map needs histograms), or "" when they never are.
  virtual std::string signed_because() const { return ""; }
  virtual int dim() const = 0;
  // The options the model depends on, and those the encoding of an image
  // depends on given the model, as text for the stage caches' keys.
  virtual std::string model_params() const { return ""; }
  virtual std::string encode_params() const = 0;
  // Thread-safe. kImage: a decoded grayscale image; kDenseSift: descriptors.
  virtual void Encode(const cv::Mat& gray, float* out) const;
  virtual void Encode(const SiftFeatures& f, float* out) const;
};

struct EncoderEntry {
  std::string name;
  std::string what;  // one line for --help and errors
  std::function<std::unique_ptr<Encoder>(const EncoderSettings&)> make;
};
// The registered encoders, in --help order.
const std::vector<EncoderEntry>& EncoderRegistry();
// Throws Error listing the registered names for an unknown one.
std::unique_ptr<Encoder> MakeEncoder(const std::string& name, const EncoderSettings& settings);
std::vector<std::string> EncoderNames();

// The model's matrices under `key`, checksummed (features/cache.h).
void SaveModel(const Encoder& encoder, const std::string& path, const std::string& key);
// False (with `why`) when missing, made for another key, corrupt, or not a
// model this encoder accepts.
bool LoadModel(Encoder* encoder, const std::string& path, const std::string& key, std::string* why = nullptr);

}  // namespace scenelab::features

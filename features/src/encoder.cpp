#include "scenelab/features/encoder.h"

#include <fmt/format.h>

#include "scenelab/data/error.h"
#include "scenelab/features/cache.h"

namespace scenelab::features {

void Encoder::Fit(const Matrix&, const Collective&) {}

void Encoder::FitBytes(const ByteMatrix& sample) { Fit(Matrix(sample.cast<float>()), SingleProcess()); }

void Encoder::SetModel(const std::vector<NamedMatrix>& parts) {
  if (!parts.empty()) throw Error(name() + ": takes no model, got " + std::to_string(parts.size()) + " matrices");
}

void Encoder::Encode(const cv::Mat&, float*) const { throw Error(name() + ": encodes dense SIFT, not images"); }

void Encoder::Encode(const SiftFeatures&, float*) const { throw Error(name() + ": encodes images, not descriptors"); }

namespace {
// The matrix called `name` among `parts`, with the expected shape (-1: any).
const Matrix& Part(const std::string& encoder, const std::vector<NamedMatrix>& parts, const std::string& name,
                   Eigen::Index rows, Eigen::Index cols) {
  for (const auto& [n, m] : parts) {
    if (n != name) continue;
    if ((rows >= 0 && m.rows() != rows) || (cols >= 0 && m.cols() != cols) || m.size() == 0) {
      throw Error(fmt::format("{} model: '{}' is {} x {}, expected {} x {}", encoder, name, m.rows(), m.cols(),
                              rows < 0 ? std::string("any") : std::to_string(rows),
                              cols < 0 ? std::string("any") : std::to_string(cols)));
    }
    return m;
  }
  throw Error(encoder + " model: no matrix '" + name + "'");
}

// ------------------------------------------------------------ images

class TinyEncoder final : public Encoder {
 public:
  explicit TinyEncoder(const EncoderSettings& s) : opts_(s.tiny), tiny_((s.tiny.Validate(), s.tiny)) {}
  std::string name() const override { return "tiny"; }
  EncoderInput input() const override { return EncoderInput::kImage; }
  int dim() const override { return tiny_.dim(); }
  std::string signed_because() const override { return opts_.zero_mean ? "tiny images are zero-mean" : ""; }
  std::string encode_params() const override {
    return fmt::format("size={}|crop={}|interp={}|zero_mean={}|norm={}", opts_.size, opts_.crop_square,
                       ToString(opts_.interpolation), opts_.zero_mean, ToString(opts_.norm));
  }
  void Encode(const cv::Mat& gray, float* out) const override { tiny_.Compute(gray, out); }
  using Encoder::Encode;

 private:
  TinyImageOptions opts_;
  TinyImage tiny_;
};

class GistEncoder final : public Encoder {
 public:
  explicit GistEncoder(const EncoderSettings& s) : opts_(s.gist), gist_((s.gist.Validate(), s.gist)) {}
  std::string name() const override { return "gist"; }
  EncoderInput input() const override { return EncoderInput::kImage; }
  int dim() const override { return gist_.dim(); }
  std::string encode_params() const override {
    std::string ors;
    for (int o : opts_.orientations) ors += std::to_string(o) + ",";
    return fmt::format("size={}|orientations={}|grid={}|fc={}|boundary={}", opts_.image_size, ors, opts_.grid,
                       opts_.prefilter_fc, opts_.boundary);
  }
  void Encode(const cv::Mat& gray, float* out) const override { gist_.Compute(gray, out); }
  using Encoder::Encode;

 private:
  GistOptions opts_;
  Gist gist_;
};

// ------------------------------------------------------------ dense SIFT

std::string WordsParams(const VocabularyOptions& v) {
  return fmt::format("words={}|algo={}|iters={}|min_dE={}|reps={}", v.size, KmeansAlgorithmNames().Show(v.algorithm),
                     v.max_iterations, v.min_energy_variation, v.repetitions);
}

// Bag of visual words: a k-means vocabulary, then histograms (pyramid or grids).
class BowWordsEncoder final : public Encoder {
 public:
  explicit BowWordsEncoder(const EncoderSettings& s) : vocab_opts_(s.vocab), bow_opts_(s.bow), threads_(s.threads) {
    vocab_opts_.Validate();
    bow_opts_.Validate();
  }
  std::string name() const override { return "bow"; }
  EncoderInput input() const override { return EncoderInput::kDenseSift; }
  bool needs_model() const override { return true; }
  bool fit_split() const override { return true; }
  void Fit(const Matrix& sample, const Collective& comm) override {
    Use(VocabularyBuilder(vocab_opts_, threads_).Cluster(sample, comm));
  }
  void FitBytes(const ByteMatrix& sample) override { Use(VocabularyBuilder(vocab_opts_, threads_).Cluster(sample)); }
  std::vector<NamedMatrix> Model() const override { return {{"words", vocab_.centers()}}; }
  void SetModel(const std::vector<NamedMatrix>& parts) override {
    Use(Vocabulary(Part(name(), parts, "words", vocab_opts_.size, 128), vocab_opts_, 0.0));
  }
  std::map<std::string, double> FitRecord() const override {
    return {{"kmeans_iterations", vocab_.iterations()}, {"kmeans_energy", vocab_.energy()}};
  }
  int dim() const override { return Ready().dim(); }
  std::string model_params() const override { return WordsParams(vocab_opts_); }
  std::string encode_params() const override {
    std::string grids;
    for (int g : bow_opts_.grids) grids += std::to_string(g) + ",";
    std::string p = fmt::format("pyramid={}|grids={}", bow_opts_.pyramid_levels, grids);
    if (bow_opts_.quantizer != Quantizer::kExact) {
      p += fmt::format("|quantizer={}|comparisons={}", QuantizerNames().Show(bow_opts_.quantizer),
                       bow_opts_.max_comparisons);
    }
    return p;
  }
  void Encode(const SiftFeatures& f, float* out) const override { Ready().Encode(f, out); }
  using Encoder::Encode;

 private:
  void Use(Vocabulary v) {
    encoder_.reset();  // it refers to the vocabulary it replaces
    vocab_ = std::move(v);
    encoder_ = std::make_unique<BowEncoder>(vocab_, bow_opts_);
  }
  const BowEncoder& Ready() const {
    if (!encoder_) throw Error("bow: no vocabulary yet (Fit or SetModel first)");
    return *encoder_;
  }
  VocabularyOptions vocab_opts_;
  BowOptions bow_opts_;
  int threads_;
  Vocabulary vocab_;
  std::unique_ptr<BowEncoder> encoder_;
};

std::string GridsText(const std::vector<int>& grids) {
  std::string out;
  for (int g : grids) out += std::to_string(g) + ",";
  return out;
}

void ValidatePca(int pca_dim) {
  if (pca_dim < 1 || pca_dim > 128) throw Error("--pca: must be in [1, 128], got " + std::to_string(pca_dim));
}

void ValidateGrids(const std::vector<int>& grids, const std::string& what) {
  for (int g : grids) {
    if (g < 1 || g > 4) {
      throw Error("--grids: " + what + " grids must be between 1 and 4 per side (each cell is a full vector), got " +
                  std::to_string(g));
    }
  }
}

std::vector<NamedMatrix> PcaParts(const Pca& pca) { return {{"pca.mean", pca.mean()}, {"pca.basis", pca.basis()}}; }

Pca PcaFrom(const std::string& encoder, const std::vector<NamedMatrix>& parts, int pca_dim) {
  const Matrix& mean = Part(encoder, parts, "pca.mean", 1, 128);
  const Matrix& basis = Part(encoder, parts, "pca.basis", pca_dim, 128);
  return Pca(mean.row(0), basis);
}

// Fisher vectors (Perronnin et al. 2010): PCA, a diagonal Gaussian mixture,
// the gradients of the log-likelihood per spatial cell.
class FisherVectorEncoder final : public Encoder {
 public:
  explicit FisherVectorEncoder(const EncoderSettings& s) : pca_dim_(s.pca_dim), gmm_opts_(s.gmm), threads_(s.threads) {
    ValidatePca(pca_dim_);
    gmm_opts_.Validate();
    ValidateGrids(s.grids, "fisher");
    if (!s.grids.empty()) opts_.grids.sides = s.grids;
    opts_.improved = s.fisher_improved;
    opts_.Validate();
  }
  std::string name() const override { return "fisher"; }
  std::string signed_because() const override { return "fisher vectors are signed"; }
  EncoderInput input() const override { return EncoderInput::kDenseSift; }
  bool needs_model() const override { return true; }
  // Every process holds the whole sample (fit_split() is false); the EM's
  // sums are split over the processes.
  void Fit(const Matrix& sample, const Collective& comm) override {
    Pca pca = Pca::Fit(sample, pca_dim_);
    GaussianMixture gmm = GaussianMixture::Fit(pca.Project(sample), gmm_opts_, comm, threads_);
    Use(std::move(pca), std::move(gmm));
  }
  std::vector<NamedMatrix> Model() const override {
    auto parts = PcaParts(pca_);
    parts.push_back({"gmm.means", gmm_.means()});
    parts.push_back({"gmm.covariances", gmm_.covariances()});
    parts.push_back({"gmm.priors", gmm_.priors()});
    return parts;
  }
  void SetModel(const std::vector<NamedMatrix>& parts) override {
    const int k = gmm_opts_.components;
    Use(PcaFrom(name(), parts, pca_dim_), GaussianMixture(Part(name(), parts, "gmm.means", k, pca_dim_),
                                                          Part(name(), parts, "gmm.covariances", k, pca_dim_),
                                                          Part(name(), parts, "gmm.priors", 1, k).row(0)));
  }
  std::map<std::string, double> FitRecord() const override { return {{"gmm_log_likelihood", gmm_.log_likelihood()}}; }
  std::string model_params() const override {
    // em=split: the native EM (vl_gmm's steps); models of vl_gmm itself are refitted.
    return fmt::format("pca={}|gmm={}|gmm_iters={}|em=split", pca_dim_, gmm_opts_.components, gmm_opts_.max_iterations);
  }
  std::string encode_params() const override {
    return fmt::format("grids={}|improved={}", GridsText(opts_.grids.sides), opts_.improved);
  }
  int dim() const override { return Ready().dim(); }
  void Encode(const SiftFeatures& f, float* out) const override { Ready().Encode(f, out); }
  using Encoder::Encode;

 private:
  void Use(Pca pca, GaussianMixture gmm) {
    encoder_.reset();
    pca_ = std::move(pca);
    gmm_ = std::move(gmm);
    encoder_ = std::make_unique<FisherEncoder>(pca_, gmm_, opts_);
  }
  const FisherEncoder& Ready() const {
    if (!encoder_) throw Error("fisher: no model yet (Fit or SetModel first)");
    return *encoder_;
  }
  int pca_dim_;
  GmmOptions gmm_opts_;
  int threads_;
  FisherOptions opts_;
  Pca pca_;
  GaussianMixture gmm_;
  std::unique_ptr<FisherEncoder> encoder_;
};

// VLAD (Jegou et al. 2010): PCA, k-means words, summed residuals per word.
class VladVectorEncoder final : public Encoder {
 public:
  explicit VladVectorEncoder(const EncoderSettings& s)
      : pca_dim_(s.pca_dim), vocab_opts_(s.vocab), threads_(s.threads) {
    ValidatePca(pca_dim_);
    vocab_opts_.Validate();
    ValidateGrids(s.grids, "vlad");
    if (!s.grids.empty()) opts_.grids.sides = s.grids;
    opts_.Validate();
  }
  std::string name() const override { return "vlad"; }
  std::string signed_because() const override { return "vlad vectors are signed"; }
  EncoderInput input() const override { return EncoderInput::kDenseSift; }
  bool needs_model() const override { return true; }
  void Fit(const Matrix& sample, const Collective&) override {
    Pca pca = Pca::Fit(sample, pca_dim_);
    Vocabulary words = VocabularyBuilder(vocab_opts_, threads_).Cluster(pca.Project(sample));
    Use(std::move(pca), std::move(words));
  }
  std::vector<NamedMatrix> Model() const override {
    auto parts = PcaParts(pca_);
    parts.push_back({"words", vocab_.centers()});
    return parts;
  }
  void SetModel(const std::vector<NamedMatrix>& parts) override {
    Use(PcaFrom(name(), parts, pca_dim_),
        Vocabulary(Part(name(), parts, "words", vocab_opts_.size, pca_dim_), vocab_opts_, 0.0));
  }
  std::map<std::string, double> FitRecord() const override {
    return {{"kmeans_iterations", vocab_.iterations()}, {"kmeans_energy", vocab_.energy()}};
  }
  std::string model_params() const override { return fmt::format("pca={}|", pca_dim_) + WordsParams(vocab_opts_); }
  std::string encode_params() const override { return "grids=" + GridsText(opts_.grids.sides); }
  int dim() const override { return Ready().dim(); }
  void Encode(const SiftFeatures& f, float* out) const override { Ready().Encode(f, out); }
  using Encoder::Encode;

 private:
  void Use(Pca pca, Vocabulary words) {
    encoder_.reset();
    pca_ = std::move(pca);
    vocab_ = std::move(words);
    encoder_ = std::make_unique<VladEncoder>(pca_, vocab_, opts_);
  }
  const VladEncoder& Ready() const {
    if (!encoder_) throw Error("vlad: no model yet (Fit or SetModel first)");
    return *encoder_;
  }
  int pca_dim_;
  VocabularyOptions vocab_opts_;
  int threads_;
  VladOptions opts_;
  Pca pca_;
  Vocabulary vocab_;
  std::unique_ptr<VladEncoder> encoder_;
};

template <typename T>
EncoderEntry Entry(const char* name, const char* what) {
  return {name, what, [](const EncoderSettings& s) -> std::unique_ptr<Encoder> { return std::make_unique<T>(s); }};
}
}  // namespace

const std::vector<EncoderEntry>& EncoderRegistry() {
  static const std::vector<EncoderEntry> registry = {
      Entry<TinyEncoder>("tiny", "tiny images: resized, zero-mean, normalised pixels"),
      Entry<BowWordsEncoder>("bow", "bag of dense-SIFT words, optionally with a spatial pyramid or grids"),
      Entry<FisherVectorEncoder>("fisher", "Fisher vectors of PCA-reduced dense SIFT"),
      Entry<VladVectorEncoder>("vlad", "VLAD of PCA-reduced dense SIFT"),
      Entry<GistEncoder>("gist", "GIST, Oliva and Torralba's Gabor-energy scene descriptor"),
  };
  return registry;
}

std::vector<std::string> EncoderNames() {
  std::vector<std::string> out;
  for (const auto& e : EncoderRegistry()) out.push_back(e.name);
  return out;
}

std::unique_ptr<Encoder> MakeEncoder(const std::string& name, const EncoderSettings& settings) {
  for (const auto& e : EncoderRegistry()) {
    if (e.name == name) return e.make(settings);
  }
  std::string known;
  for (const auto& n : EncoderNames()) known += (known.empty() ? "" : ", ") + n;
  throw Error("--features: unknown value '" + name + "' (expected " + known + ")");
}

void SaveModel(const Encoder& encoder, const std::string& path, const std::string& key) {
  SaveMatrixSetCache(path, key, encoder.Model());
}

bool LoadModel(Encoder* encoder, const std::string& path, const std::string& key, std::string* why) {
  auto parts = LoadMatrixSetCache(path, key, why);
  if (!parts) return false;
  try {
    encoder->SetModel(*parts);
  } catch (const Error& e) {
    if (why) *why = path + ": " + e.what();
    return false;
  }
  return true;
}

}  // namespace scenelab::features

#include "scenelab/pipelines/classic.h"

#include <atomic>
#include <chrono>
#include <exception>
#include <filesystem>
#include <future>
#include <optional>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "scenelab/classify/cross_validation.h"
#include "scenelab/data/config_key.h"
#include "scenelab/data/error.h"
#include "scenelab/data/folds.h"
#include "scenelab/data/io.h"
#include "scenelab/data/parallel.h"
#include "scenelab/data/rng.h"
#include "scenelab/eval/figures.h"
#include "scenelab/eval/stats.h"
#include "scenelab/features/cache.h"
#include "scenelab/pipelines/options.h"
#include "scenelab/pipelines/outputs.h"

#include "repeats.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace scenelab::pipelines {

const EnumTable<Classifier>& ClassifierNames() {
  static const EnumTable<Classifier> t = {{Classifier::kKnn, "knn"}, {Classifier::kSvm, "svm"}};
  return t;
}

const EnumTable<KernelMap>& KernelMapNames() {
  static const EnumTable<KernelMap> t = {{KernelMap::kNone, "none"},
                                         {KernelMap::kChi2, "chi2"},
                                         {KernelMap::kIntersection, "intersection"},
                                         {KernelMap::kJs, "js"}};
  return t;
}

features::HomogeneousKernel KernelOf(KernelMap map) {
  switch (map) {
    case KernelMap::kIntersection:
      return features::HomogeneousKernel::kIntersection;
    case KernelMap::kJs:
      return features::HomogeneousKernel::kJs;
    case KernelMap::kChi2:
      return features::HomogeneousKernel::kChi2;
    case KernelMap::kNone:
      break;
  }
  throw Error("KernelOf: no kernel map asked for");
}

namespace {
// e.g. "bow+chi2map+svm": the features, the map, the classifier.
std::string PipelineName(const ClassicConfig& cfg) {
  const std::string map = cfg.homkermap != KernelMap::kNone ? "+" + KernelMapNames().Show(cfg.homkermap) + "map" : "";
  return cfg.features + map + "+" + ClassifierNames().Show(cfg.classifier);
}

// The first fields of a run's results.json, one split or repeated splits.
nlohmann::ordered_json ResultsHead(const ClassicConfig& cfg, const std::vector<std::string>& classes,
                                   std::size_t train_size, std::size_t test_size) {
  nlohmann::ordered_json r;
  r["kind"] = "classic";
  r["pipeline"] = PipelineName(cfg);
  r["params"] = cfg.ToJson();
  r["seed"] = cfg.seed;
  r["classes"] = classes;
  r["train_size"] = train_size;
  r["test_size"] = test_size;
  return r;
}
}  // namespace

namespace {
// Top-5 accuracy is reported from 10 classes up (ImageNet-like sets).
constexpr int kTopKMinClasses = 10;
}  // namespace

namespace {
// The registered encoder's settings, from the pipeline's options.
features::EncoderSettings SettingsOf(const ClassicConfig& cfg, int threads) {
  features::EncoderSettings s;
  s.tiny = cfg.tiny;
  s.gist = cfg.gist;
  s.vocab = cfg.vocab;
  s.vocab.seed = cfg.seed;
  s.bow = cfg.bow;
  s.grids = cfg.bow.grids;
  s.pca_dim = cfg.pca_dim;
  s.gmm = cfg.gmm;
  s.gmm.seed = MixSeed(cfg.seed, 0x6a);
  s.fisher_improved = cfg.fisher_improved;
  s.threads = threads;
  return s;
}
}  // namespace

void DataConfig::Validate() const {
  if (path.empty()) throw Error("data: --data is required");
  open.Validate();
}

void ClassicConfig::Validate() const {
  data.Validate();
  // The encoder validates its own options when it is made (an unknown
  // name lists the registered ones); descriptor encoders also need the
  // dense SIFT and the sample's options.
  const auto encoder = features::MakeEncoder(features, SettingsOf(*this, 1));
  if (encoder->input() == features::EncoderInput::kDenseSift) {
    sift.Validate();
    vocab.Validate();
  }
  const std::string signed_because = encoder->signed_because();
  if (classifier == Classifier::kSvm) svm.Validate();
  if (homkermap != KernelMap::kNone) {
    hkm.Validate();
    if (!signed_because.empty()) throw Error("--homkermap needs non-negative features; " + signed_because);
  }
  if (metrics.empty()) throw Error("--metric: at least one metric is needed");
  for (auto m : metrics) {
    if (m == classify::Metric::kChi2 && !signed_because.empty()) {
      throw Error("--metric chi2 needs non-negative features; " + signed_because + " (use l1 or l2)");
    }
  }
  if (cv_folds < 2) throw Error("--cv-folds: must be >= 2, got " + std::to_string(cv_folds));
  if (repeats < 1) throw Error("--repeats: must be >= 1, got " + std::to_string(repeats));
  if (repeats > 1 && data.train_per_class == 0) {
    throw Error("--repeats " + std::to_string(repeats) +
                " needs --train-per-class N (training images per class of each split)");
  }
  if (ks.empty()) throw Error("--k: at least one k is needed");
  for (int k : ks) {
    if (k < 1) throw Error("--k: every k must be >= 1, got " + std::to_string(k));
  }
  knn.Validate();
}

// The params echo comes from the option table (options.h): every entry
// that applies to these features and classifier, by its config key.
nlohmann::ordered_json ClassicConfig::ToJson() const { return EchoClassic(*this); }

LoadedData LoadData(const DataConfig& cfg, std::uint64_t seed) {
  cfg.Validate();
  LoadedData d;
  data::OpenOptions open = cfg.open;
  open.seed = seed;
  d.info = data::OpenDataset(cfg.path, open);
  d.train = d.info.train();
  d.test = d.info.test();
  if (cfg.train_per_class > 0) d.train = d.train.Subset(cfg.train_per_class, MixSeed(seed, 11));
  if (cfg.test_per_class > 0) d.test = d.test.Subset(cfg.test_per_class, MixSeed(seed, 13));
  if (d.train.empty()) throw Error(cfg.path + ": the training split is empty");
  if (d.test.empty()) throw Error(cfg.path + ": the test split is empty");
  return d;
}

ClassicRunner::ClassicRunner(const LoadedData& data, std::string cache_dir, int threads, Logger* log)
    : data_(data), cache_dir_(std::move(cache_dir)), threads_(threads), log_(log) {
  std::error_code ec;
  fs::create_directories(cache_dir_, ec);
}

ClassicRunner::~ClassicRunner() { FinishCacheWrites(); }

void ClassicRunner::FinishCacheWrites() {
  for (auto& f : pending_writes_) f.wait();
  pending_writes_.clear();
}

namespace {
CacheKey SiftKey(const features::DenseSiftOptions& s) {
  CacheKey k("dsift-v1");
  std::string bins;
  for (int b : s.bin_sizes) bins += std::to_string(b) + ",";
  k.Add("step", s.step).Add("bins", bins).Add("fast", s.fast).Add("window", s.window_size).Add("smooth", s.smooth);
  k.Add("magnif", s.magnif)
      .Add("phow_bounds", s.phow_bounds)
      .Add("contrast", s.contrast_threshold)
      .Add("root", s.root_sift);
  if (s.implementation != features::SiftImplementation::kVlfeat)
    k.Add("impl", features::SiftImplementationNames().Show(s.implementation));
  return k;
}

void Log(Logger* log, const std::string& line) {
  if (log) log->Info(line);
}
}  // namespace

std::pair<std::size_t, std::size_t> ClassicRunner::Block(std::size_t n) const {
  const auto r = static_cast<std::size_t>(comm_->rank()), p = static_cast<std::size_t>(comm_->size());
  return {n * r / p, n * (r + 1) / p};
}

bool ClassicRunner::RootSays(bool mine) const {
  std::string verdict = mine ? "1" : "0";
  comm_->Broadcast(&verdict);
  return verdict == "1";
}

namespace {
data::Dataset Range(const data::Dataset& ds, std::pair<std::size_t, std::size_t> block) {
  std::vector<std::size_t> idx;
  for (std::size_t i = block.first; i < block.second; ++i) idx.push_back(i);
  return ds.Select(idx);
}
}  // namespace

std::vector<std::size_t> ClassicRunner::Owned(bool train) {
  const data::Dataset& ds = train ? data_.train : data_.test;
  std::vector<std::size_t> out;
  if (!pool_) {
    const auto block = Block(ds.size());
    for (std::size_t i = block.first; i < block.second; ++i) out.push_back(i);
    return out;
  }
  // Repeated splits: the images of this rank's block of the pool, whose
  // descriptors it holds, wherever they fall in the split.
  if (pool_->index.empty()) {
    for (std::size_t i = 0; i < pool_->pool->size(); ++i) pool_->index.emplace((*pool_->pool)[i].source, i);
  }
  const auto block = Block(pool_->pool->size());
  for (std::size_t i = 0; i < ds.size(); ++i) {
    const auto at = pool_->index.find(ds[i].source);
    if (at == pool_->index.end()) throw Error(ds[i].source + ": not in the pooled dataset of the repeated splits");
    if (at->second >= block.first && at->second < block.second) out.push_back(i);
  }
  return out;
}

features::Matrix ClassicRunner::GatherInOrder(const features::Matrix& mine, const std::vector<std::size_t>& owned,
                                              std::size_t n) const {
  if (comm_->size() == 1) return mine;  // every image, in order
  const features::Matrix rows = comm_->AllGatherRows(mine);
  const std::vector<double> where = comm_->AllGather(std::vector<double>(owned.begin(), owned.end()));
  if (where.size() != n || static_cast<std::size_t>(rows.rows()) != n) {
    throw Error(fmt::format("gathering {} images' rows from {} ranks: got {} rows for {} images", n, comm_->size(),
                            rows.rows(), where.size()));
  }
  features::Matrix out(rows.rows(), rows.cols());
  std::vector<bool> seen(n, false);
  for (std::size_t i = 0; i < n; ++i) {
    const auto at = static_cast<std::size_t>(where[i]);
    if (at >= n || seen[at]) throw Error("gathering rows: image " + std::to_string(at) + " sent twice or out of range");
    seen[at] = true;
    out.row(static_cast<Eigen::Index>(at)) = rows.row(static_cast<Eigen::Index>(i));
  }
  return out;
}

std::vector<const features::SiftFeatures*> ClassicRunner::Sift(const ClassicConfig& cfg, bool train,
                                                               std::map<std::string, double>* t) {
  const data::Dataset& ds = train ? data_.train : data_.test;
  std::vector<const features::SiftFeatures*> out;
  out.reserve(ds.size());
  if (!pool_) {
    if (comm_->size() == 1) {
      for (const auto& f : *SiftOf(cfg, ds, train ? "train" : "test", t)) out.push_back(&f);
      return out;
    }
    // This rank's block only: its own descriptor cache file (keyed by the
    // block's images), shared with the other ranks on a shared filesystem.
    const data::Dataset part = Range(ds, Block(ds.size()));
    const std::string what = fmt::format("{}, rank {} of {}", train ? "train" : "test", comm_->rank(), comm_->size());
    for (const auto& f : *SiftOf(cfg, part, what, t)) out.push_back(&f);
    return out;
  }
  // Repeated splits: descriptors are computed (or loaded) once for the pool
  // (this rank's block of it in an MPI job), and each split points at its
  // images' descriptors there: no copies. Returns the images of Owned().
  const std::string pool_key = SiftKey(cfg.sift).text();
  const auto block = Block(pool_->pool->size());
  if (!pool_->sift || pool_->key != pool_key) {
    // Shared with the background cache write.
    pool_->sift = comm_->size() == 1 ? SiftOf(cfg, *pool_->pool, "pooled", t)
                                     : SiftOf(cfg, Range(*pool_->pool, block),
                                              fmt::format("pooled, rank {} of {}", comm_->rank(), comm_->size()), t);
    pool_->key = pool_key;
  }
  for (const std::size_t i : Owned(train)) out.push_back(&(*pool_->sift)[pool_->index.at(ds[i].source) - block.first]);
  return out;
}

std::shared_ptr<const std::vector<features::SiftFeatures>> ClassicRunner::SiftOf(const ClassicConfig& cfg,
                                                                                 const data::Dataset& ds,
                                                                                 const std::string& what,
                                                                                 std::map<std::string, double>* t) {
  CacheKey key = SiftKey(cfg.sift);
  key.Add("data", Hex64(ds.Fingerprint()));
  auto it = sift_memo_.find(key.text());
  if (it != sift_memo_.end()) return it->second;
  const std::string path = cache_dir_ + "/dsift-" + key.id() + ".bin";
  std::string why;
  if (!cfg.clobber) {
    const auto start = Clock::now();
    if (auto cached = features::LoadSiftCache(path, key.text(), &why)) {
      (*t)["dsift_cache_load_s"] += SecondsSince(start);
      Log(log_, fmt::format("dense SIFT ({}): loaded {} images from cache", what, cached->size()));
      auto shared = std::make_shared<const std::vector<features::SiftFeatures>>(std::move(*cached));
      return sift_memo_.emplace(key.text(), std::move(shared)).first->second;
    }
    if (why != "missing") Log(log_, "cache " + path + " not used: " + why);
  }
  const auto start = Clock::now();
  Progress progress(fmt::format("dense SIFT ({})", what), ds.size(), log_);
  auto f = features::ComputeDenseSift(ds, cfg.sift, threads_, &progress);
  progress.Finish();
  (*t)["dsift_s"] += SecondsSince(start);
  ++counters_.sift_extractions;
  auto stored = std::make_shared<const std::vector<features::SiftFeatures>>(std::move(f));
  sift_memo_.emplace(key.text(), stored);
  // The descriptor cache (about 1 GB for 15-scene) is written while the
  // next stages compute; the write holds its own reference to the
  // descriptors, and the runner waits for it before it goes away. A failed
  // write only costs the cache.
  pending_writes_.push_back(std::async(std::launch::async, [this, path, text = key.text(), stored]() {
    try {
      features::SaveSiftCache(path, text, *stored);
    } catch (const std::exception& e) {
      Log(log_, "descriptor cache " + path + " not written: " + e.what());
    }
  }));
  return stored;
}

std::size_t ClassicRunner::EstimateDescriptorBytes(const ClassicConfig& cfg) const {
  // From the first training image's size; 128 bytes + 12 bytes of frame each.
  if (data_.train.empty()) return 0;
  const cv::Mat first = data_.train.LoadImage(0);
  const std::size_t per_image = features::DenseSiftFrameCount(first.cols, first.rows, cfg.sift) * (128 + 12);
  // Each rank of an MPI job holds its block only.
  return per_image * (data_.train.size() + data_.test.size()) / static_cast<std::size_t>(comm_->size());
}

// Encoders of images (tiny images, GIST): one cached matrix per split, keyed
// by the encoder's options and the split's fingerprint.
FeaturePair ClassicRunner::PerImageFeatures(const ClassicConfig& cfg, const features::Encoder& encoder,
                                            std::map<std::string, double>* t) {
  FeaturePair out;
  const bool root = comm_->rank() == 0;
  int* computed = encoder.name() == "tiny" ? &counters_.tiny_extractions : &counters_.encodings;
  for (bool train : {true, false}) {
    const data::Dataset& ds = train ? data_.train : data_.test;
    CacheKey key(encoder.name() + "-v2");
    key.Add("params", encoder.encode_params()).Add("data", Hex64(ds.Fingerprint()));
    const std::string path = cache_dir_ + "/" + encoder.name() + "-" + key.id() + ".bin";
    std::string why;
    std::optional<features::Matrix> m;
    if (!cfg.clobber && root) m = features::LoadMatrixCache(path, key.text(), &why);
    features::Matrix& dst = train ? out.train : out.test;
    if (RootSays(m.has_value())) {  // rank 0 has it: every rank gets its copy
      if (root) dst = std::move(*m);
      comm_->Broadcast(&dst);
      continue;
    }
    if (root && !cfg.clobber && why != "missing") Log(log_, "cache " + path + " not used: " + why);
    const auto start = Clock::now();
    const std::vector<std::size_t> owned = Owned(train);
    features::Matrix mine(static_cast<Eigen::Index>(owned.size()), encoder.dim());
    Progress progress(fmt::format("{} ({})", encoder.name(), train ? "train" : "test"), owned.size(), log_);
    ParallelFor(owned.size(), threads_, [&](std::size_t i) {
      encoder.Encode(ds.LoadImage(owned[i]), mine.row(static_cast<Eigen::Index>(i)).data());
      progress.Add();
    });
    progress.Finish();
    dst = GatherInOrder(mine, owned, ds.size());
    (*t)[encoder.name() + "_s"] += SecondsSince(start);
    ++*computed;
    if (root) features::SaveMatrixCache(path, key.text(), dst);
  }
  return out;
}

void ClassicRunner::FillDescriptorPool(const ClassicConfig& cfg, std::map<std::string, double>* t) {
  if (!pool_) return;
  const auto encoder = features::MakeEncoder(cfg.features, SettingsOf(cfg, threads_));
  if (encoder->input() == features::EncoderInput::kDenseSift) Sift(cfg, true, t);
}

FeaturePair ClassicRunner::Features(const ClassicConfig& cfg, std::map<std::string, double>* t) {
  model_info_ = nlohmann::json::object();
  // The one place the feature type is looked at: the encoder registry.
  const auto encoder = features::MakeEncoder(cfg.features, SettingsOf(cfg, threads_));
  if (encoder->input() == features::EncoderInput::kImage) return PerImageFeatures(cfg, *encoder, t);
  return Encodings(cfg, encoder.get(), t);
}

FeaturePair ClassicRunner::Encodings(const ClassicConfig& cfg, features::Encoder* encoder,
                                     std::map<std::string, double>* t) {
  FeaturePair out;
  const bool root = comm_->rank() == 0;
  const bool split = comm_->size() > 1;
  const std::string name = encoder->name();
  // Descriptors -> model -> encodings, each cached. In an MPI job rank 0
  // alone reads and writes these caches and sends what it found to the others.
  CacheKey mkey = SiftKey(cfg.sift);
  mkey.Add("train", Hex64(data_.train.Fingerprint())).Add("per_image", cfg.vocab.descriptors_per_image);
  mkey.Add("images", cfg.vocab.images).Add("seed", cfg.seed).Add("encoder", name).Add("model", encoder->model_params());
  const std::string mpath = cache_dir_ + "/" + name + "-model-v2-" + mkey.id() + ".bin";
  CacheKey ekey = mkey;
  ekey.Add("encode", encoder->encode_params()).Add("test", Hex64(data_.test.Fingerprint()));
  const std::string epath_train = cache_dir_ + "/" + name + "-" + ekey.id() + "-train.bin";
  const std::string epath_test = cache_dir_ + "/" + name + "-" + ekey.id() + "-test.bin";
  // The model fit's record (k-means iterations, energy) sits beside the
  // model file, so a run that reuses the model still reports it.
  model_info_ = nlohmann::json::object();
  if (!cfg.clobber && root) {
    try {
      if (fs::exists(mpath + ".json")) model_info_ = nlohmann::json::parse(ReadFileText(mpath + ".json"));
    } catch (const std::exception&) {
      model_info_ = nlohmann::json::object();
    }
  }
  {
    std::optional<features::Matrix> tr, te;
    if (!cfg.clobber && root) {
      tr = features::LoadMatrixCache(epath_train, ekey.text() + "|split=train");
      te = features::LoadMatrixCache(epath_test, ekey.text() + "|split=test");
    }
    if (RootSays(tr && te)) {
      if (root) {
        Log(log_, name + " encodings loaded from cache");
        out = FeaturePair{std::move(*tr), std::move(*te)};
      }
      comm_->Broadcast(&out.train);
      comm_->Broadcast(&out.test);
      return out;
    }
  }
  const std::size_t estimate = EstimateDescriptorBytes(cfg);
  const bool streaming = estimate > cfg.max_descriptor_memory;
  if (streaming) {
    Log(log_, fmt::format(
                  "dense SIFT descriptors would take about {:.1f} GB: streaming them (two passes, no descriptor cache)",
                  estimate / 1e9));
  }
  // This rank's images (all of them in one process).
  const std::vector<std::size_t> owned_train = Owned(true), owned_test = Owned(false);
  {
    bool have = false;
    if (!cfg.clobber && root) {
      std::string why;
      // Model files carry their own key; reload only when it matches.
      have = features::LoadModel(encoder, mpath, mkey.text(), &why);
      if (have)
        Log(log_, name + " model loaded from cache");
      else if (why != "missing")
        Log(log_, "cache " + mpath + " not used: " + why);
    }
    if (RootSays(have)) {
      if (split) {  // rank 0's model, matrix by matrix
        auto parts = root ? encoder->Model() : std::vector<features::NamedMatrix>();
        std::string names;
        for (const auto& [n, m] : parts) names += n + "\n";
        comm_->Broadcast(&names);
        std::vector<features::NamedMatrix> got;
        std::istringstream lines(names);
        std::size_t i = 0;
        for (std::string n; std::getline(lines, n); ++i) {
          features::Matrix m = root ? parts[i].second : features::Matrix();
          comm_->Broadcast(&m);
          got.emplace_back(n, std::move(m));
        }
        if (!root) encoder->SetModel(got);
      }
    } else {
      FitModel(cfg, encoder, owned_train, streaming, t);
      if (root) {
        features::SaveModel(*encoder, mpath, mkey.text());
        WriteFileAtomic(mpath + ".json", model_info_.dump());
      }
    }
  }
  // Every image of this rank, encoded: from the descriptor memo or the pool,
  // or (streaming) extracted and encoded image by image.
  const int dim = encoder->dim();
  for (bool train : {true, false}) {
    const data::Dataset& ds = train ? data_.train : data_.test;
    const std::vector<std::size_t>& owned = train ? owned_train : owned_test;
    features::Matrix m(static_cast<Eigen::Index>(owned.size()), dim);
    const auto start = Clock::now();
    if (streaming) {
      const data::Dataset part = ds.Select(owned);
      Progress progress(fmt::format("dense SIFT + {} ({})", name, train ? "train" : "test"), m.rows(), log_);
      features::ForEachDenseSift(part, cfg.sift, threads_, &progress, [&](std::size_t i, features::SiftFeatures&& f) {
        encoder->Encode(f, m.row(static_cast<Eigen::Index>(i)).data());
      });
      progress.Finish();
      (*t)["dsift_encode_s"] += SecondsSince(start);
      ++counters_.sift_extractions;
    } else {
      const auto sift = Sift(cfg, train, t);
      const auto encode_start = Clock::now();
      Progress progress(fmt::format("encoding ({})", train ? "train" : "test"), sift.size(), log_);
      ParallelFor(sift.size(), threads_, [&](std::size_t i) {
        encoder->Encode(*sift[i], m.row(static_cast<Eigen::Index>(i)).data());
        progress.Add();
      });
      progress.Finish();
      (*t)["encode_s"] += SecondsSince(encode_start);
    }
    // Every rank's rows, in image order.
    (train ? out.train : out.test) = split ? GatherInOrder(m, owned, ds.size()) : std::move(m);
  }
  ++counters_.encodings;
  if (root) {
    features::SaveMatrixCache(epath_train, ekey.text() + "|split=train", out.train);
    features::SaveMatrixCache(epath_test, ekey.text() + "|split=test", out.test);
  }
  return out;
}

// The descriptor sample, then the encoder's fit. The sample is
// descriptors_per_image from each chosen training image, drawn by the image's
// global index, so each rank draws exactly its share of the one-process
// sample; a split fit (k-means) takes each rank's contiguous share of it in
// sample order, any other fit the whole sample on every rank.
void ClassicRunner::FitModel(const ClassicConfig& cfg, features::Encoder* encoder,
                             const std::vector<std::size_t>& owned_train, bool streaming,
                             std::map<std::string, double>* t) {
  const bool split = comm_->size() > 1;
  features::VocabularyOptions vo = cfg.vocab;
  vo.seed = cfg.seed;
  const features::VocabularyBuilder builder(vo, threads_);
  std::vector<std::size_t> chosen;    // sampled images this rank holds, ascending
  std::vector<std::size_t> position;  // their places in owned_train
  {
    std::size_t at = 0;
    for (const std::size_t j : builder.SampleImages(data_.train.size())) {
      while (at < owned_train.size() && owned_train[at] < j) ++at;
      if (at < owned_train.size() && owned_train[at] == j) {
        chosen.push_back(j);
        position.push_back(at);
      }
    }
  }
  std::vector<Eigen::Index> drawn(chosen.size());  // the sample's rows from each chosen image
  features::Matrix sample;
  // One process with the descriptors in memory draws the sample as bytes:
  // bow's k-means takes them as they are, without a float copy 4x the size.
  const bool as_bytes = !split && !streaming;
  features::ByteMatrix bytes;
  if (streaming) {
    const auto start = Clock::now();
    const data::Dataset subset = data_.train.Select(chosen);
    std::vector<features::Matrix> parts(chosen.size());
    Progress progress("dense SIFT sample (train)", subset.size(), log_);
    features::ForEachDenseSift(subset, cfg.sift, threads_, &progress, [&](std::size_t j, features::SiftFeatures&& f) {
      parts[j] = builder.SampleImage(f, chosen[j]);
    });
    progress.Finish();
    (*t)["dsift_s"] += SecondsSince(start);
    ++counters_.sift_extractions;
    for (std::size_t j = 0; j < chosen.size(); ++j) drawn[j] = parts[j].rows();
    sample = features::VocabularyBuilder::Stack(parts);
  } else {
    const auto sift = Sift(cfg, true, t);  // this rank's images
    std::vector<const features::SiftFeatures*> images;
    for (std::size_t j = 0; j < chosen.size(); ++j) {
      images.push_back(sift[position[j]]);
      drawn[j] = builder.SampleRows(images.back()->descriptors.rows());
    }
    if (as_bytes) {
      bytes = builder.SampleBytesOf(images, chosen);
    } else {
      sample = builder.SampleOf(images, chosen);
    }
  }
  // Contiguous blocks (no pool) are already in sample order across ranks.
  bool whole = !split;
  if (split && (pool_ || !encoder->fit_split())) {
    // A repeated split's images are spread over the pool's blocks: the rows
    // are put back in sample (image) order.
    std::vector<double> spans;  // (image, rows) per sampled image of this rank
    for (std::size_t j = 0; j < chosen.size(); ++j) {
      spans.push_back(static_cast<double>(chosen[j]));
      spans.push_back(static_cast<double>(drawn[j]));
    }
    const features::Matrix rows = comm_->AllGatherRows(sample);
    const std::vector<double> all = comm_->AllGather(spans);
    std::vector<std::pair<std::size_t, std::pair<Eigen::Index, Eigen::Index>>> order;  // image -> (offset, rows)
    Eigen::Index offset = 0;
    for (std::size_t i = 0; i + 1 < all.size(); i += 2) {
      const auto n = static_cast<Eigen::Index>(all[i + 1]);
      order.push_back({static_cast<std::size_t>(all[i]), {offset, n}});
      offset += n;
    }
    std::sort(order.begin(), order.end());
    sample.resize(rows.rows(), rows.cols());
    Eigen::Index at = 0;
    for (const auto& [image, span] : order) {
      sample.middleRows(at, span.second) = rows.middleRows(span.first, span.second);
      at += span.second;
    }
    whole = true;
  }
  std::int64_t sample_rows = as_bytes ? bytes.rows() : sample.rows();
  if (!whole) comm_->Sum(&sample_rows, 1);
  if (split && whole && encoder->fit_split()) {  // this rank's contiguous share of the sample
    const Eigen::Index n = sample.rows(), r = comm_->rank(), p = comm_->size();
    sample = features::Matrix(sample.middleRows(n * r / p, n * (r + 1) / p - n * r / p));
  }
  const auto start = Clock::now();
  const double talked = comm_->communication_seconds();
  if (as_bytes) {
    encoder->FitBytes(bytes);
  } else {
    encoder->Fit(sample, *comm_);
  }
  const double took = SecondsSince(start);
  (*t)["vocabulary_s"] += took;
  ++counters_.vocabularies_built;
  model_info_ = nlohmann::json::object();
  for (const auto& [k, v] : encoder->FitRecord()) model_info_[k] = v;
  if (model_info_.contains("kmeans_iterations")) {
    model_info_["kmeans_iterations"] = static_cast<int>(model_info_["kmeans_iterations"].get<double>());
    model_info_["kmeans_max_iterations"] = cfg.vocab.max_iterations;
  }
  model_info_["sample_descriptors"] = sample_rows;
  Log(log_, fmt::format("{} model fitted on {} sampled descriptors in {:.2f} s: {}", encoder->name(), sample_rows, took,
                        model_info_.dump()));
  if (split && encoder->fit_split()) {
    // The allreduce of the per-word sums and counts (waits included).
    const double s = comm_->communication_seconds() - talked;
    (*t)["kmeans_allreduce_s"] += s;
    const int iterations = model_info_.value("kmeans_iterations", 1);
    Log(log_, fmt::format("k-means over {} ranks: {:.1f} ms in collectives, {:.2f} ms per Lloyd iteration",
                          comm_->size(), s * 1e3, s * 1e3 / std::max(1, iterations)));
  }
}

// Chooses (metric, k) on the training split alone: seeded stratified folds,
// one neighbour search per fold and metric at the largest k serves every k.
// Ties keep the earlier metric (as listed) and the smaller k.
void ClassicRunner::SelectKnnByCrossValidation(const ClassicConfig& cfg, const features::Matrix& train,
                                               const classify::KnnOptions& ko, KnnOutcome* out,
                                               std::map<std::string, double>* t) {
  const auto start = Clock::now();
  const auto labels = data_.train.Labels();
  const auto fold = StratifiedFolds(labels, data_.train.num_classes(), cfg.cv_folds, MixSeed(cfg.seed, 0xcf01),
                                    data_.train.class_names());
  const int kmax = *std::max_element(cfg.ks.begin(), cfg.ks.end());
  // In an MPI job the folds are dealt to the ranks (fold f to rank f mod P)
  // and their accuracies summed over the ranks: x + 0 is exact, so every
  // rank gets the one-process values.
  const std::size_t nm = cfg.metrics.size(), nk = cfg.ks.size();
  std::vector<double> fold_acc(static_cast<std::size_t>(cfg.cv_folds) * nm * nk, 0.0);
  for (int fi = 0; fi < cfg.cv_folds; ++fi) {
    if (fi % comm_->size() != comm_->rank()) continue;
    classify::FoldSplit fs = classify::SplitFold(train, labels, fold, fi);
    if (kmax > fs.train.rows()) {
      throw Error("--k: k = " + std::to_string(kmax) + " is larger than a cross-validation fold's training part (" +
                  std::to_string(fs.train.rows()) + " images with --cv-folds " + std::to_string(cfg.cv_folds) + ")");
    }
    const std::vector<int>& yva = fs.held_out_labels;
    classify::KnnClassifier knn(ko);
    knn.Fit(std::move(fs.train), fs.train_labels, data_.train.num_classes());
    for (std::size_t mi = 0; mi < nm; ++mi) {
      const auto nn = knn.Search(fs.held_out, kmax, cfg.metrics[mi]);
      for (std::size_t ki = 0; ki < nk; ++ki) {
        const auto vote = knn.Vote(nn, cfg.ks[ki], cfg.distance_weighted);
        std::size_t correct = 0;
        for (std::size_t i = 0; i < yva.size(); ++i) correct += vote.labels[i] == yva[i];
        fold_acc[(static_cast<std::size_t>(fi) * nm + mi) * nk + ki] =
            static_cast<double>(correct) / static_cast<double>(yva.size());
      }
    }
  }
  comm_->Sum(fold_acc.data(), fold_acc.size());
  std::map<std::string, std::map<int, std::vector<double>>> per_fold;
  for (int fi = 0; fi < cfg.cv_folds; ++fi) {
    for (std::size_t mi = 0; mi < nm; ++mi) {
      for (std::size_t ki = 0; ki < nk; ++ki) {
        per_fold[classify::ToString(cfg.metrics[mi])][cfg.ks[ki]].push_back(
            fold_acc[(static_cast<std::size_t>(fi) * nm + mi) * nk + ki]);
      }
    }
  }
  std::vector<std::pair<std::string, int>> grid;
  std::vector<double> means;
  for (auto metric : cfg.metrics) {
    const std::string m = classify::ToString(metric);
    for (int k : cfg.ks) {
      const double mean = eval::Mean(per_fold[m][k]);
      out->cv_accuracy[m][k] = mean;
      out->cv_std[m][k] = eval::StdDev(per_fold[m][k]);
      grid.emplace_back(m, k);
      means.push_back(mean);
    }
  }
  std::tie(out->selected_metric, out->selected_k) = grid[static_cast<std::size_t>(FirstArgMax(means))];
  out->selected_how = fmt::format("{}-fold stratified cross-validation on the training split", cfg.cv_folds);
  (*t)["selection_s"] += SecondsSince(start);
}

ClassicRunner::KnnOutcome ClassicRunner::Knn(const ClassicConfig& cfg, const FeaturePair& f,
                                             std::map<std::string, double>* t) {
  const auto start = Clock::now();
  const int kmax = *std::max_element(cfg.ks.begin(), cfg.ks.end());
  if (static_cast<std::size_t>(kmax) > data_.train.size()) {
    throw Error("--k: k = " + std::to_string(kmax) + " is larger than the training set (" +
                std::to_string(data_.train.size()) + " images)");
  }
  classify::KnnOptions ko = cfg.knn;
  ko.threads = threads_;
  ko.seed = cfg.seed;
  classify::KnnClassifier knn(ko);
  knn.Fit(f.train, data_.train.Labels(), data_.train.num_classes());
  KnnOutcome out;
  const auto truth = data_.test.Labels();
  for (auto metric : cfg.metrics) {
    const auto nn = classify::SearchSharded(knn, f.test, kmax, metric, *comm_);  // Search() in one process
    ++counters_.neighbour_searches;
    const std::string m = classify::ToString(metric);
    for (int k : cfg.ks) {
      auto vote = knn.Vote(nn, k, cfg.distance_weighted);
      std::size_t correct = 0;
      for (std::size_t i = 0; i < truth.size(); ++i) correct += vote.labels[i] == truth[i];
      out.accuracy[m][k] = static_cast<double>(correct) / static_cast<double>(truth.size());
      out.votes[m].emplace(k, std::move(vote));
      if (data_.train.num_classes() >= kTopKMinClasses) {
        out.top5_correct[m][k] = eval::TopKCorrect(truth, knn.Rank(nn, k, cfg.distance_weighted, 5), 5);
      }
    }
  }
  (*t)["knn_s"] += SecondsSince(start);
  SelectKnnByCrossValidation(cfg, f.train, ko, &out, t);
  return out;
}

ClassicRunner::KnnOutcome ClassicRunner::Svm(const ClassicConfig& cfg, const FeaturePair& f,
                                             std::map<std::string, double>* t) {
  const auto start = Clock::now();
  classify::LinearSvmOptions so = cfg.svm;
  so.threads = threads_;
  so.seed = cfg.seed;
  classify::LinearSvm svm(so);
  {
    Progress progress(cfg.svm.c_grid.empty()
                          ? "linear SVM (one-vs-rest classes)"
                          : fmt::format("linear SVM ({} C values x {} folds + final, one-vs-rest classes)",
                                        cfg.svm.c_grid.size(), cfg.svm.cv_folds),
                      svm.Trainings(data_.train.num_classes()), log_);
    svm.Fit(f.train, data_.train.Labels(), data_.train.num_classes(), &progress);
    progress.Finish();
  }
  const features::Matrix scores = svm.Scores(f.test);
  KnnOutcome out;
  classify::VoteResult vote;
  const auto truth = data_.test.Labels();
  std::size_t correct = 0;
  for (Eigen::Index i = 0; i < scores.rows(); ++i) {
    Eigen::Index best = 0;
    for (Eigen::Index c = 1; c < scores.cols(); ++c) {
      if (scores(i, c) > scores(i, best)) best = c;
    }
    vote.labels.push_back(static_cast<int>(best));
    vote.scores.push_back(scores(i, best));
    correct += static_cast<int>(best) == truth[static_cast<std::size_t>(i)];
  }
  out.accuracy["svm"][0] = static_cast<double>(correct) / static_cast<double>(truth.size());
  if (scores.cols() >= kTopKMinClasses) {
    std::vector<std::vector<int>> ranking(static_cast<std::size_t>(scores.rows()));
    for (Eigen::Index i = 0; i < scores.rows(); ++i) {
      auto& r = ranking[static_cast<std::size_t>(i)];
      r.resize(static_cast<std::size_t>(scores.cols()));
      for (Eigen::Index c = 0; c < scores.cols(); ++c) r[static_cast<std::size_t>(c)] = static_cast<int>(c);
      // Highest score first; equal scores keep the lower class index, as the argmax does.
      std::stable_sort(r.begin(), r.end(), [&](int a, int b) { return scores(i, a) > scores(i, b); });
    }
    out.top5_correct["svm"][0] = eval::TopKCorrect(truth, ranking, 5);
  }
  out.votes["svm"].emplace(0, std::move(vote));
  std::size_t converged = 0, iterations = 0;
  double gap = 0;
  for (std::size_t c = 0; c < svm.iterations().size(); ++c) {
    converged += svm.converged()[c];
    iterations = std::max(iterations, svm.iterations()[c]);
    gap = std::max(gap, svm.duality_gaps()[c]);
  }
  // The solver, its threshold and how close the final models came: the
  // duality gap in vl_svm's objective, whichever solver ran.
  out.svm = {{"c", svm.c()},
             {"solver", classify::SvmSolverNames().Show(cfg.svm.solver)},
             {"epsilon", cfg.svm.StoppingThreshold()},
             {"classes_converged", converged},
             {"max_iterations_run", iterations},
             {"max_duality_gap", gap}};
  out.selected_metric = "svm";
  out.selected_k = 0;
  if (cfg.svm.c_grid.empty()) {
    out.selected_how = "C fixed by the configuration (no selection)";
  } else {
    out.selected_how =
        fmt::format("{}-fold stratified cross-validation over C on the training split", cfg.svm.cv_folds);
    out.cv_accuracy["svm"][0] = svm.cv_accuracy().at(svm.c());
  }
  if (!svm.cv_accuracy().empty()) {
    nlohmann::ordered_json cv = nlohmann::json::array();
    for (const auto& [c, a] : svm.cv_accuracy()) cv.push_back({{"c", c}, {"accuracy", a}});
    out.svm["cross_validation"] = cv;
  }
  Log(log_, fmt::format("linear SVM ({}, C = {}): {}/{} classes converged, at most {} sample visits, duality gap at "
                        "most {:.2e}",
                        classify::SvmSolverNames().Show(cfg.svm.solver), svm.c(), converged, svm.iterations().size(),
                        iterations, gap));
  (*t)["svm_s"] += SecondsSince(start);
  return out;
}

ClassicRunner::KnnOutcome ClassicRunner::Classify(const ClassicConfig& cfg, const FeaturePair& f,
                                                  std::map<std::string, double>* t) {
  const FeaturePair* in = &f;
  FeaturePair mapped;
  if (cfg.homkermap != KernelMap::kNone) {
    const auto start = Clock::now();
    features::HomKerMapOptions ho = cfg.hkm;
    ho.kernel = KernelOf(cfg.homkermap);
    if ((f.train.array() < 0).any() || (f.test.array() < 0).any()) {
      throw Error("--homkermap " + KernelMapNames().Show(cfg.homkermap) +
                  ": the features have negative values; the map is for histograms");
    }
    const features::HomogeneousKernelMap map(ho);
    mapped.train = map.Apply(f.train, threads_);
    mapped.test = map.Apply(f.test, threads_);
    in = &mapped;
    (*t)["homkermap_s"] += SecondsSince(start);
  }
  return cfg.classifier == Classifier::kSvm ? Svm(cfg, *in, t) : Knn(cfg, *in, t);
}

namespace {
// One split, start to finish: features, classifier, selection, and the run
// folder's files. `timings` already holds the loading time. `galleries`:
// draw figures/gallery (decoding a few hundred test images), which repeated
// splits do for the first split only.
nlohmann::ordered_json RunOnSplit(const ClassicConfig& cfg, const LoadedData& data, ClassicRunner& runner,
                                  const std::string& out_dir, std::map<std::string, double> timings,
                                  Clock::time_point start, bool is_root = true, bool galleries = true) {
  const FeaturePair f = runner.Features(cfg, &timings);
  if (!is_root && cfg.classifier == Classifier::kSvm)
    return nullptr;  // rank 0 trains the SVM on the gathered encodings
  const auto knn = runner.Classify(cfg, f, &timings);
  if (!is_root) return nullptr;  // rank 0 writes the run folder
  timings["total_s"] = SecondsSince(start);

  RunOutputs outputs(out_dir);
  nlohmann::ordered_json r = ResultsHead(cfg, data.train.class_names(), data.train.size(), data.test.size());
  if (!runner.model_info().empty()) r["model"] = runner.model_info();
  nlohmann::ordered_json acc;
  std::string best_m;
  int best_k = 0;
  double best = -1;
  if (cfg.classifier == Classifier::kSvm) {
    best_m = "svm";
    best = knn.accuracy.at("svm").at(0);
    acc["svm"] = best;
    r["accuracy"] = acc;
  } else {
    nlohmann::ordered_json cv;
    std::vector<std::pair<std::string, int>> grid;
    std::vector<double> accuracies;
    for (auto metric : cfg.metrics) {
      const std::string m = classify::ToString(metric);
      nlohmann::ordered_json row, cvrow;
      for (int k : cfg.ks) {
        const double a = knn.accuracy.at(m).at(k);
        row[std::to_string(k)] = a;
        cvrow[std::to_string(k)] = knn.cv_accuracy.at(m).at(k);
        grid.emplace_back(m, k);
        accuracies.push_back(a);
      }
      acc[m] = row;
      cv[m] = cvrow;
    }
    const auto i = static_cast<std::size_t>(FirstArgMax(accuracies));
    std::tie(best_m, best_k) = grid[i];
    best = accuracies[i];
    r["accuracy"] = acc;
    r["cv_accuracy"] = cv;
  }
  const auto n_test = static_cast<std::int64_t>(data.test.size());
  auto correct_of = [&](const std::string& m, int k) {
    const auto& v = knn.votes.at(m).at(k);
    std::int64_t n = 0;
    for (std::size_t i = 0; i < data.test.size(); ++i) n += v.labels[i] == data.test[i].label;
    return n;
  };
  auto interval = [&](std::int64_t correct) {
    const auto ci = eval::WilsonInterval(correct, n_test);
    return nlohmann::ordered_json{ci.lo, ci.hi};
  };
  // The headline: the point chosen on training data alone.
  const std::string sel_m = knn.selected_metric;
  const int sel_k = knn.selected_k;
  const std::int64_t sel_correct = correct_of(sel_m, sel_k);
  nlohmann::ordered_json sel;
  sel["metric"] = sel_m;
  sel["k"] = cfg.classifier == Classifier::kSvm ? nlohmann::json(nullptr) : nlohmann::json(sel_k);
  if (cfg.classifier == Classifier::kSvm) sel["c"] = knn.svm["c"];
  sel["accuracy"] = static_cast<double>(sel_correct) / static_cast<double>(n_test);
  sel["correct"] = sel_correct;
  sel["accuracy_ci95"] = interval(sel_correct);
  sel["interval"] = "Wilson score, 95%";
  sel["how"] = knn.selected_how;
  if (knn.cv_accuracy.count(sel_m)) {
    sel["cv_accuracy"] = knn.cv_accuracy.at(sel_m).at(sel_k);
    if (knn.cv_std.count(sel_m)) sel["cv_std"] = knn.cv_std.at(sel_m).at(sel_k);
  }
  auto add_top5 = [&](nlohmann::ordered_json* point, const std::string& m, int k) {
    const auto it = knn.top5_correct.find(m);
    if (it == knn.top5_correct.end() || !it->second.count(k)) return;
    const std::int64_t c5 = it->second.at(k);
    (*point)["top5_accuracy"] = static_cast<double>(c5) / static_cast<double>(n_test);
    (*point)["top5_correct"] = c5;
    (*point)["top5_ci95"] = interval(c5);
  };
  add_top5(&sel, sel_m, sel_k);
  r["selected"] = sel;
  // The test-optimal point: an oracle, optimistic by construction.
  nlohmann::ordered_json b{
      {"metric", best_m}, {"k", cfg.classifier == Classifier::kSvm ? nlohmann::json(nullptr) : nlohmann::json(best_k)}};
  if (cfg.classifier == Classifier::kSvm) b["c"] = knn.svm["c"];
  b["accuracy"] = best;
  b["accuracy_ci95"] = interval(correct_of(best_m, best_k));
  add_top5(&b, best_m, best_k);
  b["oracle"] = true;
  b["how"] = "chosen on the test labels (optimistic; not the headline)";
  r["best"] = b;
  if (cfg.classifier == Classifier::kSvm) r["svm"] = knn.svm;
  // Per-sample predictions for the reported (selected) point.
  const auto& vote = knn.votes.at(sel_m).at(sel_k);
  eval::Predictions preds(data.test.class_names());
  std::vector<int> truth, predicted;
  for (std::size_t i = 0; i < data.test.size(); ++i) {
    preds.Add({data.test[i].source, data.test[i].label, vote.labels[i], vote.scores[i]});
    truth.push_back(data.test[i].label);
    predicted.push_back(vote.labels[i]);
  }
  const auto cm = preds.Confusion();
  outputs.WriteEvaluation(preds, cm);
  if (galleries) outputs.WriteGalleries(preds, data.test, 8, cfg.threads);
  r["confusion"] = nlohmann::json::parse(cm.ToJson())["counts"];
  r["mean_per_class_accuracy"] = cm.MeanPerClassAccuracy();
  r["macro_f1"] = cm.MacroF1();
  const auto boot = eval::BootstrapClassMetrics(truth, predicted, data.test.num_classes(), 1000, cfg.seed);
  r["bootstrap"] = {
      {"resamples", boot.resamples},
      {"mean_per_class_accuracy_ci95", {boot.mean_per_class_accuracy.lo, boot.mean_per_class_accuracy.hi}},
      {"macro_f1_ci95", {boot.macro_f1.lo, boot.macro_f1.hi}}};
  r["test_fingerprint"] = eval::TestSetFingerprint(preds);
  r["timings_s"] = timings;
  const auto& c = runner.counters();
  r["computed"] = {{"tiny_extractions", c.tiny_extractions},
                   {"sift_extractions", c.sift_extractions},
                   {"vocabularies_built", c.vocabularies_built},
                   {"encodings", c.encodings},
                   {"neighbour_searches", c.neighbour_searches}};
  if (cfg.classifier == Classifier::kKnn) {  // accuracy-vs-k figure for this run
    std::map<std::string, std::vector<std::pair<double, double>>> series;
    for (const auto& [m, byk] : knn.accuracy) {
      for (const auto& [k, a] : byk) series[m].push_back({static_cast<double>(k), a});
    }
    outputs.WriteLinePlot("accuracy_vs_k", "Accuracy vs k", "k", "accuracy", series);
  }
  outputs.WriteResults(r);
  return r;
}
}  // namespace

nlohmann::ordered_json RunClassic(const ClassicConfig& cfg, const std::string& out_dir, Logger* log) {
  return RunClassic(cfg, out_dir, log, features::SingleProcess());
}

nlohmann::ordered_json RunClassic(const ClassicConfig& cfg, const std::string& out_dir, Logger* log,
                                  const features::Collective& comm) {
  cfg.Validate();
  if (cfg.repeats > 1) return RunRepeats(cfg, out_dir, log, comm);
  const auto start = Clock::now();
  std::map<std::string, double> timings;
  const auto load_start = Clock::now();
  LoadedData data = LoadData(cfg.data, cfg.seed);
  timings["load_s"] = SecondsSince(load_start);
  if (log) {
    log->Info(fmt::format("{}: {} classes, {} train / {} test images", cfg.data.path, data.train.num_classes(),
                          data.train.size(), data.test.size()));
  }
  const std::string cache = cfg.cache_dir.empty() ? out_dir + "/cache" : cfg.cache_dir;
  ClassicRunner runner(data, cache, cfg.threads, log);
  runner.UseCollective(&comm);
  if (comm.size() > 1 && log) {
    log->Info(
        fmt::format("rank {} of {}: train images [{}, {}), test images [{}, {})", comm.rank(), comm.size(),
                    data.train.size() * comm.rank() / comm.size(), data.train.size() * (comm.rank() + 1) / comm.size(),
                    data.test.size() * comm.rank() / comm.size(), data.test.size() * (comm.rank() + 1) / comm.size()));
  }
  return RunOnSplit(cfg, data, runner, out_dir, timings, start, comm.rank() == 0);
}

std::vector<RepeatSplit> DrawRepeatSplits(const data::Dataset& pool, std::size_t train_per_class,
                                          std::size_t test_per_class, int repeats, std::uint64_t seed) {
  if (repeats < 1) throw Error("--repeats: must be >= 1, got " + std::to_string(repeats));
  if (train_per_class == 0)
    throw Error("--repeats needs --train-per-class N (the training images per class of each split)");
  const auto counts = pool.CountPerClass();
  for (std::size_t c = 0; c < counts.size(); ++c) {
    if (counts[c] <= train_per_class) {
      throw Error("--train-per-class " + std::to_string(train_per_class) + ": class '" + pool.class_names()[c] +
                  "' has " + std::to_string(counts[c]) + " images, which leaves none for testing");
    }
  }
  std::vector<std::vector<std::size_t>> by_class(counts.size());
  for (std::size_t i = 0; i < pool.size(); ++i) by_class[static_cast<std::size_t>(pool[i].label)].push_back(i);
  std::vector<RepeatSplit> out;
  for (int r = 0; r < repeats; ++r) {
    Rng rng(MixSeed(seed, 0x5e9000 + static_cast<std::uint64_t>(r)));
    RepeatSplit s;
    for (auto idx : by_class) {
      rng.Shuffle(idx);
      const std::size_t n_test =
          test_per_class > 0 ? std::min(test_per_class, idx.size() - train_per_class) : idx.size() - train_per_class;
      s.train.insert(s.train.end(), idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(train_per_class));
      s.test.insert(s.test.end(), idx.begin() + static_cast<std::ptrdiff_t>(train_per_class),
                    idx.begin() + static_cast<std::ptrdiff_t>(train_per_class + n_test));
    }
    // Dataset order (the pool's), so runs and caches do not depend on the draw order.
    std::sort(s.train.begin(), s.train.end());
    std::sort(s.test.begin(), s.test.end());
    out.push_back(std::move(s));
  }
  return out;
}

nlohmann::ordered_json RunRepeats(const ClassicConfig& cfg, const std::string& out_dir, Logger* log) {
  return RunRepeats(cfg, out_dir, log, features::SingleProcess());
}

nlohmann::ordered_json RunRepeats(const ClassicConfig& cfg, const std::string& out_dir, Logger* log,
                                  const features::Collective& comm) {
  const bool root = comm.rank() == 0;
  const auto start = Clock::now();
  const Pool pool = LoadPool(cfg.data, cfg.seed);
  const auto splits =
      DrawRepeatSplits(pool.images, cfg.data.train_per_class, cfg.data.test_per_class, cfg.repeats, cfg.seed);
  if (log) {
    log->Info(fmt::format(
        "{} repeats of a seeded random split: {} training images per class, {} test images, from {} pooled images",
        cfg.repeats, cfg.data.train_per_class, splits.front().test.size(), pool.images.size()));
  }
  const std::string cache = cfg.cache_dir.empty() ? out_dir + "/cache" : cfg.cache_dir;
  ClassicConfig one = cfg;
  one.repeats = 1;
  one.cache_dir = cache;
  // A finished split is reused whatever the thread count (it does not
  // change the numbers): its key holds the default.
  ClassicConfig keyed = one;
  keyed.threads = 0;
  const std::string cfg_key = keyed.ToJson().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  DescriptorPool descriptor_pool;  // dense SIFT of every pooled image, shared by every split
  descriptor_pool.pool = &pool.images;
  // Built here, before any split runs: concurrent splits only read it.
  for (std::size_t i = 0; i < pool.images.size(); ++i) descriptor_pool.index.emplace(pool.images[i].source, i);
  std::vector<nlohmann::json> results(static_cast<std::size_t>(cfg.repeats));
  const auto split_dir = [&](int r) { return (fs::path(out_dir) / "repeats" / fmt::format("r{:02d}", r)).string(); };
  const auto split_data = [&](int r) {
    LoadedData d;
    d.info = pool.loaded.info;
    d.train = pool.images.Select(splits[static_cast<std::size_t>(r)].train);
    d.test = pool.images.Select(splits[static_cast<std::size_t>(r)].test);
    return d;
  };
  // What done.json must hold for split `d`'s folder to be reused.
  const auto split_key = [&](const LoadedData& d) {
    CacheKey key("repeat-v1");
    key.Add("cfg", cfg_key).Add("train", Hex64(d.train.Fingerprint())).Add("test", Hex64(d.test.Fingerprint()));
    return key.text();
  };
  // One split, start to finish, with `threads` workers (its folder reused
  // when finished). Rank 0 keeps the results.
  auto run_split = [&](int r, int threads) {
    const std::string dir = split_dir(r);
    const LoadedData d = split_data(r);
    const std::string key = split_key(d);
    nlohmann::json res = root ? FinishedRepeat(dir, key, cfg.clobber) : nlohmann::json();
    std::string reuse = res.is_null() ? "0" : "1";  // rank 0's verdict, for every rank
    comm.Broadcast(&reuse);
    if (reuse == "0") {
      // In an MPI job every rank works on this split: its block of the
      // pool's descriptors, the split's k-means and kNN (ClassicRunner).
      ClassicRunner runner(d, cache, threads, log);
      runner.UseDescriptorPool(&descriptor_pool);
      runner.UseCollective(&comm);
      std::map<std::string, double> timings;
      ClassicConfig mine = one;
      mine.threads = threads;
      // Galleries of the first split only: the other splits would show the
      // same kinds of errors, at 0.3-0.4 s of image decoding and PNG each.
      res = RunOnSplit(mine, d, runner, dir, timings, Clock::now(), root, /*galleries=*/r == 0);
      if (root) WriteFileAtomic(fs::path(dir) / "done.json", nlohmann::json({{"key", key}}).dump());
    } else if (log) {
      log->Info(fmt::format("repeat {}/{}: finished earlier, reused", r + 1, cfg.repeats));
    }
    if (!root) return;
    if (log) {
      log->Info(fmt::format("repeat {}/{}: accuracy {:.4f} (oracle {:.4f})", r + 1, cfg.repeats,
                            res["selected"]["accuracy"].get<double>(), res["best"]["accuracy"].get<double>()));
    }
    results[static_cast<std::size_t>(r)] = std::move(res);
  };
  // In one process the splits run two at a time, each on half the cores: a
  // split leaves a core idle in its serial stretches (k-means' update steps,
  // the kNN selection, the run folder's files), and its results do not
  // depend on the number of threads. The descriptor pool is filled first.
  // An MPI job runs them one after another, each over every rank.
  const int threads = ResolveThreads(cfg.threads);
  const int lanes = comm.size() == 1 && threads >= 2 && cfg.repeats > 1 ? 2 : 1;
  if (lanes == 1) {
    for (int r = 0; r < cfg.repeats; ++r) run_split(r, threads);
  } else {
    bool unfinished = false;
    for (int r = 0; r < cfg.repeats && !unfinished; ++r) {
      unfinished = FinishedRepeat(split_dir(r), split_key(split_data(r)), cfg.clobber).is_null();
    }
    if (unfinished) {
      const LoadedData first = split_data(0);  // the runner keeps a reference
      ClassicRunner filler(first, cache, threads, log);
      filler.UseDescriptorPool(&descriptor_pool);
      std::map<std::string, double> timings;
      filler.FillDescriptorPool(one, &timings);
    }
    std::atomic<int> next{0};
    std::vector<std::exception_ptr> failed(static_cast<std::size_t>(lanes));
    std::vector<std::thread> workers;
    workers.reserve(static_cast<std::size_t>(lanes));
    for (int w = 0; w < lanes; ++w) {
      workers.emplace_back([&, w] {
        try {
          for (int r = next++; r < cfg.repeats; r = next++) run_split(r, std::max(1, threads / lanes));
        } catch (...) {
          failed[static_cast<std::size_t>(w)] = std::current_exception();
          next = cfg.repeats;  // the other lane stops after its split
        }
      });
    }
    for (auto& t : workers) t.join();
    for (const auto& e : failed) {
      if (e) std::rethrow_exception(e);
    }
  }
  if (!root) return nullptr;
  RepeatTally tally(pool.images.class_names());
  std::string how;
  for (int r = 0; r < cfg.repeats; ++r) {
    const auto& res = results[static_cast<std::size_t>(r)];
    tally.Add(r, res, split_dir(r));
    if (how.empty()) how = res["selected"].value("how", std::string("the configured point"));
  }
  if (!root) return nullptr;
  return tally.Write(
      ResultsHead(cfg, pool.images.class_names(), splits.front().train.size(), splits.front().test.size()), how,
      cfg.data.train_per_class, out_dir, SecondsSince(start));
}

}  // namespace scenelab::pipelines

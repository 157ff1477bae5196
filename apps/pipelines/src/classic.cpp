#include "scenelab/pipelines/classic.h"

#include <chrono>
#include <filesystem>

#include <fmt/format.h>

#include "scenelab/data/config_key.h"
#include "scenelab/data/error.h"
#include "scenelab/data/io.h"
#include "scenelab/data/rng.h"
#include "scenelab/features/cache.h"
#include "scenelab/pipelines/outputs.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace scenelab::pipelines {

void DataConfig::Validate() const {
  if (path.empty()) throw Error("data: --data is required");
  open.Validate();
}

void ClassicConfig::Validate() const {
  data.Validate();
  if (features != "tiny" && features != "bow") {
    throw Error("--features: unknown value '" + features + "' (expected tiny or bow)");
  }
  tiny.Validate();
  if (features == "bow") {
    sift.Validate();
    vocab.Validate();
    bow.Validate();
  }
  if (metrics.empty()) throw Error("--metric: at least one metric is needed");
  if (features == "tiny" && tiny.zero_mean) {
    for (auto m : metrics) {
      if (m == classify::Metric::kChi2) {
        throw Error("--metric chi2 needs non-negative features; tiny images are zero-mean (use l1 or l2)");
      }
    }
  }
  if (ks.empty()) throw Error("--k: at least one k is needed");
  for (int k : ks) {
    if (k < 1) throw Error("--k: every k must be >= 1, got " + std::to_string(k));
  }
  knn.Validate();
}

nlohmann::ordered_json ClassicConfig::ToJson() const {
  nlohmann::ordered_json j;
  j["data"] = {{"path", data.path},
               {"format", data.open.format},
               {"test_fraction", data.open.test_fraction},
               {"train_per_class", data.train_per_class},
               {"test_per_class", data.test_per_class}};
  j["features"] = features;
  if (features == "tiny") {
    j["tiny"] = {{"size", tiny.size},
                 {"crop_square", tiny.crop_square},
                 {"interpolation", ToString(tiny.interpolation)},
                 {"zero_mean", tiny.zero_mean},
                 {"norm", ToString(tiny.norm)}};
  } else {
    j["sift"] = {{"step", sift.step},           {"bin_sizes", sift.bin_sizes}, {"fast", sift.fast},
                 {"window_size", sift.window_size}, {"smooth", sift.smooth},   {"magnif", sift.magnif},
                 {"phow_bounds", sift.phow_bounds}, {"contrast_threshold", sift.contrast_threshold},
                 {"root_sift", sift.root_sift}};
    j["vocabulary"] = {{"size", vocab.size},
                       {"algorithm", vocab.algorithm},
                       {"max_iterations", vocab.max_iterations},
                       {"descriptors_per_image", vocab.descriptors_per_image},
                       {"repetitions", vocab.repetitions}};
    j["bow"] = {{"pyramid_levels", bow.pyramid_levels}};
  }
  std::vector<std::string> ms;
  for (auto m : metrics) ms.push_back(classify::ToString(m));
  j["knn"] = {{"metrics", ms},
              {"k", ks},
              {"distance_weighted", distance_weighted},
              {"index", classify::ToString(knn.algorithm)},
              {"flann_trees", knn.flann_trees},
              {"flann_checks", knn.flann_checks}};
  j["seed"] = seed;
  j["threads"] = threads;
  return j;
}

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

namespace {
CacheKey SiftKey(const features::DenseSiftOptions& s) {
  CacheKey k("dsift-v1");
  std::string bins;
  for (int b : s.bin_sizes) bins += std::to_string(b) + ",";
  k.Add("step", s.step).Add("bins", bins).Add("fast", s.fast).Add("window", s.window_size).Add("smooth", s.smooth);
  k.Add("magnif", s.magnif).Add("phow_bounds", s.phow_bounds).Add("contrast", s.contrast_threshold).Add("root", s.root_sift);
  return k;
}

void Log(Logger* log, const std::string& line) {
  if (log) log->Info(line);
}
}  // namespace

const std::vector<features::SiftFeatures>& ClassicRunner::Sift(const ClassicConfig& cfg, bool train,
                                                                std::map<std::string, double>* t) {
  const data::Dataset& ds = train ? data_.train : data_.test;
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
      Log(log_, fmt::format("dense SIFT ({}): loaded {} images from cache", train ? "train" : "test", cached->size()));
      return sift_memo_.emplace(key.text(), std::move(*cached)).first->second;
    }
    if (why != "missing") Log(log_, "cache " + path + " not used: " + why);
  }
  const auto start = Clock::now();
  Progress progress(fmt::format("dense SIFT ({})", train ? "train" : "test"), ds.size(), log_);
  auto f = features::ComputeDenseSift(ds, cfg.sift, threads_, &progress);
  progress.Finish();
  (*t)["dsift_s"] += SecondsSince(start);
  ++counters_.sift_extractions;
  features::SaveSiftCache(path, key.text(), f);
  return sift_memo_.emplace(key.text(), std::move(f)).first->second;
}

std::size_t ClassicRunner::EstimateDescriptorBytes(const ClassicConfig& cfg) const {
  // From the first training image's size; 128 bytes + 12 bytes of frame each.
  if (data_.train.empty()) return 0;
  const cv::Mat first = data_.train.LoadImage(0);
  const std::size_t per_image = features::DenseSiftFrameCount(first.cols, first.rows, cfg.sift) * (128 + 12);
  return per_image * (data_.train.size() + data_.test.size());
}

FeaturePair ClassicRunner::Features(const ClassicConfig& cfg, std::map<std::string, double>* t) {
  FeaturePair out;
  if (cfg.features == "tiny") {
    for (bool train : {true, false}) {
      const data::Dataset& ds = train ? data_.train : data_.test;
      CacheKey key("tiny-v1");
      key.Add("size", cfg.tiny.size).Add("crop", cfg.tiny.crop_square).Add("interp", ToString(cfg.tiny.interpolation));
      key.Add("zero_mean", cfg.tiny.zero_mean).Add("norm", ToString(cfg.tiny.norm)).Add("data", Hex64(ds.Fingerprint()));
      const std::string path = cache_dir_ + "/tiny-" + key.id() + ".bin";
      std::string why;
      std::optional<features::Matrix> m;
      if (!cfg.clobber) m = features::LoadMatrixCache(path, key.text(), &why);
      if (!m) {
        if (!cfg.clobber && why != "missing") Log(log_, "cache " + path + " not used: " + why);
        const auto start = Clock::now();
        Progress progress(fmt::format("tiny images ({})", train ? "train" : "test"), ds.size(), log_);
        m = features::ComputeTinyImages(ds, cfg.tiny, threads_, &progress);
        progress.Finish();
        (*t)["tiny_s"] += SecondsSince(start);
        ++counters_.tiny_extractions;
        features::SaveMatrixCache(path, key.text(), *m);
      }
      (train ? out.train : out.test) = std::move(*m);
    }
    return out;
  }

  // Bag of words: descriptors -> vocabulary -> encodings, each cached.
  CacheKey vkey = SiftKey(cfg.sift);
  vkey.Add("train", Hex64(data_.train.Fingerprint())).Add("vocab", cfg.vocab.size).Add("algo", cfg.vocab.algorithm);
  vkey.Add("iters", cfg.vocab.max_iterations).Add("per_image", cfg.vocab.descriptors_per_image);
  vkey.Add("reps", cfg.vocab.repetitions).Add("seed", cfg.seed);
  const std::string vpath = cache_dir_ + "/vocab-" + vkey.id() + ".bin";
  CacheKey ekey = vkey;
  ekey.Add("pyramid", cfg.bow.pyramid_levels).Add("test", Hex64(data_.test.Fingerprint()));
  const std::string epath_train = cache_dir_ + "/bow-" + ekey.id() + "-train.bin";
  const std::string epath_test = cache_dir_ + "/bow-" + ekey.id() + "-test.bin";
  if (!cfg.clobber) {
    auto tr = features::LoadMatrixCache(epath_train, ekey.text() + "|split=train");
    auto te = features::LoadMatrixCache(epath_test, ekey.text() + "|split=test");
    if (tr && te) {
      Log(log_, "bag-of-words encodings loaded from cache");
      return FeaturePair{std::move(*tr), std::move(*te)};
    }
  }
  const std::size_t estimate = EstimateDescriptorBytes(cfg);
  const bool streaming = estimate > cfg.max_descriptor_memory;
  if (streaming) {
    Log(log_, fmt::format("dense SIFT descriptors would take about {:.1f} GB: streaming them (two passes, no descriptor cache)",
                          estimate / 1e9));
  }
  features::VocabularyOptions vo = cfg.vocab;
  vo.seed = cfg.seed;
  features::VocabularyBuilder builder(vo, threads_);
  features::Vocabulary vocab;
  bool have_vocab = false;
  if (!cfg.clobber) {
    std::string why;
    // Vocabulary files carry their own key; reload only when it matches.
    if (auto m = features::LoadMatrixCache(vpath, vkey.text(), &why)) {
      vocab = features::Vocabulary(std::move(*m), vo, 0.0);
      have_vocab = true;
      Log(log_, fmt::format("vocabulary of {} words loaded from cache", vocab.size()));
    }
  }
  if (!have_vocab) {
    features::Matrix sample;
    if (streaming) {
      const auto start = Clock::now();
      std::vector<features::Matrix> parts(data_.train.size());
      Progress progress("dense SIFT sample (train)", data_.train.size(), log_);
      features::ForEachDenseSift(data_.train, cfg.sift, threads_, &progress,
                                 [&](std::size_t i, features::SiftFeatures&& f) { parts[i] = builder.SampleImage(f, i); });
      progress.Finish();
      (*t)["dsift_s"] += SecondsSince(start);
      ++counters_.sift_extractions;
      sample = features::VocabularyBuilder::Stack(parts);
    } else {
      const auto& train_sift = Sift(cfg, true, t);
      std::vector<const features::SiftFeatures*> ptrs;
      for (const auto& f : train_sift) ptrs.push_back(&f);
      sample = builder.Sample(ptrs);
    }
    const auto start = Clock::now();
    vocab = builder.Cluster(sample);
    (*t)["vocabulary_s"] += SecondsSince(start);
    ++counters_.vocabularies_built;
    features::SaveMatrixCache(vpath, vkey.text(), vocab.centers());
    Log(log_, fmt::format("vocabulary of {} words built in {:.2f} s (energy {:.4g})", vocab.size(), SecondsSince(start),
                          vocab.energy()));
  }
  features::BowEncoder encoder(vocab, cfg.bow);
  for (bool train : {true, false}) {
    const data::Dataset& ds = train ? data_.train : data_.test;
    auto& m = train ? out.train : out.test;
    if (streaming) {
      const auto start = Clock::now();
      m.resize(static_cast<Eigen::Index>(ds.size()), encoder.dim());
      Progress progress(fmt::format("dense SIFT + encoding ({})", train ? "train" : "test"), ds.size(), log_);
      features::ForEachDenseSift(ds, cfg.sift, threads_, &progress, [&](std::size_t i, features::SiftFeatures&& f) {
        encoder.Encode(f, m.row(static_cast<Eigen::Index>(i)).data());
      });
      progress.Finish();
      (*t)["dsift_encode_s"] += SecondsSince(start);
      ++counters_.sift_extractions;
      continue;
    }
    const auto& sift = Sift(cfg, train, t);
    const auto start = Clock::now();
    Progress progress(fmt::format("encoding ({})", train ? "train" : "test"), sift.size(), log_);
    m = features::EncodeBow(sift, encoder, threads_, &progress);
    progress.Finish();
    (*t)["encode_s"] += SecondsSince(start);
  }
  ++counters_.encodings;
  features::SaveMatrixCache(epath_train, ekey.text() + "|split=train", out.train);
  features::SaveMatrixCache(epath_test, ekey.text() + "|split=test", out.test);
  return out;
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
    const auto nn = knn.Search(f.test, kmax, metric);
    ++counters_.neighbour_searches;
    const std::string m = classify::ToString(metric);
    for (int k : cfg.ks) {
      auto vote = knn.Vote(nn, k, cfg.distance_weighted);
      std::size_t correct = 0;
      for (std::size_t i = 0; i < truth.size(); ++i) correct += vote.labels[i] == truth[i];
      out.accuracy[m][k] = static_cast<double>(correct) / static_cast<double>(truth.size());
      out.votes[m].emplace(k, std::move(vote));
    }
  }
  (*t)["knn_s"] += SecondsSince(start);
  return out;
}

nlohmann::ordered_json RunClassic(const ClassicConfig& cfg, const std::string& out_dir, Logger* log) {
  cfg.Validate();
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
  const FeaturePair f = runner.Features(cfg, &timings);
  const auto knn = runner.Knn(cfg, f, &timings);
  timings["total_s"] = SecondsSince(start);

  RunOutputs outputs(out_dir);
  nlohmann::ordered_json r;
  r["kind"] = "classic";
  r["pipeline"] = cfg.features == "tiny" ? "tiny+knn" : "bow+knn";
  r["params"] = cfg.ToJson();
  r["seed"] = cfg.seed;
  r["classes"] = data.train.class_names();
  r["train_size"] = data.train.size();
  r["test_size"] = data.test.size();
  nlohmann::ordered_json acc;
  std::string best_m;
  int best_k = 0;
  double best = -1;
  for (auto metric : cfg.metrics) {
    const std::string m = classify::ToString(metric);
    nlohmann::ordered_json row;
    for (int k : cfg.ks) {
      const double a = knn.accuracy.at(m).at(k);
      row[std::to_string(k)] = a;
      if (a > best) {
        best = a;
        best_m = m;
        best_k = k;
      }
    }
    acc[m] = row;
  }
  r["accuracy"] = acc;
  r["best"] = {{"metric", best_m}, {"k", best_k}, {"accuracy", best}};
  // Per-sample predictions only for the reported (best) point.
  const auto& vote = knn.votes.at(best_m).at(best_k);
  eval::Predictions preds(data.test.class_names());
  for (std::size_t i = 0; i < data.test.size(); ++i) {
    preds.Add({data.test[i].source, data.test[i].label, vote.labels[i], vote.scores[i]});
  }
  const auto cm = preds.Confusion();
  outputs.WriteEvaluation(preds, cm);
  outputs.WriteGalleries(preds, data.test);
  r["confusion"] = nlohmann::json::parse(cm.ToJson())["counts"];
  r["mean_per_class_accuracy"] = cm.MeanPerClassAccuracy();
  r["timings_s"] = timings;
  const auto& c = runner.counters();
  r["computed"] = {{"tiny_extractions", c.tiny_extractions}, {"sift_extractions", c.sift_extractions},
                   {"vocabularies_built", c.vocabularies_built}, {"encodings", c.encodings},
                   {"neighbour_searches", c.neighbour_searches}};
  // Accuracy-vs-k figure for this run.
  std::map<std::string, std::vector<std::pair<double, double>>> series;
  for (const auto& [m, byk] : knn.accuracy) {
    for (const auto& [k, a] : byk) series[m].push_back({static_cast<double>(k), a});
  }
  outputs.WriteLinePlot("accuracy_vs_k", "Accuracy vs k", "k", "accuracy", series);
  outputs.WriteResults(r);
  return r;
}

}  // namespace scenelab::pipelines

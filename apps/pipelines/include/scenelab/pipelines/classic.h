#pragma once
// The classical pipelines: tiny images or dense-SIFT bag of words, then
// kNN, ending in the evaluation layer. Every stage is cached under
// `cache_dir`, keyed by its parameters and the data, so reruns and sweeps
// recompute nothing they already have.
#include <cstdint>
#include <future>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "scenelab/classify/knn.h"
#include "scenelab/classify/svm.h"
#include "scenelab/data/log.h"
#include "scenelab/data/readers.h"
#include "scenelab/eval/confusion.h"
#include "scenelab/features/bow.h"
#include "scenelab/features/fisher.h"
#include "scenelab/features/homkermap.h"
#include "scenelab/features/tiny_image.h"

namespace scenelab::pipelines {

struct DataConfig {
  std::string path;                 // dataset root
  data::OpenOptions open;           // format, single-tree split
  std::size_t train_per_class = 0;  // 0 = all training images
  std::size_t test_per_class = 0;   // 0 = all test images
  void Validate() const;
};

struct ClassicConfig {
  DataConfig data;
  std::string features = "tiny";  // tiny | bow | fisher | vlad
  features::TinyImageOptions tiny;
  features::DenseSiftOptions sift;
  features::VocabularyOptions vocab;  // bow words; vlad words; the descriptor sample for all three
  features::BowOptions bow;           // also holds the spatial grids fisher and vlad use
  int pca_dim = 80;                   // fisher | vlad: descriptors PCA-reduced to this (128 = keep all)
  features::GmmOptions gmm;           // fisher
  bool fisher_improved = true;        // fisher: signed square root + L2
  std::string homkermap = "none";     // none | chi2 | intersection | js: explicit kernel map before classifying
  features::HomKerMapOptions hkm;     // its order, gamma, window
  std::string classifier = "knn";     // knn | svm
  classify::LinearSvmOptions svm;
  std::vector<classify::Metric> metrics = {classify::Metric::kL1, classify::Metric::kL2};
  std::vector<int> ks = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  bool distance_weighted = false;   // kNN vote weighting
  // The reported (k, metric) is chosen by seeded stratified k-fold
  // cross-validation on the training split, never on the test labels
  // (docs/EVALUATION.md). 5 folds, as scikit-learn's GridSearchCV.
  int cv_folds = 5;
  classify::KnnOptions knn;
  std::uint64_t seed = 0;           // seeds subsets, descriptor sampling, k-means
  int threads = 0;                  // 0 = all cores
  // Descriptors kept in memory (and cached on disk) up to this estimate;
  // beyond it, dense SIFT is streamed: one pass samples the vocabulary's
  // descriptors, a second extracts and encodes image by image. Same results,
  // bounded memory, no descriptor cache. Default 2 GiB.
  std::size_t max_descriptor_memory = std::size_t{2} << 30;
  std::string cache_dir;            // default: <out>/cache
  bool clobber = false;             // recompute every stage
  void Validate() const;
  nlohmann::ordered_json ToJson() const;
};

// Loaded once per run and shared by every point of a sweep.
struct LoadedData {
  data::DatasetInfo info;
  data::Dataset train;
  data::Dataset test;
};
LoadedData LoadData(const DataConfig& cfg, std::uint64_t seed);

// What the stages actually computed (as opposed to loaded from cache).
struct StageCounters {
  int tiny_extractions = 0;
  int sift_extractions = 0;  // one per dataset split computed
  int vocabularies_built = 0;
  int encodings = 0;
  int neighbour_searches = 0;
};

// Feature matrices for train and test.
struct FeaturePair {
  features::Matrix train;
  features::Matrix test;
};

class ClassicRunner {
 public:
  ClassicRunner(const LoadedData& data, std::string cache_dir, int threads, Logger* log);
  ~ClassicRunner();
  ClassicRunner(const ClassicRunner&) = delete;
  ClassicRunner& operator=(const ClassicRunner&) = delete;
  // Waits for descriptor caches still being written in the background.
  void FinishCacheWrites();
  // Features for `cfg` (tiny or bow), from cache when possible.
  FeaturePair Features(const ClassicConfig& cfg, std::map<std::string, double>* timings);
  // kNN: one search per metric at max k; accuracy and votes for every k.
  // SVM: one model; its accuracy under "svm", k = 0, votes carrying the
  // winning class and its score.
  struct KnnOutcome {
    std::map<std::string, std::map<int, double>> accuracy;  // metric -> k -> accuracy
    // Cross-validation on the training split: metric -> k -> mean and
    // standard deviation of the per-fold accuracies (kNN; SVM: its C).
    std::map<std::string, std::map<int, double>> cv_accuracy, cv_std;
    std::string selected_metric;  // the point chosen on training data alone
    int selected_k = 0;
    std::string selected_how;
    // Test images whose true class is among the top 5 (>= 10 classes only):
    // kNN from the vote ranking (KnnClassifier::Rank), SVM from the scores.
    std::map<std::string, std::map<int, std::int64_t>> top5_correct;
    std::map<std::string, std::map<int, classify::VoteResult>> votes;
    nlohmann::ordered_json svm;  // the SVM's chosen C, cross-validation, iterations
  };
  // The configured kernel map, then kNN or the SVM.
  KnnOutcome Classify(const ClassicConfig& cfg, const FeaturePair& f, std::map<std::string, double>* timings);
  const StageCounters& counters() const { return counters_; }

 private:
  const std::vector<features::SiftFeatures>& Sift(const ClassicConfig& cfg, bool train, std::map<std::string, double>* t);
  std::size_t EstimateDescriptorBytes(const ClassicConfig& cfg) const;
  FeaturePair Encodings(const ClassicConfig& cfg, std::map<std::string, double>* timings);
  KnnOutcome Knn(const ClassicConfig& cfg, const FeaturePair& f, std::map<std::string, double>* timings);
  KnnOutcome Svm(const ClassicConfig& cfg, const FeaturePair& f, std::map<std::string, double>* timings);
  void SelectKnnByCrossValidation(const ClassicConfig& cfg, const features::Matrix& train,
                                  const classify::KnnOptions& ko, KnnOutcome* out, std::map<std::string, double>* t);
  const LoadedData& data_;
  std::string cache_dir_;
  int threads_;
  Logger* log_;
  StageCounters counters_;
  // In-memory descriptor reuse across sweep points: key -> features.
  std::map<std::string, std::vector<features::SiftFeatures>> sift_memo_;
  std::vector<std::future<void>> pending_writes_;
};

// Runs one classic experiment into `out_dir`: results.json,
// predictions.csv, confusion.{csv,json}, figures. Returns results.json.
nlohmann::ordered_json RunClassic(const ClassicConfig& cfg, const std::string& out_dir, Logger* log);

}  // namespace scenelab::pipelines

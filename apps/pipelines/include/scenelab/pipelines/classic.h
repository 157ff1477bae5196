#pragma once
// The classical pipelines: tiny images or dense-SIFT bag of words, then
// kNN, ending in the evaluation layer. Every stage is cached under
// `cache_dir`, keyed by its parameters and the data, so reruns and sweeps
// recompute nothing they already have.
#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "scenelab/classify/knn.h"
#include "scenelab/classify/svm.h"
#include "scenelab/data/config_key.h"
#include "scenelab/data/enum_table.h"
#include "scenelab/data/log.h"
#include "scenelab/data/readers.h"
#include "scenelab/eval/confusion.h"
#include "scenelab/features/bow.h"
#include "scenelab/features/collective.h"
#include "scenelab/features/encoder.h"
#include "scenelab/features/fisher.h"
#include "scenelab/features/gist.h"
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

// The classifier after the encoder, and the explicit kernel map before it.
enum class Classifier { kKnn, kSvm };
const EnumTable<Classifier>& ClassifierNames();  // knn | svm
enum class KernelMap { kNone, kChi2, kIntersection, kJs };
const EnumTable<KernelMap>& KernelMapNames();         // none | chi2 | intersection | js
features::HomogeneousKernel KernelOf(KernelMap map);  // the map's kernel; not kNone

struct ClassicConfig {
  DataConfig data;
  std::string features = "tiny";  // tiny | bow | fisher | vlad | gist
  features::TinyImageOptions tiny;
  features::GistOptions gist;  // gist: Oliva & Torralba's scene descriptor
  features::DenseSiftOptions sift;
  features::VocabularyOptions vocab;       // bow words; vlad words; the descriptor sample for all three
  features::BowOptions bow;                // also holds the spatial grids fisher and vlad use
  int pca_dim = 80;                        // fisher | vlad: descriptors PCA-reduced to this (128 = keep all)
  features::GmmOptions gmm;                // fisher
  bool fisher_improved = true;             // fisher: signed square root + L2
  KernelMap homkermap = KernelMap::kNone;  // explicit kernel map before classifying
  features::HomKerMapOptions hkm;          // its order, gamma, window
  Classifier classifier = Classifier::kKnn;
  classify::LinearSvmOptions svm;
  std::vector<classify::Metric> metrics = {classify::Metric::kL1, classify::Metric::kL2};
  std::vector<int> ks = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  bool distance_weighted = false;  // kNN vote weighting
  // The reported (k, metric) is chosen by seeded stratified k-fold
  // cross-validation on the training split, never on the test labels
  // (docs/EVALUATION.md). 5 folds, as scikit-learn's GridSearchCV.
  int cv_folds = 5;
  // > 1: the protocol of Lazebnik et al. (2006): train and test images are
  // pooled and `repeats` seeded random splits are drawn, data.train_per_class
  // training images per class and the rest (or data.test_per_class) for
  // testing; the pipeline runs on each and the mean, standard deviation and
  // t-interval are reported. Descriptors are computed once for the pool.
  int repeats = 1;
  classify::KnnOptions knn;
  std::uint64_t seed = 0;  // seeds subsets, descriptor sampling, k-means
  int threads = 0;         // 0 = all cores
  // Descriptors kept in memory (and cached on disk) up to this estimate;
  // beyond it, dense SIFT is streamed: one pass samples the vocabulary's
  // descriptors, a second extracts and encodes image by image. Same results,
  // bounded memory, no descriptor cache. Default 2 GiB.
  std::size_t max_descriptor_memory = std::size_t{2} << 30;
  std::string cache_dir;  // default: <out>/cache
  bool clobber = false;   // recompute every stage
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

// Dense SIFT of a pooled dataset, computed once and shared by the runners
// of repeated splits drawn from it.
struct DescriptorPool {
  const data::Dataset* pool = nullptr;
  std::string key;  // the dense-SIFT options the descriptors were made with
  std::shared_ptr<const std::vector<features::SiftFeatures>> sift;
  std::unordered_map<std::string, std::size_t> index;  // source -> position in pool
};

class ClassicRunner {
 public:
  ClassicRunner(const LoadedData& data, std::string cache_dir, int threads, Logger* log);
  ~ClassicRunner();
  ClassicRunner(const ClassicRunner&) = delete;
  ClassicRunner& operator=(const ClassicRunner&) = delete;
  // Waits for descriptor caches still being written in the background.
  void FinishCacheWrites();
  // Splits drawn from `pool`: their descriptors come from the pool's.
  void UseDescriptorPool(DescriptorPool* pool) { pool_ = pool; }
  // Computes (or loads) the pool's dense SIFT now, when `cfg`'s features
  // use it, so that splits sharing the pool can then run side by side.
  void FillDescriptorPool(const ClassicConfig& cfg, std::map<std::string, double>* timings);
  // One rank of an MPI job (`comm`, every rank calling the same stages):
  // each rank extracts and encodes its contiguous block of the train and of
  // the test images and samples its share of the vocabulary sample (global
  // image indices, so the sample is the one-process one); k-means sums over
  // the ranks; the encodings are gathered in image order on every rank, and
  // the kNN queries and cross-validation folds are split again. Rank 0 alone
  // decides what comes from the cache and writes the shared caches. Every
  // result equals the one-process run's.
  void UseCollective(const features::Collective* comm) { comm_ = comm ? comm : &single_; }
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
  // How the last encoding model was fitted (k-means iterations and energy),
  // also when it came from the cache; empty for tiny images and GIST.
  const nlohmann::json& model_info() const { return model_info_; }

 private:
  // The split's descriptors, one pointer per image (into the memo or the pool).
  std::vector<const features::SiftFeatures*> Sift(const ClassicConfig& cfg, bool train,
                                                  std::map<std::string, double>* t);
  std::shared_ptr<const std::vector<features::SiftFeatures>> SiftOf(const ClassicConfig& cfg, const data::Dataset& ds,
                                                                    const std::string& what,
                                                                    std::map<std::string, double>* t);
  std::size_t EstimateDescriptorBytes(const ClassicConfig& cfg) const;
  FeaturePair PerImageFeatures(const ClassicConfig& cfg, const features::Encoder& encoder,
                               std::map<std::string, double>* t);
  FeaturePair Encodings(const ClassicConfig& cfg, features::Encoder* encoder, std::map<std::string, double>* timings);
  void FitModel(const ClassicConfig& cfg, features::Encoder* encoder, const std::vector<std::size_t>& owned_train,
                bool streaming, std::map<std::string, double>* t);
  KnnOutcome Knn(const ClassicConfig& cfg, const FeaturePair& f, std::map<std::string, double>* timings);
  KnnOutcome Svm(const ClassicConfig& cfg, const FeaturePair& f, std::map<std::string, double>* timings);
  void SelectKnnByCrossValidation(const ClassicConfig& cfg, const features::Matrix& train,
                                  const classify::KnnOptions& ko, KnnOutcome* out, std::map<std::string, double>* t);
  const LoadedData& data_;
  std::string cache_dir_;
  int threads_;
  Logger* log_;
  StageCounters counters_;
  nlohmann::json model_info_;
  // In-memory descriptor reuse across sweep points: key -> features.
  std::map<std::string, std::shared_ptr<const std::vector<features::SiftFeatures>>> sift_memo_;
  std::vector<std::future<void>> pending_writes_;
  DescriptorPool* pool_ = nullptr;
  features::SingleProcess single_;
  const features::Collective* comm_ = &single_;
  // This rank's contiguous block [first, second) of n images.
  std::pair<std::size_t, std::size_t> Block(std::size_t n) const;
  // The images of the train or test split this rank extracts and encodes,
  // ascending: its block of the split, or with a descriptor pool the split's
  // images in its block of the pool. All of them in one process.
  std::vector<std::size_t> Owned(bool train);
  // Every rank's rows of `mine` (one per image in `owned`) placed in image
  // order: the split's whole matrix, on every rank.
  features::Matrix GatherInOrder(const features::Matrix& mine, const std::vector<std::size_t>& owned,
                                 std::size_t n) const;
  // Rank 0's verdict (e.g. "found in the cache"), on every rank.
  bool RootSays(bool mine) const;
};

// Runs one classic experiment into `out_dir`: results.json,
// predictions.csv, confusion.{csv,json}, figures. Returns results.json.
// With cfg.repeats > 1, RunRepeats.
nlohmann::ordered_json RunClassic(const ClassicConfig& cfg, const std::string& out_dir, Logger* log);
// As one rank of an MPI job (ClassicRunner::UseCollective): every rank
// calls it; rank 0 writes the run folder and returns results.json, the
// others return null.
nlohmann::ordered_json RunClassic(const ClassicConfig& cfg, const std::string& out_dir, Logger* log,
                                  const features::Collective& comm);

// Image indices into the pool of one repeated split, each in pool order.
struct RepeatSplit {
  std::vector<std::size_t> train, test;
};
// `repeats` seeded stratified splits: train_per_class per class for
// training, the rest (at most test_per_class when > 0) for testing. Throws
// when a class has no image left for testing.
std::vector<RepeatSplit> DrawRepeatSplits(const data::Dataset& pool, std::size_t train_per_class,
                                          std::size_t test_per_class, int repeats, std::uint64_t seed);
// One run folder per split under <out>/repeats/rNN (each reused when
// finished: a killed run resumes; galleries in r00 only), and results.json
// with every repeat's accuracy, their mean, standard deviation and t-interval.
nlohmann::ordered_json RunRepeats(const ClassicConfig& cfg, const std::string& out_dir, Logger* log);
// As an MPI job: the splits run one after another, each split over every
// rank (each rank extracts its block of the pool once and works on the
// split's images there); rank 0 writes, the others return null. The same
// numbers as one process.
nlohmann::ordered_json RunRepeats(const ClassicConfig& cfg, const std::string& out_dir, Logger* log,
                                  const features::Collective& comm);

}  // namespace scenelab::pipelines

#include "scenelab/features/vocabulary.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>
#include <mutex>
#include <type_traits>

#include <nlohmann/json.hpp>

extern "C" {
#include <vl/generic.h>
#include <vl/kdtree.h>
#include <vl/kmeans.h>
#include <vl/random.h>
}

#include "byte_words.h"
#include "lloyd.h"
#include "scenelab/data/error.h"
#include "scenelab/data/io.h"
#include "scenelab/data/parallel.h"
#include "scenelab/data/rng.h"
#include "scenelab/features/cache.h"
#include "scenelab/features/collective.h"

// Per-ISA clones of the seeding's distance loop; off under TSan, whose
// runtime is not up when the loader runs the clones' IFUNC resolver.
#if defined(__x86_64__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__)
#define SCENELAB_VOCAB_CLONES __attribute__((target_clones("arch=skylake-avx512", "avx2", "default")))
#else
#define SCENELAB_VOCAB_CLONES
#endif

namespace scenelab::features {

const EnumTable<KmeansAlgorithm>& KmeansAlgorithmNames() {
  static const EnumTable<KmeansAlgorithm> t = {{KmeansAlgorithm::kGemm, "gemm"},
                                               {KmeansAlgorithm::kElkan, "elkan"},
                                               {KmeansAlgorithm::kLloyd, "lloyd"},
                                               {KmeansAlgorithm::kAnn, "ann"}};
  return t;
}

void VocabularyOptions::Validate() const {
  if (size < 1) throw Error("VocabularyOptions.size (--vocab) must be >= 1, got " + std::to_string(size));
  if (max_iterations < 1)
    throw Error("VocabularyOptions.max_iterations must be >= 1, got " + std::to_string(max_iterations));
  if (!(min_energy_variation >= 0 && min_energy_variation < 1)) {
    throw Error("VocabularyOptions.min_energy_variation must be in [0, 1), got " +
                std::to_string(min_energy_variation));
  }
  if (descriptors_per_image < 1) {
    throw Error("VocabularyOptions.descriptors_per_image must be >= 1, got " + std::to_string(descriptors_per_image));
  }
  if (repetitions < 1) throw Error("VocabularyOptions.repetitions must be >= 1, got " + std::to_string(repetitions));
  if (images < 0) throw Error("VocabularyOptions.images (--vocab-images) must be >= 0, got " + std::to_string(images));
}

const char* Vocabulary::byte_assignment_path() const { return byte_words_ ? byte_words_->path() : "float"; }

Vocabulary::Vocabulary(Matrix centers, VocabularyOptions params, double energy, int iterations)
    : centers_(std::move(centers)), params_(params), energy_(energy), iterations_(iterations) {
  center_norms_ = centers_.rowwise().squaredNorm();
  auto bw = std::make_shared<detail::ByteWords>(centers_, center_norms_);
  if (bw->usable()) byte_words_ = std::move(bw);
}

extern "C" void openblas_set_num_threads(int);

void UseSingleThreadedBlas() {
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
}

namespace {
// k-means++ seeding costs n x K distance evaluations; past this (e.g. 1M
// descriptors x 1000 words) the gemm k-means seeds from a seeded uniform
// subsample. The 15-scene recipe (150k x 200) is seeded from all of its rows.
constexpr double kSeedingBudget = 2e8;

// Nearest centre per row of X via |c|^2 - 2 x.c (|x|^2 is constant per row).
std::vector<int> AssignRows(const Matrix& x, const Matrix& centers, const Eigen::VectorXf& cn) {
  std::vector<int> out(static_cast<std::size_t>(x.rows()), 0);
  constexpr Eigen::Index kBlock = 4096;
  Matrix dots;
  for (Eigen::Index b = 0; b < x.rows(); b += kBlock) {
    const Eigen::Index n = std::min(kBlock, x.rows() - b);
    dots.noalias() = x.middleRows(b, n) * centers.transpose();
    for (Eigen::Index i = 0; i < n; ++i) {
      const float* d = dots.row(i).data();
      int best = 0;
      float bestv = cn[0] - 2 * d[0];
      for (Eigen::Index k = 1; k < centers.rows(); ++k) {
        const float v = cn[k] - 2 * d[k];
        if (v < bestv) {
          bestv = v;
          best = static_cast<int>(k);
        }
      }
      out[static_cast<std::size_t>(b + i)] = best;
    }
  }
  return out;
}
// Squared distances of rows [b, e) to `c`, kept when smaller than `dist`:
// exact integers (<= 4096 x 255^2 fits int32). Cloned per ISA; every clone
// gives the same integers.
SCENELAB_VOCAB_CLONES void UpdateMinDistances(const std::uint8_t* x, std::size_t d, std::size_t b, std::size_t e,
                                              const std::uint8_t* c, std::int32_t* dist) {
  for (std::size_t i = b; i < e; ++i) {
    const std::uint8_t* r = x + i * d;
    std::int32_t s = 0;
    for (std::size_t j = 0; j < d; ++j) {
      const std::int32_t v = static_cast<std::int32_t>(r[j]) - static_cast<std::int32_t>(c[j]);
      s += v * v;
    }
    dist[i] = std::min(dist[i], s);
  }
}

// k-means++ seeding (Arthur & Vassilvitskii 2007) of byte-valued rows (SIFT
// samples), in exact integer distances: the first centre uniformly, each
// next one with probability proportional to the squared distance to the
// nearest centre so far. VLFeat's vl_kmeans_init_centers_plus_plus does the
// same in scalar float code, about 10x slower at 150k x 200. The draws come
// from scenelab's Rng, so the same seed gives the same centres on every
// machine and thread count.
Matrix PlusPlusBytes(const ByteMatrix& x, int k, std::uint64_t seed, int threads) {
  const auto n = static_cast<std::size_t>(x.rows()), d = static_cast<std::size_t>(x.cols());
  Rng rng(MixSeed(seed, 0x2b));
  std::vector<std::int32_t> dist(n, std::numeric_limits<std::int32_t>::max());
  Matrix centers(k, x.cols());
  auto c = static_cast<std::size_t>(rng.Below(n));
  for (int j = 0; j < k; ++j) {
    centers.row(j) = x.row(static_cast<Eigen::Index>(c)).cast<float>();
    if (j + 1 == k) break;
    const std::uint8_t* cr = x.data() + c * d;
    ParallelForRange(n, threads, 8192,
                     [&](std::size_t b, std::size_t e) { UpdateMinDistances(x.data(), d, b, e, cr, dist.data()); });
    std::uint64_t total = 0;
    for (std::int32_t v : dist) total += static_cast<std::uint64_t>(v);
    if (total == 0) {  // every point sits on a centre: any point will do
      c = static_cast<std::size_t>(rng.Below(n));
      continue;
    }
    const std::uint64_t r = rng.Below(total);
    std::uint64_t acc = 0;
    c = n - 1;
    for (std::size_t i = 0; i < n; ++i) {
      acc += static_cast<std::uint64_t>(dist[i]);
      if (acc > r) {
        c = i;
        break;
      }
    }
  }
  return centers;
}

}  // namespace

std::vector<int> Vocabulary::Assign(const Matrix& descriptors) const {
  UseSingleThreadedBlas();
  if (descriptors.rows() == 0) return {};
  if (descriptors.cols() != centers_.cols()) {
    throw Error("Vocabulary::Assign: descriptors have " + std::to_string(descriptors.cols()) +
                " dimensions, the vocabulary " + std::to_string(centers_.cols()));
  }
  return AssignRows(descriptors, centers_, center_norms_);
}

std::vector<int> Vocabulary::Assign(const ByteMatrix& descriptors) const {
  if (byte_words_ && descriptors.cols() == centers_.cols()) {
    std::vector<int> out(static_cast<std::size_t>(descriptors.rows()));
    byte_words_->Assign(descriptors, out.data());
    return out;
  }
  return Assign(Matrix(descriptors.cast<float>()));
}

std::vector<int> Vocabulary::AssignFloat(const ByteMatrix& descriptors) const {
  return Assign(Matrix(descriptors.cast<float>()));
}

void Vocabulary::Save(const std::string& path) const {
  nlohmann::json j = {{"size", params_.size},
                      {"algorithm", KmeansAlgorithmNames().Show(params_.algorithm)},
                      {"max_iterations", params_.max_iterations},
                      {"min_energy_variation", params_.min_energy_variation},
                      {"iterations", iterations_},
                      {"descriptors_per_image", params_.descriptors_per_image},
                      {"repetitions", params_.repetitions},
                      {"seed", params_.seed},
                      {"energy", energy_}};
  SaveMatrixCache(path, "vocabulary:" + j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), centers_);
}

Vocabulary Vocabulary::Load(const std::string& path) {
  std::string why, key;
  auto m = LoadMatrixCacheAnyKey(path, &key, &why);
  if (!m) throw Error(path + ": cannot load vocabulary: " + why);
  const std::string tag = "vocabulary:";
  if (key.rfind(tag, 0) != 0) throw Error(path + ": not a scenelab vocabulary file (its key is not a vocabulary's)");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(key.substr(tag.size()));
    VocabularyOptions p;
    p.size = j.at("size").get<int>();
    p.algorithm = KmeansAlgorithmNames().Parse(j.at("algorithm").get<std::string>());
    p.max_iterations = j.at("max_iterations").get<int>();
    // Files written before convergence stopping ran to no change.
    p.min_energy_variation = j.value("min_energy_variation", 0.0);
    p.descriptors_per_image = j.at("descriptors_per_image").get<int>();
    p.repetitions = j.at("repetitions").get<int>();
    p.seed = j.at("seed").get<std::uint64_t>();
    if (p.size != m->rows()) {
      throw Error(path + ": header says size " + std::to_string(p.size) + " but holds " + std::to_string(m->rows()) +
                  " words");
    }
    return Vocabulary(std::move(*m), p, j.at("energy").get<double>(), j.value("iterations", 0));
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": bad vocabulary header: " + e.what());
  }
}

VocabularyBuilder::VocabularyBuilder(const VocabularyOptions& opts, int threads) : opts_(opts), threads_(threads) {
  opts_.Validate();
}

Matrix VocabularyBuilder::SampleImage(const SiftFeatures& f, std::size_t image_index) const {
  Matrix out(SampleRows(f.descriptors.rows()), f.descriptors.cols());
  SampleImageInto(f, image_index, out.data());
  return out;
}

Eigen::Index VocabularyBuilder::SampleRows(Eigen::Index descriptors) const {
  return std::min<Eigen::Index>(descriptors, opts_.descriptors_per_image);
}

template <class Scalar>
void VocabularyBuilder::SampleImageInto(const SiftFeatures& f, std::size_t image_index, Scalar* out) const {
  const auto& d = f.descriptors;
  Rng rng(MixSeed(opts_.seed, image_index + 17));
  const auto idx =
      rng.Choose(static_cast<std::size_t>(d.rows()), static_cast<std::size_t>(opts_.descriptors_per_image));
  const auto cols = static_cast<std::size_t>(d.cols());
  for (std::size_t j = 0; j < idx.size(); ++j) {
    const std::uint8_t* from = d.data() + idx[j] * cols;
    Scalar* to = out + j * cols;
    if constexpr (std::is_same_v<Scalar, std::uint8_t>) {
      std::memcpy(to, from, cols);
    } else {
      for (std::size_t t = 0; t < cols; ++t) to[t] = from[t];
    }
  }
}

std::vector<std::size_t> VocabularyBuilder::SampleImages(std::size_t n) const {
  const auto m = static_cast<std::size_t>(opts_.images);
  if (m == 0 || m >= n) {
    std::vector<std::size_t> all(n);
    for (std::size_t i = 0; i < n; ++i) all[i] = i;
    return all;
  }
  Rng rng(MixSeed(opts_.seed, 0x1a6e5));
  return rng.Choose(n, m);
}

template <class Out>
Out VocabularyBuilder::DrawFrom(const std::vector<const SiftFeatures*>& training) const {
  const auto chosen = SampleImages(training.size());
  std::vector<const SiftFeatures*> images;
  images.reserve(chosen.size());
  for (const std::size_t i : chosen) images.push_back(training[i]);
  return Draw<Out>(images, chosen);
}

Matrix VocabularyBuilder::Sample(const std::vector<const SiftFeatures*>& training) const {
  return DrawFrom<Matrix>(training);
}

template <class Out>
Out VocabularyBuilder::Draw(const std::vector<const SiftFeatures*>& images,
                            const std::vector<std::size_t>& image_indices) const {
  if (images.size() != image_indices.size()) {
    throw Error("VocabularyBuilder::SampleOf: " + std::to_string(images.size()) + " images but " +
                std::to_string(image_indices.size()) + " image numbers");
  }
  Eigen::Index rows = 0, cols = -1;
  for (std::size_t j = 0; j < images.size(); ++j) {
    const ByteMatrix& d = images[j]->descriptors;
    rows += SampleRows(d.rows());
    if (d.rows() == 0) continue;
    if (cols >= 0 && d.cols() != cols) {
      throw Error("VocabularyBuilder::SampleOf: training image " + std::to_string(image_indices[j]) + " has " +
                  std::to_string(d.cols()) + "-dimensional descriptors, the images before it " + std::to_string(cols) +
                  "-dimensional");
    }
    cols = d.cols();
  }
  if (cols < 0) cols = 128;  // no descriptors at all: an empty sample of SIFT's width
  Out out(rows, cols);
  Eigen::Index at = 0;
  for (std::size_t j = 0; j < images.size(); ++j) {
    SampleImageInto(*images[j], image_indices[j], out.data() + at * cols);
    at += SampleRows(images[j]->descriptors.rows());
  }
  return out;
}

Matrix VocabularyBuilder::SampleOf(const std::vector<const SiftFeatures*>& images,
                                   const std::vector<std::size_t>& image_indices) const {
  return Draw<Matrix>(images, image_indices);
}

ByteMatrix VocabularyBuilder::SampleBytesOf(const std::vector<const SiftFeatures*>& images,
                                            const std::vector<std::size_t>& image_indices) const {
  return Draw<ByteMatrix>(images, image_indices);
}

Matrix VocabularyBuilder::Stack(const std::vector<Matrix>& parts) {
  Eigen::Index rows = 0, cols = 128;
  for (const auto& p : parts) {
    rows += p.rows();
    if (p.rows() > 0) cols = p.cols();
  }
  Matrix out(rows, cols);
  Eigen::Index r = 0;
  for (const auto& p : parts) {
    out.middleRows(r, p.rows()) = p;
    r += p.rows();
  }
  return out;
}

Vocabulary VocabularyBuilder::Build(const std::vector<SiftFeatures>& training) const {
  std::vector<const SiftFeatures*> ptrs;
  ptrs.reserve(training.size());
  for (const auto& f : training) ptrs.push_back(&f);
  return Build(ptrs);
}

Vocabulary VocabularyBuilder::Build(const std::vector<const SiftFeatures*>& training) const {
  return Cluster(DrawFrom<ByteMatrix>(training));
}

Vocabulary VocabularyBuilder::Cluster(const Matrix& sample) const { return Cluster(sample, SingleProcess()); }

Vocabulary VocabularyBuilder::Cluster(const ByteMatrix& sample) const {
  // What Cluster(Matrix) does with a byte-valued sample it seeds from whole,
  // minus the float copy: k-means++ and Lloyd on the bytes.
  const bool bytes = opts_.algorithm == KmeansAlgorithm::kGemm && detail::BytePathFits(sample.cols()) &&
                     sample.rows() >= opts_.size && static_cast<double>(sample.rows()) * opts_.size <= kSeedingBudget;
  if (!bytes) return Cluster(Matrix(sample.cast<float>()));
  Matrix centers = PlusPlusBytes(sample, opts_.size, opts_.seed, threads_);
  double energy = 0;
  const int iterations = detail::LloydBytes(sample, 0, &centers, opts_.max_iterations, opts_.min_energy_variation,
                                            threads_, SingleProcess(), &energy);
  return Vocabulary(std::move(centers), opts_, energy, iterations);
}

Vocabulary VocabularyBuilder::Cluster(const Matrix& local, const Collective& comm) const {
  std::int64_t total = local.rows();
  comm.Sum(&total, 1);
  if (total < opts_.size) {
    throw Error("vocabulary of " + std::to_string(opts_.size) + " words needs at least as many descriptors, got " +
                std::to_string(total));
  }
  if (comm.size() > 1 && opts_.algorithm != KmeansAlgorithm::kGemm) {
    throw Error("VocabularyOptions.algorithm (--kmeans) must be gemm when the sample is split across processes, got '" +
                KmeansAlgorithmNames().Show(opts_.algorithm) + "'");
  }
  struct KMeansDeleter {
    void operator()(VlKMeans* k) const { vl_kmeans_delete(k); }
  };
  std::unique_ptr<VlKMeans, KMeansDeleter> km(vl_kmeans_new(VL_TYPE_FLOAT, VlDistanceL2));
  if (!km) throw Error("vl_kmeans_new failed");
  vl_kmeans_set_algorithm(km.get(), opts_.algorithm == KmeansAlgorithm::kElkan ? VlKMeansElkan
                                    : opts_.algorithm == KmeansAlgorithm::kAnn ? VlKMeansANN
                                                                               : VlKMeansLloyd);
  vl_kmeans_set_initialization(km.get(), VlKMeansPlusPlus);
  vl_kmeans_set_max_num_iterations(km.get(), static_cast<vl_size>(opts_.max_iterations));
  vl_kmeans_set_num_repetitions(km.get(), static_cast<vl_size>(opts_.repetitions));
  vl_kmeans_set_min_energy_variation(km.get(), opts_.min_energy_variation);
  if (opts_.algorithm == KmeansAlgorithm::kAnn) {
    vl_kmeans_set_max_num_comparisons(km.get(), 100);
    vl_kmeans_set_num_trees(km.get(), 3);
  }
  // k-means++ draws from VLFeat's per-thread generator: seed it explicitly.
  vl_rand_seed(vl_get_rand(), static_cast<vl_uint32>(opts_.seed ^ (opts_.seed >> 32)));
  if (opts_.algorithm == KmeansAlgorithm::kGemm) {
    // Past kSeedingBudget, k-means++ seeds from a seeded uniform subsample.
    // Split across processes, the seeding rows are gathered (in sample
    // order) and every process seeds from them identically.
    const std::vector<double> per_process = comm.AllGather({static_cast<double>(local.rows())});
    std::int64_t offset = 0;
    for (int r = 0; r < comm.rank(); ++r) offset += static_cast<std::int64_t>(per_process[static_cast<std::size_t>(r)]);
    Matrix gathered;  // the seeding rows when they are not `local` itself
    if (static_cast<double>(total) * opts_.size > kSeedingBudget) {
      const auto want = std::max<std::int64_t>(20 * opts_.size, static_cast<std::int64_t>(kSeedingBudget / opts_.size));
      Rng rng(MixSeed(opts_.seed, 99));
      const auto idx = rng.Choose(static_cast<std::size_t>(total), static_cast<std::size_t>(want));
      std::vector<Eigen::Index> mine;
      for (const std::size_t gi : idx) {
        const auto g = static_cast<std::int64_t>(gi);
        if (g >= offset && g < offset + local.rows()) mine.push_back(static_cast<Eigen::Index>(g - offset));
      }
      Matrix part(static_cast<Eigen::Index>(mine.size()), local.cols());
      for (std::size_t j = 0; j < mine.size(); ++j) part.row(static_cast<Eigen::Index>(j)) = local.row(mine[j]);
      gathered = comm.AllGatherRows(part);
    } else if (comm.size() > 1) {
      gathered = comm.AllGatherRows(local);
    }
    const bool whole = gathered.rows() == 0;  // one process seeding from all of its sample
    const Matrix& seed_from = whole ? local : gathered;
    Matrix centers(opts_.size, local.cols());
    const ByteMatrix seed_bytes = detail::AsBytes(seed_from);
    if (seed_bytes.size() > 0) {
      centers = PlusPlusBytes(seed_bytes, opts_.size, opts_.seed, threads_);
    } else {
      vl_kmeans_init_centers_plus_plus(km.get(), seed_from.data(), static_cast<vl_size>(seed_from.cols()),
                                       static_cast<vl_size>(seed_from.rows()), static_cast<vl_size>(opts_.size));
      std::memcpy(centers.data(), vl_kmeans_get_centers(km.get()), sizeof(float) * centers.size());
    }
    double energy = 0;
    const int iterations =
        detail::Lloyd(local, offset, &centers, opts_.max_iterations, opts_.min_energy_variation, threads_, comm,
                      &energy, /*bounds=*/true, nullptr, whole && seed_bytes.size() > 0 ? &seed_bytes : nullptr);
    return Vocabulary(std::move(centers), opts_, energy, iterations);
  }
  const double energy = vl_kmeans_cluster(km.get(), local.data(), static_cast<vl_size>(local.cols()),
                                          static_cast<vl_size>(local.rows()), static_cast<vl_size>(opts_.size));
  Matrix centers(opts_.size, local.cols());
  std::memcpy(centers.data(), vl_kmeans_get_centers(km.get()), sizeof(float) * centers.size());
  return Vocabulary(std::move(centers), opts_, energy);
}

}  // namespace scenelab::features

// ---------------------------------------------------------------------------
// kd-forest quantiser

namespace scenelab::features {

void KdTreeQuantizerOptions::Validate() const {
  if (trees < 1 || trees > 64)
    throw Error("KdTreeQuantizerOptions.trees must be in [1, 64], got " + std::to_string(trees));
  if (max_comparisons < 0) {
    throw Error("KdTreeQuantizerOptions.max_comparisons (--max-comparisons) must be >= 0, got " +
                std::to_string(max_comparisons));
  }
}

struct KdTreeQuantizer::Impl {
  struct ForestDeleter {
    void operator()(VlKDForest* f) const { vl_kdforest_delete(f); }
  };
  Matrix centers;  // the forest points into these
  std::unique_ptr<VlKDForest, ForestDeleter> forest;
  std::mutex searcher_mutex;  // vl_kdforest_new_searcher links into a shared list
};

KdTreeQuantizer::KdTreeQuantizer(const Vocabulary& vocabulary, const KdTreeQuantizerOptions& opts)
    : impl_(std::make_unique<Impl>()) {
  opts.Validate();
  if (vocabulary.size() == 0) throw Error("KdTreeQuantizer: empty vocabulary");
  impl_->centers = vocabulary.centers();
  VlKDForest* f = vl_kdforest_new(VL_TYPE_FLOAT, static_cast<vl_size>(vocabulary.dim()),
                                  static_cast<vl_size>(opts.trees), VlDistanceL2);
  if (!f) throw Error("vl_kdforest_new failed");
  impl_->forest.reset(f);
  // The random split choices come from VLFeat's per-thread generator.
  vl_rand_seed(vl_get_rand(), opts.seed);
  vl_kdforest_set_thresholding_method(f, VL_KDTREE_MEDIAN);
  vl_kdforest_build(f, static_cast<vl_size>(impl_->centers.rows()), impl_->centers.data());
  vl_kdforest_set_max_num_comparisons(f, static_cast<vl_size>(opts.max_comparisons));
}

KdTreeQuantizer::~KdTreeQuantizer() = default;

namespace {
template <typename Row>
std::vector<int> KdAssign(VlKDForest* forest, std::mutex* mu, Eigen::Index rows, Eigen::Index cols, Row row) {
  std::vector<int> out(static_cast<std::size_t>(rows), 0);
  if (rows == 0) return out;
  VlKDForestSearcher* searcher = nullptr;
  {
    std::lock_guard<std::mutex> lock(*mu);
    searcher = vl_kdforest_new_searcher(forest);
  }
  if (!searcher) throw Error("vl_kdforest_new_searcher failed");
  std::vector<float> q(static_cast<std::size_t>(cols));
  VlKDForestNeighbor nb;
  for (Eigen::Index i = 0; i < rows; ++i) {
    row(i, q.data());
    vl_kdforestsearcher_query(searcher, &nb, 1, q.data());
    out[static_cast<std::size_t>(i)] = static_cast<int>(nb.index);
  }
  std::lock_guard<std::mutex> lock(*mu);
  vl_kdforestsearcher_delete(searcher);
  return out;
}
}  // namespace

std::vector<int> KdTreeQuantizer::Assign(const ByteMatrix& d) const {
  if (d.rows() > 0 && d.cols() != impl_->centers.cols()) {
    throw Error("KdTreeQuantizer::Assign: descriptors have " + std::to_string(d.cols()) +
                " dimensions, the vocabulary " + std::to_string(impl_->centers.cols()));
  }
  return KdAssign(impl_->forest.get(), &impl_->searcher_mutex, d.rows(), d.cols(), [&](Eigen::Index i, float* q) {
    const std::uint8_t* r = d.row(i).data();
    for (Eigen::Index j = 0; j < d.cols(); ++j) q[j] = r[j];
  });
}

std::vector<int> KdTreeQuantizer::Assign(const Matrix& d) const {
  if (d.rows() > 0 && d.cols() != impl_->centers.cols()) {
    throw Error("KdTreeQuantizer::Assign: descriptors have " + std::to_string(d.cols()) +
                " dimensions, the vocabulary " + std::to_string(impl_->centers.cols()));
  }
  return KdAssign(impl_->forest.get(), &impl_->searcher_mutex, d.rows(), d.cols(),
                  [&](Eigen::Index i, float* q) { std::copy(d.row(i).data(), d.row(i).data() + d.cols(), q); });
}

}  // namespace scenelab::features

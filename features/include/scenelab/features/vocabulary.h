#pragma once
// Visual vocabularies. VocabularyBuilder clusters a seeded sample of
// descriptors with VLFeat's k-means; the resulting Vocabulary assigns
// descriptors to their nearest word (squared L2) through a GEMM.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "scenelab/features/dense_sift.h"
#include "scenelab/features/types.h"

namespace scenelab::features {

class Collective;

namespace detail {
class ByteWords;
}

enum class KmeansAlgorithm { kGemm, kElkan, kLloyd, kAnn };
const EnumTable<KmeansAlgorithm>& KmeansAlgorithmNames();  // gemm | elkan | lloyd | ann

struct VocabularyOptions {
  int size = 200;  // number of words (15-scene recipe: 200)
  // gemm: Lloyd iterations whose assignment step is one blocked GEMM on
  // OpenBLAS, multi-threaded; it reaches the same fixpoint as Elkan's exact
  // acceleration of Lloyd. elkan | lloyd | ann: VLFeat's own vl_kmeans.
  KmeansAlgorithm algorithm = KmeansAlgorithm::kGemm;
  int max_iterations = 100;  // vl_kmeans' MaxNumIterations in the reference run
  // Lloyd stops once an iteration lowers the energy by less than this
  // fraction of it, as vl_kmeans' MinEnergyVariation (its default, 1e-4);
  // 0 = only when no assignment changes or at max_iterations.
  double min_energy_variation = 1e-4;
  int descriptors_per_image = 100;  // sampled from each training image, as the reference run
  int images = 0;                   // training images sampled from, seeded; 0 = all
  int repetitions = 1;              // restarts; the lowest energy wins
  std::uint64_t seed = 0;           // seeds the sample and k-means++
  void Validate() const;
};

class Vocabulary {
 public:
  Vocabulary() = default;
  Vocabulary(Matrix centers, VocabularyOptions params, double energy, int iterations = 0);

  int size() const { return static_cast<int>(centers_.rows()); }
  int dim() const { return static_cast<int>(centers_.cols()); }
  const Matrix& centers() const { return centers_; }
  const VocabularyOptions& params() const { return params_; }
  double energy() const { return energy_; }
  // Lloyd iterations run (assignment steps; 0 when VLFeat clustered).
  int iterations() const { return iterations_; }

  // Nearest word of each descriptor row (ties go to the lower index). Byte
  // descriptors take an exact 8-bit integer path on CPUs with AVX-512 VNNI.
  std::vector<int> Assign(const ByteMatrix& descriptors) const;
  std::vector<int> Assign(const Matrix& descriptors) const;
  // The float GEMM path for byte descriptors, whatever the CPU (for tests
  // and benchmarks of the integer path).
  std::vector<int> AssignFloat(const ByteMatrix& descriptors) const;
  // The path Assign(ByteMatrix) takes: "amx" (8-bit integers on AMX tiles),
  // "vnni" (8-bit integers on AVX-512 VNNI), each when the CPU has it and
  // SCENELAB_ISA does not cap it, "amx-model" (the tile path on the software
  // model of the tiles, SCENELAB_TILE_MODEL=1) or "float". The integer paths
  // give identical words.
  const char* byte_assignment_path() const;

  // Binary file with a JSON header of the parameters and a checksum.
  void Save(const std::string& path) const;
  static Vocabulary Load(const std::string& path);

 private:
  Matrix centers_;
  Eigen::VectorXf center_norms_;
  std::shared_ptr<const detail::ByteWords> byte_words_;  // fast exact path for byte descriptors
  VocabularyOptions params_;
  double energy_ = 0;
  int iterations_ = 0;
};

// Approximate nearest word through VLFeat's randomised kd-forest, as
// vl_kdtreequery(..., 'MaxComparisons', m) in VLFeat's PHOW recipe: far
// cheaper than exact assignment for dense descriptors (tens of thousands per
// image), with a small rate of second-nearest words. Thread-safe: each call
// takes its own searcher.
struct KdTreeQuantizerOptions {
  int trees = 1;             // vl_kdtreebuild's default
  int max_comparisons = 50;  // the PHOW recipe's MaxComparisons; 0 = exact search
  std::uint64_t seed = 0;    // the forest's random split choices
  void Validate() const;
};

class KdTreeQuantizer {
 public:
  KdTreeQuantizer(const Vocabulary& vocabulary, const KdTreeQuantizerOptions& opts);
  ~KdTreeQuantizer();
  KdTreeQuantizer(const KdTreeQuantizer&) = delete;
  KdTreeQuantizer& operator=(const KdTreeQuantizer&) = delete;
  std::vector<int> Assign(const ByteMatrix& descriptors) const;
  std::vector<int> Assign(const Matrix& descriptors) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class VocabularyBuilder {
 public:
  // `threads`: workers for the gemm algorithm (0 = all cores); the result
  // does not depend on it.
  explicit VocabularyBuilder(const VocabularyOptions& opts, int threads = 0);
  // Samples descriptors_per_image descriptors from each image (seeded), then
  // clusters them.
  Vocabulary Build(const std::vector<SiftFeatures>& training) const;
  Vocabulary Build(const std::vector<const SiftFeatures*>& training) const;
  // Clusters the rows of `sample` directly.
  Vocabulary Cluster(const Matrix& sample) const;
  // The same vocabulary as Cluster() of the rows as floats. The gemm
  // algorithm clusters the bytes themselves: no float copy, 4x the memory.
  Vocabulary Cluster(const ByteMatrix& sample) const;
  // The same k-means with the sample split across the processes of `comm`:
  // `local` is this process's contiguous share, in sample order. Every
  // process returns the same vocabulary; on byte samples (SIFT) it is
  // bit-identical to Cluster() of the whole sample, whatever the split.
  // Only the gemm algorithm runs split.
  Vocabulary Cluster(const Matrix& local, const Collective& comm) const;
  // The seeded sample Build() clusters: SampleImage of every image, stacked.
  Matrix Sample(const std::vector<const SiftFeatures*>& training) const;
  // SampleImage of each of `images` (training images number
  // `image_indices`), stacked, each drawn straight into its place.
  Matrix SampleOf(const std::vector<const SiftFeatures*>& images, const std::vector<std::size_t>& image_indices) const;
  // The same rows as the descriptors' bytes, for Cluster(const ByteMatrix&).
  ByteMatrix SampleBytesOf(const std::vector<const SiftFeatures*>& images,
                           const std::vector<std::size_t>& image_indices) const;
  // The sample drawn from training image `image_index` alone, so that a
  // streaming pass that never holds all descriptors draws the same sample.
  Matrix SampleImage(const SiftFeatures& f, std::size_t image_index) const;
  // The rows SampleImage draws from an image of `descriptors` descriptors.
  Eigen::Index SampleRows(Eigen::Index descriptors) const;
  static Matrix Stack(const std::vector<Matrix>& parts);
  // Indices (ascending) of the training images the sample is drawn from.
  std::vector<std::size_t> SampleImages(std::size_t num_training) const;

 private:
  // SampleImage written straight into `out` (SampleRows(...) rows of the
  // descriptors' width, row-major): its place in the whole sample.
  template <class Scalar>
  void SampleImageInto(const SiftFeatures& f, std::size_t image_index, Scalar* out) const;
  // SampleOf into a float or byte matrix.
  template <class Out>
  Out Draw(const std::vector<const SiftFeatures*>& images, const std::vector<std::size_t>& image_indices) const;
  // Draw from the images SampleImages chooses: Sample(), and Build()'s bytes.
  template <class Out>
  Out DrawFrom(const std::vector<const SiftFeatures*>& training) const;

  VocabularyOptions opts_;
  int threads_;
};

// OpenBLAS is made single-threaded once per process: scenelab parallelises
// over blocks itself, and nested BLAS threads would oversubscribe the cores.
void UseSingleThreadedBlas();

}  // namespace scenelab::features

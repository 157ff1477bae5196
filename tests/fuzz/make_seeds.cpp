// Writes a seed corpus of valid files for every fuzz target:
//   make_seeds DIR   ->  DIR/<target>/<seed files>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "scenelab/cnn/trainer.h"
#include "scenelab/eval/confusion.h"
#include "scenelab/features/cache.h"
#include "scenelab/features/vocabulary.h"

namespace fs = std::filesystem;
using namespace scenelab;

static void Write(const fs::path& p, const std::string& s) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << s;
}

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const fs::path d = argv[1];
  // IDX: 2 images of 3x3, and 2 labels.
  std::string idx3 = std::string("\0\0\x08\x03\0\0\0\x02\0\0\0\x03\0\0\0\x03", 16) + std::string(18, '\x7f');
  Write(d / "fuzz_idx" / "images.idx", idx3);
  Write(d / "fuzz_idx" / "labels.idx", std::string("\0\0\x08\x01\0\0\0\x02\x01\x09", 10));
  // CIFAR: one CIFAR-10 record and one CIFAR-100 record.
  Write(d / "fuzz_cifar" / "c10.bin", std::string(1, '\x03') + std::string(3072, '\x40'));
  Write(d / "fuzz_cifar" / "c100.bin", std::string("\x02\x2a", 2) + std::string(3072, '\x40'));
  Write(d / "fuzz_tinyimagenet" / "wnids.txt", "n01443537\nn01629819\nn01641577");
  Write(d / "fuzz_tinyimagenet" / "words.txt",
        "n01443537\tgoldfish, Carassius auratus\nn01629819\tEuropean fire salamander\n");
  Write(d / "fuzz_tinyimagenet" / "val.txt",
        "val_0.JPEG\tn01443537\t0\t32\t44\t62\nval_1.JPEG\tn01629819\t52\t55\t57\t59\n");
  features::Matrix m = features::Matrix::Constant(3, 4, 0.5f);
  features::SaveMatrixCache((d / "fuzz_cache" / "matrix.bin").string(), "fuzz-key", m);
  features::SiftFeatures f;
  f.width = f.height = 32;
  f.descriptors = features::ByteMatrix::Constant(2, 128, 7);
  f.frames = features::Matrix::Constant(2, 3, 4.0f);
  features::SaveSiftCache((d / "fuzz_cache" / "sift.bin").string(), "fuzz-key", {f});
  features::Vocabulary(m, {}, 1.0).Save((d / "fuzz_cache" / "vocab.bin").string());
  eval::ConfusionMatrix cm({"a", "b", "c"});
  cm.Add(0, 0, 3);
  cm.Add(1, 2, 1);
  Write(d / "fuzz_results" / "confusion.csv", cm.ToCsv());
  Write(d / "fuzz_results" / "confusion.json", cm.ToJson());
  eval::Predictions p({"a", "b", "c"});
  p.Add({"x.jpg", 0, 1, 0.5f});
  Write(d / "fuzz_results" / "predictions.csv", p.ToCsv());
  Write(d / "fuzz_results" / "predictions.json", p.ToJson());
  cnn::EpochMetrics e;
  e.epoch = 1;
  Write(d / "fuzz_results" / "metrics.csv", cnn::MetricsCsv({e}));
  Write(d / "fuzz_config" / "sweep.yaml",
        "data: {path: /x, train_per_class: 3}\nsweep: {k: 1-10, metric: [l1, l2], vocab: [50, 100]}\n"
        "sift: {step: 5, bins: [8]}\nknn: {weighted: true}\n");
  Write(d / "fuzz_config" / "meta.json", cnn::TrainConfig().ToJson().dump());
  // Every key of the option table, as a run's params echo them, and the presets.
  Write(
      d / "fuzz_config" / "params.yaml",
      "recipe: phow\nprotocol: lazebnik\nfeatures: bow\nsift: {step: 4, bin_sizes: [4, 8], phow: true, smooth: true}\n"
      "vocabulary: {size: 50, algorithm: gemm, max_iterations: 20, min_energy_variation: 0.001, images: 9}\n"
      "bow: {pyramid_levels: 2, grids: [1, 2], quantizer: kdtree, max_comparisons: 20}\n"
      "encoding: {pca_dim: 40, gmm_components: 16, improved: false}\n"
      "homkermap: {kernel: chi2, order: 2, gamma: 0.7, window: uniform}\nclassifier: svm\n"
      "svm: {solver: sgd, c: [1, 10], cv_folds: 3, epsilon: 0.01}\n"
      "knn: {metrics: [l1, l2], k: 1-3, weighted: true, index: kdtree, flann_checks: 32}\n"
      "gist: {orientations: [8, 4], grid: 2}\ntiny: {size: 8, norm: l1, interpolation: cubic}\n"
      "repeats: 3\nseed: 7\nthreads: 1\ndescriptor_memory_gb: 0.5\n");
  return 0;
}

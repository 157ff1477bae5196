#pragma once
// Bag-of-words encoding: hard assignment to the nearest word, histogram,
// L1 normalisation; optionally a spatial pyramid (Lazebnik et al. 2006) of
// levels 0..L with their weighting: 1/2^L for level 0, 1/2^(L-l+1) for l > 0;
// or explicit spatial grids as VLFeat's PHOW recipe (2x2 and 4x4), each
// grid's histogram normalised on its own, then the whole vector.
#include <memory>
#include <string>
#include <vector>

#include "scenelab/data/log.h"
#include "scenelab/features/dense_sift.h"
#include "scenelab/features/vocabulary.h"

namespace scenelab::features {

enum class Quantizer { kExact, kKdTree };
const EnumTable<Quantizer>& QuantizerNames();  // exact | kdtree

struct BowOptions {
  int pyramid_levels = 0;                   // 0: one global histogram; L: levels 0..L (Lazebnik used L = 2)
  std::vector<int> grids;                   // explicit grid sides, e.g. {2, 4}; non-empty overrides pyramid_levels
  Quantizer quantizer = Quantizer::kExact;  // exact (GEMM) | kdtree (VLFeat kd-forest, approximate)
  int max_comparisons = 50;                 // kdtree: the PHOW recipe's MaxComparisons
  void Validate() const;
};

class BowEncoder {
 public:
  BowEncoder(const Vocabulary& vocabulary, const BowOptions& opts);
  // Histogram length: size * sum over levels of 4^l.
  int dim() const;
  void Encode(const SiftFeatures& f, float* out) const;
  // Encodes from precomputed word assignments.
  void EncodeAssigned(const std::vector<int>& words, const SiftFeatures& f, float* out) const;

 private:
  std::vector<int> Words(const SiftFeatures& f) const;
  const Vocabulary& vocab_;
  BowOptions opts_;
  std::unique_ptr<KdTreeQuantizer> kdtree_;
};

// Encodes every image, in order, on `threads` threads.
Matrix EncodeBow(const std::vector<SiftFeatures>& features, const BowEncoder& encoder, int threads = 0,
                 Progress* progress = nullptr);

}  // namespace scenelab::features

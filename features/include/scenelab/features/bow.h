#pragma once
// Bag-of-words encoding: hard assignment to the nearest word, histogram,
// L1 normalisation; optionally a spatial pyramid (Lazebnik et al. 2006) of
// levels 0..L with their weighting: 1/2^L for level 0, 1/2^(L-l+1) for l > 0.
#include "scenelab/data/log.h"
#include "scenelab/features/dense_sift.h"
#include "scenelab/features/vocabulary.h"

namespace scenelab::features {

struct BowOptions {
  int pyramid_levels = 0;  // 0: one global histogram; L: levels 0..L (Lazebnik used L = 2)
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
  const Vocabulary& vocab_;
  BowOptions opts_;
};

// Encodes every image, in order, on `threads` threads.
Matrix EncodeBow(const std::vector<SiftFeatures>& features, const BowEncoder& encoder, int threads = 0,
                 Progress* progress = nullptr);

}  // namespace scenelab::features

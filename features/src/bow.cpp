#include "scenelab/features/bow.h"

#include <algorithm>

#include "scenelab/data/error.h"
#include "scenelab/data/parallel.h"

namespace scenelab::features {

void BowOptions::Validate() const {
  if (pyramid_levels < 0 || pyramid_levels > 5) {
    throw Error("BowOptions.pyramid_levels (--pyramid) must be in [0, 5], got " + std::to_string(pyramid_levels));
  }
}

BowEncoder::BowEncoder(const Vocabulary& vocabulary, const BowOptions& opts) : vocab_(vocabulary), opts_(opts) {
  opts_.Validate();
  if (vocab_.size() == 0) throw Error("BowEncoder: empty vocabulary");
}

int BowEncoder::dim() const {
  int cells = 0;
  for (int l = 0; l <= opts_.pyramid_levels; ++l) cells += (1 << l) * (1 << l);
  return vocab_.size() * cells;
}

void BowEncoder::Encode(const SiftFeatures& f, float* out) const { EncodeAssigned(vocab_.Assign(f.descriptors), f, out); }

void BowEncoder::EncodeAssigned(const std::vector<int>& words, const SiftFeatures& f, float* out) const {
  const int k = vocab_.size();
  std::fill(out, out + dim(), 0.0f);
  const std::size_t n = words.size();
  if (n == 0) return;  // no descriptors: an all-zero histogram
  const int L = opts_.pyramid_levels;
  int offset = 0;
  for (int l = 0; l <= L; ++l) {
    const int cells = 1 << l;
    // Lazebnik et al.: level 0 weighs 1/2^L, level l > 0 weighs 1/2^(L-l+1).
    const float weight = L == 0 ? 1.0f : (l == 0 ? 1.0f / (1 << L) : 1.0f / (1 << (L - l + 1)));
    for (std::size_t i = 0; i < n; ++i) {
      int cx = 0, cy = 0;
      if (cells > 1) {
        cx = std::clamp(static_cast<int>(f.frames(static_cast<Eigen::Index>(i), 0) * cells / std::max(1, f.width)), 0, cells - 1);
        cy = std::clamp(static_cast<int>(f.frames(static_cast<Eigen::Index>(i), 1) * cells / std::max(1, f.height)), 0, cells - 1);
      }
      out[offset + (cy * cells + cx) * k + words[i]] += weight;
    }
    offset += cells * cells * k;
  }
  // L1-normalise the whole vector (each level sums to its weight before this).
  float sum = 0;
  for (int i = 0; i < dim(); ++i) sum += out[i];
  if (sum > 0) {
    for (int i = 0; i < dim(); ++i) out[i] /= sum;
  }
}

Matrix EncodeBow(const std::vector<SiftFeatures>& features, const BowEncoder& encoder, int threads, Progress* progress) {
  Matrix out(static_cast<Eigen::Index>(features.size()), encoder.dim());
  ParallelFor(features.size(), threads, [&](std::size_t i) {
    encoder.Encode(features[i], out.row(static_cast<Eigen::Index>(i)).data());
    if (progress) progress->Add();
  });
  return out;
}

}  // namespace scenelab::features

#include "scenelab/features/bow.h"

#include <algorithm>

#include "scenelab/data/error.h"
#include "scenelab/data/parallel.h"

namespace scenelab::features {

const EnumTable<Quantizer>& QuantizerNames() {
  static const EnumTable<Quantizer> t = {{Quantizer::kExact, "exact"}, {Quantizer::kKdTree, "kdtree"}};
  return t;
}

void BowOptions::Validate() const {
  if (pyramid_levels < 0 || pyramid_levels > 5) {
    throw Error("BowOptions.pyramid_levels (--pyramid) must be in [0, 5], got " + std::to_string(pyramid_levels));
  }
  for (int g : grids) {
    if (g < 1 || g > 16) throw Error("BowOptions.grids (--grids) sides must be in [1, 16], got " + std::to_string(g));
  }
  if (max_comparisons < 1) {
    throw Error("BowOptions.max_comparisons (--max-comparisons) must be >= 1, got " + std::to_string(max_comparisons));
  }
}

BowEncoder::BowEncoder(const Vocabulary& vocabulary, const BowOptions& opts) : vocab_(vocabulary), opts_(opts) {
  opts_.Validate();
  if (vocab_.size() == 0) throw Error("BowEncoder: empty vocabulary");
  if (opts_.quantizer == Quantizer::kKdTree) {
    KdTreeQuantizerOptions ko;
    ko.max_comparisons = opts_.max_comparisons;
    kdtree_ = std::make_unique<KdTreeQuantizer>(vocab_, ko);
  }
}

std::vector<int> BowEncoder::Words(const SiftFeatures& f) const {
  return kdtree_ ? kdtree_->Assign(f.descriptors) : vocab_.Assign(f.descriptors);
}

int BowEncoder::dim() const {
  int cells = 0;
  if (!opts_.grids.empty()) {
    for (int g : opts_.grids) cells += g * g;
    return vocab_.size() * cells;
  }
  for (int l = 0; l <= opts_.pyramid_levels; ++l) cells += (1 << l) * (1 << l);
  return vocab_.size() * cells;
}

void BowEncoder::Encode(const SiftFeatures& f, float* out) const { EncodeAssigned(Words(f), f, out); }

void BowEncoder::EncodeAssigned(const std::vector<int>& words, const SiftFeatures& f, float* out) const {
  const int k = vocab_.size();
  std::fill(out, out + dim(), 0.0f);
  const std::size_t n = words.size();
  if (n == 0) return;  // no descriptors: an all-zero histogram
  if (!opts_.grids.empty()) {
    int offset = 0;
    for (int g : opts_.grids) {
      float* h = out + offset;
      for (std::size_t i = 0; i < n; ++i) {
        const auto r = static_cast<Eigen::Index>(i);
        const int cx = SpatialCell(f.frames(r, 0), f.width, g);
        const int cy = SpatialCell(f.frames(r, 1), f.height, g);
        h[(cy * g + cx) * k + words[i]] += 1.0f;
      }
      const int len = g * g * k;
      float sum = 0;
      for (int j = 0; j < len; ++j) sum += h[j];
      if (sum > 0) {
        for (int j = 0; j < len; ++j) h[j] /= sum;
      }
      offset += len;
    }
    for (int j = 0; j < offset; ++j) out[j] /= static_cast<float>(opts_.grids.size());
    return;
  }
  const int L = opts_.pyramid_levels;
  int offset = 0;
  for (int l = 0; l <= L; ++l) {
    const int cells = 1 << l;
    // Lazebnik et al.: level 0 weighs 1/2^L, level l > 0 weighs 1/2^(L-l+1).
    const float weight = L == 0 ? 1.0f : (l == 0 ? 1.0f / (1 << L) : 1.0f / (1 << (L - l + 1)));
    for (std::size_t i = 0; i < n; ++i) {
      const auto r = static_cast<Eigen::Index>(i);
      const int cx = SpatialCell(f.frames(r, 0), f.width, cells);
      const int cy = SpatialCell(f.frames(r, 1), f.height, cells);
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

Matrix EncodeBow(const std::vector<SiftFeatures>& features, const BowEncoder& encoder, int threads,
                 Progress* progress) {
  Matrix out(static_cast<Eigen::Index>(features.size()), encoder.dim());
  ParallelFor(features.size(), threads, [&](std::size_t i) {
    encoder.Encode(features[i], out.row(static_cast<Eigen::Index>(i)).data());
    if (progress) progress->Add();
  });
  return out;
}

}  // namespace scenelab::features

#pragma once
// Tiny-image features (Torralba et al. 2008): shrink the image to S x S,
// subtract the mean and normalise, as the course baselines do.
#include <opencv2/core.hpp>

#include "scenelab/data/dataset.h"
#include "scenelab/data/log.h"
#include "scenelab/features/types.h"

namespace scenelab::features {

enum class Interpolation { kArea, kLinear, kCubic, kNearest };
Interpolation ParseInterpolation(const std::string& s);  // area|linear|cubic|nearest
std::string ToString(Interpolation i);

struct TinyImageOptions {
  int size = 16;                                       // output side; 16 as in the 15-scene course baseline
  bool crop_square = false;                            // centre-crop to a square before resizing
  Interpolation interpolation = Interpolation::kArea;  // area averaging: the right filter for shrinking
  bool zero_mean = true;                               // subtract the mean intensity
  Norm norm = Norm::kL2;                               // unit length, as in the reference recipe
  void Validate() const;
};

class TinyImage {
 public:
  explicit TinyImage(const TinyImageOptions& opts);
  int dim() const { return opts_.size * opts_.size; }
  // `gray` is an 8-bit single-channel image; writes dim() floats.
  void Compute(const cv::Mat& gray, float* out) const;
  Matrix Compute(const cv::Mat& gray) const;
  const TinyImageOptions& options() const { return opts_; }

 private:
  TinyImageOptions opts_;
};

// Features for every sample, in dataset order, computed on `threads` threads
// (0 = all cores). The result does not depend on the thread count.
Matrix ComputeTinyImages(const data::Dataset& ds, const TinyImageOptions& opts, int threads = 0,
                         Progress* progress = nullptr);

}  // namespace scenelab::features

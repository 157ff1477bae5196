#pragma once
// GIST, the scene descriptor of Oliva & Torralba (2001), as in their LMgist
// reference code: the image is resized (and centre-cropped) to a square,
// prefiltered (log intensities, a Gaussian high-pass, local contrast
// normalisation), filtered with a bank of Gabor filters defined in the
// frequency domain (default 4 scales x 8 orientations), and each filter's
// response magnitude is averaged over a grid of cells (default 4 x 4):
// 4 x 8 x 16 = 512 values for a grayscale image.
//
// Layout: filter-major (scale, then orientation, both ascending), then cells
// in column-major order (LMgist's), the way published GIST vectors are laid out.
#include <vector>

#include <opencv2/core.hpp>

#include "scenelab/data/dataset.h"
#include "scenelab/data/log.h"
#include "scenelab/features/types.h"

namespace scenelab::features {

struct GistOptions {
  int image_size = 256;                          // LMgist's imageSize: resized and centre-cropped to this square
  std::vector<int> orientations = {8, 8, 8, 8};  // orientations per scale, finest scale first (LMgist)
  int grid = 4;                                  // cells per side for averaging (LMgist's numberBlocks)
  double prefilter_fc = 4;                       // cut-off of the prefilter's Gaussian, in cycles per image (LMgist)
  int boundary = 32;                             // symmetric padding against wrap-around in the FFT (LMgist)
  void Validate() const;
};

class Gist {
 public:
  explicit Gist(const GistOptions& opts);
  int dim() const;
  // `gray`: 8-bit single channel, any size. Writes dim() floats.
  void Compute(const cv::Mat& gray, float* out) const;
  const GistOptions& options() const { return opts_; }
  // The filter bank's transfer function n (frequency domain, fftshift-ed
  // like LMgist's createGabor), for tests.
  const cv::Mat& filter(int n) const { return filters_[static_cast<std::size_t>(n)]; }
  int filters() const { return static_cast<int>(filters_.size()); }

 private:
  GistOptions opts_;
  std::vector<cv::Mat> filters_;  // CV_32F, (image_size + 2 boundary)^2, zero frequency at (0, 0)
  cv::Mat prefilter_;             // Gaussian of the prefilter at the padded prefilter size
};

// GIST of every sample, in dataset order, on `threads` threads (0 = all
// cores); the result does not depend on the thread count.
Matrix ComputeGist(const data::Dataset& ds, const GistOptions& opts, int threads = 0, Progress* progress = nullptr);

}  // namespace scenelab::features

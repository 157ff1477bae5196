#pragma once
// Dense SIFT through VLFeat's vl_dsift, optionally multi-scale as vl_phow.
//
// Frames are (x, y, bin size) in pixels with the origin at the centre of the
// top-left pixel, x to the right, y down. Descriptors are 128 bytes,
// min(512 d, 255) of VLFeat's normalised float descriptor d, in VLFeat's bin
// order; with RootSIFT they are the square roots of the L1-normalised
// descriptor, scaled to the same byte range.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "scenelab/data/enum_table.h"

#include <opencv2/core.hpp>

#include "scenelab/data/dataset.h"
#include "scenelab/data/log.h"
#include "scenelab/features/types.h"

namespace scenelab::features {

enum class SiftImplementation { kNative, kVlfeat };
const EnumTable<SiftImplementation>& SiftImplementationNames();  // native | vlfeat

struct DenseSiftOptions {
  int step = 5;                      // pixels between frame centres (15-scene recipe: 5)
  std::vector<int> bin_sizes = {8};  // spatial bin side in pixels; several = PHOW multi-scale
  bool fast = true;                  // flat window instead of Gaussian ("fast" in vl_dsift)
  double window_size = 2.0;          // VLFeat's default; vl_phow uses 1.5
  bool smooth = false;               // Gaussian pre-smoothing, sigma = bin/magnif, as vl_phow
  double magnif = 6.0;               // vl_phow's magnification factor
  bool phow_bounds = false;          // vl_phow's per-scale offset so all scales share centres
  double contrast_threshold = 0.0;   // descriptors whose norm is below are zeroed (vl_phow: 0.005)
  bool root_sift = false;            // RootSIFT (Arandjelovic & Zisserman 2012)
  // native: scenelab's cache-friendly implementation of vl_dsift's flat
  // window (same values to float rounding, about 3x faster); vlfeat: VLFeat's
  // vl_dsift itself. The Gaussian window (fast = false) always uses VLFeat.
  SiftImplementation implementation = SiftImplementation::kNative;  // native | vlfeat
  void Validate() const;

  // vl_phow's defaults: sizes 4/6/8/10, step 3, smoothing, window 1.5.
  static DenseSiftOptions Phow();
};

struct SiftFeatures {
  ByteMatrix descriptors;  // n x 128
  Matrix frames;           // n x 3: x, y, bin size
  int width = 0;           // image size, for spatial pyramids
  int height = 0;
};

// Holds VLFeat filters, rebuilt only when the image size changes. Not
// thread-safe: use one DenseSift per thread.
class DenseSift {
 public:
  explicit DenseSift(const DenseSiftOptions& opts);
  ~DenseSift();
  DenseSift(DenseSift&&) noexcept;
  DenseSift& operator=(DenseSift&&) noexcept;

  // `gray` is an 8-bit single-channel image. Throws Error when the image is
  // smaller than one descriptor at the largest bin size.
  SiftFeatures Compute(const cv::Mat& gray);
  const DenseSiftOptions& options() const { return opts_; }

 private:
  struct Impl;
  DenseSiftOptions opts_;
  std::unique_ptr<Impl> impl_;
};

// Streams dense SIFT over a dataset: fn(i, features) runs on the worker
// threads, each holding one image's descriptors at a time, so memory does not
// grow with the dataset. Errors name the image.
void ForEachDenseSift(const data::Dataset& ds, const DenseSiftOptions& opts, int threads, Progress* progress,
                      const std::function<void(std::size_t, SiftFeatures&&)>& fn);

// Number of frames DenseSift returns for a width x height image.
std::size_t DenseSiftFrameCount(int width, int height, const DenseSiftOptions& opts);

// Features for every sample in dataset order, on `threads` threads.
std::vector<SiftFeatures> ComputeDenseSift(const data::Dataset& ds, const DenseSiftOptions& opts, int threads = 0,
                                           Progress* progress = nullptr);

}  // namespace scenelab::features

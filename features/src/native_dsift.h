#pragma once
// A dense SIFT with VLFeat's flat-window ("fast") vl_dsift semantics, laid out
// for the cache: gradients and the separable triangular filters run over
// whole rows, the eight filtered orientation planes are interleaved per pixel
// so each descriptor reads 16 contiguous 8-float bins, and descriptors are
// written frame by frame. Same frames, same window weights, same
// normalisation and 0.2 clamp as vl_dsift_process; values agree to float
// rounding (tested against VLFeat).
#include <vector>

namespace scenelab::features::detail {

struct DsiftKeypoint {
  float x, y, norm;
};

class NativeDsift {
 public:
  // `im`: w x h floats, row-major. Frames start at (min_x, min_y) and fit in
  // (w - 1, h - 1), as vl_dsift_set_bounds(min, min, w - 1, h - 1).
  void Process(const float* im, int w, int h, int bin, int step, int min_x, int min_y, double window_size,
               std::vector<float>* descriptors, std::vector<DsiftKeypoint>* frames);

 private:
  std::vector<float> planes_;                   // 8 x h x w gradient planes
  std::vector<float> inter_;                    // w x h x 8: filtered planes, transposed and interleaved
  std::vector<float> vert_, trans_, filtered_;  // one plane through the two passes
  std::vector<float> integral_, second_;        // integral rows of a pass
};

// Frames along one axis: the count vl_dsift gives for [min, max].
int DsiftFramesAlong(int min, int max, int bin, int step);

}  // namespace scenelab::features::detail

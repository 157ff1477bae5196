#pragma once
// Explicit feature maps for additive homogeneous kernels (Vedaldi & Zisserman
// 2012), through VLFeat's vl_homkermap: a linear classifier on the mapped
// vectors approximates a chi2, intersection or Jensen-Shannon kernel machine
// on the original histograms, at linear cost.
#include <memory>
#include <string>

#include "scenelab/features/types.h"

namespace scenelab::features {

enum class HomogeneousKernel { kChi2, kIntersection, kJs };
HomogeneousKernel ParseHomogeneousKernel(const std::string& s);  // "chi2" | "intersection" | "js"
std::string ToString(HomogeneousKernel k);

struct HomKerMapOptions {
  HomogeneousKernel kernel = HomogeneousKernel::kChi2;  // the PHOW recipe's kchi2
  int order = 1;                                        // n: each value maps to 2n + 1 values (PHOW recipe: 1)
  double gamma = 0.5;                                   // homogeneity degree (PHOW recipe: 0.5; 1 is the plain kernel)
  bool rectangular_window = true;                       // vl_homkermap's default window; false = uniform
  double period = -1;                                   // spectrum period; <= 0 picks VLFeat's heuristic
  void Validate() const;
};

class HomogeneousKernelMap {
 public:
  explicit HomogeneousKernelMap(const HomKerMapOptions& opts);
  ~HomogeneousKernelMap();
  HomogeneousKernelMap(const HomogeneousKernelMap&) = delete;
  HomogeneousKernelMap& operator=(const HomogeneousKernelMap&) = delete;

  int expansion() const { return 2 * opts_.order + 1; }
  // Maps n values to n * expansion() values; value i fills out[i*expansion() ..].
  // Thread-safe (the map is a read-only table).
  void Map(const float* in, std::size_t n, float* out) const;
  // Row-wise map of a feature matrix, on `threads` threads.
  Matrix Apply(const Matrix& x, int threads = 0) const;

 private:
  struct Impl;
  HomKerMapOptions opts_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace scenelab::features

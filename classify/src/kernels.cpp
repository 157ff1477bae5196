#include "kernels.h"

#include <cmath>

namespace scenelab::classify::kernels {

namespace {
// 16 independent lanes: vectorisable without -ffast-math, and the summation
// order is fixed by the source, so every clone returns identical sums.
constexpr std::size_t kLanes = 16;

inline float Horizontal(const float* acc) {
  float s = 0;
  for (std::size_t j = 0; j < kLanes; ++j) s += acc[j];
  return s;
}
}  // namespace

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define SCENELAB_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SCENELAB_CLONES
#endif

SCENELAB_CLONES
void L1Block(const float* q, const float* t, std::size_t n, std::size_t dim, float* out) {
  const std::size_t full = dim - dim % kLanes;
  // Four training rows at a time: each query load feeds four accumulators.
  std::size_t j = 0;
  for (; j + 4 <= n; j += 4) {
    const float* t0 = t + j * dim;
    const float* t1 = t0 + dim;
    const float* t2 = t1 + dim;
    const float* t3 = t2 + dim;
    float a0[kLanes] = {0}, a1[kLanes] = {0}, a2[kLanes] = {0}, a3[kLanes] = {0};
    for (std::size_t d = 0; d < full; d += kLanes) {
      for (std::size_t l = 0; l < kLanes; ++l) {
        const float x = q[d + l];
        a0[l] += std::fabs(x - t0[d + l]);
        a1[l] += std::fabs(x - t1[d + l]);
        a2[l] += std::fabs(x - t2[d + l]);
        a3[l] += std::fabs(x - t3[d + l]);
      }
    }
    for (std::size_t d = full; d < dim; ++d) {
      const std::size_t l = d - full;
      a0[l] += std::fabs(q[d] - t0[d]);
      a1[l] += std::fabs(q[d] - t1[d]);
      a2[l] += std::fabs(q[d] - t2[d]);
      a3[l] += std::fabs(q[d] - t3[d]);
    }
    out[j] = Horizontal(a0);
    out[j + 1] = Horizontal(a1);
    out[j + 2] = Horizontal(a2);
    out[j + 3] = Horizontal(a3);
  }
  for (; j < n; ++j) {
    const float* tj = t + j * dim;
    float a[kLanes] = {0};
    for (std::size_t d = 0; d < full; d += kLanes) {
      for (std::size_t l = 0; l < kLanes; ++l) a[l] += std::fabs(q[d + l] - tj[d + l]);
    }
    for (std::size_t d = full; d < dim; ++d) a[d - full] += std::fabs(q[d] - tj[d]);
    out[j] = Horizontal(a);
  }
}

SCENELAB_CLONES
void Chi2Block(const float* q, const float* t, std::size_t n, std::size_t dim, float* out) {
  const std::size_t full = dim - dim % kLanes;
  for (std::size_t j = 0; j < n; ++j) {
    const float* tj = t + j * dim;
    float a[kLanes] = {0};
    for (std::size_t d = 0; d < full; d += kLanes) {
      for (std::size_t l = 0; l < kLanes; ++l) {
        const float s = q[d + l] + tj[d + l];
        const float diff = q[d + l] - tj[d + l];
        a[l] += s > 0 ? diff * diff / s : 0.0f;
      }
    }
    for (std::size_t d = full; d < dim; ++d) {
      const float s = q[d] + tj[d];
      const float diff = q[d] - tj[d];
      a[d - full] += s > 0 ? diff * diff / s : 0.0f;
    }
    out[j] = Horizontal(a);
  }
}

}  // namespace scenelab::classify::kernels

#include "heap.h"

#include <cstdlib>  // defines __GLIBC__ (not left to the precompiled header)

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace scenelab::cnn::detail {

#if defined(__GLIBC__)
namespace {
constexpr int kHeld = 1 << 30;      // larger than any one activation tensor of the zoo's models
constexpr int kSettled = 32 << 20;  // glibc's DEFAULT_MMAP_THRESHOLD_MAX on 64-bit
}  // namespace

TrainingHeap::TrainingHeap() {
  mallopt(M_MMAP_THRESHOLD, kHeld);
  mallopt(M_TRIM_THRESHOLD, kHeld);
}

TrainingHeap::~TrainingHeap() {
  mallopt(M_MMAP_THRESHOLD, kSettled);
  mallopt(M_TRIM_THRESHOLD, 2 * kSettled);
  malloc_trim(0);
}
#else
TrainingHeap::TrainingHeap() = default;
TrainingHeap::~TrainingHeap() = default;
#endif

}  // namespace scenelab::cnn::detail

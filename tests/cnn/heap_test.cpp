// The training heap: while alive, a block larger than glibc's adaptive mmap
// threshold can reach (32 MB) comes from the heap instead of its own
// mapping; afterwards such blocks are mapped again, as glibc would.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#include "heap.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;  // the sanitizers replace malloc: mallinfo2 reports nothing
#else
constexpr bool kSanitized = false;
#endif

#if defined(__GLIBC__)
// The number of separately mapped blocks while a 48 MB block is allocated,
// minus the number before.
int MappedBlocksFor48Mb() {
  const auto before = mallinfo2().hblks;
  void* volatile block = std::malloc(std::size_t{48} << 20);
  if (block == nullptr) throw std::bad_alloc();
  std::memset(block, 1, 4096);
  const auto during = mallinfo2().hblks;
  std::free(block);
  return static_cast<int>(during) - static_cast<int>(before);
}
#endif

}  // namespace

TEST(Cnn_TrainingHeap, KeepsLargeBlocksOnTheHeapWhileAliveAndMapsThemAgainAfter) {
#if !defined(__GLIBC__)
  GTEST_SKIP() << "the heap settings are glibc's mallopt; this C library has none";
#else
  if (kSanitized) GTEST_SKIP() << "the sanitizer's allocator replaces glibc's: mallinfo2 counts nothing";
  EXPECT_EQ(MappedBlocksFor48Mb(), 1) << "glibc maps blocks over 32 MB by default";
  {
    const scenelab::cnn::detail::TrainingHeap heap;
    EXPECT_EQ(MappedBlocksFor48Mb(), 0) << "a 48 MB activation must come from the heap during training";
    EXPECT_EQ(MappedBlocksFor48Mb(), 0) << "and again once the first block was freed: the freed memory is reused";
  }
  EXPECT_EQ(MappedBlocksFor48Mb(), 1) << "after training, large blocks are mapped (and returned) again";
#endif
}

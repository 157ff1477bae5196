#pragma once
// Static-partition parallel loop. Each index is processed independently and
// written to its own slot, so results do not depend on the thread count.
#include <algorithm>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace scenelab {

// Number of worker threads to use when an option says 0 ("all cores").
inline int ResolveThreads(int requested) {
  if (requested > 0) return requested;
  const unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : static_cast<int>(hc);
}

// Calls fn(begin, end) on disjoint ranges covering [0, n). The first
// exception thrown by any worker is rethrown in the caller.
template <typename Fn>
void ParallelForRange(std::size_t n, int threads, std::size_t grain, Fn&& fn) {
  if (n == 0) return;
  threads = ResolveThreads(threads);
  grain = std::max<std::size_t>(grain, 1);
  const std::size_t chunks = (n + grain - 1) / grain;
  const std::size_t workers = std::min<std::size_t>(threads, chunks);
  if (workers <= 1) {
    fn(std::size_t{0}, n);
    return;
  }
  std::mutex mu;
  std::exception_ptr error;
  std::size_t next_chunk = 0;
  auto worker = [&]() {
    for (;;) {
      std::size_t c;
      {
        std::lock_guard<std::mutex> lock(mu);
        if (error || next_chunk >= chunks) return;
        c = next_chunk++;
      }
      try {
        fn(c * grain, std::min(n, (c + 1) * grain));
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!error) error = std::current_exception();
        return;
      }
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(workers - 1);
  for (std::size_t t = 1; t < workers; ++t) pool.emplace_back(worker);
  worker();
  for (auto& th : pool) th.join();
  if (error) std::rethrow_exception(error);
}

template <typename Fn>
void ParallelFor(std::size_t n, int threads, Fn&& fn) {
  ParallelForRange(n, threads, 1, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) fn(i);
  });
}

}  // namespace scenelab

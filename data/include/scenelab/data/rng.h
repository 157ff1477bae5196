#pragma once
// A small, fully specified PRNG (SplitMix64). std::shuffle and the standard
// distributions are implementation-defined, so every seeded choice in
// scenelab goes through this class to give the same result everywhere.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace scenelab {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}

  std::uint64_t Next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform integer in [0, n); n > 0. Uses rejection to avoid modulo bias.
  std::uint64_t Below(std::uint64_t n) {
    const std::uint64_t limit = ~std::uint64_t{0} - (~std::uint64_t{0} % n);
    std::uint64_t x;
    do {
      x = Next();
    } while (x >= limit);
    return x % n;
  }
  // Uniform double in [0, 1).
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

  // min(m, n) distinct indices of [0, n), uniformly (a partial
  // Fisher-Yates shuffle: the first m draws), in ascending order.
  std::vector<std::size_t> Choose(std::size_t n, std::size_t m) {
    std::vector<std::size_t> idx(n);
    for (std::size_t i = 0; i < n; ++i) idx[i] = i;
    m = m < n ? m : n;
    for (std::size_t j = 0; j < m; ++j) std::swap(idx[j], idx[j + Below(n - j)]);
    idx.resize(m);
    std::sort(idx.begin(), idx.end());
    return idx;
  }

  template <typename T>
  void Shuffle(std::vector<T>& v) {
    for (std::size_t i = v.size(); i > 1; --i) {
      std::swap(v[i - 1], v[Below(i)]);
    }
  }

 private:
  std::uint64_t state_;
};

// Derives an independent stream seed, e.g. one per image or per stage.
inline std::uint64_t MixSeed(std::uint64_t seed, std::uint64_t salt) {
  Rng r(seed ^ (salt * 0xD1B54A32D192ED03ull));
  return r.Next();
}

}  // namespace scenelab

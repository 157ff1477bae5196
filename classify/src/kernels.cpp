#include "kernels.h"

#include "scenelab/data/cpu.h"

#include <cmath>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

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

namespace {
// The kernel bodies, inlined into one wrapper per instruction set below and
// vectorised for it by the compiler (the callee's ISA is a subset of each
// wrapper's, so GCC and clang inline it).
__attribute__((always_inline)) inline void L1Body(const float* q, const float* t, std::size_t n, std::size_t dim,
                                                  float* out) {
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

__attribute__((always_inline)) inline void Chi2Body(const float* q, const float* t, std::size_t n, std::size_t dim,
                                                    float* out) {
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

using BlockFn = void (*)(const float*, const float*, std::size_t, std::size_t, float*);

void L1Scalar(const float* q, const float* t, std::size_t n, std::size_t dim, float* out) { L1Body(q, t, n, dim, out); }
void Chi2Scalar(const float* q, const float* t, std::size_t n, std::size_t dim, float* out) {
  Chi2Body(q, t, n, dim, out);
}
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2"))) void L1Avx2(const float* q, const float* t, std::size_t n, std::size_t dim, float* out) {
  L1Body(q, t, n, dim, out);
}
__attribute__((target("avx2"))) void Chi2Avx2(const float* q, const float* t, std::size_t n, std::size_t dim,
                                              float* out) {
  Chi2Body(q, t, n, dim, out);
}
__attribute__((target("avx512f,avx512bw"))) void L1Avx512(const float* q, const float* t, std::size_t n, std::size_t dim,
                                                          float* out) {
  L1Body(q, t, n, dim, out);
}
__attribute__((target("avx512f,avx512bw"))) void Chi2Avx512(const float* q, const float* t, std::size_t n,
                                                            std::size_t dim, float* out) {
  Chi2Body(q, t, n, dim, out);
}
#endif

struct FloatChoice {
  BlockFn l1, chi2;
  Isa isa;
};

FloatChoice PickFloat(Isa level) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (level >= Isa::kAvx512) return {L1Avx512, Chi2Avx512, Isa::kAvx512};
  if (level >= Isa::kAvx2) return {L1Avx2, Chi2Avx2, Isa::kAvx2};
#endif
  (void)level;
  return {L1Scalar, Chi2Scalar, Isa::kScalar};
}

const FloatChoice& Float() {
  static const FloatChoice choice = PickFloat(ActiveIsa());  // decided once; constant afterwards
  return choice;
}

void SadScalar(const std::uint8_t* q, const std::uint8_t* t, std::size_t n, std::size_t stride, float scale, float* out) {
  for (std::size_t j = 0; j < n; ++j) {
    const std::uint8_t* tj = t + j * stride;
    std::uint32_t s = 0;
    for (std::size_t d = 0; d < stride; ++d) s += static_cast<std::uint32_t>(q[d] > tj[d] ? q[d] - tj[d] : tj[d] - q[d]);
    out[j] = scale * static_cast<float>(s);
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
// Through memory: GCC 12's _mm512_reduce_add_epi64 trips -Wmaybe-uninitialized.
__attribute__((target("avx512bw"))) inline std::uint64_t Sum8(__m512i v) {
  alignas(64) std::uint64_t lanes[8];
  _mm512_store_si512(lanes, v);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3] + lanes[4] + lanes[5] + lanes[6] + lanes[7];
}

// Four training rows per pass: each query load feeds four vpsadbw.
__attribute__((target("avx512bw"))) void SadAvx512(const std::uint8_t* q, const std::uint8_t* t, std::size_t n,
                                                    std::size_t stride, float scale, float* out) {
  std::size_t j = 0;
  for (; j + 4 <= n; j += 4) {
    const std::uint8_t* t0 = t + j * stride;
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
    for (std::size_t d = 0; d < stride; d += 64) {
      const __m512i x = _mm512_loadu_si512(q + d);
      a0 = _mm512_add_epi64(a0, _mm512_sad_epu8(x, _mm512_loadu_si512(t0 + d)));
      a1 = _mm512_add_epi64(a1, _mm512_sad_epu8(x, _mm512_loadu_si512(t0 + stride + d)));
      a2 = _mm512_add_epi64(a2, _mm512_sad_epu8(x, _mm512_loadu_si512(t0 + 2 * stride + d)));
      a3 = _mm512_add_epi64(a3, _mm512_sad_epu8(x, _mm512_loadu_si512(t0 + 3 * stride + d)));
    }
    out[j] = scale * static_cast<float>(Sum8(a0));
    out[j + 1] = scale * static_cast<float>(Sum8(a1));
    out[j + 2] = scale * static_cast<float>(Sum8(a2));
    out[j + 3] = scale * static_cast<float>(Sum8(a3));
  }
  for (; j < n; ++j) {
    const std::uint8_t* tj = t + j * stride;
    __m512i a = _mm512_setzero_si512();
    for (std::size_t d = 0; d < stride; d += 64) {
      a = _mm512_add_epi64(a, _mm512_sad_epu8(_mm512_loadu_si512(q + d), _mm512_loadu_si512(tj + d)));
    }
    out[j] = scale * static_cast<float>(Sum8(a));
  }
}

__attribute__((target("avx2"))) void SadAvx2(const std::uint8_t* q, const std::uint8_t* t, std::size_t n,
                                              std::size_t stride, float scale, float* out) {
  for (std::size_t j = 0; j < n; ++j) {
    const std::uint8_t* tj = t + j * stride;
    __m256i a = _mm256_setzero_si256();
    for (std::size_t d = 0; d < stride; d += 32) {
      const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + d));
      const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tj + d));
      a = _mm256_add_epi64(a, _mm256_sad_epu8(x, y));
    }
    const __m128i h = _mm_add_epi64(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
    out[j] = scale * static_cast<float>(_mm_cvtsi128_si64(h) + _mm_extract_epi64(h, 1));
  }
}
#endif

using SadFn = void (*)(const std::uint8_t*, const std::uint8_t*, std::size_t, std::size_t, float, float*);

struct SadChoice {
  SadFn fn;
  const char* isa;
};

SadChoice PickSad(Isa level) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (level >= Isa::kAvx512) return {SadAvx512, "avx512bw"};
  if (level >= Isa::kAvx2) return {SadAvx2, "avx2"};
#endif
  (void)level;
  return {SadScalar, "scalar"};
}

const SadChoice& Sad() {
  static const SadChoice choice = PickSad(ActiveIsa());  // decided once; constant afterwards
  return choice;
}

}  // namespace

void L1Block(const float* q, const float* t, std::size_t n, std::size_t dim, float* out) {
  Float().l1(q, t, n, dim, out);
}
void Chi2Block(const float* q, const float* t, std::size_t n, std::size_t dim, float* out) {
  Float().chi2(q, t, n, dim, out);
}
const char* FloatBlockIsa() { return ToString(Float().isa); }

void L1BlockU8(const std::uint8_t* q, const std::uint8_t* t, std::size_t n, std::size_t stride, float scale, float* out) {
  Sad().fn(q, t, n, stride, scale, out);
}

const char* L1BlockU8Isa() { return Sad().isa; }

}  // namespace scenelab::classify::kernels

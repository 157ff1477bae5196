#include "kernels.h"

#include "scenelab/data/byte_dots.h"
#include "scenelab/data/cpu.h"
#include "scenelab/data/parallel.h"
#include "scenelab/data/tiles.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

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
__attribute__((target("avx2"))) void L1Avx2(const float* q, const float* t, std::size_t n, std::size_t dim,
                                            float* out) {
  L1Body(q, t, n, dim, out);
}
__attribute__((target("avx2"))) void Chi2Avx2(const float* q, const float* t, std::size_t n, std::size_t dim,
                                              float* out) {
  Chi2Body(q, t, n, dim, out);
}
__attribute__((target("avx512f,avx512bw"))) void L1Avx512(const float* q, const float* t, std::size_t n,
                                                          std::size_t dim, float* out) {
  L1Body(q, t, n, dim, out);
}
__attribute__((target("avx512f,avx512bw"))) void Chi2Avx512(const float* q, const float* t, std::size_t n,
                                                            std::size_t dim, float* out) {
  Chi2Body(q, t, n, dim, out);
}
#endif

// The dual coordinate-descent SVM's two operations on one training row.
// Products are rounded before they are added (the file is built with
// -ffp-contract=off), so the FMA-capable clones sum the same bits as the
// scalar one.
__attribute__((always_inline)) inline float FDotBody(const float* a, const float* b, std::size_t n) {
  const std::size_t full = n - n % kLanes;
  float acc[kLanes] = {0};
  for (std::size_t d = 0; d < full; d += kLanes) {
    for (std::size_t l = 0; l < kLanes; ++l) acc[l] += a[d + l] * b[d + l];
  }
  for (std::size_t d = full; d < n; ++d) acc[d - full] += a[d] * b[d];
  return Horizontal(acc);
}
__attribute__((always_inline)) inline void FAxpyBody(float alpha, const float* x, float* y, std::size_t n) {
  for (std::size_t d = 0; d < n; ++d) y[d] += alpha * x[d];
}
using FDotFn = float (*)(const float*, const float*, std::size_t);
using FAxpyFn = void (*)(float, const float*, float*, std::size_t);
float FDotScalar(const float* a, const float* b, std::size_t n) { return FDotBody(a, b, n); }
void FAxpyScalar(float alpha, const float* x, float* y, std::size_t n) { FAxpyBody(alpha, x, y, n); }
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2"))) float FDotAvx2(const float* a, const float* b, std::size_t n) {
  return FDotBody(a, b, n);
}
__attribute__((target("avx2"))) void FAxpyAvx2(float alpha, const float* x, float* y, std::size_t n) {
  FAxpyBody(alpha, x, y, n);
}
__attribute__((target("avx512f,avx512bw"))) float FDotAvx512(const float* a, const float* b, std::size_t n) {
  return FDotBody(a, b, n);
}
__attribute__((target("avx512f,avx512bw"))) void FAxpyAvx512(float alpha, const float* x, float* y, std::size_t n) {
  FAxpyBody(alpha, x, y, n);
}
#endif

struct FloatChoice {
  BlockFn l1, chi2;
  FDotFn dot;
  FAxpyFn axpy;
  Isa isa;
};

FloatChoice PickFloat(Isa level) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (level >= Isa::kAvx512) return {L1Avx512, Chi2Avx512, FDotAvx512, FAxpyAvx512, Isa::kAvx512};
  if (level >= Isa::kAvx2) return {L1Avx2, Chi2Avx2, FDotAvx2, FAxpyAvx2, Isa::kAvx2};
#endif
  (void)level;
  return {L1Scalar, Chi2Scalar, FDotScalar, FAxpyScalar, Isa::kScalar};
}

const FloatChoice& Float() {
  static const FloatChoice choice = PickFloat(ActiveIsa());  // decided once; constant afterwards
  return choice;
}

void SadScalar(const std::uint8_t* q, const std::uint8_t* t, std::size_t n, std::size_t stride, float scale,
               float* out) {
  for (std::size_t j = 0; j < n; ++j) {
    const std::uint8_t* tj = t + j * stride;
    std::uint32_t s = 0;
    for (std::size_t d = 0; d < stride; ++d)
      s += static_cast<std::uint32_t>(q[d] > tj[d] ? q[d] - tj[d] : tj[d] - q[d]);
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

void DotScalar(const std::uint8_t* q, const std::uint8_t* t, std::size_t n, std::size_t stride, std::int32_t* out) {
  for (std::size_t j = 0; j < n; ++j) {
    const std::uint8_t* tj = t + j * stride;
    std::int32_t s = 0;
    for (std::size_t d = 0; d < stride; ++d) s += static_cast<std::int32_t>(q[d]) * static_cast<std::int32_t>(tj[d]);
    out[j] = s;
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
// Bytes zero-extended to 16 bits; vpmaddwd sums pairs of products
// (<= 2 x 255^2) into int32 lanes: exact.
__attribute__((target("avx512bw"))) inline std::int32_t Sum16(__m512i v) {
  alignas(64) std::int32_t lanes[16];
  _mm512_store_si512(lanes, v);
  std::int32_t s = 0;
  for (int i = 0; i < 16; ++i) s += lanes[i];
  return s;
}

__attribute__((target("avx512bw"))) void DotAvx512(const std::uint8_t* q, const std::uint8_t* t, std::size_t n,
                                                   std::size_t stride, std::int32_t* out) {
  for (std::size_t j = 0; j < n; ++j) {
    const std::uint8_t* tj = t + j * stride;
    __m512i a = _mm512_setzero_si512();
    for (std::size_t d = 0; d < stride; d += 32) {
      const __m512i x = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + d)));
      const __m512i y = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(tj + d)));
      a = _mm512_add_epi32(a, _mm512_madd_epi16(x, y));
    }
    out[j] = Sum16(a);
  }
}

__attribute__((target("avx2"))) void DotAvx2(const std::uint8_t* q, const std::uint8_t* t, std::size_t n,
                                             std::size_t stride, std::int32_t* out) {
  for (std::size_t j = 0; j < n; ++j) {
    const std::uint8_t* tj = t + j * stride;
    __m256i a = _mm256_setzero_si256();
    for (std::size_t d = 0; d < stride; d += 16) {
      const __m256i x = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q + d)));
      const __m256i y = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tj + d)));
      a = _mm256_add_epi32(a, _mm256_madd_epi16(x, y));
    }
    alignas(32) std::int32_t lanes[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), a);
    out[j] = lanes[0] + lanes[1] + lanes[2] + lanes[3] + lanes[4] + lanes[5] + lanes[6] + lanes[7];
  }
}

// R queries x G panels of 16 rows: R * G accumulators, each lane one
// training row; per 4 dimensions one broadcast per query and one 64-byte
// load per panel feed R * G vpdpbusd, and no horizontal sums are needed.
template <int R, int G>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) inline void PanelTile(const std::int8_t* p, std::size_t groups,
                                                                             const std::uint8_t* const* q,
                                                                             const std::int32_t* shift,
                                                                             std::int32_t* out,
                                                                             std::size_t out_stride) {
  __m512i a[R][G];
  for (int r = 0; r < R; ++r) {
    for (int g = 0; g < G; ++g) a[r][g] = _mm512_setzero_si512();
  }
  const std::size_t panel_bytes = groups * 64;
  for (std::size_t c = 0; c < groups; ++c) {
    __m512i w[G];
    for (int g = 0; g < G; ++g) w[g] = _mm512_loadu_si512(p + g * panel_bytes + c * 64);
    for (int r = 0; r < R; ++r) {
      std::int32_t x4;
      __builtin_memcpy(&x4, q[r] + c * 4, 4);
      const __m512i xb = _mm512_set1_epi32(x4);
      for (int g = 0; g < G; ++g) a[r][g] = byte_dots::Accumulate(a[r][g], xb, w[g]);
    }
  }
  for (int r = 0; r < R; ++r) {
    const __m512i s = _mm512_set1_epi32(shift[r]);
    for (int g = 0; g < G; ++g) _mm512_storeu_si512(out + r * out_stride + g * 16, _mm512_add_epi32(a[r][g], s));
  }
}

template <int R>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void PanelRows(const U8Panels& t, const std::uint8_t* const* q,
                                                                      const std::int32_t* shift, std::size_t panel0,
                                                                      std::size_t npanels, std::int32_t* out,
                                                                      std::size_t out_stride) {
  const std::size_t groups = t.groups, panel_bytes = groups * 64;
  std::size_t p = 0;
  for (; p + 4 <= npanels; p += 4) {
    PanelTile<R, 4>(t.packed.data() + (panel0 + p) * panel_bytes, groups, q, shift, out + p * 16, out_stride);
  }
  for (; p < npanels; ++p) {
    PanelTile<R, 1>(t.packed.data() + (panel0 + p) * panel_bytes, groups, q, shift, out + p * 16, out_stride);
  }
}
#endif

using DotFn = void (*)(const std::uint8_t*, const std::uint8_t*, std::size_t, std::size_t, std::int32_t*);

struct DotChoice {
  DotFn fn;
  const char* isa;
  bool panels;
  bool tiles;
  bool model = false;  // the tile path on the software model of the tiles
};

DotChoice PickDot(Isa level) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (level >= Isa::kVnni && tiles::ModelRequested()) return {DotAvx512, "amx-model", true, true, true};
  if (level >= Isa::kAmx) return {DotAvx512, "amx", true, true};
  if (level >= Isa::kVnni) return {DotAvx512, "vnni", true, false};
  if (level >= Isa::kAvx512) return {DotAvx512, "avx512bw", false, false};
  if (level >= Isa::kAvx2) return {DotAvx2, "avx2", false, false};
#endif
  (void)level;
  return {DotScalar, "scalar", false, false};
}

const DotChoice& Dot() {
  static const DotChoice choice = PickDot(ActiveIsa());  // decided once; constant afterwards
  return choice;
}

}  // namespace

void DotBlockU8(const std::uint8_t* q, const std::uint8_t* t, std::size_t n, std::size_t stride, std::int32_t* out) {
  Dot().fn(q, t, n, stride, out);
}

bool PanelsSupported() { return Dot().panels; }

bool TilesSupported() { return Dot().tiles; }

namespace {
using tiles::AmxTiles;
using tiles::ModelTiles;

// 16 or 32 queries against the panels, two at a time; the shift is added
// as the C tiles are copied out, only the nq real queries' rows.
template <class Tiles>
void TileDots(Tiles& tl, const U8Panels& t, const std::uint8_t* q, std::size_t q_stride, const std::int32_t* shift,
              int nq, std::size_t panel0, std::size_t npanels, std::int32_t* out, std::size_t out_stride) {
  const std::size_t panel_bytes = t.groups * 64;
  tiles::Products(tl, q, q_stride, nq > 16, t.packed.data() + panel0 * panel_bytes, panel_bytes, npanels,
                  t.groups / kTileGroups, [&](std::size_t p, bool two_p, const tiles::Staged& staged) {
                    for (int r = 0; r < nq; ++r) {
                      for (int side = 0; side < (two_p ? 2 : 1); ++side) {
                        const std::int32_t* src = staged[2 * (r / 16) + side] + (r % 16) * 16;
                        std::int32_t* dst =
                            out + static_cast<std::size_t>(r) * out_stride + 16 * (p + static_cast<std::size_t>(side));
                        for (int lane = 0; lane < 16; ++lane) dst[lane] = src[lane] + shift[r];
                      }
                    }
                  });
}

// Checks the arguments, turns sums into shifts, and pads a partial group of
// queries to 16 or 32 zero rows (a tile load reads 16 rows).
template <class Tiles>
void TileDotsChecked(Tiles& tl, const U8Panels& t, const std::uint8_t* q, std::size_t q_stride,
                     const std::int32_t* q_sum, int nq, std::size_t panel0, std::size_t npanels, std::int32_t* out,
                     std::size_t out_stride) {
  if (nq < 1 || nq > 32) throw std::logic_error("DotTilesU8: nq must be 1..32, got " + std::to_string(nq));
  if (t.groups % kTileGroups != 0 || q_stride < t.groups * 4)
    throw std::logic_error("DotTilesU8: panels not packed for tiles");
  if (panel0 + npanels > t.panels) throw std::logic_error("DotTilesU8: panels out of range");
  std::int32_t shift[32];
  for (int r = 0; r < nq; ++r) shift[r] = 128 * q_sum[r];  // q.(t - 128) + 128 sum(q) = q.t
  const int rows = nq > 16 ? 32 : 16;
  if (nq == rows) {
    TileDots(tl, t, q, q_stride, shift, nq, panel0, npanels, out, out_stride);
    return;
  }
  const std::size_t width = t.groups * 4;
  std::vector<std::uint8_t> padded(static_cast<std::size_t>(rows) * width, 0);
  for (int r = 0; r < nq; ++r)
    std::memcpy(padded.data() + static_cast<std::size_t>(r) * width, q + r * q_stride, width);
  TileDots(tl, t, padded.data(), width, shift, nq, panel0, npanels, out, out_stride);
}
}  // namespace

void DotTilesU8(const U8Panels& t, const std::uint8_t* q, std::size_t q_stride, const std::int32_t* q_sum, int nq,
                std::size_t panel0, std::size_t npanels, std::int32_t* out, std::size_t out_stride) {
  if (!TilesSupported()) throw std::logic_error("DotTilesU8 without AMX int8");
  if (Dot().model) {
    DotTilesU8Emulated(t, q, q_stride, q_sum, nq, panel0, npanels, out, out_stride);
    return;
  }
#if defined(__x86_64__) && defined(__GNUC__)
  AmxTiles tl;
  TileDotsChecked(tl, t, q, q_stride, q_sum, nq, panel0, npanels, out, out_stride);
#else
  (void)t, (void)q, (void)q_stride, (void)q_sum, (void)nq, (void)panel0, (void)npanels, (void)out, (void)out_stride;
#endif
}

void DotTilesU8Emulated(const U8Panels& t, const std::uint8_t* q, std::size_t q_stride, const std::int32_t* q_sum,
                        int nq, std::size_t panel0, std::size_t npanels, std::int32_t* out, std::size_t out_stride) {
  ModelTiles tl;
  TileDotsChecked(tl, t, q, q_stride, q_sum, nq, panel0, npanels, out, out_stride);
}

const char* L2U8Isa() { return Dot().isa; }

U8Panels PackU8Panels(const std::uint8_t* rows, std::size_t n, std::size_t stride, std::size_t dim, int threads,
                      std::size_t group_align) {
  U8Panels p;
  p.rows = n;
  p.groups = std::min(stride, (dim + 3) / 4 * 4) / 4;
  if (group_align > 1) p.groups = (p.groups + group_align - 1) / group_align * group_align;
  if (p.groups * 4 > stride) {
    throw std::logic_error("PackU8Panels: " + std::to_string(p.groups) + " groups of 4 bytes do not fit rows of " +
                           std::to_string(stride) + " bytes");
  }
  p.panels = (n + 15) / 16;
  const std::size_t panel_bytes = p.groups * 64;
  p.packed.resize(p.panels * panel_bytes);
  // u8 - 128 as s8 is u8 ^ 0x80; padding rows hold byte 0 (stored as -128).
  ParallelForRange(p.panels, threads, 16, [&](std::size_t b, std::size_t e) {
    for (std::size_t panel = b; panel < e; ++panel) {
      auto* dst = reinterpret_cast<std::uint8_t*>(p.packed.data()) + panel * panel_bytes;
      for (std::size_t lane = 0; lane < 16; ++lane) {
        const std::size_t j = panel * 16 + lane;
        std::uint8_t* out = dst + lane * 4;
        if (j >= n) {
          for (std::size_t c = 0; c < p.groups; ++c) std::memset(out + c * 64, 0x80, 4);
          continue;
        }
        const std::uint8_t* src = rows + j * stride;
        for (std::size_t c = 0; c < p.groups; ++c) {
          std::uint32_t v;
          std::memcpy(&v, src + c * 4, 4);
          v ^= 0x80808080u;
          std::memcpy(out + c * 64, &v, 4);
        }
      }
    }
  });
  return p;
}

void DotPanelsU8(const U8Panels& t, const std::uint8_t* const* q, const std::int32_t* q_sum, int nq, std::size_t panel0,
                 std::size_t npanels, std::int32_t* out, std::size_t out_stride) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (!PanelsSupported()) throw std::logic_error("DotPanelsU8 without AVX-512 VNNI");
  std::int32_t shift[4];
  for (int r = 0; r < nq; ++r) shift[r] = 128 * q_sum[r];  // q.(t - 128) + 128 sum(q) = q.t
  switch (nq) {
    case 1:
      PanelRows<1>(t, q, shift, panel0, npanels, out, out_stride);
      break;
    case 2:
      PanelRows<2>(t, q, shift, panel0, npanels, out, out_stride);
      break;
    case 3:
      PanelRows<3>(t, q, shift, panel0, npanels, out, out_stride);
      break;
    default:
      PanelRows<4>(t, q, shift, panel0, npanels, out, out_stride);
      break;
  }
#else
  (void)t;
  (void)q;
  (void)q_sum;
  (void)nq;
  (void)panel0;
  (void)npanels;
  (void)out;
  (void)out_stride;
  throw std::logic_error("DotPanelsU8 without AVX-512 VNNI");
#endif
}

void L1Block(const float* q, const float* t, std::size_t n, std::size_t dim, float* out) {
  Float().l1(q, t, n, dim, out);
}
void Chi2Block(const float* q, const float* t, std::size_t n, std::size_t dim, float* out) {
  Float().chi2(q, t, n, dim, out);
}
const char* FloatBlockIsa() { return ToString(Float().isa); }
float Dot(const float* a, const float* b, std::size_t n) { return Float().dot(a, b, n); }
void Axpy(float alpha, const float* x, float* y, std::size_t n) { Float().axpy(alpha, x, y, n); }

void L1BlockU8(const std::uint8_t* q, const std::uint8_t* t, std::size_t n, std::size_t stride, float scale,
               float* out) {
  Sad().fn(q, t, n, stride, scale, out);
}

const char* L1BlockU8Isa() { return Sad().isa; }

}  // namespace scenelab::classify::kernels

#include "byte_words.h"

#include "scenelab/data/cpu.h"

#include <algorithm>
#include <cmath>
#include <limits>

#if defined(__x86_64__)
// GCC 12's AVX-512 headers trip its own -Wmaybe-uninitialized
// (_mm512_undefined_ps as a pass-through operand): a false positive.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#endif

namespace scenelab::features::detail {

bool ByteWords::Supported() {
#if defined(__x86_64__)
  return ActiveIsa() >= Isa::kVnni;  // the CPU has VNNI and SCENELAB_ISA does not cap it
#else
  return false;
#endif
}

ByteWords::ByteWords(const Matrix& centers, const Eigen::VectorXf& norms) {
  words_ = static_cast<int>(centers.rows());
  dim_ = static_cast<int>(centers.cols());
  if (!Supported() || words_ == 0 || dim_ % 4 != 0 || dim_ > 4096) return;
  if (centers.minCoeff() < -0.5f || centers.maxCoeff() > 255.5f) return;
  groups_ = (words_ + 15) / 16;
  const int chunks = dim_ / 4;
  packed_.assign(static_cast<std::size_t>(groups_) * chunks * 64, 0);
  norms_.assign(static_cast<std::size_t>(groups_) * 16, std::numeric_limits<float>::infinity());
  for (int k = 0; k < words_; ++k) {
    norms_[static_cast<std::size_t>(k)] = norms[k];
    const int g = k / 16, w = k % 16;
    for (int j = 0; j < dim_; ++j) {
      // Signed bytes: round(c) - 128, undone by adding 128 * sum(x) later.
      const int v = std::clamp(static_cast<int>(std::lround(centers(k, j))), 0, 255) - 128;
      packed_[((static_cast<std::size_t>(g) * chunks + j / 4) * 16 + w) * 4 + j % 4] = static_cast<std::int8_t>(v);
    }
  }
  centers_ = centers;
  usable_ = true;
}

#if defined(__x86_64__)
namespace {
using Row = const std::uint8_t*;

// Integer dots of 4 rows against `G` consecutive groups of 16 words:
// acc[r][g] lanes = sum_j x_r[j] * (round(c[j]) - 128).
template <int G>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) inline void DotsBlock(const Row rows[4], int chunks,
                                                                             const std::int8_t* p, std::int32_t* dots,
                                                                             int stride) {
  __m512i a[4][G];
  for (int r = 0; r < 4; ++r) {
    for (int g = 0; g < G; ++g) a[r][g] = _mm512_setzero_si512();
  }
  const std::size_t group_bytes = static_cast<std::size_t>(chunks) * 64;
  for (int q = 0; q < chunks; ++q) {
    __m512i w[G];
    for (int g = 0; g < G; ++g) w[g] = _mm512_loadu_si512(p + g * group_bytes + static_cast<std::size_t>(q) * 64);
    for (int r = 0; r < 4; ++r) {
      std::int32_t x4;
      __builtin_memcpy(&x4, rows[r] + q * 4, 4);
      const __m512i xb = _mm512_set1_epi32(x4);
      for (int g = 0; g < G; ++g) a[r][g] = _mm512_dpbusd_epi32(a[r][g], xb, w[g]);
    }
  }
  for (int r = 0; r < 4; ++r) {
    for (int g = 0; g < G; ++g) _mm512_storeu_si512(dots + r * stride + g * 16, a[r][g]);
  }
}

__attribute__((target("avx512f,avx512bw,avx512vnni"))) void Dots4(const Row rows[4], int dim, const std::int8_t* packed,
                                                                  int groups, std::int32_t* dots) {
  const int chunks = dim / 4;
  const int stride = groups * 16;
  const std::size_t group_bytes = static_cast<std::size_t>(chunks) * 64;
  int g = 0;
  for (; g + 3 <= groups; g += 3) DotsBlock<3>(rows, chunks, packed + g * group_bytes, dots + g * 16, stride);
  for (; g < groups; ++g) DotsBlock<1>(rows, chunks, packed + g * group_bytes, dots + g * 16, stride);
}

// Approximate distances norms - 2 (dots + offset), 16 words at a time: the
// minimum, then every word within `slack` of it appended to `cand`.
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void Candidates(const std::int32_t* d, const float* norms,
                                                                       int groups, float offset, float l1,
                                                                       std::vector<int>* cand) {
  const __m512 off = _mm512_set1_ps(offset);
  const __m512 two = _mm512_set1_ps(2.0f);
  __m512 best = _mm512_set1_ps(std::numeric_limits<float>::infinity());
  for (int g = 0; g < groups; ++g) {
    const __m512 dot = _mm512_add_ps(_mm512_cvtepi32_ps(_mm512_loadu_si512(d + g * 16)), off);
    best = _mm512_min_ps(best, _mm512_fnmadd_ps(two, dot, _mm512_loadu_ps(norms + g * 16)));
  }
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, best);
  float m = lanes[0];
  for (int i = 1; i < 16; ++i) m = std::min(m, lanes[i]);
  // Twice the bound |x|_1; the rest covers float rounding of the terms.
  const __m512 limit = _mm512_set1_ps(m + 2.0f * l1 + 1e-3f * std::abs(m) + 1.0f);
  cand->clear();
  for (int g = 0; g < groups; ++g) {
    const __m512 dot = _mm512_add_ps(_mm512_cvtepi32_ps(_mm512_loadu_si512(d + g * 16)), off);
    const __m512 v = _mm512_fnmadd_ps(two, dot, _mm512_loadu_ps(norms + g * 16));
    unsigned mask = _mm512_cmp_ps_mask(v, limit, _CMP_LE_OQ);
    while (mask) {
      cand->push_back(g * 16 + __builtin_ctz(mask));
      mask &= mask - 1;
    }
  }
}
}  // namespace
#endif

#if defined(__x86_64__)
#pragma GCC diagnostic pop
#endif

void ByteWords::Assign(const ByteMatrix& x, int* out) const { AssignRows(x.data(), x.rows(), out); }

int ByteWords::Rescore(const std::uint8_t* x, const std::vector<int>& cand) const {
  // Float distances |c|^2 - 2 x.c in 16 fixed lanes: the float GEMM's
  // precision, in an order that does not depend on anything but the data.
  float xf[4096];
  for (int j = 0; j < dim_; ++j) xf[j] = x[j];
  float bestv = std::numeric_limits<float>::infinity();
  int arg = cand.front();
  for (int k : cand) {  // ascending: ties keep the lower index
    const float* c = centers_.row(k).data();
    float lanes[16] = {0};
    int j = 0;
    for (; j + 16 <= dim_; j += 16) {
      for (int l = 0; l < 16; ++l) lanes[l] += xf[j + l] * c[j + l];
    }
    float dot = 0;
    for (; j < dim_; ++j) dot += xf[j] * c[j];
    for (float l : lanes) dot += l;
    const float v = norms_[static_cast<std::size_t>(k)] - 2.0f * dot;
    if (v < bestv) {
      bestv = v;
      arg = k;
    }
  }
  return arg;
}

void ByteWords::AssignRows(const std::uint8_t* data, Eigen::Index n, int* out) const {
#if defined(__x86_64__)
  const int stride = groups_ * 16;
  std::vector<std::int32_t> dots(static_cast<std::size_t>(4 * stride));
  std::vector<int> cand;
  cand.reserve(static_cast<std::size_t>(stride));
  std::vector<std::uint8_t> zero(static_cast<std::size_t>(dim_), 0);
  // All-zero descriptors (vl_phow zeroes low-contrast ones) share one word:
  // the smallest |c|^2, the lowest index on ties.
  int zero_word = 0;
  for (int k = 1; k < words_; ++k) {
    if (norms_[static_cast<std::size_t>(k)] < norms_[static_cast<std::size_t>(zero_word)]) zero_word = k;
  }
  std::vector<Eigen::Index> rows_left;
  std::vector<std::int32_t> l1s;
  rows_left.reserve(static_cast<std::size_t>(n));
  for (Eigen::Index i = 0; i < n; ++i) {
    const std::uint8_t* r = data + i * dim_;
    std::int32_t l1 = 0;  // <= 4096 x 255: no overflow
    for (int j = 0; j < dim_; ++j) l1 += r[j];
    if (l1 == 0) {
      out[i] = zero_word;
    } else {
      rows_left.push_back(i);
      l1s.push_back(l1);
    }
  }
  const auto m = rows_left.size();
  for (std::size_t b = 0; b < m; b += 4) {
    Row rows[4];
    for (std::size_t r = 0; r < 4; ++r) rows[r] = b + r < m ? data + rows_left[b + r] * dim_ : zero.data();
    Dots4(rows, dim_, packed_.data(), groups_, dots.data());
    for (std::size_t r = 0; r < 4 && b + r < m; ++r) {
      const std::uint8_t* xr = rows[r];
      const auto l1 = static_cast<float>(l1s[b + r]);
      Candidates(dots.data() + r * static_cast<std::size_t>(stride), norms_.data(), groups_, 128.0f * l1, l1, &cand);
      int arg = cand.front();
      if (cand.size() > 1) arg = Rescore(xr, cand);
      out[rows_left[b + r]] = arg;
    }
  }
#else
  (void)data;
  (void)n;
  (void)out;
#endif
}

}  // namespace scenelab::features::detail

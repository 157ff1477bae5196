#include "byte_words.h"

#include "scenelab/data/byte_dots.h"
#include "scenelab/data/cpu.h"
#include "scenelab/data/tiles.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "avx512.h"

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
  model_ = tiles::ModelRequested();
  tiles_ = ActiveIsa() >= Isa::kAmx || model_;
  // Tiles read whole 64-byte columns: the chunks past dim / 4 are zero, as
  // are the rows' bytes there (copied into a zero-padded block).
  chunks_ = tiles_ ? (dim_ / 4 + 15) / 16 * 16 : dim_ / 4;
  const int chunks = chunks_;
  packed_.assign(static_cast<std::size_t>(groups_) * chunks * 64, 0);
  residual_stride_ = (dim_ + 63) / 64 * 64;
  residual_.assign(static_cast<std::size_t>(words_) * residual_stride_, 0);
  norms_.assign(static_cast<std::size_t>(groups_) * 16, std::numeric_limits<float>::infinity());
  for (int k = 0; k < words_; ++k) {
    norms_[static_cast<std::size_t>(k)] = norms[k];
    const int g = k / 16, w = k % 16;
    for (int j = 0; j < dim_; ++j) {
      // Signed bytes: round(c) - 128, undone by adding 128 * sum(x) later.
      const int rounded = std::clamp(static_cast<int>(std::lround(centers(k, j))), 0, 255);
      packed_[((static_cast<std::size_t>(g) * chunks + j / 4) * 16 + w) * 4 + j % 4] =
          static_cast<std::int8_t>(rounded - 128);
      // |c - rounded| <= 1/2, so the residual fits [-127, 127].
      const auto e = static_cast<double>(centers(k, j)) - rounded;
      residual_[static_cast<std::size_t>(k) * residual_stride_ + j] = static_cast<std::int8_t>(std::lround(254.0 * e));
    }
  }
  centers_ = centers;
  // All-zero descriptors (vl_phow zeroes low-contrast ones) share one word:
  // the smallest |c|^2, the lowest index on ties.
  zero_word_ = 0;
  for (int k = 1; k < words_; ++k) {
    if (norms[k] < norms[zero_word_]) zero_word_ = k;
  }
  double second = std::numeric_limits<double>::infinity();
  for (int k = 0; k < words_; ++k) {
    if (k != zero_word_) second = std::min(second, static_cast<double>(norms[k]));
  }
  max_norm_ = norms.maxCoeff();
  zero_others_ = second - Tolerance(0);
  usable_ = true;
}

#if defined(__x86_64__)
namespace {
using Row = const std::uint8_t*;

// Approximate distances of 4 rows to `G` consecutive groups of 16 words:
// v[r][w] = |c_w|^2 - 2 (x_r . (round(c_w) - 128) + off[r]), from integer
// dots, stored in `v` (row stride `stride`), with each row's running minimum
// in mins[r].
template <int G>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) inline void ApproxBlock(const Row rows[4], int chunks,
                                                                               const std::int8_t* p, const float* norms,
                                                                               const __m512* off, float* v, int stride,
                                                                               __m512* mins) {
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
      for (int g = 0; g < G; ++g) a[r][g] = byte_dots::Accumulate(a[r][g], xb, w[g]);
    }
  }
  const __m512 two = _mm512_set1_ps(2.0f);
  for (int g = 0; g < G; ++g) {
    const __m512 n = _mm512_loadu_ps(norms + g * 16);
    for (int r = 0; r < 4; ++r) {
      const __m512 dot = _mm512_add_ps(_mm512_cvtepi32_ps(a[r][g]), off[r]);
      const __m512 val = _mm512_fnmadd_ps(two, dot, n);
      _mm512_storeu_ps(v + r * stride + g * 16, val);
      mins[r] = _mm512_min_ps(mins[r], val);
    }
  }
}

// The approximate distances of 4 rows to every word (offsets: 128 |x_r|_1,
// undoing the signed bytes), and each row's minimum.
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void Approx4(const Row rows[4], int dim,
                                                                    const std::int8_t* packed, const float* norms,
                                                                    int groups, const float* offsets, float* v,
                                                                    float* lowest) {
  const int chunks = dim / 4;
  const int stride = groups * 16;
  const std::size_t group_bytes = static_cast<std::size_t>(chunks) * 64;
  __m512 off[4], mins[4];
  for (int r = 0; r < 4; ++r) {
    off[r] = _mm512_set1_ps(offsets[r]);
    mins[r] = _mm512_set1_ps(std::numeric_limits<float>::infinity());
  }
  // Blocks of 3 groups (12 accumulators), a remainder of 4 as 2 + 2: a single
  // group's 4 accumulators would wait on the instruction's latency.
  int g = 0;
  for (; groups - g >= 3 && groups - g != 4; g += 3) {
    ApproxBlock<3>(rows, chunks, packed + g * group_bytes, norms + g * 16, off, v + g * 16, stride, mins);
  }
  for (; groups - g >= 2; g += 2) {
    ApproxBlock<2>(rows, chunks, packed + g * group_bytes, norms + g * 16, off, v + g * 16, stride, mins);
  }
  for (; g < groups; ++g) {
    ApproxBlock<1>(rows, chunks, packed + g * group_bytes, norms + g * 16, off, v + g * 16, stride, mins);
  }
  for (int r = 0; r < 4; ++r) lowest[r] = _mm512_reduce_min_ps(mins[r]);
}

// The epilogue of a tile step: C tiles (staged) to approximate distances,
// with the same float operations as ApproxBlock (so the same bits), and the
// rows' running minima per lane in mins[r * 16 ...].
__attribute__((target("avx512f,avx512bw"))) void StagedApprox(const tiles::Staged& staged, int rows, bool two_p,
                                                              std::size_t p, const float* offsets, const float* norms,
                                                              float* v, int stride, float* mins) {
  const __m512 two = _mm512_set1_ps(2.0f);
  for (int side = 0; side < (two_p ? 2 : 1); ++side) {
    const std::size_t w0 = 16 * (p + static_cast<std::size_t>(side));
    const __m512 n = _mm512_loadu_ps(norms + w0);
    for (int r = 0; r < rows; ++r) {
      const __m512i a = _mm512_load_si512(staged[2 * (r / 16) + side] + (r % 16) * 16);
      const __m512 dot = _mm512_add_ps(_mm512_cvtepi32_ps(a), _mm512_set1_ps(offsets[r]));
      const __m512 val = _mm512_fnmadd_ps(two, dot, n);
      _mm512_storeu_ps(v + static_cast<std::size_t>(r) * static_cast<std::size_t>(stride) + w0, val);
      _mm512_storeu_ps(mins + r * 16, _mm512_min_ps(_mm512_loadu_ps(mins + r * 16), val));
    }
  }
}

// Approx4 for up to 32 rows on tiles: the rows go into a zero-padded block
// of 16 or 32 rows of chunks x 4 bytes (the A tiles), the word groups are
// the B tiles as packed.
template <class Tiles>
void ApproxTiles(Tiles& tl, const Row* rows, int got, int dim, int chunks, const std::int8_t* packed,
                 const float* norms, int groups, const float* offsets, std::uint8_t* block, float* v, float* lowest) {
  const int width = chunks * 4, height = got > 16 ? 32 : 16;
  std::memset(block, 0, static_cast<std::size_t>(height) * static_cast<std::size_t>(width));
  for (int r = 0; r < got; ++r) std::memcpy(block + r * width, rows[r], static_cast<std::size_t>(dim));
  alignas(64) float mins[32 * 16];
  std::fill(mins, mins + 32 * 16, std::numeric_limits<float>::infinity());
  const int stride = groups * 16;
  tiles::Products(tl, block, static_cast<std::size_t>(width), got > 16, packed, static_cast<std::size_t>(chunks) * 64,
                  static_cast<std::size_t>(groups), static_cast<std::size_t>(chunks) / 16,
                  [&](std::size_t p, bool two_p, const tiles::Staged& staged) {
                    StagedApprox(staged, got, two_p, p, offsets, norms, v, stride, mins);
                  });
  for (int r = 0; r < got; ++r) lowest[r] = *std::min_element(mins + r * 16, mins + r * 16 + 16);
}

// Every word whose approximate distance `v` is within twice |x|_1 of the
// minimum m, written to `cand` (room for every word); returns their number.
// With kBeyond, *beyond = the smallest value of the other words (+inf if
// none).
template <bool kBeyond>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) int Candidates(const float* v, float m, int groups, float l1,
                                                                      int* cand, float* beyond) {
  // Twice the bound |x|_1; the rest covers float rounding of the terms.
  const __m512 limit = _mm512_set1_ps(m + 2.0f * l1 + 1e-3f * std::abs(m) + 1.0f);
  const __m512 inf = _mm512_set1_ps(std::numeric_limits<float>::infinity());
  __m512 outside = inf;
  // Word numbers of the lanes within the limit, packed in ascending order.
  __m512i word = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i step = _mm512_set1_epi32(16);
  int n = 0;
  for (int g = 0; g < groups; ++g) {
    const __m512 val = _mm512_loadu_ps(v + g * 16);
    const __mmask16 mask = _mm512_cmp_ps_mask(val, limit, _CMP_LE_OQ);
    _mm512_mask_compressstoreu_epi32(cand + n, mask, word);
    n += __builtin_popcount(static_cast<unsigned>(mask));
    word = _mm512_add_epi32(word, step);
    if constexpr (kBeyond) outside = _mm512_min_ps(outside, _mm512_mask_blend_ps(mask, val, inf));
  }
  if constexpr (kBeyond) *beyond = _mm512_reduce_min_ps(outside);
  return n;
}

// Refines the candidates' estimates v with the words' residuals r (in
// 1/254 steps): v' = v - 2 x.r / 254 is within |x|_1 / 254 of |c|^2 - 2 x.c,
// as |c - round(c) - r / 254| <= 1/508 per coordinate. Keeps, in place and in
// order, the candidates within 2 |x|_1 / 254 + `slack` of the smallest v'
// (slack: the float error, the margin that keeps any word the float GEMM
// could rank first); returns their number. *dropped = the smallest lower
// bound v' - |x|_1 / 254 of the others (+inf if none).
__attribute__((target("avx512f,avx512bw,avx512vnni"))) int RefineCandidates(const std::uint8_t* x, int dim,
                                                                            const std::int8_t* residual, int stride,
                                                                            const float* v, float l1, double slack,
                                                                            int* cand, int count, double* refined,
                                                                            double* dropped) {
  double lowest = std::numeric_limits<double>::infinity();
  for (int c = 0; c < count; ++c) {
    const std::int8_t* r = residual + static_cast<std::size_t>(cand[c]) * static_cast<std::size_t>(stride);
    __m512i acc = _mm512_setzero_si512();
    for (int j = 0; j < dim; j += 64) {
      const __mmask64 m = dim - j >= 64 ? ~0ULL : (1ULL << (dim - j)) - 1;
      acc = _mm512_dpbusd_epi32(acc, _mm512_maskz_loadu_epi8(m, x + j), _mm512_loadu_si512(r + j));
    }
    refined[c] = static_cast<double>(v[cand[c]]) - _mm512_reduce_add_epi32(acc) * (2.0 / 254.0);
    lowest = std::min(lowest, refined[c]);
  }
  const double err = static_cast<double>(l1) / 254.0;
  const double limit = lowest + 2.0 * err + slack;
  double low = std::numeric_limits<double>::infinity();
  int kept = 0;
  for (int c = 0; c < count; ++c) {
    if (refined[c] <= limit) {
      cand[kept++] = cand[c];
    } else {
      low = std::min(low, refined[c] - err);
    }
  }
  *dropped = low;
  return kept;
}

// Float |c|^2 - 2 x.c of the candidate words, each dot in 16 fixed lanes
// (every lane multiplies, then adds, in float: this file is built without
// fused multiply-adds) summed in lane order, then the tail: the float GEMM's
// precision in an order that depends on nothing but the data. Up to 16
// candidates at a time, so that their lane sums run side by side instead of
// one dependent chain each. Returns the nearest (ties to the lower index);
// *runner_up = the smallest value of the others (+inf if none).
__attribute__((target("avx512f,avx512bw"))) int RescoreCandidates(const std::uint8_t* x, int dim, const float* centers,
                                                                  const float* norms, const int* cand, int count,
                                                                  float* runner_up) {
  alignas(64) float xf[4096];
  for (int j = 0; j < dim; ++j) xf[j] = x[j];
  const int d16 = dim / 16 * 16;
  constexpr int kBatch = 16;
  alignas(64) float lanes[kBatch][16];
  float dots[kBatch];
  float bestv = std::numeric_limits<float>::infinity(), nextv = bestv;
  int arg = cand[0];
  for (int b = 0; b < count; b += kBatch) {
    const int nb = std::min(kBatch, count - b);
    for (int c = 0; c < nb; ++c) {
      const float* w = centers + static_cast<std::size_t>(cand[b + c]) * static_cast<std::size_t>(dim);
      __m512 acc = _mm512_setzero_ps();
      for (int j = 0; j < d16; j += 16) {
        acc = _mm512_add_ps(acc, _mm512_mul_ps(_mm512_load_ps(xf + j), _mm512_loadu_ps(w + j)));
      }
      _mm512_store_ps(lanes[c], acc);
      float dot = 0;
      for (int j = d16; j < dim; ++j) dot += xf[j] * w[j];
      dots[c] = dot;
    }
    for (int l = 0; l < 16; ++l) {
      for (int c = 0; c < nb; ++c) dots[c] += lanes[c][l];
    }
    for (int c = 0; c < nb; ++c) {  // ascending: ties keep the lower index
      const int k = cand[b + c];
      const float v = norms[k] - 2.0f * dots[c];
      if (v < bestv) {
        nextv = bestv;
        bestv = v;
        arg = k;
      } else {
        nextv = std::min(nextv, v);
      }
    }
  }
  *runner_up = nextv;
  return arg;
}

// |x|_1 and |x|^2 of a row of bytes.
__attribute__((target("avx512f,avx512bw"))) void ByteSums(const std::uint8_t* r, int dim, std::int32_t* l1,
                                                          std::int32_t* sq) {
  const __m512i zero = _mm512_setzero_si512();
  __m512i sad = zero, squares = zero;
  for (int j = 0; j < dim; j += 64) {
    const __mmask64 m = dim - j >= 64 ? ~0ULL : (1ULL << (dim - j)) - 1;
    const __m512i v = _mm512_maskz_loadu_epi8(m, r + j);
    sad = _mm512_add_epi64(sad, _mm512_sad_epu8(v, zero));
    const __m512i lo = _mm512_cvtepu8_epi16(_mm512_castsi512_si256(v));
    const __m512i hi = _mm512_cvtepu8_epi16(_mm512_extracti64x4_epi64(v, 1));
    squares = _mm512_add_epi32(squares, _mm512_add_epi32(_mm512_madd_epi16(lo, lo), _mm512_madd_epi16(hi, hi)));
  }
  *l1 = static_cast<std::int32_t>(_mm512_reduce_add_epi64(sad));
  *sq = _mm512_reduce_add_epi32(squares);
}

}  // namespace
#endif

void ByteWords::Assign(const ByteMatrix& x, int* out) const { AssignRows(x.data(), x.rows(), out); }

void ByteWords::AssignRows(const std::uint8_t* data, Eigen::Index n, int* out) const {
  AssignIndexed(data, nullptr, n, out, nullptr);
}

void ByteWords::AssignIndexed(const std::uint8_t* data, const Eigen::Index* index, Eigen::Index n, int* out,
                              double* others) const {
#if defined(__x86_64__)
  const int stride = groups_ * 16;
  // Rows per block of first estimates: 4 for VNNI, 32 (two rows of A tiles)
  // for tiles.
  constexpr int kMaxBlock = 32;
  const int block = tiles_ ? kMaxBlock : 4;
  std::vector<float> approx(static_cast<std::size_t>(block) * static_cast<std::size_t>(stride));
  std::vector<std::uint8_t> tile_rows(tiles_ ? static_cast<std::size_t>(kMaxBlock) * chunks_ * 4 : 0);
  std::vector<int> cand(static_cast<std::size_t>(stride));
  std::vector<double> refined(static_cast<std::size_t>(stride));
  std::vector<std::uint8_t> zero(static_cast<std::size_t>(dim_), 0);
  // Indexed rows (k-means' rows to reassign) defeat the hardware prefetcher,
  // so they are fetched ahead; contiguous ones (encoding) need not be.
  constexpr Eigen::Index kAhead = 8;
  Eigen::Index i = 0;
  while (i < n) {
    // The next block of rows that are not all zero (4, or 32 for tiles),
    // their sums taken just before the dot kernel reads them again: one trip from memory per row, overlapped
    // with the previous block's arithmetic.
    Row rows[kMaxBlock];
    Eigen::Index at[kMaxBlock];
    float offsets[kMaxBlock], lowest[kMaxBlock];
    std::int32_t l1s[kMaxBlock], sqs[kMaxBlock];  // <= 4096 x 255^2: no overflow
    int got = 0;
    for (; i < n && got < block; ++i) {
      if (index && i + kAhead < n) {
        const auto* ahead = reinterpret_cast<const char*>(data + index[i + kAhead] * dim_);
        for (int j = 0; j < dim_; j += 64) __builtin_prefetch(ahead + j);
      }
      const std::uint8_t* row = data + (index ? index[i] : i) * dim_;
      std::int32_t l1 = 0, sq = 0;
      ByteSums(row, dim_, &l1, &sq);
      if (l1 == 0) {
        out[i] = zero_word_;
        if (others) others[i] = zero_others_;
        continue;
      }
      rows[got] = row;
      at[got] = i;
      l1s[got] = l1;
      sqs[got] = sq;
      offsets[got] = 128.0f * static_cast<float>(l1);
      ++got;
    }
    if (got == 0) break;
    if (tiles_) {
      if (model_) {
        tiles::ModelTiles tl;
        ApproxTiles(tl, rows, got, dim_, chunks_, packed_.data(), norms_.data(), groups_, offsets, tile_rows.data(),
                    approx.data(), lowest);
      } else {
        tiles::AmxTiles tl;
        ApproxTiles(tl, rows, got, dim_, chunks_, packed_.data(), norms_.data(), groups_, offsets, tile_rows.data(),
                    approx.data(), lowest);
      }
    } else {
      for (int r = got; r < 4; ++r) {
        rows[r] = zero.data();
        offsets[r] = 0.0f;
      }
      Approx4(rows, dim_, packed_.data(), norms_.data(), groups_, offsets, approx.data(), lowest);
    }
    for (int r = 0; r < got; ++r) {
      const float* vr = approx.data() + static_cast<std::size_t>(r) * static_cast<std::size_t>(stride);
      const auto l1 = static_cast<float>(l1s[r]);
      const Eigen::Index row_at = at[r];
      float runner_up = std::numeric_limits<float>::infinity();  // among the candidates rescored
      float beyond = 0;  // the smallest estimate of the words that are not candidates
      int count = others ? Candidates<true>(vr, lowest[r], groups_, l1, cand.data(), &beyond)
                         : Candidates<false>(vr, lowest[r], groups_, l1, cand.data(), nullptr);
      const double xsq = sqs[r];
      double dropped = std::numeric_limits<double>::infinity();  // refined bound of the candidates dropped
      if (count > 1) {
        count = RefineCandidates(rows[r], dim_, residual_.data(), residual_stride_, vr, l1, 2.0 * Tolerance(xsq),
                                 cand.data(), count, refined.data(), &dropped);
      }
      out[row_at] =
          count > 1 ? RescoreCandidates(rows[r], dim_, centers_.data(), norms_.data(), cand.data(), count, &runner_up)
                    : cand[0];
      if (others) {
        // A lower bound on |c|^2 - 2 x.c of every word but out[row_at]: for the
        // candidates rescored, their float value; for those the refinement
        // dropped, their refined bound; for the rest their integer estimate
        // less |x|_1 (the rounding of the words); less the float error.
        const double rest = static_cast<double>(beyond) - l1;
        others[row_at] = xsq + std::min({static_cast<double>(runner_up), dropped, rest}) - Tolerance(xsq);
      }
    }
  }
#else
  (void)data;
  (void)index;
  (void)n;
  (void)out;
  (void)others;
#endif
}

}  // namespace scenelab::features::detail

#include "native_dsift.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include <opencv2/core.hpp>

namespace scenelab::features::detail {

// Hot loops are cloned for AVX-512, AVX2 and baseline x86-64 and picked at
// load time, so the build runs on any x86-64 CPU. Not under ThreadSanitizer:
// the loader runs the clones' IFUNC resolver before TSan's runtime is up.
#if defined(__x86_64__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__)
#define SCENELAB_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SCENELAB_CLONES
#endif

int DsiftFramesAlong(int min, int max, int bin, int step) {
  const int range = max - min - 3 * bin;
  return range >= 0 ? range / step + 1 : 0;
}

namespace {
constexpr float kEpsilon = 1.19209290E-07F;  // VL_EPSILON_F

// VLFeat's vl_fast_atan2_f and vl_fast_sqrt_f (mathop.h), branch-free so
// that they vectorise; the arithmetic is the same, so are the results.
inline float FastAtan2(float y, float x) {
  const float abs_y = std::fabs(y) + kEpsilon;
  const bool pos = x >= 0;
  const float r = pos ? (x - abs_y) / (x + abs_y) : (x + abs_y) / (abs_y - x);
  float angle = pos ? static_cast<float>(3.141592653589793 / 4) : static_cast<float>(3 * 3.141592653589793 / 4);
  angle += (0.1821F * r * r - 0.9675F) * r;
  return y < 0 ? -angle : angle;
}

inline float FastSqrt(float x) {
  std::int32_t i;
  float u = x;
  std::memcpy(&i, &u, 4);
  i = 0x5f3759df - (i >> 1);
  std::memcpy(&u, &i, 4);
  const float xhalf = 0.5F * x;
  u = u * (1.5F - xhalf * u * u);
  u = u * (1.5F - xhalf * u * u);
  return x < 1e-8F ? 0.0F : x * u;
}

// vl_dsift's mean of the Gaussian window over one spatial bin.
float BinWindowMean(int bin, int num_bins, int index, double window_size) {
  const float delta = static_cast<float>(bin) * (static_cast<float>(index) - 0.5F * static_cast<float>(num_bins - 1));
  const float sigma = static_cast<float>(bin) * static_cast<float>(window_size);
  float acc = 0.0F;
  for (int x = -bin + 1; x <= bin - 1; ++x) {
    const float z = (static_cast<float>(x) - delta) / sigma;
    acc += expf(-0.5F * z * z);
  }
  return acc / static_cast<float>(2 * bin - 1);
}

// One row of gradients split between the two nearest of 8 orientations.
// Central differences inside, one-sided at the borders, as vl_dsift.
SCENELAB_CLONES void GradientRow(const float* __restrict row, const float* __restrict up, const float* __restrict down,
                                 float ys, int w, float* __restrict gxs, float* __restrict mods, float* __restrict frac,
                                 int* __restrict bins, float* const out[8]) {
  const float to_bins = static_cast<float>(8 / (2 * 3.141592653589793));
  const float two_pi = static_cast<float>(2 * 3.141592653589793);
  gxs[0] = row[1] - row[0];
  for (int x = 1; x < w - 1; ++x) gxs[x] = 0.5F * (row[x + 1] - row[x - 1]);
  gxs[w - 1] = row[w - 1] - row[w - 2];
  for (int x = 0; x < w; ++x) {
    const float gy = ys * (down[x] - up[x]);
    const float gx = gxs[x];
    float angle = FastAtan2(gy, gx);
    mods[x] = FastSqrt(gx * gx + gy * gy);
    // vl_mod_2pi_f: |angle| <= pi here, so one correction suffices.
    angle = angle < 0.0F ? angle + two_pi : angle;
    const float nt = angle * to_bins;
    const int b = static_cast<int>(nt);  // nt >= 0: truncation is vl_floor_f
    frac[x] = nt - static_cast<float>(b);
    bins[x] = b & 7;
  }
  for (int t = 0; t < 8; ++t) {
    float* __restrict o = out[t];
    const int prev = (t + 7) & 7;
    for (int x = 0; x < w; ++x) {
      const float lo = (1 - frac[x]) * mods[x], hi = frac[x] * mods[x];
      o[x] = bins[x] == t ? lo : (bins[x] == prev ? hi : 0.0F);
    }
  }
}

SCENELAB_CLONES void AddRows(const float* a, const float* b, float* out, int n) {
  for (int x = 0; x < n; ++x) out[x] = a[x] + b[x];
}
SCENELAB_CLONES void AddDiffRows(const float* prev, const float* hi, const float* lo, float* out, int n) {
  for (int x = 0; x < n; ++x) out[x] = prev[x] + (hi[x] - lo[x]);
}
SCENELAB_CLONES void ScaledDiffRows(const float* hi, const float* lo, float scale, float* out, int n) {
  for (int x = 0; x < n; ++x) out[x] = (hi[x] - lo[x]) * scale;
}

// Triangular filter along the rows' direction (down the columns) of a
// rows x cols image, k(t) = (d - |t|) / d^2 for |t| < d, padded by
// continuity: two box filters, each the difference of an integral, so flat
// regions give exact zeros as vl_imconvcoltri does. Vectorised across columns.
void TriangleDown(const float* in, int rows, int cols, int d, float* out, std::vector<float>* integral,
                  std::vector<float>* second) {
  const float scale = static_cast<float>(1.0 / (static_cast<double>(d) * d));
  const int padded = rows + 2 * d - 1;  // rows i = -(d-1) .. rows+d-2
  const auto c = static_cast<std::size_t>(cols);
  integral->resize(static_cast<std::size_t>(padded + 1) * c);
  second->resize(static_cast<std::size_t>(rows + d) * c);
  float* ii = integral->data();
  float* jj = second->data();
  std::fill(ii, ii + c, 0.0F);  // I(-1)
  for (int k = 1; k <= padded; ++k) {
    const int i = std::min(std::max(k - d, 0), rows - 1);
    AddRows(ii + (k - 1) * c, in + static_cast<std::size_t>(i) * c, ii + k * c, cols);
  }
  // A(y) = I(y+d-1) - I(y-1) for y = -(d-1)..rows-1, accumulated into J.
  std::fill(jj, jj + c, 0.0F);
  for (int m = 1; m <= rows + d - 1; ++m) {
    const int y = m - d;
    AddDiffRows(jj + (m - 1) * c, ii + static_cast<std::size_t>(y + 2 * d - 1) * c,
                ii + static_cast<std::size_t>(y - 1 + d) * c, jj + m * c, cols);
  }
  // V(y) = J(y) - J(y-d): the last d boxes.
  for (int y = 0; y < rows; ++y) ScaledDiffRows(jj + (y + d) * c, jj + y * c, scale, out + y * c, cols);
}

SCENELAB_CLONES void Interleave(const float* plane, std::size_t n, int t, float* inter) {
  for (std::size_t i = 0; i < n; ++i) inter[i * 8 + static_cast<std::size_t>(t)] = plane[i];
}

// Gathers, weights and normalises one descriptor as vl_dsift_process.
SCENELAB_CLONES float Describe(const float* inter, int h, int fx, int fy, int bin, const float (*wts)[4], float* dsc) {
  for (int by = 0; by < 4; ++by) {
    for (int bx = 0; bx < 4; ++bx) {
      // inter is transposed: pixel (x, y) at (x h + y) 8.
      const float* src = inter + (static_cast<std::size_t>(fx + bx * bin) * h + (fy + by * bin)) * 8;
      float* dst = dsc + (by * 4 + bx) * 8;
      const float wt = wts[by][bx];
      for (int t = 0; t < 8; ++t) dst[t] = wt * src[t];
    }
  }
  float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int b = 0; b < 128; b += 8) {
    for (int l = 0; l < 8; ++l) lanes[l] += dsc[b + l];
  }
  float mass = 0.0F;
  for (float l : lanes) mass += l;
  for (int pass = 0; pass < 2; ++pass) {
    float sq[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int b = 0; b < 128; b += 8) {
      for (int l = 0; l < 8; ++l) sq[l] += dsc[b + l] * dsc[b + l];
    }
    float n2 = 0.0F;
    for (float l : sq) n2 += l;
    const float norm = FastSqrt(n2) + kEpsilon;
    for (int b = 0; b < 128; ++b) {
      const float v = dsc[b] / norm;
      dsc[b] = pass == 0 ? std::min(v, 0.2F) : v;
    }
  }
  return mass;
}
}  // namespace

void NativeDsift::Process(const float* im, int w, int h, int bin, int step, int min_x, int min_y, double window_size,
                          std::vector<float>* descriptors, std::vector<DsiftKeypoint>* frames) {
  const std::size_t plane = static_cast<std::size_t>(w) * static_cast<std::size_t>(h);
  planes_.resize(8 * plane);
  inter_.resize(8 * plane);
  vert_.resize(plane);
  trans_.resize(plane);
  filtered_.resize(plane);
  std::vector<float> gxs(static_cast<std::size_t>(w)), mods(static_cast<std::size_t>(w)),
      frac(static_cast<std::size_t>(w));
  std::vector<int> bins(static_cast<std::size_t>(w));
  for (int y = 0; y < h; ++y) {
    float* out[8];
    for (int t = 0; t < 8; ++t) out[t] = planes_.data() + t * plane + static_cast<std::size_t>(y) * w;
    GradientRow(im + static_cast<std::size_t>(y) * w, im + static_cast<std::size_t>(y == 0 ? 0 : y - 1) * w,
                im + static_cast<std::size_t>(y == h - 1 ? h - 1 : y + 1) * w, (y == 0 || y == h - 1) ? 1.0F : 0.5F, w,
                gxs.data(), mods.data(), frac.data(), bins.data(), out);
  }
  for (int t = 0; t < 8; ++t) {
    // Down the columns, transpose, down the columns again: both passes run
    // across whole rows. The result stays transposed (x-major).
    TriangleDown(planes_.data() + t * plane, h, w, bin, vert_.data(), &integral_, &second_);
    const cv::Mat v(h, w, CV_32F, vert_.data());
    cv::Mat vt(w, h, CV_32F, trans_.data());
    cv::transpose(v, vt);
    TriangleDown(trans_.data(), w, h, bin, filtered_.data(), &integral_, &second_);
    Interleave(filtered_.data(), plane, t, inter_.data());
  }

  const int nx = DsiftFramesAlong(min_x, w - 1, bin, step), ny = DsiftFramesAlong(min_y, h - 1, bin, step);
  descriptors->resize(static_cast<std::size_t>(nx) * ny * 128);
  frames->resize(static_cast<std::size_t>(nx) * ny);
  float wts[4][4];
  for (int by = 0; by < 4; ++by) {
    for (int bx = 0; bx < 4; ++bx) {
      // Unit-integral triangles, but SIFT's bins have unit height: times bin^2.
      wts[by][bx] = BinWindowMean(bin, 4, bx, window_size) * static_cast<float>(bin) *
                    (BinWindowMean(bin, 4, by, window_size) * static_cast<float>(bin));
    }
  }
  const float frame_size = static_cast<float>(3 * bin + 1);
  const float norm_constant = frame_size * frame_size;
  const float center = 0.5F * static_cast<float>(bin) * 3.0F;
  std::size_t k = 0;
  for (int j = 0; j < ny; ++j) {
    const int fy = min_y + j * step;
    for (int i = 0; i < nx; ++i, ++k) {
      const int fx = min_x + i * step;
      const float mass = Describe(inter_.data(), h, fx, fy, bin, wts, descriptors->data() + k * 128);
      (*frames)[k] = {static_cast<float>(fx) + center, static_cast<float>(fy) + center, mass / norm_constant};
    }
  }
}

}  // namespace scenelab::features::detail

#include "scenelab/features/dense_sift.h"

#include <cmath>

#include <opencv2/imgproc.hpp>

extern "C" {
#include <vl/dsift.h>
}

#include "native_dsift.h"
#include "scenelab/data/error.h"
#include "scenelab/data/parallel.h"

namespace scenelab::features {

const EnumTable<SiftImplementation>& SiftImplementationNames() {
  static const EnumTable<SiftImplementation> t = {{SiftImplementation::kNative, "native"},
                                                  {SiftImplementation::kVlfeat, "vlfeat"}};
  return t;
}

void DenseSiftOptions::Validate() const {
  // VLFeat's setters do not check: a step of 0 divides by zero.
  if (step < 1) throw Error("DenseSiftOptions.step (--step) must be >= 1, got " + std::to_string(step));
  if (bin_sizes.empty()) throw Error("DenseSiftOptions.bin_sizes (--bin) must not be empty");
  for (int b : bin_sizes) {
    if (b < 1 || b > 256)
      throw Error("DenseSiftOptions.bin_sizes (--bin) must be in [1, 256], got " + std::to_string(b));
  }
  if (!(window_size > 0)) throw Error("DenseSiftOptions.window_size must be > 0, got " + std::to_string(window_size));
  if (!(magnif > 0)) throw Error("DenseSiftOptions.magnif must be > 0, got " + std::to_string(magnif));
  if (!(contrast_threshold >= 0)) {
    throw Error("DenseSiftOptions.contrast_threshold must be >= 0, got " + std::to_string(contrast_threshold));
  }
}

DenseSiftOptions DenseSiftOptions::Phow() {
  DenseSiftOptions o;
  o.step = 3;
  o.bin_sizes = {4, 6, 8, 10};
  o.fast = true;
  o.window_size = 1.5;
  o.smooth = true;
  o.magnif = 6.0;
  o.phow_bounds = true;
  o.contrast_threshold = 0.005;
  return o;
}

struct DenseSift::Impl {
  struct FilterDeleter {
    void operator()(VlDsiftFilter* f) const { vl_dsift_delete(f); }
  };
  int width = -1, height = -1;
  std::vector<std::unique_ptr<VlDsiftFilter, FilterDeleter>> filters;  // one per bin size
  detail::NativeDsift native;
  std::vector<float> descriptors;
  std::vector<detail::DsiftKeypoint> frames;
};

DenseSift::DenseSift(const DenseSiftOptions& opts) : opts_(opts), impl_(std::make_unique<Impl>()) { opts_.Validate(); }
DenseSift::~DenseSift() = default;
DenseSift::DenseSift(DenseSift&&) noexcept = default;
DenseSift& DenseSift::operator=(DenseSift&&) noexcept = default;

SiftFeatures DenseSift::Compute(const cv::Mat& gray_in) {
  if (gray_in.empty()) throw Error("DenseSift: empty image");
  cv::Mat gray = gray_in;
  if (gray.channels() != 1)
    cv::cvtColor(gray_in, gray, gray_in.channels() == 4 ? cv::COLOR_BGRA2GRAY : cv::COLOR_BGR2GRAY);
  const int w = gray.cols, h = gray.rows;
  const int max_bin = *std::max_element(opts_.bin_sizes.begin(), opts_.bin_sizes.end());

  // Offsets per scale (vl_phow aligns the centres of all scales).
  std::vector<int> offsets;
  for (int b : opts_.bin_sizes) {
    const int off = opts_.phow_bounds ? static_cast<int>(std::floor(1 + 1.5 * (max_bin - b))) - 1 : 0;
    offsets.push_back(off);
    // A descriptor spans 3 * bin + 1 pixels between its outer bin centres.
    const int need = off + 3 * b + 1;
    if (w < need || h < need) {
      throw Error("image of " + std::to_string(w) + "x" + std::to_string(h) +
                  " pixels is smaller than one SIFT descriptor at bin size " + std::to_string(b) + " (needs " +
                  std::to_string(need) + "x" + std::to_string(need) + ")");
    }
  }

  const bool native = opts_.fast && opts_.implementation == SiftImplementation::kNative;
  if (!native && (w != impl_->width || h != impl_->height)) {
    impl_->filters.clear();
    for (std::size_t s = 0; s < opts_.bin_sizes.size(); ++s) {
      VlDsiftFilter* f = vl_dsift_new_basic(w, h, opts_.step, opts_.bin_sizes[s]);
      if (!f) throw Error("vl_dsift_new_basic failed for a " + std::to_string(w) + "x" + std::to_string(h) + " image");
      vl_dsift_set_flat_window(f, opts_.fast);
      vl_dsift_set_window_size(f, opts_.window_size);
      vl_dsift_set_bounds(f, offsets[s], offsets[s], w - 1, h - 1);
      impl_->filters.emplace_back(f);
    }
    impl_->width = w;
    impl_->height = h;
  }

  cv::Mat base;
  gray.convertTo(base, CV_32F, gray.depth() == CV_8U ? 1.0 / 255.0 : 1.0);
  const int total = static_cast<int>(DenseSiftFrameCount(w, h, opts_));
  SiftFeatures out;
  out.width = w;
  out.height = h;
  out.descriptors.resize(total, 128);
  out.frames.resize(total, 3);
  int row = 0;
  cv::Mat smoothed;
  for (std::size_t s = 0; s < opts_.bin_sizes.size(); ++s) {
    const int b = opts_.bin_sizes[s];
    const cv::Mat* img = &base;
    if (opts_.smooth) {
      const double sigma = std::sqrt(std::max(0.0, std::pow(b / opts_.magnif, 2) - 0.25));
      if (sigma > 0) {
        cv::GaussianBlur(base, smoothed, cv::Size(), sigma, sigma, cv::BORDER_REPLICATE);
        img = &smoothed;
      }
    }
    cv::Mat cont = img->isContinuous() ? *img : img->clone();
    int n = 0;
    const float* d = nullptr;
    const VlDsiftKeypoint* kp = nullptr;
    if (native) {
      impl_->native.Process(cont.ptr<float>(), w, h, b, opts_.step, offsets[s], offsets[s], opts_.window_size,
                            &impl_->descriptors, &impl_->frames);
      n = static_cast<int>(impl_->frames.size());
      d = impl_->descriptors.data();
    } else {
      VlDsiftFilter* f = impl_->filters[s].get();
      vl_dsift_process(f, cont.ptr<float>());
      n = vl_dsift_get_keypoint_num(f);
      d = vl_dsift_get_descriptors(f);
      kp = vl_dsift_get_keypoints(f);
    }
    for (int i = 0; i < n; ++i, ++row) {
      const float* di = d + static_cast<std::ptrdiff_t>(i) * 128;
      const float norm = native ? impl_->frames[static_cast<std::size_t>(i)].norm : static_cast<float>(kp[i].norm);
      const bool low = norm < opts_.contrast_threshold;
      float buf[128];
      if (opts_.root_sift && !low) {
        float sum = 0;
        for (int j = 0; j < 128; ++j) sum += di[j];
        for (int j = 0; j < 128; ++j) buf[j] = sum > 0 ? std::sqrt(di[j] / sum) : 0.0f;
      } else {
        for (int j = 0; j < 128; ++j) buf[j] = low ? 0.0f : di[j];
      }
      std::uint8_t* o = out.descriptors.row(row).data();
      for (int j = 0; j < 128; ++j) o[j] = static_cast<std::uint8_t>(std::min(255.0f, 512.0f * buf[j]));
      if (native) {
        out.frames(row, 0) = impl_->frames[static_cast<std::size_t>(i)].x;
        out.frames(row, 1) = impl_->frames[static_cast<std::size_t>(i)].y;
      } else {
        out.frames(row, 0) = static_cast<float>(kp[i].x);
        out.frames(row, 1) = static_cast<float>(kp[i].y);
      }
      out.frames(row, 2) = static_cast<float>(b);
    }
  }
  if (row != total)
    throw Error("dense SIFT: expected " + std::to_string(total) + " frames, computed " + std::to_string(row));
  return out;
}

void ForEachDenseSift(const data::Dataset& ds, const DenseSiftOptions& opts, int threads, Progress* progress,
                      const std::function<void(std::size_t, SiftFeatures&&)>& fn) {
  opts.Validate();
  const int nt = ResolveThreads(threads);
  // Contiguous blocks per worker, each with its own reusable filters.
  const std::size_t grain = std::max<std::size_t>(1, ds.size() / (static_cast<std::size_t>(nt) * 8));
  ParallelForRange(ds.size(), nt, grain, [&](std::size_t b, std::size_t e) {
    DenseSift sift(opts);
    for (std::size_t i = b; i < e; ++i) {
      SiftFeatures f;
      try {
        f = sift.Compute(ds.LoadImage(i));
      } catch (const Error& err) {
        const std::string msg = err.what();
        if (msg.rfind(ds[i].source, 0) == 0) throw;
        throw Error(ds[i].source + ": " + msg);
      }
      fn(i, std::move(f));
      if (progress) progress->Add();
    }
  });
}

std::size_t DenseSiftFrameCount(int w, int h, const DenseSiftOptions& opts) {
  const int max_bin = *std::max_element(opts.bin_sizes.begin(), opts.bin_sizes.end());
  std::size_t n = 0;
  for (int b : opts.bin_sizes) {
    const int off = opts.phow_bounds ? static_cast<int>(std::floor(1 + 1.5 * (max_bin - b))) - 1 : 0;
    const int rx = w - 1 - off - 3 * b, ry = h - 1 - off - 3 * b;
    if (rx >= 0 && ry >= 0)
      n += static_cast<std::size_t>(rx / opts.step + 1) * static_cast<std::size_t>(ry / opts.step + 1);
  }
  return n;
}

std::vector<SiftFeatures> ComputeDenseSift(const data::Dataset& ds, const DenseSiftOptions& opts, int threads,
                                           Progress* progress) {
  std::vector<SiftFeatures> out(ds.size());
  ForEachDenseSift(ds, opts, threads, progress, [&](std::size_t i, SiftFeatures&& f) { out[i] = std::move(f); });
  return out;
}

}  // namespace scenelab::features

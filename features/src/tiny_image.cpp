#include "scenelab/features/tiny_image.h"

#include <opencv2/imgproc.hpp>

#include "scenelab/data/error.h"
#include "scenelab/data/parallel.h"

namespace scenelab::features {

Interpolation ParseInterpolation(const std::string& s) {
  if (s == "area") return Interpolation::kArea;
  if (s == "linear" || s == "bilinear") return Interpolation::kLinear;
  if (s == "cubic" || s == "bicubic") return Interpolation::kCubic;
  if (s == "nearest") return Interpolation::kNearest;
  throw Error("interpolation: unknown value '" + s + "' (expected area, linear, cubic or nearest)");
}

std::string ToString(Interpolation i) {
  switch (i) {
    case Interpolation::kArea:
      return "area";
    case Interpolation::kLinear:
      return "linear";
    case Interpolation::kCubic:
      return "cubic";
    case Interpolation::kNearest:
      return "nearest";
  }
  return "?";
}

void TinyImageOptions::Validate() const {
  if (size < 1 || size > 256) {
    throw Error("TinyImageOptions.size (--tiny-size) must be in [1, 256], got " + std::to_string(size));
  }
}

TinyImage::TinyImage(const TinyImageOptions& opts) : opts_(opts) { opts_.Validate(); }

void TinyImage::Compute(const cv::Mat& gray_in, float* out) const {
  if (gray_in.empty()) throw Error("TinyImage: empty image");
  cv::Mat gray = gray_in;
  if (gray.channels() != 1)
    cv::cvtColor(gray_in, gray, gray_in.channels() == 4 ? cv::COLOR_BGRA2GRAY : cv::COLOR_BGR2GRAY);
  if (opts_.crop_square && gray.rows != gray.cols) {
    const int s = std::min(gray.rows, gray.cols);
    gray = gray(cv::Rect((gray.cols - s) / 2, (gray.rows - s) / 2, s, s));
  }
  cv::Mat f;
  gray.convertTo(f, CV_32F, 1.0 / 255.0);
  const int interp = opts_.interpolation == Interpolation::kArea     ? cv::INTER_AREA
                     : opts_.interpolation == Interpolation::kLinear ? cv::INTER_LINEAR
                     : opts_.interpolation == Interpolation::kCubic  ? cv::INTER_CUBIC
                                                                     : cv::INTER_NEAREST;
  cv::Mat small(opts_.size, opts_.size, CV_32F, out);  // writes straight into `out`
  cv::resize(f, small, small.size(), 0, 0, interp);
  Eigen::Map<Eigen::VectorXf> v(out, dim());
  if (opts_.zero_mean) v.array() -= v.mean();
  const float z = opts_.norm == Norm::kL1 ? v.cwiseAbs().sum() : opts_.norm == Norm::kL2 ? v.norm() : 1.0f;
  if (z > 0) v /= z;
}

Matrix TinyImage::Compute(const cv::Mat& gray) const {
  Matrix m(1, dim());
  Compute(gray, m.data());
  return m;
}

Matrix ComputeTinyImages(const data::Dataset& ds, const TinyImageOptions& opts, int threads, Progress* progress) {
  TinyImage tiny(opts);
  Matrix out(static_cast<Eigen::Index>(ds.size()), tiny.dim());
  ParallelFor(ds.size(), threads, [&](std::size_t i) {
    tiny.Compute(ds.LoadImage(i), out.row(static_cast<Eigen::Index>(i)).data());
    if (progress) progress->Add();
  });
  return out;
}

}  // namespace scenelab::features

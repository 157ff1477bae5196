#include "scenelab/features/gist.h"

#include <cmath>

#include <opencv2/imgproc.hpp>

#include "scenelab/data/error.h"
#include "scenelab/data/parallel.h"

namespace scenelab::features {

void GistOptions::Validate() const {
  if (image_size < 16 || image_size > 4096) {
    throw Error("GistOptions.image_size (--gist-size) must be in [16, 4096], got " + std::to_string(image_size));
  }
  if (orientations.empty()) throw Error("GistOptions.orientations (--gist-orientations) must list at least one scale");
  for (int o : orientations) {
    if (o < 1 || o > 64) {
      throw Error("GistOptions.orientations (--gist-orientations) must be in [1, 64] per scale, got " +
                  std::to_string(o));
    }
  }
  if (grid < 1 || grid > image_size) {
    throw Error("GistOptions.grid (--gist-grid) must be in [1, image_size], got " + std::to_string(grid));
  }
  if (!(prefilter_fc > 0)) throw Error("GistOptions.prefilter_fc must be > 0, got " + std::to_string(prefilter_fc));
  if (boundary < 0 || boundary > image_size) {
    throw Error("GistOptions.boundary must be in [0, image_size], got " + std::to_string(boundary));
  }
}

namespace {
constexpr double kPi = 3.14159265358979323846;
constexpr int kPrefilterPad = 5;  // LMgist's prefilt: w = 5

// Signed frequency of FFT index u for length n (zero frequency at index 0).
double Freq(int u, int n) { return u < n / 2 ? u : u - n; }

// out = real(ifft2(fft2(in) .* h)) for a real, frequency-domain h.
cv::Mat FilterReal(const cv::Mat& in, const cv::Mat& h) {
  cv::Mat f;
  cv::dft(in, f, cv::DFT_COMPLEX_OUTPUT);
  cv::Mat planes[2];
  cv::split(f, planes);
  planes[0] = planes[0].mul(h);
  planes[1] = planes[1].mul(h);
  cv::merge(planes, 2, f);
  cv::Mat out;
  cv::idft(f, out, cv::DFT_SCALE | cv::DFT_REAL_OUTPUT);
  return out;
}
}  // namespace

Gist::Gist(const GistOptions& opts) : opts_(opts) {
  opts_.Validate();
  // createGabor: for scale i and orientation j of or(i),
  //   G = exp(-10 a (fr / n / f0 - 1)^2 - 2 b pi t^2), a = 0.35,
  //   f0 = 0.3 / 1.85^i, b = 16 or(i)^2 / 32^2, t the angle shifted by pi j / or(i).
  const int n = opts_.image_size + 2 * opts_.boundary;
  for (std::size_t i = 0; i < opts_.orientations.size(); ++i) {
    const int no = opts_.orientations[i];
    const double f0 = 0.3 / std::pow(1.85, static_cast<double>(i));
    const double b = 16.0 * no * no / (32.0 * 32.0);
    for (int j = 0; j < no; ++j) {
      const double shift = kPi / no * j;
      cv::Mat g(n, n, CV_32F);
      for (int y = 0; y < n; ++y) {
        for (int x = 0; x < n; ++x) {
          const double fx = Freq(x, n), fy = Freq(y, n);
          const double fr = std::sqrt(fx * fx + fy * fy);
          double t = std::atan2(fy, fx) + shift;
          if (t < -kPi) t += 2 * kPi;
          if (t > kPi) t -= 2 * kPi;
          const double r = fr / n / f0 - 1;
          g.at<float>(y, x) = static_cast<float>(std::exp(-10 * 0.35 * r * r - 2 * b * kPi * t * t));
        }
      }
      filters_.push_back(g);
    }
  }
  // prefilt: gf = exp(-(fx^2 + fy^2) / s1^2), s1 = fc / sqrt(log 2), on the padded image.
  const int m = opts_.image_size + 2 * kPrefilterPad + (opts_.image_size + 2 * kPrefilterPad) % 2;
  const double s1 = opts_.prefilter_fc / std::sqrt(std::log(2.0));
  prefilter_.create(m, m, CV_32F);
  for (int y = 0; y < m; ++y) {
    for (int x = 0; x < m; ++x) {
      const double fx = Freq(x, m), fy = Freq(y, m);
      prefilter_.at<float>(y, x) = static_cast<float>(std::exp(-(fx * fx + fy * fy) / (s1 * s1)));
    }
  }
}

int Gist::dim() const { return static_cast<int>(filters_.size()) * opts_.grid * opts_.grid; }

void Gist::Compute(const cv::Mat& gray, float* out) const {
  if (gray.empty() || gray.type() != CV_8UC1) throw Error("Gist::Compute: expected a non-empty 8-bit grayscale image");
  const int s = opts_.image_size;
  // imresizecrop: scale so the shorter side is s (bilinear), centre-crop s x s.
  const double scale = std::max(static_cast<double>(s) / gray.rows, static_cast<double>(s) / gray.cols);
  const int nr = static_cast<int>(std::lround(gray.rows * scale)),
            nc = static_cast<int>(std::lround(gray.cols * scale));
  cv::Mat resized;
  cv::resize(gray, resized, cv::Size(std::max(nc, s), std::max(nr, s)), 0, 0, cv::INTER_LINEAR);
  cv::Mat img;
  resized(cv::Rect((resized.cols - s) / 2, (resized.rows - s) / 2, s, s)).convertTo(img, CV_32F);
  // Stretched to 0..255, as LMgist does.
  double lo = 0, hi = 0;
  cv::minMaxLoc(img, &lo, &hi);
  img -= lo;
  if (hi > lo) img *= 255.0 / (hi - lo);

  // prefilt: log intensities, minus their Gaussian low-pass, divided by the local contrast.
  cv::log(img + 1, img);
  cv::Mat padded;
  const int m = prefilter_.rows;
  cv::copyMakeBorder(img, padded, kPrefilterPad, m - s - kPrefilterPad, kPrefilterPad, m - s - kPrefilterPad,
                     cv::BORDER_REFLECT);
  cv::Mat hp = padded - FilterReal(padded, prefilter_);
  cv::Mat localstd = cv::abs(FilterReal(hp.mul(hp), prefilter_));
  cv::sqrt(localstd, localstd);
  cv::Mat white = hp / (0.2 + localstd);
  white = white(cv::Rect(kPrefilterPad, kPrefilterPad, s, s)).clone();

  // gistGabor: symmetric padding, one forward FFT, one inverse per filter.
  const int be = opts_.boundary;
  cv::Mat big;
  cv::copyMakeBorder(white, big, be, be, be, be, cv::BORDER_REFLECT);
  cv::Mat spectrum;
  cv::dft(big, spectrum, cv::DFT_COMPLEX_OUTPUT);
  cv::Mat planes[2];
  cv::split(spectrum, planes);
  const int w = opts_.grid;
  std::vector<int> edges(static_cast<std::size_t>(w) + 1);
  for (int k = 0; k <= w; ++k)
    edges[static_cast<std::size_t>(k)] = static_cast<int>(std::floor(static_cast<double>(s) * k / w));
  cv::Mat prod[2], f, response, mag;
  int o = 0;
  for (const cv::Mat& g : filters_) {
    prod[0] = planes[0].mul(g);
    prod[1] = planes[1].mul(g);
    cv::merge(prod, 2, f);
    cv::idft(f, response, cv::DFT_SCALE | cv::DFT_COMPLEX_OUTPUT);
    cv::split(response, prod);
    cv::magnitude(prod[0], prod[1], mag);
    const cv::Mat inner = mag(cv::Rect(be, be, s, s));
    // downN: mean over each cell; cells column-major (rows fastest), as MATLAB reshapes.
    for (int cx = 0; cx < w; ++cx) {
      for (int cy = 0; cy < w; ++cy) {
        const cv::Rect cell(edges[static_cast<std::size_t>(cx)], edges[static_cast<std::size_t>(cy)],
                            edges[static_cast<std::size_t>(cx) + 1] - edges[static_cast<std::size_t>(cx)],
                            edges[static_cast<std::size_t>(cy) + 1] - edges[static_cast<std::size_t>(cy)]);
        out[o++] = static_cast<float>(cv::mean(inner(cell))[0]);
      }
    }
  }
}

Matrix ComputeGist(const data::Dataset& ds, const GistOptions& opts, int threads, Progress* progress) {
  const Gist gist(opts);
  Matrix out(static_cast<Eigen::Index>(ds.size()), gist.dim());
  ParallelFor(ds.size(), threads, [&](std::size_t i) {
    const cv::Mat img = ds.LoadImage(i);
    gist.Compute(img, out.row(static_cast<Eigen::Index>(i)).data());
    if (progress) progress->Add();
  });
  return out;
}

}  // namespace scenelab::features

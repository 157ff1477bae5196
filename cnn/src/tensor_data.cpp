#include "tensor_data.h"

#include <cmath>
#include <cstring>

#include <torch/nn/functional/vision.h>
#include <torch/torch.h>
#include <opencv2/imgproc.hpp>

#include "scenelab/data/error.h"
#include "scenelab/data/parallel.h"
#include "scenelab/data/rng.h"

namespace scenelab::cnn {

void DecodeInto(const data::Dataset& ds, std::size_t i, const InputShape& s, std::uint8_t* dst) {
  data::DecodeOptions dec;
  dec.color = s.channels == 1 ? data::ColorMode::kGray : data::ColorMode::kColor;
  cv::Mat img = ds.LoadImage(i, dec);
  if (img.rows != s.height || img.cols != s.width) {
    cv::Mat r;
    cv::resize(img, r, cv::Size(s.width, s.height), 0, 0, img.rows > s.height ? cv::INTER_AREA : cv::INTER_LINEAR);
    img = r;
  }
  if (!img.isContinuous()) img = img.clone();
  const std::size_t plane = static_cast<std::size_t>(s.height) * s.width;
  if (s.channels == 1) {
    std::memcpy(dst, img.data, plane);
  } else {
    for (std::size_t p = 0; p < plane; ++p) {  // BGR interleaved -> RGB planes
      dst[p] = img.data[3 * p + 2];
      dst[plane + p] = img.data[3 * p + 1];
      dst[2 * plane + p] = img.data[3 * p];
    }
  }
}

at::Tensor LabelTensor(const data::Dataset& ds) {
  at::Tensor labels = torch::empty({static_cast<std::int64_t>(ds.size())}, torch::kInt64);
  auto* p = labels.data_ptr<std::int64_t>();
  for (std::size_t i = 0; i < ds.size(); ++i) p[i] = ds[i].label;
  return labels;
}

TensorSet ToTensors(const data::Dataset& ds, const InputShape& s, int threads, Progress* progress) {
  const auto n = static_cast<std::int64_t>(ds.size());
  TensorSet t;
  t.images = torch::empty({n, s.channels, s.height, s.width}, torch::kUInt8);
  t.labels = LabelTensor(ds);
  auto* img_ptr = t.images.data_ptr<std::uint8_t>();
  const std::size_t sample = static_cast<std::size_t>(s.height) * s.width * s.channels;
  ParallelFor(ds.size(), threads, [&](std::size_t i) {
    DecodeInto(ds, i, s, img_ptr + i * sample);
    if (progress) progress->Add();
  });
  return t;
}

at::Tensor GatherImages(const TensorSet& set, const std::vector<std::int64_t>& idx) {
  return set.images.index_select(0, torch::tensor(idx, torch::kInt64));
}

at::Tensor AugmentBatch(const at::Tensor& images, const Augment& aug, std::uint64_t seed,
                        const std::vector<float>& mean, const std::vector<float>& std) {
  torch::NoGradGuard g;
  at::Tensor x = images.to(torch::kFloat32).div_(255.0f);
  const std::int64_t b = x.size(0), h = x.size(2), w = x.size(3);
  Rng rng(seed);
  if (aug.crop && aug.padding > 0) {
    const int p = aug.padding;
    at::Tensor padded = torch::constant_pad_nd(x, {p, p, p, p}, 0.0);
    at::Tensor out = torch::empty_like(x);
    for (std::int64_t i = 0; i < b; ++i) {
      const auto dy = static_cast<std::int64_t>(rng.Below(2 * p + 1));
      const auto dx = static_cast<std::int64_t>(rng.Below(2 * p + 1));
      out[i].copy_(padded[i].narrow(1, dy, h).narrow(2, dx, w));
    }
    x = out;
  }
  if (aug.flip) {
    std::vector<std::int64_t> flips;
    for (std::int64_t i = 0; i < b; ++i) {
      if (rng.Below(2)) flips.push_back(i);
    }
    if (!flips.empty()) {
      const auto fi = torch::tensor(flips, torch::kInt64);
      x.index_copy_(0, fi, x.index_select(0, fi).flip({3}));
    }
  }
  if (aug.rotate && aug.degrees > 0) {
    at::Tensor theta = torch::zeros({b, 2, 3});
    auto th = theta.accessor<float, 3>();
    for (std::int64_t i = 0; i < b; ++i) {
      const double a = (rng.Uniform() * 2 - 1) * aug.degrees * M_PI / 180.0;
      th[i][0][0] = static_cast<float>(std::cos(a));
      th[i][0][1] = static_cast<float>(-std::sin(a));
      th[i][1][0] = static_cast<float>(std::sin(a));
      th[i][1][1] = static_cast<float>(std::cos(a));
    }
    namespace F = torch::nn::functional;
    const auto grid = F::affine_grid(theta, {b, x.size(1), h, w}, /*align_corners=*/false);
    x = F::grid_sample(
        x, grid, F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kZeros).align_corners(false));
  }
  if (!mean.empty()) {
    const auto m = torch::tensor(mean).view({1, -1, 1, 1});
    const auto s = torch::tensor(std).view({1, -1, 1, 1});
    x = (x - m) / s;
  }
  return x;
}

}  // namespace scenelab::cnn

#pragma once
// The data path: a Dataset decoded once into one uint8 NCHW tensor, then
// batches gathered, augmented and standardised on the fly.
#include <cstdint>
#include <vector>

#include <torch/types.h>

#include "scenelab/cnn/zoo.h"
#include "scenelab/data/dataset.h"
#include "scenelab/data/log.h"

namespace scenelab::cnn {

struct TensorSet {
  at::Tensor images;  // N x C x H x W, uint8
  at::Tensor labels;  // N, int64
  std::int64_t size() const { return labels.size(0); }
};

// Decodes sample i of `ds`, resized to `shape` (3 channels: RGB planes), into
// dst (C x H x W bytes).
void DecodeInto(const data::Dataset& ds, std::size_t i, const InputShape& shape, std::uint8_t* dst);

// The labels of `ds` as an int64 tensor.
at::Tensor LabelTensor(const data::Dataset& ds);

// Decodes (in parallel) and resizes every sample to `shape`; 3 channels are RGB.
TensorSet ToTensors(const data::Dataset& ds, const InputShape& shape, int threads, Progress* progress);

struct Augment {
  bool crop = false, flip = false, rotate = false;
  int padding = 4;
  double degrees = 10;
};

// The uint8 images of samples `idx` (none: an empty batch).
at::Tensor GatherImages(const TensorSet& set, const std::vector<std::int64_t>& idx);

// Augments a uint8 batch (seeded by `seed`), scales to [0,1] and standardises
// by mean/std (per channel; empty = none).
at::Tensor AugmentBatch(const at::Tensor& images, const Augment& aug, std::uint64_t seed,
                        const std::vector<float>& mean, const std::vector<float>& std);

}  // namespace scenelab::cnn

#pragma once
// Batches of uint8 images in a given order, from one of two sources:
//  - a set decoded once into memory (IDX, CIFAR, and folder sets that fit);
//  - a folder dataset decoded and resized on the fly by worker threads that
//    run ahead of training through a bounded prefetch queue, so memory stays
//    at `prefetch` batches whatever the dataset's size.
// Both hand out identical batches for the same index lists.
#include <cstdint>
#include <memory>
#include <vector>

#include <torch/types.h>

#include "scenelab/cnn/zoo.h"
#include "scenelab/data/dataset.h"
#include "scenelab/data/log.h"
#include "tensor_data.h"

namespace scenelab::cnn {

using IndexBatches = std::vector<std::vector<std::int64_t>>;

class BatchLoader {
 public:
  virtual ~BatchLoader() = default;
  virtual std::int64_t size() const = 0;
  // All N labels (int64), available without decoding.
  virtual const at::Tensor& labels() const = 0;
  // Starts a pass over `batches`; Next() returns them in order, each as a
  // B x C x H x W uint8 tensor. A new Start abandons the previous pass.
  virtual void Start(IndexBatches batches) = 0;
  virtual at::Tensor Next() = 0;
};

std::unique_ptr<BatchLoader> MemoryLoader(TensorSet set);

struct StreamOptions {
  int workers = 2;   // decoding threads
  int prefetch = 8;  // batches decoded ahead of the consumer, at most
  void Validate() const;
};
std::unique_ptr<BatchLoader> StreamingLoader(const data::Dataset& ds, const InputShape& shape,
                                             const StreamOptions& opt);

// Consecutive batches of `batch` indices covering [lo, hi).
IndexBatches SequentialBatches(std::int64_t lo, std::int64_t hi, std::int64_t batch);

// Per-channel mean and (unbiased) std of the images in [0, 1], from exact
// integer sums over one pass, so both sources give the same statistics.
// Streamed sets are decoded for it: `progress` (may be null) counts images.
void ChannelStats(BatchLoader& loader, int channels, std::vector<float>* mean, std::vector<float>* std,
                  Progress* progress = nullptr);

}  // namespace scenelab::cnn

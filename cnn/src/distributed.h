#pragma once
// One rank's view of a c10d process group over Gloo (internal to cnn/).
#include <memory>

#include <ATen/ATen.h>

#include "scenelab/cnn/trainer.h"

namespace scenelab::cnn::detail {

class ProcessGroup {
 public:
  // Rendezvous and connection; throws Error naming the rendezvous on failure
  // or after timeout_s.
  explicit ProcessGroup(const DistributedOptions& opts);
  ~ProcessGroup();
  int rank() const { return opts_.rank; }
  int size() const { return opts_.world_size; }
  // In place; throw Error (naming the operation and this rank) when a peer
  // is gone or the timeout passes.
  void AllreduceSum(at::Tensor& t);
  void Broadcast(at::Tensor& t, int root);
  void Barrier();
  // Sums every parameter's gradient across ranks, in buckets of
  // bucket_bytes: each rank has already scaled its loss by its share of the
  // global batch, so the sum is the gradient of the global batch's mean loss.
  void SumGradients(const std::vector<at::Tensor>& params);
  // Seconds spent in SumGradients so far, and the bytes one call moves.
  double gradient_seconds() const { return gradient_seconds_; }
  std::int64_t gradient_bytes() const { return gradient_bytes_; }

 private:
  struct Impl;
  DistributedOptions opts_;
  std::unique_ptr<Impl> impl_;
  double gradient_seconds_ = 0;
  std::int64_t gradient_bytes_ = 0;
};

}  // namespace scenelab::cnn::detail

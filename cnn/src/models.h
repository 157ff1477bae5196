#pragma once
// Model families. Each family is a block type plus stage depths, built by
// one make_layer; every module's Forward() takes an optional Trace that
// records leaf layers in call order for the summary table.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <torch/nn.h>

#include "scenelab/cnn/zoo.h"

namespace scenelab::cnn {

struct Trace {
  std::vector<SummaryRow> rows;
  void Record(const std::string& type, const at::Tensor& out, std::int64_t params);
};

std::int64_t CountParams(const torch::nn::Module& m);

// Base of every zoo model: forward() for training, Forward() with a trace.
class ModelImpl : public torch::nn::Module {
 public:
  virtual at::Tensor Forward(const at::Tensor& x, Trace* trace) = 0;
  at::Tensor forward(const at::Tensor& x) { return Forward(x, nullptr); }
};
using ModelPtr = std::shared_ptr<ModelImpl>;

ModelPtr CreateModel(const std::string& name, const ModelOptions& opts);

}  // namespace scenelab::cnn

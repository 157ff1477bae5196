#include <cstdio>
#include <sstream>

#include <torch/torch.h>

#include "models.h"
#include "scenelab/data/error.h"

namespace scenelab::cnn {

std::string WithThousands(std::int64_t v) {
  std::string s = std::to_string(v < 0 ? -v : v);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<std::size_t>(i), ",");
  return v < 0 ? "-" + s : s;
}

ModelSummary Summarize(const std::string& name, const ModelOptions& opts) {
  torch::NoGradGuard no_grad;
  ModelPtr model = CreateModel(name, opts);
  model->eval();
  Trace trace;
  try {
    model->Forward(torch::zeros({1, opts.input.channels, opts.input.height, opts.input.width}), &trace);
  } catch (const c10::Error& e) {
    throw Error("model '" + name + "' cannot take input " + opts.input.ToString() + ": " + e.what_without_backtrace());
  }
  ModelSummary s;
  s.model = name;
  s.input = opts.input;
  s.num_classes = opts.num_classes;
  s.rows = std::move(trace.rows);
  s.total_params = CountParams(*model);
  s.trainable_params = 0;
  for (const auto& p : model->parameters()) {
    if (p.requires_grad()) s.trainable_params += p.numel();
  }
  // Sizes as torchsummary computes them: float32, batch of one.
  double outputs = 0;
  for (const auto& r : s.rows) {
    double n = 1;
    for (auto d : r.output_shape) n *= static_cast<double>(d < 0 ? -d : d);
    outputs += n;
  }
  const double mb = 1024.0 * 1024.0;
  s.input_mb = static_cast<double>(opts.input.channels) * opts.input.height * opts.input.width * 4.0 / mb;
  s.forward_backward_mb = 2.0 * outputs * 4.0 / mb;
  s.params_mb = static_cast<double>(s.total_params) * 4.0 / mb;
  s.total_mb = s.input_mb + s.forward_backward_mb + s.params_mb;
  return s;
}

std::string FormatSummary(const ModelSummary& s) {
  std::ostringstream out;
  const std::string dash(64, '-'), eq(64, '=');
  char line[256];
  out << dash << "\n";
  std::snprintf(line, sizeof line, "%20s  %25s %15s", "Layer (type)", "Output Shape", "Param #");
  out << line << "\n" << eq << "\n";
  int index = 0;
  for (const auto& r : s.rows) {
    std::string shape = "[";
    for (std::size_t i = 0; i < r.output_shape.size(); ++i)
      shape += (i ? ", " : "") + std::to_string(r.output_shape[i]);
    shape += "]";
    const std::string layer = r.type + "-" + std::to_string(++index);
    std::snprintf(line, sizeof line, "%20s  %25s %15s", layer.c_str(), shape.c_str(), WithThousands(r.params).c_str());
    out << line << "\n";
  }
  out << eq << "\n";
  out << "Total params: " << WithThousands(s.total_params) << "\n";
  out << "Trainable params: " << WithThousands(s.trainable_params) << "\n";
  out << "Non-trainable params: " << WithThousands(s.total_params - s.trainable_params) << "\n";
  out << dash << "\n";
  std::snprintf(line, sizeof line,
                "Input size (MB): %0.2f\nForward/backward pass size (MB): %0.2f\nParams size (MB): %0.2f\n"
                "Estimated Total Size (MB): %0.2f\n",
                s.input_mb, s.forward_backward_mb, s.params_mb, s.total_mb);
  out << line << dash << "\n";
  return out.str();
}

}  // namespace scenelab::cnn

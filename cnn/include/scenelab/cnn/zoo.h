#pragma once
// The CNN model zoo, by name. This header is Torch-free so the CLI and other
// modules can use it without compiling LibTorch's headers.
#include <cstdint>
#include <string>
#include <vector>

namespace scenelab::cnn {

// Input shape C x H x W, e.g. "3x32x32" or "1x28x28".
struct InputShape {
  int channels = 3;
  int height = 32;
  int width = 32;
  // Throws Error naming `what` and the text.
  static InputShape Parse(const std::string& text, const std::string& what = "--input");
  std::string ToString() const;
};

struct ModelOptions {
  int num_classes = 10;
  InputShape input;  // channels set the stem; size sizes the heads that need it
  void Validate() const;
};

// Known model names, sorted.
std::vector<std::string> ModelNames();
// Throws "unknown model 'x' (known: ...)" unless `name` is in the zoo.
void RequireModel(const std::string& name);
// The default input each model was designed for (e.g. 3x64x64 for resnet18-tiny200).
InputShape DefaultInput(const std::string& name);

// One row of a torchsummary-style table.
struct SummaryRow {
  std::string type;                        // "Conv2d", "BatchNorm2d", "Linear", "ReLU", "BasicBlock", ...
  std::vector<std::int64_t> output_shape;  // batch dimension written as -1
  std::int64_t params = 0;
};

struct ModelSummary {
  std::string model;
  InputShape input;
  int num_classes = 0;
  std::vector<SummaryRow> rows;
  std::int64_t total_params = 0;
  std::int64_t trainable_params = 0;
  double input_mb = 0, forward_backward_mb = 0, params_mb = 0, total_mb = 0;
};

// Builds the model and runs one forward pass on a zero batch of one to
// record every layer. Throws Error for an unknown name, listing known ones.
ModelSummary Summarize(const std::string& name, const ModelOptions& opts);
// The table as torchsummary prints it ("Total params: 11,173,962").
std::string FormatSummary(const ModelSummary& s);
// "11173962" -> "11,173,962"
std::string WithThousands(std::int64_t v);

}  // namespace scenelab::cnn

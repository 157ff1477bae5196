#include "models.h"

#include <algorithm>

#include "scenelab/data/error.h"

namespace scenelab::cnn {

namespace nn = torch::nn;

void Trace::Record(const std::string& type, const at::Tensor& out, std::int64_t params) {
  SummaryRow row;
  row.type = type;
  row.output_shape = out.sizes().vec();
  if (!row.output_shape.empty()) row.output_shape[0] = -1;
  row.params = params;
  rows.push_back(std::move(row));
}

std::int64_t CountParams(const nn::Module& m) {
  std::int64_t n = 0;
  for (const auto& p : m.parameters(/*recurse=*/true)) n += p.numel();
  return n;
}

namespace {

// ---- leaf layers, recorded when a trace is given -------------------------
nn::Conv2d MakeConv(int in, int out, int k, int stride, int pad, bool bias) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, k).stride(stride).padding(pad).bias(bias));
}
nn::BatchNorm2d MakeBn(int c, double eps = 1e-5) { return nn::BatchNorm2d(nn::BatchNorm2dOptions(c).eps(eps)); }

template <typename M>
at::Tensor Leaf(M& m, const at::Tensor& x, Trace* t, const char* type) {
  at::Tensor y = m->forward(x);
  if (t) t->Record(type, y, CountParams(*m));
  return y;
}
at::Tensor Conv(nn::Conv2d& m, const at::Tensor& x, Trace* t) { return Leaf(m, x, t, "Conv2d"); }
at::Tensor Bn(nn::BatchNorm2d& m, const at::Tensor& x, Trace* t) { return Leaf(m, x, t, "BatchNorm2d"); }
at::Tensor Fc(nn::Linear& m, const at::Tensor& x, Trace* t) { return Leaf(m, x, t, "Linear"); }
at::Tensor Relu(const at::Tensor& x, Trace* t) {
  at::Tensor y = torch::relu(x);
  if (t) t->Record("ReLU", y, 0);
  return y;
}
at::Tensor MaxPool(const at::Tensor& x, int k, int s, int p, Trace* t) {
  at::Tensor y = torch::max_pool2d(x, k, s, p);
  if (t) t->Record("MaxPool2d", y, 0);
  return y;
}
at::Tensor AvgPool(const at::Tensor& x, int k, Trace* t) {
  at::Tensor y = torch::avg_pool2d(x, k);
  if (t) t->Record("AvgPool2d", y, 0);
  return y;
}
at::Tensor GlobalAvgPool(const at::Tensor& x, Trace* t) {
  at::Tensor y = torch::adaptive_avg_pool2d(x, {1, 1});
  if (t) t->Record("AdaptiveAvgPool2d", y, 0);
  return y;
}
at::Tensor Dropout(const at::Tensor& x, double p, bool training, Trace* t) {
  at::Tensor y = torch::dropout(x, p, training);
  if (t) t->Record("Dropout", y, 0);
  return y;
}
at::Tensor Container(const at::Tensor& y, const char* type, Trace* t) {
  if (t) t->Record(type, y, 0);
  return y;
}

// ---- ResNet family ----------------------------------------------------------
class BlockImpl : public nn::Module {
 public:
  virtual at::Tensor Forward(const at::Tensor& x, Trace* t) = 0;
};

// Two 3x3 convs; ReLU after the sum with the shortcut.
class BasicBlock : public BlockImpl {
 public:
  static constexpr int kExpansion = 1;
  BasicBlock(int in, int planes, int stride) {
    c1 = register_module("conv1", MakeConv(in, planes, 3, stride, 1, false));
    b1 = register_module("bn1", MakeBn(planes));
    c2 = register_module("conv2", MakeConv(planes, planes, 3, 1, 1, false));
    b2 = register_module("bn2", MakeBn(planes));
    if (stride != 1 || in != planes) {
      sc = register_module("shortcut_conv", MakeConv(in, planes, 1, stride, 0, false));
      sb = register_module("shortcut_bn", MakeBn(planes));
    }
  }
  at::Tensor Forward(const at::Tensor& x, Trace* t) override {
    at::Tensor y = Relu(Bn(b1, Conv(c1, x, t), t), t);
    y = Bn(b2, Conv(c2, y, t), t);
    at::Tensor s = sc ? Bn(sb, Conv(sc, x, t), t) : x;  // shortcut after the main path, as torchvision
    return Container(Relu(y + s, t), "BasicBlock", t);
  }

 private:
  nn::Conv2d c1{nullptr}, c2{nullptr}, sc{nullptr};
  nn::BatchNorm2d b1{nullptr}, b2{nullptr}, sb{nullptr};
};

// 1x1 reduce, 3x3 (carries the stride, as torchvision v1.5), 1x1 expand x4.
class Bottleneck : public BlockImpl {
 public:
  static constexpr int kExpansion = 4;
  Bottleneck(int in, int planes, int stride) {
    c1 = register_module("conv1", MakeConv(in, planes, 1, 1, 0, false));
    b1 = register_module("bn1", MakeBn(planes));
    c2 = register_module("conv2", MakeConv(planes, planes, 3, stride, 1, false));
    b2 = register_module("bn2", MakeBn(planes));
    c3 = register_module("conv3", MakeConv(planes, planes * kExpansion, 1, 1, 0, false));
    b3 = register_module("bn3", MakeBn(planes * kExpansion));
    if (stride != 1 || in != planes * kExpansion) {
      sc = register_module("shortcut_conv", MakeConv(in, planes * kExpansion, 1, stride, 0, false));
      sb = register_module("shortcut_bn", MakeBn(planes * kExpansion));
    }
  }
  at::Tensor Forward(const at::Tensor& x, Trace* t) override {
    at::Tensor y = Relu(Bn(b1, Conv(c1, x, t), t), t);
    y = Relu(Bn(b2, Conv(c2, y, t), t), t);
    y = Bn(b3, Conv(c3, y, t), t);
    at::Tensor s = sc ? Bn(sb, Conv(sc, x, t), t) : x;
    return Container(Relu(y + s, t), "Bottleneck", t);
  }

 private:
  nn::Conv2d c1{nullptr}, c2{nullptr}, c3{nullptr}, sc{nullptr};
  nn::BatchNorm2d b1{nullptr}, b2{nullptr}, b3{nullptr}, sb{nullptr};
};

struct ResNetSpec {
  bool bottleneck = false;
  std::vector<int> depths;
  std::vector<int> widths;
  int stem_width = 64;
  bool stem_relu = true;
  bool stem_maxpool = false;  // 3x3 stride-2 max-pool after the stem
  int first_stride = 1;       // stride of the first stage
};

class ResNet : public ModelImpl {
 public:
  ResNet(const ResNetSpec& spec, const ModelOptions& o) : spec_(spec) {
    stem_conv = register_module("stem_conv", MakeConv(o.input.channels, spec.stem_width, 3, 1, 1, false));
    stem_bn = register_module("stem_bn", MakeBn(spec.stem_width));
    int in = spec.stem_width;
    for (std::size_t s = 0; s < spec.depths.size(); ++s) {
      MakeLayer(&in, spec.widths[s], spec.depths[s], s == 0 ? spec.first_stride : 2, static_cast<int>(s) + 1);
    }
    fc = register_module("fc", nn::Linear(in, o.num_classes));
  }
  at::Tensor Forward(const at::Tensor& x, Trace* t) override {
    at::Tensor y = Bn(stem_bn, Conv(stem_conv, x, t), t);
    if (spec_.stem_relu) y = Relu(y, t);
    if (spec_.stem_maxpool) y = MaxPool(y, 3, 2, 1, t);
    for (auto& b : blocks_) y = b->Forward(y, t);
    y = GlobalAvgPool(y, t).flatten(1);
    return Fc(fc, y, t);
  }

 private:
  // One stage: `depth` blocks, the first with `stride` and a projection when needed.
  void MakeLayer(int* in, int planes, int depth, int stride, int stage) {
    for (int i = 0; i < depth; ++i) {
      std::shared_ptr<BlockImpl> b;
      if (spec_.bottleneck) {
        b = std::make_shared<Bottleneck>(*in, planes, i == 0 ? stride : 1);
        *in = planes * Bottleneck::kExpansion;
      } else {
        b = std::make_shared<BasicBlock>(*in, planes, i == 0 ? stride : 1);
        *in = planes * BasicBlock::kExpansion;
      }
      blocks_.push_back(register_module("layer" + std::to_string(stage) + "_" + std::to_string(i), b));
    }
  }
  ResNetSpec spec_;
  nn::Conv2d stem_conv{nullptr};
  nn::BatchNorm2d stem_bn{nullptr};
  std::vector<std::shared_ptr<BlockImpl>> blocks_;
  nn::Linear fc{nullptr};
};

// ---- VGG (batch norm, sized for 32x32: one Linear after five pools) -------
class Vgg : public ModelImpl {
 public:
  Vgg(const std::vector<int>& cfg, const ModelOptions& o) : cfg_(cfg) {
    int in = o.input.channels, pools = 0, i = 0;
    for (int v : cfg) {
      if (v < 0) {
        ++pools;
        continue;
      }
      convs.push_back(register_module("conv" + std::to_string(i), MakeConv(in, v, 3, 1, 1, true)));
      bns.push_back(register_module("bn" + std::to_string(i), MakeBn(v)));
      in = v;
      ++i;
    }
    const int h = o.input.height >> pools, w = o.input.width >> pools;
    if (h < 1 || w < 1) throw Error("vgg needs inputs of at least 32x32, got " + o.input.ToString());
    fc = register_module("fc", nn::Linear(in * h * w, o.num_classes));
  }
  at::Tensor Forward(const at::Tensor& x, Trace* t) override {
    at::Tensor y = x;
    std::size_t i = 0;
    for (int v : cfg_) {
      if (v < 0) {
        y = MaxPool(y, 2, 2, 0, t);
      } else {
        y = Relu(Bn(bns[i], Conv(convs[i], y, t), t), t);
        ++i;
      }
    }
    return Fc(fc, y.flatten(1), t);
  }

 private:
  std::vector<int> cfg_;
  std::vector<nn::Conv2d> convs;
  std::vector<nn::BatchNorm2d> bns;
  nn::Linear fc{nullptr};
};

// ---- LeNet-5 (LeCun et al. 1998; max-pooling, ReLU) ------------------------
class LeNet5 : public ModelImpl {
 public:
  explicit LeNet5(const ModelOptions& o) {
    const int pad = o.input.height < 32 ? (32 - o.input.height) / 2 : 0;  // 28x28 -> padded to 32
    c1 = register_module("conv1", MakeConv(o.input.channels, 6, 5, 1, pad, true));
    c2 = register_module("conv2", MakeConv(6, 16, 5, 1, 0, true));
    const int h = ((o.input.height + 2 * pad - 4) / 2 - 4) / 2, w = ((o.input.width + 2 * pad - 4) / 2 - 4) / 2;
    if (h < 1 || w < 1) throw Error("lenet5 needs inputs of at least 28x28, got " + o.input.ToString());
    f1 = register_module("fc1", nn::Linear(16 * h * w, 120));
    f2 = register_module("fc2", nn::Linear(120, 84));
    f3 = register_module("fc3", nn::Linear(84, o.num_classes));
  }
  at::Tensor Forward(const at::Tensor& x, Trace* t) override {
    at::Tensor y = MaxPool(Relu(Conv(c1, x, t), t), 2, 2, 0, t);
    y = MaxPool(Relu(Conv(c2, y, t), t), 2, 2, 0, t).flatten(1);
    y = Relu(Fc(f1, y, t), t);
    y = Relu(Fc(f2, y, t), t);
    return Fc(f3, y, t);
  }

 private:
  nn::Conv2d c1{nullptr}, c2{nullptr};
  nn::Linear f1{nullptr}, f2{nullptr}, f3{nullptr};
};

// ---- AlexNet for 32x32 inputs (five convs, three pools, 4096-wide head) ----
class AlexNet : public ModelImpl {
 public:
  explicit AlexNet(const ModelOptions& o) {
    const int cfg[5][2] = {{64, 2}, {192, 1}, {384, 1}, {256, 1}, {256, 1}};  // (channels, stride)
    int in = o.input.channels;
    for (int i = 0; i < 5; ++i) {
      convs.push_back(register_module("conv" + std::to_string(i + 1), MakeConv(in, cfg[i][0], 3, cfg[i][1], 1, true)));
      in = cfg[i][0];
    }
    int h = (o.input.height - 1) / 2 + 1, w = (o.input.width - 1) / 2 + 1;
    h /= 8;
    w /= 8;
    if (h < 1 || w < 1) throw Error("alexnet needs inputs of at least 16x16, got " + o.input.ToString());
    f1 = register_module("fc1", nn::Linear(256 * h * w, 4096));
    f2 = register_module("fc2", nn::Linear(4096, 4096));
    f3 = register_module("fc3", nn::Linear(4096, o.num_classes));
  }
  at::Tensor Forward(const at::Tensor& x, Trace* t) override {
    at::Tensor y = MaxPool(Relu(Conv(convs[0], x, t), t), 2, 2, 0, t);
    y = MaxPool(Relu(Conv(convs[1], y, t), t), 2, 2, 0, t);
    y = Relu(Conv(convs[2], y, t), t);
    y = Relu(Conv(convs[3], y, t), t);
    y = MaxPool(Relu(Conv(convs[4], y, t), t), 2, 2, 0, t).flatten(1);
    y = Relu(Fc(f1, Dropout(y, 0.5, is_training(), t), t), t);
    y = Relu(Fc(f2, Dropout(y, 0.5, is_training(), t), t), t);
    return Fc(f3, y, t);
  }

 private:
  std::vector<nn::Conv2d> convs;
  nn::Linear f1{nullptr}, f2{nullptr}, f3{nullptr};
};

// ---- GoogLeNet-style "mynet" ----------------------------------------------
class BasicConv : public nn::Module {
 public:
  BasicConv(int in, int out, int k) {
    conv = register_module("conv", MakeConv(in, out, k, 1, k / 2, false));
    bn = register_module("bn", MakeBn(out, 0.001));
  }
  at::Tensor Forward(const at::Tensor& x, Trace* t) {
    return Container(Relu(Bn(bn, Conv(conv, x, t), t), t), "BasicConv2d", t);
  }

 private:
  nn::Conv2d conv{nullptr};
  nn::BatchNorm2d bn{nullptr};
};

class Inception : public nn::Module {
 public:
  // (in, b1, b2-reduce, b2, b3-reduce, b3, b4)
  Inception(int in, int n1, int r3, int n3, int r5, int n5, int pool) {
    b1 = register_module("b1", std::make_shared<BasicConv>(in, n1, 1));
    b2a = register_module("b2a", std::make_shared<BasicConv>(in, r3, 1));
    b2b = register_module("b2b", std::make_shared<BasicConv>(r3, n3, 3));
    b3a = register_module("b3a", std::make_shared<BasicConv>(in, r5, 1));
    b3b = register_module("b3b", std::make_shared<BasicConv>(r5, n5, 3));  // two 3x3 in place of one 5x5
    b3c = register_module("b3c", std::make_shared<BasicConv>(n5, n5, 3));
    b4 = register_module("b4", std::make_shared<BasicConv>(in, pool, 1));
  }
  at::Tensor Forward(const at::Tensor& x, Trace* t) {
    at::Tensor y1 = b1->Forward(x, t);
    at::Tensor y2 = b2b->Forward(b2a->Forward(x, t), t);
    at::Tensor y3 = b3c->Forward(b3b->Forward(b3a->Forward(x, t), t), t);
    at::Tensor y4 = b4->Forward(MaxPool(x, 3, 1, 1, t), t);
    return Container(torch::cat({y1, y2, y3, y4}, 1), "Inception", t);
  }

 private:
  std::shared_ptr<BasicConv> b1, b2a, b2b, b3a, b3b, b3c, b4;
};

class GoogLeNetMynet : public ModelImpl {
 public:
  explicit GoogLeNetMynet(const ModelOptions& o) {
    stem = register_module("stem_conv", MakeConv(o.input.channels, 192, 3, 1, 1, true));
    stem_bn = register_module("stem_bn", MakeBn(192));
    const int cfg[9][7] = {
        {192, 64, 96, 128, 16, 32, 32},     {256, 128, 128, 192, 32, 96, 64},   {480, 192, 96, 208, 16, 48, 64},
        {512, 160, 112, 224, 24, 64, 64},   {512, 128, 128, 256, 24, 64, 64},   {512, 112, 144, 288, 32, 64, 64},
        {528, 256, 160, 320, 32, 128, 128}, {832, 256, 160, 320, 32, 128, 128}, {832, 384, 192, 384, 48, 128, 128}};
    const char* names[9] = {"3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b"};
    for (int i = 0; i < 9; ++i) {
      const auto& c = cfg[i];
      blocks.push_back(register_module(std::string("inception") + names[i],
                                       std::make_shared<Inception>(c[0], c[1], c[2], c[3], c[4], c[5], c[6])));
    }
    fc = register_module("fc", nn::Linear(1024, o.num_classes));
  }
  at::Tensor Forward(const at::Tensor& x, Trace* t) override {
    at::Tensor y = Relu(Bn(stem_bn, Conv(stem, x, t), t), t);
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      y = blocks[i]->Forward(y, t);
      if (i == 1 || i == 6) y = MaxPool(y, 3, 2, 1, t);  // after 3b and 4e
    }
    y = GlobalAvgPool(y, t).flatten(1);
    return Fc(fc, Dropout(y, 0.2, is_training(), t), t);
  }

 private:
  nn::Conv2d stem{nullptr};
  nn::BatchNorm2d stem_bn{nullptr};
  std::vector<std::shared_ptr<Inception>> blocks;
  nn::Linear fc{nullptr};
};

// ---- DenseNet-BC (Huang et al. 2017), CIFAR stem ---------------------------
class DenseLayer : public nn::Module {
 public:
  DenseLayer(int in, int growth, int bn_size) {
    bn1 = register_module("bn1", MakeBn(in));
    c1 = register_module("conv1", MakeConv(in, bn_size * growth, 1, 1, 0, false));
    bn2 = register_module("bn2", MakeBn(bn_size * growth));
    c2 = register_module("conv2", MakeConv(bn_size * growth, growth, 3, 1, 1, false));
  }
  at::Tensor Forward(const at::Tensor& x, Trace* t) {
    at::Tensor y = Conv(c1, Relu(Bn(bn1, x, t), t), t);
    y = Conv(c2, Relu(Bn(bn2, y, t), t), t);
    return Container(torch::cat({x, y}, 1), "DenseLayer", t);
  }

 private:
  nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
  nn::Conv2d c1{nullptr}, c2{nullptr};
};

class DenseNet : public ModelImpl {
 public:
  DenseNet(const std::vector<int>& blocks, int growth, const ModelOptions& o) {
    int c = 2 * growth;
    stem = register_module("stem_conv", MakeConv(o.input.channels, c, 3, 1, 1, false));
    for (std::size_t b = 0; b < blocks.size(); ++b) {
      std::vector<std::shared_ptr<DenseLayer>> layers;
      for (int i = 0; i < blocks[b]; ++i) {
        layers.push_back(register_module("block" + std::to_string(b + 1) + "_" + std::to_string(i),
                                         std::make_shared<DenseLayer>(c, growth, 4)));
        c += growth;
      }
      layers_.push_back(std::move(layers));
      if (b + 1 < blocks.size()) {
        trans_bn.push_back(register_module("trans" + std::to_string(b + 1) + "_bn", MakeBn(c)));
        trans_conv.push_back(
            register_module("trans" + std::to_string(b + 1) + "_conv", MakeConv(c, c / 2, 1, 1, 0, false)));
        c /= 2;
      }
    }
    final_bn = register_module("final_bn", MakeBn(c));
    fc = register_module("fc", nn::Linear(c, o.num_classes));
  }
  at::Tensor Forward(const at::Tensor& x, Trace* t) override {
    at::Tensor y = Conv(stem, x, t);
    for (std::size_t b = 0; b < layers_.size(); ++b) {
      for (auto& l : layers_[b]) y = l->Forward(y, t);
      if (b < trans_bn.size()) y = AvgPool(Conv(trans_conv[b], Relu(Bn(trans_bn[b], y, t), t), t), 2, t);
    }
    y = GlobalAvgPool(Relu(Bn(final_bn, y, t), t), t).flatten(1);
    return Fc(fc, y, t);
  }

 private:
  nn::Conv2d stem{nullptr};
  std::vector<std::vector<std::shared_ptr<DenseLayer>>> layers_;
  std::vector<nn::BatchNorm2d> trans_bn;
  std::vector<nn::Conv2d> trans_conv;
  nn::BatchNorm2d final_bn{nullptr};
  nn::Linear fc{nullptr};
};

using Factory = std::function<ModelPtr(const ModelOptions&)>;

ResNetSpec Spec(bool bottleneck, std::vector<int> depths, std::vector<int> widths, int stem) {
  ResNetSpec s;
  s.bottleneck = bottleneck;
  s.depths = std::move(depths);
  s.widths = std::move(widths);
  s.stem_width = stem;
  return s;
}

const std::map<std::string, Factory>& Registry() {
  static const std::map<std::string, Factory> kModels = [] {
    std::map<std::string, Factory> m;
    auto resnet = [](const ResNetSpec& s) {
      return [s](const ModelOptions& o) -> ModelPtr { return std::make_shared<ResNet>(s, o); };
    };
    const std::vector<int> w4 = {64, 128, 256, 512};
    m["resnet18-cifar"] = resnet(Spec(false, {2, 2, 2, 2}, w4, 64));
    m["resnet34-cifar"] = resnet(Spec(false, {3, 4, 6, 3}, w4, 64));
    m["resnet50-cifar"] = resnet(Spec(true, {3, 4, 6, 3}, w4, 64));
    ResNetSpec tiny = Spec(false, {2, 2, 2, 2}, w4, 64);
    tiny.stem_maxpool = true;
    tiny.first_stride = 2;
    m["resnet18-tiny200"] = resnet(tiny);
    ResNetSpec lite = Spec(false, {1, 1, 1}, {16, 32, 64}, 16);
    m["resnet-lite"] = resnet(lite);
    m["resnet-improved"] = resnet(Spec(false, {1, 1, 1, 1}, w4, 64));
    auto vgg = [](const std::vector<int>& cfg) {
      return [cfg](const ModelOptions& o) -> ModelPtr { return std::make_shared<Vgg>(cfg, o); };
    };
    m["vgg11"] = vgg({64, -1, 128, -1, 256, 256, -1, 512, 512, -1, 512, 512, -1});
    m["vgg16"] = vgg({64, 64, -1, 128, 128, -1, 256, 256, 256, -1, 512, 512, 512, -1, 512, 512, 512, -1});
    m["vgg19"] =
        vgg({64, 64, -1, 128, 128, -1, 256, 256, 256, 256, -1, 512, 512, 512, 512, -1, 512, 512, 512, 512, -1});
    m["lenet5"] = [](const ModelOptions& o) -> ModelPtr { return std::make_shared<LeNet5>(o); };
    m["alexnet"] = [](const ModelOptions& o) -> ModelPtr { return std::make_shared<AlexNet>(o); };
    m["googlenet-mynet"] = [](const ModelOptions& o) -> ModelPtr { return std::make_shared<GoogLeNetMynet>(o); };
    m["densenet121"] = [](const ModelOptions& o) -> ModelPtr {
      return std::make_shared<DenseNet>(std::vector<int>{6, 12, 24, 16}, 32, o);
    };
    return m;
  }();
  return kModels;
}

}  // namespace

std::vector<std::string> ModelNames() {
  std::vector<std::string> names;
  for (const auto& [n, _] : Registry()) names.push_back(n);
  return names;
}

InputShape DefaultInput(const std::string& name) {
  if (name == "resnet18-tiny200") return InputShape{3, 64, 64};
  return InputShape{3, 32, 32};
}

void RequireModel(const std::string& name) {
  const auto& reg = Registry();
  if (reg.count(name)) return;
  std::string known;
  for (const auto& [n, _] : reg) known += (known.empty() ? "" : ", ") + n;
  throw Error("unknown model '" + name + "' (known: " + known + ")");
}

ModelPtr CreateModel(const std::string& name, const ModelOptions& opts) {
  opts.Validate();
  RequireModel(name);
  return Registry().at(name)(opts);
}

}  // namespace scenelab::cnn

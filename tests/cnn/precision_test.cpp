// Mixed precision: autocast is on inside a bf16 step (a convolution's output
// is bfloat16) while parameters, gradients and the loss stay float32; off in
// fp32; `auto` follows the CPU probe, which SCENELAB_CPU overrides so that
// ctest takes both branches on any machine; a bf16 run resumes and its
// checkpoint evaluates in fp32.
#include <gtest/gtest.h>

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>

#include "expect_error.h"
#include "fixtures.h"
#include "precision.h"
#include "scenelab/cnn/trainer.h"
#include "scenelab/data/cpu.h"

using namespace scenelab;
using scenelab::fixtures::TempDir;

TEST(Cnn_Precision, AutocastMakesConvolutionsBf16AndKeepsParametersAndGradientsFp32) {
  torch::manual_seed(1);
  torch::nn::Sequential net(torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 4, 3)), torch::nn::Flatten(),
                            torch::nn::Linear(4 * 6 * 6, 3));
  const auto x = torch::randn({2, 1, 8, 8});
  const auto y = torch::tensor({0, 2}, torch::kInt64);
  for (bool bf16 : {false, true}) {
    net->zero_grad();
    at::Tensor conv_out, logits;
    {
      cnn::AutocastGuard autocast(bf16);
      conv_out = net[0]->as<torch::nn::Conv2d>()->forward(x);
      logits = net->forward(x);
    }
    EXPECT_EQ(conv_out.scalar_type(), bf16 ? torch::kBFloat16 : torch::kFloat32) << "bf16 " << bf16;
    const auto loss = torch::nn::functional::cross_entropy(logits.to(torch::kFloat32), y);
    EXPECT_EQ(loss.scalar_type(), torch::kFloat32);
    loss.backward();
    for (const auto& p : net->parameters()) {
      EXPECT_EQ(p.scalar_type(), torch::kFloat32);
      ASSERT_TRUE(p.grad().defined());
      EXPECT_EQ(p.grad().scalar_type(), torch::kFloat32);
    }
  }
  // The guard restores the previous state: off again outside.
  EXPECT_FALSE(at::autocast::is_cpu_enabled());
}

// ctest runs this with SCENELAB_CPU set to hide and to add the bf16 flags
// (SCENELAB_EXPECT_PRECISION says what `auto` must then pick).
TEST(Cnn_Precision, AutoFollowsTheCpuProbe) {
  const auto c = cnn::ResolvePrecision(cnn::PrecisionMode::kAuto);
  const bool has = CpuFlag("amx_bf16") || CpuFlag("avx512_bf16");
  EXPECT_EQ(c.name, has ? "bf16" : "fp32") << c.reason;
  EXPECT_FALSE(c.emulated);
  EXPECT_NE(c.reason.find("avx512_bf16"), std::string::npos);
  if (const char* want = std::getenv("SCENELAB_EXPECT_PRECISION")) {
    EXPECT_EQ(c.name, want) << c.reason;
  }
  EXPECT_EQ(cnn::ResolvePrecision(cnn::PrecisionMode::kFp32).name, "fp32");
  EXPECT_EQ(cnn::ResolvePrecision(cnn::PrecisionMode::kBf16).emulated, !has);
}

TEST(Cnn_Precision, Bf16RunResumesAndItsCheckpointEvaluatesInFp32) {
  TempDir dir;
  std::vector<data::Sample> tr, te;
  for (int i = 0; i < 60; ++i)
    tr.push_back({i % 3, "mem#" + std::to_string(i), fixtures::ClassImage(i % 3, i, 16, 16)});
  for (int i = 0; i < 15; ++i)
    te.push_back({i % 3, "t#" + std::to_string(i), fixtures::ClassImage(i % 3, 500 + i, 16, 16)});
  const data::Dataset train({"a", "b", "c"}, tr), test({"a", "b", "c"}, te);
  cnn::TrainConfig cfg;
  cfg.model = "resnet-lite";
  cfg.epochs = 2;
  cfg.batch_size = 16;
  cfg.threads = 1;
  cfg.val_fraction = 0.2;
  cfg.precision = cnn::PrecisionMode::kBf16;
  const auto first = cnn::Train(cfg, train, test, dir.path().string(), false, nullptr);
  EXPECT_EQ(first.precision, "bf16");
  cfg.epochs = 3;
  const auto resumed = cnn::Train(cfg, train, test, dir.path().string(), true, nullptr);
  EXPECT_EQ(resumed.resumed_from_epoch, 2);
  ASSERT_EQ(resumed.history.size(), 3u);
  const auto fp32 = cnn::EvaluateCheckpoint(dir.path().string(), test, nullptr, cnn::PrecisionMode::kFp32);
  EXPECT_EQ(fp32.precision, "fp32");
  ASSERT_EQ(fp32.test_predicted.size(), 15u);
  const auto same = cnn::EvaluateCheckpoint(dir.path().string(), test, nullptr);  // the run's own precision
  EXPECT_EQ(same.precision, "bf16");
  EXPECT_EQ(same.test_predicted, resumed.test_predicted);
  // bf16 and fp32 evaluations of one fp32 checkpoint agree on almost every image.
  int agree = 0;
  for (std::size_t i = 0; i < 15; ++i) agree += fp32.test_predicted[i] == same.test_predicted[i];
  EXPECT_GE(agree, 13);
  EXPECT_MESSAGE(cnn::PrecisionModeNames().Parse("fp16"), "unknown value 'fp16' (expected fp32, bf16 or auto)");
}

#pragma once
// Mixed precision for CNN training and evaluation on the CPU's bf16 units.
//
// bf16 runs the forward pass under LibTorch's CPU autocast (convolutions and
// matrix products in bfloat16); parameters, gradients, the optimizer state,
// the loss and BatchNorm's statistics stay float32, and checkpoints are
// float32, so a bf16 run resumes and its checkpoints evaluate in fp32.
// `auto` picks bf16 when the CPU reports amx_bf16 or avx512_bf16, decided
// at run time from /proc/cpuinfo (SCENELAB_CPU can hide or add flags).
#include <string>

#include "scenelab/cnn/trainer.h"

namespace scenelab::cnn {

enum class Precision { kFp32, kBf16 };

struct PrecisionChoice {
  Precision precision = Precision::kFp32;
  std::string name;       // "fp32" | "bf16"
  std::string reason;     // why: the request, and the CPU flags that decided it
  bool emulated = false;  // bf16 asked for on a CPU without bf16 units: runs, slowly
};

PrecisionChoice ResolvePrecision(PrecisionMode requested);

// Autocast on (bf16) or explicitly off for the current thread while alive;
// restores the previous state.
class AutocastGuard {
 public:
  explicit AutocastGuard(bool bf16);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool was_enabled_;
  int dtype_;  // previous at::ScalarType, as int to keep ATen out of this header
};

}  // namespace scenelab::cnn

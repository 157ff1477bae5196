#include "precision.h"

#include <ATen/autocast_mode.h>

#include "scenelab/data/cpu.h"

namespace scenelab::cnn {

PrecisionChoice ResolvePrecision(PrecisionMode requested) {
  const bool amx = CpuFlag("amx_bf16"), avx512 = CpuFlag("avx512_bf16");
  const std::string flags =
      std::string("amx_bf16 ") + (amx ? "yes" : "no") + ", avx512_bf16 " + (avx512 ? "yes" : "no");
  PrecisionChoice c;
  if (requested == PrecisionMode::kBf16 || (requested == PrecisionMode::kAuto && (amx || avx512))) {
    c.precision = Precision::kBf16;
    c.name = "bf16";
    c.emulated = !amx && !avx512;
  } else {
    c.name = "fp32";
  }
  c.reason = "--precision " + PrecisionModeNames().Show(requested) + "; CPU " + flags;
  return c;
}

AutocastGuard::AutocastGuard(bool bf16)
    : was_enabled_(at::autocast::is_cpu_enabled()), dtype_(static_cast<int>(at::autocast::get_autocast_cpu_dtype())) {
  at::autocast::set_cpu_enabled(bf16);
  if (bf16) at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
  at::autocast::increment_nesting();
}

AutocastGuard::~AutocastGuard() {
  // The cast cache lives as long as the outermost autocast region, as in PyTorch.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  at::autocast::set_cpu_enabled(was_enabled_);
  at::autocast::set_autocast_cpu_dtype(static_cast<at::ScalarType>(dtype_));
}

}  // namespace scenelab::cnn

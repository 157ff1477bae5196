#include "scenelab/data/cpu.h"

#include <algorithm>
#include <cstdlib>

#include "scenelab/data/error.h"

namespace scenelab {

const char* ToString(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return "scalar";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
    case Isa::kVnni: return "vnni";
  }
  return "scalar";
}

Isa ParseIsa(const std::string& s) {
  for (Isa i : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kVnni}) {
    if (s == ToString(i)) return i;
  }
  throw Error("SCENELAB_ISA: unknown value '" + s + "' (expected scalar, avx2, avx512 or vnni)");
}

namespace {
Isa DetectCpu() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
  if (avx512 && __builtin_cpu_supports("avx512vnni")) return Isa::kVnni;
  if (avx512) return Isa::kAvx512;
  if (__builtin_cpu_supports("avx2")) return Isa::kAvx2;
#endif
  return Isa::kScalar;
}

Isa ReadRequest() {
  const char* env = std::getenv("SCENELAB_ISA");
  return env && *env ? ParseIsa(env) : CpuIsa();
}
}  // namespace

Isa CpuIsa() {
  static const Isa isa = DetectCpu();
  return isa;
}

Isa RequestedIsa() {
  static const Isa isa = ReadRequest();
  return isa;
}

Isa ActiveIsa() {
  static const Isa isa = std::min(CpuIsa(), RequestedIsa());
  return isa;
}

}  // namespace scenelab

#include "scenelab/data/cpu.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "scenelab/data/error.h"

namespace scenelab {

const char* ToString(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return "scalar";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
    case Isa::kVnni:
      return "vnni";
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

namespace {
std::set<std::string> ReadFlags() {
  std::set<std::string> flags;
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    std::string w;
    while (words >> w) flags.insert(w);
    break;  // every core lists the same flags
  }
  if (const char* env = std::getenv("SCENELAB_CPU")) {
    std::istringstream items(env);
    std::string item;
    while (std::getline(items, item, ',')) {
      if (item.rfind("no", 0) == 0)
        flags.erase(item.substr(2));
      else if (!item.empty())
        flags.insert(item);
    }
  }
  return flags;
}
}  // namespace

bool CpuFlag(const std::string& flag) {
  static const std::set<std::string> flags = ReadFlags();
  return flags.count(flag) > 0;
}

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

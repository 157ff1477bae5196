#include "scenelab/data/cpu.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "scenelab/data/error.h"
#include "scenelab/data/tiles.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#endif
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

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
    case Isa::kAmx:
      return "amx";
  }
  return "scalar";
}

Isa ParseIsa(const std::string& s) {
  for (Isa i : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kVnni, Isa::kAmx}) {
    if (s == ToString(i)) return i;
  }
  throw Error("SCENELAB_ISA: unknown value '" + s + "' (expected scalar, avx2, avx512, vnni or amx)");
}

namespace {
#if defined(__x86_64__) && defined(__GNUC__)
// AMX int8 is usable when the CPU has the tiles (CPUID 7.0 EDX bits 24, 25),
// the OS saves their state (XCR0 bits 17, 18) and Linux grants this process
// the tile data (RequestTileState).
bool AmxInt8Usable() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  if (!((d >> 24) & 1u) || !((d >> 25) & 1u)) return false;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !((c >> 27) & 1u)) return false;  // OSXSAVE, so xgetbv may run
  unsigned lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  if (((lo >> 17) & 3u) != 3u) return false;
  return RequestTileState().empty();
}
#endif

Isa DetectCpu() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
  if (avx512 && __builtin_cpu_supports("avx512vnni")) {
    if (!AmxInt8Usable()) return Isa::kVnni;
    tiles::AmxTiles tl;
    if (tiles::ProductsAgree(tl)) return Isa::kAmx;
    std::fputs(
        "scenelab: warning: the AMX int8 tiles failed the start-up check of their products "
        "(tiles::ProductsAgree); using AVX-512 VNNI instead\n",
        stderr);
    return Isa::kVnni;
  }
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

bool tiles::ModelRequested() {
  static const bool model = [] {
    const char* env = std::getenv("SCENELAB_TILE_MODEL");
    return env != nullptr && std::string(env) == "1";
  }();
  return model;
}

std::string RequestTileState() {
#if defined(__linux__) && defined(__x86_64__)
  constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0) return "";
  return std::string("arch_prctl: ") + std::strerror(errno);
#else
  return "not Linux on x86-64";
#endif
}

}  // namespace scenelab

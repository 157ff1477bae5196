#pragma once
// The instruction-set levels scenelab's kernels dispatch over at run time
// (never at build time: one binary runs on every x86-64 machine).
//
//   scalar   baseline x86-64 (SSE2)
//   avx2     AVX2
//   avx512   AVX-512 F + BW
//   vnni     AVX-512 F + BW + VNNI
//   amx      vnni + AMX-TILE + AMX-INT8, with the tile state enabled by the OS
//            and the process's permission to use it granted (Linux asks
//            each process to request it: arch_prctl ARCH_REQ_XCOMP_PERM),
//            and the tiles' products checked once against plain arithmetic
//            (tiles::ProductsAgree; on a mismatch: vnni, with a warning)
//
// SCENELAB_ISA=scalar|avx2|avx512|vnni|amx caps the dispatch for the whole
// process (read once, at the first kernel call), so that every path can be
// exercised on a machine whose best path would hide the others; the tests run
// each kernel suite once per level. A cap above what the CPU has changes nothing.
#include <string>

namespace scenelab {

enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512 = 2, kVnni = 3, kAmx = 4 };

const char* ToString(Isa isa);
Isa ParseIsa(const std::string& s);  // scalar | avx2 | avx512 | vnni | amx; throws Error naming the value

// The highest level this CPU supports.
Isa CpuIsa();
// The level SCENELAB_ISA asks for, or CpuIsa() when unset. Throws Error when
// the variable holds an unknown value.
Isa RequestedIsa();
// What the kernels use: min(CpuIsa(), RequestedIsa()), fixed for the process.
Isa ActiveIsa();

// A flag of /proc/cpuinfo's "flags" line (e.g. "avx512_bf16", "amx_bf16"),
// after SCENELAB_CPU: a comma-separated list where "noX" removes flag X and
// "X" adds it (read once), so that tests can take both branches of a
// decision that depends on the CPU on any machine.
bool CpuFlag(const std::string& flag);

// Asks Linux for this process's AMX tile data (arch_prctl
// ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA = 18), which every process must
// request before its first tile instruction: "" when granted, otherwise why
// not ("arch_prctl: " and the errno text, or "not Linux on x86-64").
std::string RequestTileState();

}  // namespace scenelab

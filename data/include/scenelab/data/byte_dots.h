#pragma once
// vpdpbusd written as the one instruction, for the AVX-512 VNNI byte kernels
// of features/ (word assignment) and classify/ (exact L2). GCC 12 compiles
// _mm512_dpbusd_epi32 on an array of accumulators with two register copies
// per product; on a CPU that issues two vpdpbusd per cycle (AMD Zen 5) the
// copies, not the products, bound the kernels (docs/BENCHMARKS.md,
// "Kernels: GCC's register copies").

namespace scenelab::byte_dots {

#if defined(__x86_64__) && defined(__GNUC__)
// acc + x (unsigned bytes) . w (signed bytes), four bytes per 32-bit lane,
// as _mm512_dpbusd_epi32(acc, x, w); V is __m512i. Taken and returned by
// value: GCC keeps an array of accumulators in registers only so. Call it
// only where the CPU has AVX-512 VNNI.
template <class V>
__attribute__((target("avx512f,avx512vnni"))) inline V Accumulate(V acc, V x, V w) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(x), "v"(w));
  return acc;
}
#endif

}  // namespace scenelab::byte_dots

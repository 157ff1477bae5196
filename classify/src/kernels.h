#pragma once
// Distance kernels for exact kNN. Each computes one query against a block
// of training rows. Each is compiled for AVX-512, AVX2 and baseline x86-64,
// and the first call picks one by ActiveIsa() (scenelab/data/cpu.h): the CPU's
// best, capped by SCENELAB_ISA, so the binary never executes an instruction
// the CPU lacks and the tests can run every path. The float kernels sum in 16
// fixed lanes, so every path returns the same bits.
#include <cstddef>
#include <cstdint>

namespace scenelab::classify::kernels {

// out[j] = sum_d |q[d] - t[j*dim + d]| for j in [0, n)
void L1Block(const float* q, const float* t, std::size_t n, std::size_t dim, float* out);
// out[j] = sum_d (q-t)^2 / (q+t), terms with q+t <= 0 skipped
void Chi2Block(const float* q, const float* t, std::size_t n, std::size_t dim, float* out);
// The instruction set L1Block and Chi2Block use: "avx512", "avx2" or "scalar".
const char* FloatBlockIsa();

// L1 on 8-bit data (raw pixels): rows of `stride` bytes, stride a multiple of
// kByteRowAlign and zero-padded. out[j] = scale * sum_d |q[d] - t[j*stride + d]|,
// the integer sum exact. Runs on AVX-512BW (vpsadbw, 64 bytes per instruction)
// or AVX2 when the CPU has them (checked at run time), else scalar code.
constexpr std::size_t kByteRowAlign = 64;
void L1BlockU8(const std::uint8_t* q, const std::uint8_t* t, std::size_t n, std::size_t stride, float scale, float* out);
// The instruction set L1BlockU8 uses on this CPU: "avx512bw", "avx2" or "scalar".
const char* L1BlockU8Isa();

}  // namespace scenelab::classify::kernels

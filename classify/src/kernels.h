#pragma once
// Distance kernels for exact kNN. Each computes one query against a block
// of training rows. Compiled for AVX-512, AVX2 and baseline x86-64 with
// GCC's target_clones: the loader picks the best one for the CPU it runs
// on, so the binary never executes an instruction the CPU lacks.
#include <cstddef>
#include <cstdint>

namespace scenelab::classify::kernels {

// out[j] = sum_d |q[d] - t[j*dim + d]| for j in [0, n)
void L1Block(const float* q, const float* t, std::size_t n, std::size_t dim, float* out);
// out[j] = sum_d (q-t)^2 / (q+t), terms with q+t <= 0 skipped
void Chi2Block(const float* q, const float* t, std::size_t n, std::size_t dim, float* out);

// L1 on 8-bit data (raw pixels): rows of `stride` bytes, stride a multiple of
// kByteRowAlign and zero-padded. out[j] = scale * sum_d |q[d] - t[j*stride + d]|,
// the integer sum exact. Runs on AVX-512BW (vpsadbw, 64 bytes per instruction)
// or AVX2 when the CPU has them (checked at run time), else scalar code.
constexpr std::size_t kByteRowAlign = 64;
void L1BlockU8(const std::uint8_t* q, const std::uint8_t* t, std::size_t n, std::size_t stride, float scale, float* out);
// The instruction set L1BlockU8 uses on this CPU: "avx512bw", "avx2" or "scalar".
const char* L1BlockU8Isa();

}  // namespace scenelab::classify::kernels

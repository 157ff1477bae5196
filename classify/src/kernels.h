#pragma once
// Distance kernels for exact kNN. Each computes one query against a block
// of training rows. Compiled for AVX-512, AVX2 and baseline x86-64 with
// GCC's target_clones: the loader picks the best one for the CPU it runs
// on, so the binary never executes an instruction the CPU lacks.
#include <cstddef>

namespace scenelab::classify::kernels {

// out[j] = sum_d |q[d] - t[j*dim + d]| for j in [0, n)
void L1Block(const float* q, const float* t, std::size_t n, std::size_t dim, float* out);
// out[j] = sum_d (q-t)^2 / (q+t), terms with q+t <= 0 skipped
void Chi2Block(const float* q, const float* t, std::size_t n, std::size_t dim, float* out);

}  // namespace scenelab::classify::kernels

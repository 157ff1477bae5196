#pragma once
// Lloyd's algorithm behind VocabularyBuilder's gemm k-means.
#include <cstdint>

#include "scenelab/features/types.h"

namespace scenelab::features {
class Collective;
}

namespace scenelab::features::detail {

// Rows that are all integers in [0, 255] (SIFT samples), as bytes; empty otherwise.
ByteMatrix AsBytes(const Matrix& x);

// Lloyd iterations from `centers` on this process's share `x` of the sample
// (contiguous, starting at global row `offset`), summed over `comm`. Returns
// the number of assignment steps and sets *energy. Stops when no assignment
// changes or when an iteration lowers the energy by less than
// `min_energy_variation` of itself, as vl_kmeans. The result does not
// depend on `threads` nor on how the sample is split.
//
// Byte samples on a CPU with AVX-512 VNNI take the exact 8-bit assignment
// (byte_words.h) and, with `bounds`, Hamerly's bounds: a row whose nearest
// centre is provably unchanged, by a margin wider than the float rounding
// of the distances, is not reassigned. The centres are bit-identical with
// and without the bounds (`bounds` = false exists for that test).
// *reassigned (if given) = this process's rows put through the full
// assignment, summed over the iterations. `x_bytes`: AsBytes(x), when the
// caller has it already (the k-means++ seeding converts the same sample).
int Lloyd(const Matrix& x, std::int64_t offset, Matrix* centers, int max_iterations, double min_energy_variation,
          int threads, const Collective& comm, double* energy, bool bounds = true, std::int64_t* reassigned = nullptr,
          const ByteMatrix* x_bytes = nullptr);

// Whether rows of `dim` bytes take Lloyd's 8-bit path on this CPU (VNNI,
// and the width the byte kernel handles).
bool BytePathFits(Eigen::Index dim);

// Lloyd's byte path on the byte sample alone (no float copy of it): the
// same iterations and centres as Lloyd() of the sample as floats. Needs
// BytePathFits(x.cols()).
int LloydBytes(const ByteMatrix& x, std::int64_t offset, Matrix* centers, int max_iterations,
               double min_energy_variation, int threads, const Collective& comm, double* energy, bool bounds = true,
               std::int64_t* reassigned = nullptr);

}  // namespace scenelab::features::detail

#pragma once
// Exact nearest-word assignment of byte descriptors in 8-bit integer
// arithmetic (AVX-512 VNNI, or AMX int8 tiles where the CPU has them),
// several times faster than the float GEMM.
//
// Words are rounded to integers for a first pass: with |c - round(c)| <= 1/2,
// the approximate squared distance of a descriptor x differs from the true one
// by at most |x|_1. The words within 2 |x|_1 of the approximate best are
// refined with their rounding residuals in steps of 1/254 (another 8-bit dot
// each, now within |x|_1 / 254), and those still within reach of the best are
// rescored in float in a fixed lane order (ties to the lower index). Where the
// nearest word leads the next by more than float rounding, it is the word the
// float GEMM and exact arithmetic find; closer calls are float's to make, as
// between any two GEMMs (tests/features: ByteAssignment*).
#include <cstdint>
#include <vector>

#include "scenelab/features/types.h"

namespace scenelab::features::detail {

class ByteWords {
 public:
  // True when this CPU runs the VNNI kernel.
  static bool Supported();
  // Packs the words; usable() is false when the CPU lacks VNNI, the
  // dimension is not a multiple of 4, or a word leaves the byte range.
  ByteWords(const Matrix& centers, const Eigen::VectorXf& norms);
  bool usable() const { return usable_; }
  // out[i] = nearest word of row i of x.
  void Assign(const ByteMatrix& x, int* out) const;
  // The same for n contiguous rows of dim() bytes.
  void AssignRows(const std::uint8_t* rows, Eigen::Index n, int* out) const;
  // out[i] = nearest word of row index[i] of `rows`, for i < n. When
  // `others` is given, others[i] is a lower bound on the squared distance
  // from that row to every word but out[i] (the smallest of: the other
  // rescored candidates' float distances, the dropped candidates' refined
  // estimates and the other words' integer estimates, each less its error
  // bound): k-means' Hamerly bounds start from it.
  void AssignIndexed(const std::uint8_t* rows, const Eigen::Index* index, Eigen::Index n, int* out,
                     double* others) const;
  int dim() const { return dim_; }
  // "amx", "amx-model" (the tiles' software model) or "vnni": the kernel of
  // the first estimates. Every path computes the same integers.
  const char* path() const { return tiles_ ? (model_ ? "amx-model" : "amx") : "vnni"; }
  // A bound, several times over, on the float error of the distances
  // |c|^2 - 2 x.c that Assign compares, for a row with |x|^2 = xsq: rows
  // whose nearest word is closer than all others by more than twice this
  // get that word from Assign, whatever the rounding.
  double Tolerance(double xsq) const { return 1e-4 * (xsq + max_norm_) + 1.0; }

 private:
  bool usable_ = false;
  bool tiles_ = false;                    // first estimates on AMX tiles (32 rows x 32 words a step)
  bool model_ = false;                    // ... on their software model
  int words_ = 0, dim_ = 0, groups_ = 0;  // groups of 16 words
  int chunks_ = 0;                        // dim / 4, rounded up to 16 (a 64-byte tile column) for tiles
  std::vector<std::int8_t> packed_;       // [group][chunks_][16 words][4 bytes]: a group's 16 chunks are a B tile
  std::vector<std::int8_t> residual_;     // [word][residual_stride_]: round(254 (c - round(c))), zero-padded
  int residual_stride_ = 0;               // dim rounded up to 64 bytes
  std::vector<float> norms_;              // |c|^2, padded words +inf
  float max_norm_ = 0;                    // the largest |c|^2
  int zero_word_ = 0;                     // nearest word of an all-zero row
  double zero_others_ = 0;                // the second smallest |c|^2, for an all-zero row
  Matrix centers_;                        // float words, for the exact rescoring
};

}  // namespace scenelab::features::detail

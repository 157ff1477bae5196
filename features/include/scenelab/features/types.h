#pragma once
// Matrix conventions: one sample (or descriptor) per row, row-major, float.
#include <cstdint>
#include <string>

#include <Eigen/Core>

namespace scenelab::features {

using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
// SIFT descriptors are stored as bytes, min(512 * d, 255) as VLFeat's MATLAB
// vl_dsift returns them: a quarter of the memory of floats.
using ByteMatrix = Eigen::Matrix<std::uint8_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

enum class Norm { kNone, kL1, kL2 };
Norm ParseNorm(const std::string& s);  // "none" | "l1" | "l2"
std::string ToString(Norm n);

// The one spatial-cell convention of every encoder (bag-of-words grids and
// pyramids, Fisher vectors, VLAD), VLFeat's PHOW recipe: it bins 1-based
// frame centres with vl_binsearch over linspace(1, extent, cells + 1), which
// in 0-based pixels is floor(x * cells / (extent - 1)), clamped to
// [0, cells), so a frame on the last pixel falls into the last cell.
int SpatialCell(float x, int extent, int cells);

}  // namespace scenelab::features

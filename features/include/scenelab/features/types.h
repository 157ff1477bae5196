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

}  // namespace scenelab::features

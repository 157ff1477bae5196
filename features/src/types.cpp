#include "scenelab/features/types.h"

#include <algorithm>

#include "scenelab/data/error.h"

namespace scenelab::features {

Norm ParseNorm(const std::string& s) {
  if (s == "none") return Norm::kNone;
  if (s == "l1" || s == "L1") return Norm::kL1;
  if (s == "l2" || s == "L2") return Norm::kL2;
  throw Error("norm: unknown value '" + s + "' (expected none, l1 or l2)");
}

std::string ToString(Norm n) {
  switch (n) {
    case Norm::kNone:
      return "none";
    case Norm::kL1:
      return "l1";
    case Norm::kL2:
      return "l2";
  }
  return "?";
}

int SpatialCell(float x, int extent, int cells) {
  const int c = static_cast<int>(x * static_cast<float>(cells) / static_cast<float>(std::max(1, extent - 1)));
  return std::clamp(c, 0, cells - 1);
}

}  // namespace scenelab::features

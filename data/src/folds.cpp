#include "scenelab/data/folds.h"

#include <cmath>

#include "scenelab/data/error.h"
#include "scenelab/data/rng.h"

namespace scenelab {

std::vector<int> StratifiedFolds(const std::vector<int>& labels, int num_classes, int folds, std::uint64_t seed,
                                 const std::vector<std::string>& class_names) {
  if (folds < 2) throw Error("cross-validation folds must be >= 2, got " + std::to_string(folds));
  std::vector<std::vector<std::size_t>> by_class(static_cast<std::size_t>(num_classes));
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0 || labels[i] >= num_classes) {
      throw Error("cross-validation: label " + std::to_string(labels[i]) + " of sample " + std::to_string(i) +
                  " is outside [0, " + std::to_string(num_classes) + ")");
    }
    by_class[static_cast<std::size_t>(labels[i])].push_back(i);
  }
  std::vector<int> fold(labels.size(), 0);
  Rng rng(seed);
  for (int c = 0; c < num_classes; ++c) {
    auto& idx = by_class[static_cast<std::size_t>(c)];
    if (!idx.empty() && idx.size() < static_cast<std::size_t>(folds)) {
      const std::string name = static_cast<std::size_t>(c) < class_names.size()
                                   ? "'" + class_names[static_cast<std::size_t>(c)] + "'"
                                   : std::to_string(c);
      throw Error("cross-validation: " + std::to_string(folds) + " folds but class " + name + " has only " +
                  std::to_string(idx.size()) + " training images (lower --cv-folds or use more images)");
    }
    rng.Shuffle(idx);
    for (std::size_t j = 0; j < idx.size(); ++j) fold[idx[j]] = static_cast<int>(j % static_cast<std::size_t>(folds));
  }
  return fold;
}

std::ptrdiff_t FirstArgMax(const std::vector<double>& values) {
  std::ptrdiff_t best = -1;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (std::isnan(values[i])) continue;
    if (best < 0 || values[i] > values[static_cast<std::size_t>(best)]) best = static_cast<std::ptrdiff_t>(i);
  }
  return best;
}

}  // namespace scenelab

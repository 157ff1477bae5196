#pragma once
// One fold of a cross-validation, shared by every classifier's selection
// (kNN's k and metric, the SVM's C): the rows of fold `f` held out, the
// others for training, both in row order. Folds come from StratifiedFolds
// (scenelab/data/folds.h).
#include <vector>

#include "scenelab/features/types.h"

namespace scenelab::classify {

struct FoldSplit {
  features::Matrix train, held_out;
  std::vector<int> train_labels, held_out_labels;
};

FoldSplit SplitFold(const features::Matrix& x, const std::vector<int>& labels, const std::vector<int>& fold, int f);

}  // namespace scenelab::classify

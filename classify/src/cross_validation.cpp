#include "scenelab/classify/cross_validation.h"

#include "scenelab/data/error.h"

namespace scenelab::classify {

FoldSplit SplitFold(const features::Matrix& x, const std::vector<int>& labels, const std::vector<int>& fold, int f) {
  if (labels.size() != static_cast<std::size_t>(x.rows()) || fold.size() != labels.size()) {
    throw Error("SplitFold: " + std::to_string(x.rows()) + " rows, " + std::to_string(labels.size()) + " labels and " +
                std::to_string(fold.size()) + " fold entries must agree");
  }
  std::vector<Eigen::Index> tr, va;
  for (std::size_t i = 0; i < fold.size(); ++i) (fold[i] == f ? va : tr).push_back(static_cast<Eigen::Index>(i));
  FoldSplit s;
  s.train.resize(static_cast<Eigen::Index>(tr.size()), x.cols());
  s.held_out.resize(static_cast<Eigen::Index>(va.size()), x.cols());
  for (std::size_t i = 0; i < tr.size(); ++i) {
    s.train.row(static_cast<Eigen::Index>(i)) = x.row(tr[i]);
    s.train_labels.push_back(labels[static_cast<std::size_t>(tr[i])]);
  }
  for (std::size_t i = 0; i < va.size(); ++i) {
    s.held_out.row(static_cast<Eigen::Index>(i)) = x.row(va[i]);
    s.held_out_labels.push_back(labels[static_cast<std::size_t>(va[i])]);
  }
  return s;
}

}  // namespace scenelab::classify

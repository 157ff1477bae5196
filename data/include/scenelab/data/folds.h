#pragma once
// Seeded stratified k-fold assignment, shared by every cross-validation in
// scenelab (kNN and sweep selection, the SVM's C): each class's samples, in
// a seeded order, are dealt to the folds round robin, so fold sizes per
// class differ by at most one and the same seed gives the same folds.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace scenelab {

// fold[i] in [0, folds) for labels[i] in [0, num_classes). Throws when
// folds < 2 or a class has fewer samples than folds (naming the class, from
// `class_names` when given, and its count).
std::vector<int> StratifiedFolds(const std::vector<int>& labels, int num_classes, int folds, std::uint64_t seed,
                                 const std::vector<std::string>& class_names = {});

// The one best-point scan of every selection over a grid (k x metric, sweep
// points, the SVM's C): the index of the first largest value, so ties go to
// the grid's order and never to chance. NaN entries (no value) are skipped;
// -1 when none is left.
std::ptrdiff_t FirstArgMax(const std::vector<double>& values);

}  // namespace scenelab

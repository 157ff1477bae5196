// Exact kNN on raw Fashion-MNIST pixels (60,000 train x N test x 784), k 1..10,
// the workload of the scikit-learn peer (../shared/peers/sklearn_knn_fmnist.py).
//   fmnist_knn METRIC(l1|l2) N_QUERIES [--weighted] [--index brute|kdtree|kmeans] [--checks C]
//              [--trees T] [--branching B] [--precision P (FLANN autotuning)]
// Prints seconds for the search, accuracy at k = 1..10 and peak RSS.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "scenelab/classify/knn.h"
#include "scenelab/data/cpu.h"
#include "scenelab/data/readers.h"

using namespace scenelab;

static classify::Matrix Pixels(const data::Dataset& ds, std::size_t n) {
  classify::Matrix m(static_cast<Eigen::Index>(n), 784);
  for (std::size_t i = 0; i < n; ++i) {
    const cv::Mat img = ds[i].image;
    for (int p = 0; p < 784; ++p) m(static_cast<Eigen::Index>(i), p) = img.data[p] / 255.0f;
  }
  return m;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(
        stderr,
        "usage: fmnist_knn l1|l2 N_QUERIES [--weighted] [--index brute|kdtree|kmeans] [--checks C] [--trees T]\n"
        "       [--branching B] [--precision P] [--pca DIMS] [--rerank R]\n");
    return 2;
  }
  const auto metric = classify::ParseMetric(argv[1]);
  const std::size_t nq = std::stoul(argv[2]);
  bool weighted = false;
  classify::KnnOptions o;
  for (int i = 3; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--weighted")) weighted = true;
    if (!std::strcmp(argv[i], "--index") && i + 1 < argc) o.algorithm = classify::ParseSearchAlgorithm(argv[++i]);
    if (!std::strcmp(argv[i], "--checks") && i + 1 < argc) o.flann_checks = std::stoi(argv[++i]);
    if (!std::strcmp(argv[i], "--trees") && i + 1 < argc) o.flann_trees = std::stoi(argv[++i]);
    if (!std::strcmp(argv[i], "--branching") && i + 1 < argc) o.flann_branching = std::stoi(argv[++i]);
    if (!std::strcmp(argv[i], "--precision") && i + 1 < argc) o.flann_target_precision = std::stod(argv[++i]);
    if (!std::strcmp(argv[i], "--pca") && i + 1 < argc) o.flann_pca_dims = std::stoi(argv[++i]);
    if (!std::strcmp(argv[i], "--rerank") && i + 1 < argc) o.flann_rerank = std::stoi(argv[++i]);
  }
  const auto info = data::OpenDataset("/usr/share/datasets/fashion-mnist");
  auto train = Pixels(info.train(), info.train().size());
  const auto test = Pixels(info.test(), std::min(nq, info.test().size()));
  classify::KnnClassifier knn(o);
  // The exact search first, timed, when an approximate index is asked for:
  // its recall and speed are reported against it.
  classify::KnnClassifier exact;
  classify::Neighbors e;
  double exact_secs = 0;
  if (o.algorithm != classify::SearchAlgorithm::kBruteForce) {
    const auto s0 = std::chrono::steady_clock::now();
    exact.Fit(train, info.train().Labels(), 10);
    e = exact.Search(test, 1, metric);
    exact_secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - s0).count();
  }
  const auto t0 = std::chrono::steady_clock::now();
  knn.Fit(o.algorithm == classify::SearchAlgorithm::kBruteForce ? std::move(train) : train, info.train().Labels(), 10);
  double build_secs = 0;
  if (o.algorithm != classify::SearchAlgorithm::kBruteForce) {
    knn.Search(test.topRows(1), 1, metric);  // FLANN builds its index on the first search
    build_secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  const auto t1 = std::chrono::steady_clock::now();
  const auto nn = knn.Search(test, 10, metric);
  const double search_secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("scenelab %s %s: %zu queries x %zu train in %.3f s (kernels: %s)\n", argv[1],
              classify::ToString(o.algorithm).c_str(), static_cast<std::size_t>(test.rows()), info.train().size(), secs,
              ToString(ActiveIsa()));
  for (int k = 1; k <= 10; ++k) {
    const auto v = knn.Vote(nn, k, weighted);
    std::size_t correct = 0;
    for (Eigen::Index i = 0; i < test.rows(); ++i)
      correct += v.labels[static_cast<std::size_t>(i)] == info.test()[static_cast<std::size_t>(i)].label;
    std::printf("  k=%d accuracy %.4f\n", k, static_cast<double>(correct) / static_cast<double>(test.rows()));
  }
  // recall@1 of the approximate index against exact L2, when asked.
  if (o.algorithm != classify::SearchAlgorithm::kBruteForce) {
    std::size_t hit = 0;
    for (Eigen::Index i = 0; i < test.rows(); ++i) hit += e.indices(i, 0) == nn.indices(i, 0);
    std::printf(
        "  recall@1 %.4f; index build %.3f s, search %.3f s; exact search %.3f s: %.2fx its speed for the search "
        "alone, %.2fx with the build\n",
        static_cast<double>(hit) / static_cast<double>(test.rows()), build_secs, search_secs, exact_secs,
        exact_secs / search_secs, exact_secs / secs);
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("  peak RSS %.0f MB\n", ru.ru_maxrss / 1024.0);
  return 0;
}

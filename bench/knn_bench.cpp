// Kernel benchmarks: exact kNN search throughput per metric, and the GEMM
// k-means step. Run: build/bench/knn_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include "scenelab/classify/knn.h"
#include "scenelab/data/rng.h"
#include "scenelab/features/vocabulary.h"

using namespace scenelab;

namespace {
classify::Matrix Random(int rows, int cols, std::uint64_t seed) {
  classify::Matrix m(rows, cols);
  Rng r(seed);
  for (int i = 0; i < m.size(); ++i) m.data()[i] = static_cast<float>(r.Uniform());
  return m;
}

void BM_KnnSearch(benchmark::State& state) {
  const int n_train = static_cast<int>(state.range(0)), dim = static_cast<int>(state.range(1));
  const auto metric = static_cast<classify::Metric>(state.range(2));
  const int n_query = 1000;
  const auto train = Random(n_train, dim, 1), queries = Random(n_query, dim, 2);
  std::vector<int> labels(static_cast<std::size_t>(n_train));
  for (int i = 0; i < n_train; ++i) labels[static_cast<std::size_t>(i)] = i % 10;
  classify::KnnClassifier knn;
  knn.Fit(train, labels, 10);
  for (auto _ : state) benchmark::DoNotOptimize(knn.Search(queries, 10, metric));
  const double pairs = static_cast<double>(n_train) * n_query * static_cast<double>(state.iterations());
  state.counters["pairs/s"] = benchmark::Counter(pairs, benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] = benchmark::Counter(pairs * dim * 2 / 1e9, benchmark::Counter::kIsRate);
  state.SetLabel(classify::ToString(metric));
}
BENCHMARK(BM_KnnSearch)
    ->Args({20000, 784, static_cast<int>(classify::Metric::kL2)})
    ->Args({20000, 784, static_cast<int>(classify::Metric::kL1)})
    ->Args({20000, 200, static_cast<int>(classify::Metric::kChi2)})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_KMeans(benchmark::State& state) {
  const auto sample = Random(static_cast<int>(state.range(0)), 128, 3);
  features::VocabularyOptions o;
  o.size = static_cast<int>(state.range(1));
  o.max_iterations = 10;
  for (auto _ : state) benchmark::DoNotOptimize(features::VocabularyBuilder(o).Cluster(sample));
  state.SetLabel("gemm k-means, 10 iterations");
}
BENCHMARK(BM_KMeans)->Args({100000, 200})->Unit(benchmark::kMillisecond)->UseRealTime();
}  // namespace

BENCHMARK_MAIN();

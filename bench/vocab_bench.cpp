// Vocabulary building on 1M+ real dense-SIFT descriptors (15-scene, step 3):
// scenelab's GEMM k-means against OpenCV's cv::kmeans, same iterations, and
// the descriptors written out for the scikit-learn peer (bench/vocab_bench.sh),
// then the nearest-word assignment of the sample alone.
//   vocab_bench SCENE15 N_DESCRIPTORS K ITERS OUT.f32 [--no-opencv]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>

#include <opencv2/core.hpp>

#include "scenelab/data/readers.h"
#include "scenelab/features/dense_sift.h"
#include "scenelab/features/vocabulary.h"

using namespace scenelab;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: vocab_bench SCENE15 N_DESCRIPTORS K ITERS OUT.f32 [--no-opencv]\n");
    return 2;
  }
  const std::size_t want = std::stoul(argv[2]);
  const int k = std::stoi(argv[3]), iters = std::stoi(argv[4]);
  const bool opencv = !(argc > 6 && !std::strcmp(argv[6], "--no-opencv"));
  const auto info = data::OpenDataset(argv[1]);
  features::DenseSiftOptions so;
  so.step = 3;
  std::vector<features::SiftFeatures> all;
  std::size_t have = 0;
  for (std::size_t i = 0; i < info.train().size() && have < want; i += 7) {  // spread over classes
    data::Dataset one(info.class_names, {info.train()[i]});
    all.push_back(std::move(features::ComputeDenseSift(one, so, 2)[0]));
    have += static_cast<std::size_t>(all.back().descriptors.rows());
  }
  features::Matrix x(static_cast<Eigen::Index>(want), 128);
  Eigen::Index row = 0;
  for (const auto& f : all) {
    for (Eigen::Index r = 0; r < f.descriptors.rows() && row < x.rows(); ++r)
      x.row(row++) = f.descriptors.row(r).cast<float>();
  }
  std::ofstream(argv[5], std::ios::binary)
      .write(reinterpret_cast<const char*>(x.data()), static_cast<std::streamsize>(sizeof(float) * x.size()));
  std::printf("%lld descriptors from %zu images\n", static_cast<long long>(x.rows()), all.size());

  features::VocabularyOptions vo;
  vo.size = k;
  vo.max_iterations = iters;
  vo.seed = 1;
  auto t0 = Clock::now();
  const auto v = features::VocabularyBuilder(vo, 2).Cluster(x);
  std::printf("scenelab gemm k-means: K=%d, %d iterations (at most %d), %.2f s, energy %.4g\n", k, v.iterations(),
              iters, std::chrono::duration<double>(Clock::now() - t0).count(), v.energy());
  {
    // Nearest-word assignment of the whole sample on one thread (what
    // encoding does per image): the 8-bit path, best of 5.
    const features::ByteMatrix bytes = x.cast<std::uint8_t>();
    double best = 1e30;
    std::vector<int> words;
    for (int rep = 0; rep < 5; ++rep) {
      t0 = Clock::now();
      words = v.Assign(bytes);
      best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
    }
    std::printf("scenelab assignment (%s path, 1 thread): %lld rows in %.3f s = %.2f M rows/s\n",
                v.byte_assignment_path(), static_cast<long long>(x.rows()), best, x.rows() / best / 1e6);
  }
  if (opencv) {
    cv::Mat data(static_cast<int>(x.rows()), 128, CV_32F, x.data()), labels, centers;
    cv::setNumThreads(2);
    cv::setRNGSeed(1);
    t0 = Clock::now();
    const double e = cv::kmeans(data, k, labels, cv::TermCriteria(cv::TermCriteria::MAX_ITER, iters, 0), 1,
                                cv::KMEANS_PP_CENTERS, centers);
    std::printf("cv::kmeans: K=%d, %d iterations, %.2f s, energy %.4g\n", k, iters,
                std::chrono::duration<double>(Clock::now() - t0).count(), e);
  }
  return 0;
}

// Loader-only throughput of the CNN data path (gather, crop, flip,
// standardise, channels-last) on Fashion-MNIST, batch 128, against the
// training throughput printed by `scenelab cnn train`.
//   loader_bench [N_IMAGES=60000] [THREADS=2]
#include <cstdio>
#include <string>

#include "scenelab/cnn/trainer.h"
#include "scenelab/data/readers.h"

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::stoul(argv[1]) : 60000;
  scenelab::cnn::TrainConfig cfg;
  cfg.threads = argc > 2 ? std::stoi(argv[2]) : 2;
  cfg.crop_padding = 2;
  const auto info = scenelab::data::OpenDataset("/usr/share/datasets/fashion-mnist");
  const double ips = scenelab::cnn::LoaderImagesPerSecond(cfg, info.train(), n);
  std::printf("loader only (crop + flip + standardise, batch %d, %d threads): %.0f img/s over %zu images\n",
              cfg.batch_size, cfg.threads, ips, n);
  return 0;
}

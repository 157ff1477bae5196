// Loader-only throughput of the CNN data path, batch 128: gather or
// stream-decode, crop, flip, standardise, channels-last; nothing else. Compare
// with the training throughput printed by `scenelab cnn train` on the same data.
//   loader_bench [N_IMAGES=60000] [THREADS=2] [DATA=/usr/share/datasets/fashion-mnist]
//                [LOADER=auto|memory|stream] [INPUT=CxHxW, default: the data's/model's]
// e.g. the streamed folder path on 15-scene at 64x64:
//   loader_bench 1500 2 ../shared/data/scene15 stream 1x64x64
#include <cstdio>
#include <exception>
#include <string>

#include "scenelab/cnn/trainer.h"
#include "scenelab/data/readers.h"

int main(int argc, char** argv) try {
  const std::size_t n = argc > 1 ? std::stoul(argv[1]) : 60000;
  scenelab::cnn::TrainConfig cfg;
  cfg.threads = argc > 2 ? std::stoi(argv[2]) : 2;
  const std::string data = argc > 3 ? argv[3] : "/usr/share/datasets/fashion-mnist";
  cfg.loader = scenelab::cnn::LoaderNames().Parse(argc > 4 ? argv[4] : "auto");
  if (argc > 5) cfg.input = scenelab::cnn::InputShape::Parse(argv[5]);
  cfg.crop_padding = 2;
  const auto info = scenelab::data::OpenDataset(data);
  const double ips = scenelab::cnn::LoaderImagesPerSecond(cfg, info.train(), n);
  std::printf("loader only (%s, crop + flip + standardise, batch %d, %d threads): %.0f img/s over %zu images\n",
              scenelab::cnn::LoaderNames().Show(cfg.loader).c_str(), cfg.batch_size, cfg.threads, ips, n);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "loader_bench: %s\n", e.what());
  return 1;
}

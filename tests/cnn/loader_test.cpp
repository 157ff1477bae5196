#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "expect_error.h"
#include "fixtures.h"
#include "loader.h"
#include "scenelab/cnn/trainer.h"
#include "scenelab/data/error.h"
#include "scenelab/data/io.h"
#include "scenelab/data/readers.h"

namespace fs = std::filesystem;
using namespace scenelab;
using scenelab::fixtures::TempDir;

namespace {
const std::vector<std::string> kClasses = {"Coast", "Forest", "Street"};

cnn::TrainConfig FolderConfig(const std::string& loader) {
  cnn::TrainConfig c;
  c.model = "lenet5";
  c.input = cnn::InputShape{1, 24, 24};  // the 40x40 images are resized on decode
  c.epochs = 2;
  c.batch_size = 8;
  c.threads = 1;  // bitwise-reproducible arithmetic
  c.val_fraction = 0.2;
  c.augment = {"crop", "flip"};
  c.crop_padding = 2;
  c.seed = 3;
  c.loader = cnn::LoaderNames().Parse(loader);
  c.loader_threads = 2;
  c.prefetch = 2;
  return c;
}

// The first bytes of a PNG and nothing after: sniffed as an image, fails to decode.
void Truncate(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<char> head(40);
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  in.close();
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(head.data(), static_cast<std::streamsize>(head.size()));
}
}  // namespace

TEST(Cnn_Loader, StreamedBatchesEqualDecodedOnes) {
  TempDir dir;
  fixtures::WriteFolderDataset(dir.path(), kClasses, 7, 2, 40, ".png");
  const auto info = data::OpenDataset(dir.path().string());
  const auto& ds = info.train();
  const cnn::InputShape shape{1, 24, 24};
  auto mem = cnn::MemoryLoader(cnn::ToTensors(ds, shape, 1, nullptr));
  cnn::StreamOptions so;
  so.workers = 3;
  so.prefetch = 2;
  auto stream = cnn::StreamingLoader(ds, shape, so);
  EXPECT_TRUE(stream->labels().equal(mem->labels()));
  // Uneven batches in a shuffled order, more of them than the prefetch depth.
  const cnn::IndexBatches batches = {{20, 3, 7},  {0}, {1, 2, 4, 5, 6}, {19, 18}, {8, 9, 10, 11, 12, 13, 14},
                                     {15, 16, 17}};
  mem->Start(batches);
  stream->Start(batches);
  for (std::size_t b = 0; b < batches.size(); ++b) {
    const at::Tensor m = mem->Next(), s = stream->Next();
    ASSERT_EQ(s.sizes(), (std::vector<std::int64_t>{static_cast<std::int64_t>(batches[b].size()), 1, 24, 24}));
    EXPECT_TRUE(s.equal(m)) << "batch " << b;
  }
  EXPECT_THROW(stream->Next(), Error);  // past the end of the pass
  // A new pass abandons the old one mid-way without hanging, then yields the new batches.
  stream->Start(batches);
  stream->Next();
  stream->Start({{5, 6}});
  mem->Start({{5, 6}});
  EXPECT_TRUE(stream->Next().equal(mem->Next()));
  // Both compute the same channel statistics, from exact sums.
  std::vector<float> m1, s1, m2, s2;
  cnn::ChannelStats(*mem, 1, &m1, &s1);
  cnn::ChannelStats(*stream, 1, &m2, &s2);
  EXPECT_EQ(m1, m2);
  EXPECT_EQ(s1, s2);
  EXPECT_GT(m1[0], 0.05f);
  EXPECT_GT(s1[0], 0.01f);
  so.workers = 0;
  EXPECT_MESSAGE(cnn::StreamingLoader(ds, shape, so), "decoding threads must be >= 1, got 0");
  so.workers = 2;
  so.prefetch = 0;
  EXPECT_MESSAGE(cnn::StreamingLoader(ds, shape, so), "prefetch must be >= 1 batch, got 0");
  EXPECT_MESSAGE(cnn::LoaderImagesPerSecond(cnn::TrainConfig{}, data::Dataset(kClasses, {}), 10),
                 "loader benchmark: the dataset is empty");
}

TEST(Cnn_Loader, StreamedTrainingEqualsInMemoryTraining) {
  TempDir dir, a, b;
  fixtures::WriteFolderDataset(dir / "data", kClasses, 10, 4, 40, ".png");
  const auto info = data::OpenDataset((dir / "data").string());
  const auto ra = cnn::Train(FolderConfig("memory"), info.train(), info.test(), a.path().string(), false, nullptr);
  const auto rb = cnn::Train(FolderConfig("stream"), info.train(), info.test(), b.path().string(), false, nullptr);
  EXPECT_EQ(cnn::CheckpointParameters(a.path().string()), cnn::CheckpointParameters(b.path().string()));
  EXPECT_EQ(ra.test_predicted, rb.test_predicted);
  ASSERT_EQ(rb.history.size(), 2u);
  EXPECT_DOUBLE_EQ(ra.history[1].train_loss, rb.history[1].train_loss);
  EXPECT_DOUBLE_EQ(ra.history[1].val_acc, rb.history[1].val_acc);
  // Evaluating the checkpoint streamed gives the same predictions.
  EXPECT_EQ(cnn::EvaluateCheckpoint(b.path().string(), info.test(), nullptr).test_predicted, rb.test_predicted);
  EXPECT_GT(cnn::LoaderImagesPerSecond(FolderConfig("stream"), info.train(), 30), 0.0);
}

TEST(Cnn_Loader, AutoStreamsOnlyFolderSetsOverTheBudget) {
  TempDir dir, a, b;
  fixtures::WriteFolderDataset(dir / "data", kClasses, 6, 2, 40, ".png");
  const auto info = data::OpenDataset((dir / "data").string());
  auto cfg = FolderConfig("auto");
  cfg.epochs = 1;
  cfg.loader_memory_gb = 1e-6;  // 1 kB: 24 images of 576 bytes do not fit
  fixtures::TempDir logdir;
  Logger log(logdir / "log.txt", /*echo=*/false);
  cnn::Train(cfg, info.train(), info.test(), a.path().string(), false, &log);
  cfg.loader_memory_gb = 4;
  cnn::Train(cfg, info.train(), info.test(), b.path().string(), false, &log);
  const std::string text = ReadFileText(logdir / "log.txt");
  const auto first = text.find("streamed by 2 decoding threads, 2 batches ahead");
  ASSERT_NE(first, std::string::npos) << text;
  EXPECT_NE(text.find("decoded into memory", first), std::string::npos) << text;
}

TEST(Cnn_Loader, CorruptImageIsNamedAndNothingHangs) {
  TempDir dir, out;
  fixtures::WriteFolderDataset(dir / "data", kClasses, 10, 2, 40, ".png");
  const auto info = data::OpenDataset((dir / "data").string());
  const std::string bad = info.train()[info.train().size() - 1].source;
  Truncate(bad);
  for (bool standardize : {true, false}) {  // caught in the statistics pass, or in an epoch
    auto cfg = FolderConfig("stream");
    cfg.standardize = standardize;
    try {
      cnn::Train(cfg, info.train(), info.test(), out.path().string(), false, nullptr);
      FAIL() << "a truncated image must fail the run";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(fs::path(bad).filename().string()), std::string::npos) << e.what();
    }
  }
  auto cfg = FolderConfig("stream");
  cfg.prefetch = 0;
  EXPECT_MESSAGE(cfg.Validate(), "--prefetch must be >= 1 batch, got 0");
  EXPECT_MESSAGE(cnn::TrainOptions().At("loader").set(&cfg, "disk", "--loader"),
                 "--loader: unknown value 'disk' (expected auto, memory or stream)");
  cfg = FolderConfig("auto");
  cfg.loader_memory_gb = 0;
  EXPECT_MESSAGE(cfg.Validate(), "--loader-memory-gb must be > 0, got 0");
  cfg = FolderConfig("stream");
  cfg.loader_threads = -1;
  EXPECT_MESSAGE(cfg.Validate(), "--loader-threads must be >= 0, got -1");
}

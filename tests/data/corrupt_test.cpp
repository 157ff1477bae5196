// The corrupt-data suite: every case ends in a clear error naming the file,
// or in a documented skip with a count. See docs/RELIABILITY.md.
#include <gtest/gtest.h>

#include <filesystem>

#include <opencv2/imgcodecs.hpp>

#include "fixtures.h"
#include "scenelab/data/error.h"
#include "scenelab/data/io.h"
#include "scenelab/data/readers.h"
#include "scenelab/features/dense_sift.h"
#include "scenelab/pipelines/classic.h"

namespace fs = std::filesystem;
using namespace scenelab;
using scenelab::fixtures::TempDir;

namespace {
std::string ErrorOf(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::vector<unsigned char> Encode(const cv::Mat& img, const std::string& ext) {
  std::vector<unsigned char> buf;
  cv::imencode(ext, img, buf);
  return buf;
}
}  // namespace

TEST(Data_CorruptImages, TruncatedJpegAtSeveralOffsetsNamesTheFile) {
  TempDir dir;
  const auto jpg = Encode(fixtures::ClassImage(1, 1, 64, 64), ".jpg");
  for (std::size_t cut : {std::size_t{2}, std::size_t{10}, std::size_t{100}, jpg.size() / 2}) {
    const fs::path p = dir / ("cut" + std::to_string(cut) + ".jpg");
    fixtures::WriteBytes(p, std::vector<unsigned char>(jpg.begin(), jpg.begin() + static_cast<std::ptrdiff_t>(cut)));
    const std::string e = ErrorOf([&] { data::DecodeImageFile(p.string()); });
    // libjpeg pads a truncated scan with grey: a half file may decode; anything shorter must fail cleanly.
    if (cut < 200) {
      EXPECT_NE(e.find(p.string()), std::string::npos) << "cut at " << cut << ": " << e;
    }
  }
}

TEST(Data_CorruptImages, PngWithBadCrcZeroByteAndTextFiles) {
  TempDir dir;
  auto png = Encode(fixtures::ClassImage(2, 2, 32, 32), ".png");
  png[29] ^= 0xFF;  // inside the IHDR CRC
  fixtures::WriteBytes(dir / "bad.png", png);
  EXPECT_NE(ErrorOf([&] { data::DecodeImageFile((dir / "bad.png").string()); }).find("bad.png"), std::string::npos);
  fixtures::WriteBytes(dir / "empty.jpg", {});
  EXPECT_NE(
      ErrorOf([&] { data::DecodeImageFile((dir / "empty.jpg").string()); }).find("empty.jpg: empty file (0 bytes)"),
      std::string::npos);
  fixtures::WriteText(dir / "text.jpg", "hello, I am not a JPEG");
  EXPECT_NE(ErrorOf([&] { data::DecodeImageFile((dir / "text.jpg").string()); }).find("text.jpg: not an image"),
            std::string::npos);
}

TEST(Data_CorruptImages, HugeHeaderIsRefusedBeforeDecoding) {
  TempDir dir;
  auto png = Encode(fixtures::ClassImage(0, 0, 8, 8), ".png");
  // IHDR width and height at bytes 16..23, big-endian: claim 20000 x 20000.
  for (int i : {16, 20}) {
    png[i] = 0;
    png[i + 1] = 0;
    png[i + 2] = 0x4E;
    png[i + 3] = 0x20;
  }
  fixtures::WriteBytes(dir / "huge.png", png);
  const std::string e = ErrorOf([&] { data::DecodeImageFile((dir / "huge.png").string()); });
  EXPECT_NE(e.find("huge.png: image header gives size 20000x20000"), std::string::npos) << e;
  EXPECT_NE(e.find("more than the limit"), std::string::npos) << e;
}

TEST(Data_CorruptImages, TinyImagesAreRefusedByDenseSiftWithTheFileName) {
  TempDir dir;
  fixtures::WriteFolderDataset(dir.path(), {"a"}, 1, 1, 64);
  cv::imwrite((dir / "train" / "a" / "one.png").string(), cv::Mat(1, 1, CV_8U, cv::Scalar(9)));
  cv::imwrite((dir / "train" / "a" / "small.png").string(), cv::Mat(12, 12, CV_8U, cv::Scalar(9)));
  const auto info = data::OpenDataset(dir.path().string());
  const std::string e = ErrorOf([&] { features::ComputeDenseSift(info.train(), {}, 1); });
  EXPECT_NE(e.find("one.png: image of 1x1 pixels is smaller than one SIFT descriptor"), std::string::npos) << e;
}

TEST(Data_CorruptTrees, SymlinkLoopNonUtf8AndSpacedNames) {
  TempDir dir;
  fixtures::WriteFolderDataset(dir.path(), {"living room", "caf\xe9"}, 2, 1);
  fs::create_symlink(dir / "train" / "living room" / "loop", dir / "train" / "living room" / "loop");
  const std::string e = ErrorOf([&] { data::OpenDataset(dir.path().string()); });
  EXPECT_NE(e.find("loop: broken or looping symbolic link"), std::string::npos) << e;
  data::OpenOptions skip;
  skip.skip_bad = true;
  const auto info = data::OpenDataset(dir.path().string(), skip);
  EXPECT_EQ(info.skipped_bad_images, 1u);
  EXPECT_EQ(info.class_names[1], "living room");
  EXPECT_EQ(info.class_names[0], "caf\xe9");
  EXPECT_EQ(info.train().size(), 4u);
  EXPECT_EQ(info.train().LoadImage(0).rows, 64);
}

TEST(Data_HostileDataset, OutputsStayInsideOut) {
  TempDir dir;
  // CIFAR class names are free text: make them path attacks.
  fixtures::WriteCifar10(dir / "cifar", 10, 10);  // 5 training images per class: enough for 5-fold selection
  fixtures::WriteText(dir / "cifar" / "batches.meta.txt",
                      "../../escaped\n/etc/passwd\n..\n.\na/b\nc\\d\ne f\ng\nh\ni\n");
  pipelines::ClassicConfig c;
  c.data.path = (dir / "cifar").string();
  c.features = "tiny";
  c.ks = {1};
  const fs::path out = dir / "out";
  pipelines::RunClassic(c, out.string(), nullptr);
  std::size_t files = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir.path())) {
    const auto rel = fs::relative(e.path(), dir.path()).string();
    EXPECT_TRUE(rel.rfind("cifar", 0) == 0 || rel.rfind("out", 0) == 0) << "written outside: " << e.path();
    files += e.is_regular_file();
  }
  EXPECT_GT(files, 10u);
  EXPECT_FALSE(fs::exists("/etc/passwd.png"));
  EXPECT_TRUE(fs::exists(out / "figures" / "gallery"));
  for (const auto& e : fs::directory_iterator(out / "figures" / "gallery")) {
    EXPECT_EQ(e.path().parent_path(), out / "figures" / "gallery");
  }
}

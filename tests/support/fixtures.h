#pragma once
// Test fixtures written by the tests themselves, in the exact on-disk
// layouts of the real formats.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>

namespace scenelab::fixtures {

// A fresh temporary directory, removed when the object goes away.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& s) const { return path_ / s; }

 private:
  std::filesystem::path path_;
};

void WriteBytes(const std::filesystem::path& p, const std::vector<unsigned char>& bytes);
void WriteText(const std::filesystem::path& p, const std::string& text);

// IDX bytes: magic 0,0,0x08,ndims, big-endian sizes, data.
std::vector<unsigned char> IdxBytes(const std::vector<int>& dims, const std::vector<unsigned char>& data);
// gzip-compresses bytes (zlib).
std::vector<unsigned char> Gzip(const std::vector<unsigned char>& bytes);
// Writes train/t10k image+label IDX files with `n_train`/`n_test` 28x28 images.
void WriteIdxDataset(const std::filesystem::path& dir, int n_train, int n_test, bool gz);

// CIFAR-10 record bytes for (label, image) pairs; images are BGR 32x32.
std::vector<unsigned char> CifarBytes(const std::vector<int>& labels, int label_bytes, std::uint64_t seed);
void WriteCifar10(const std::filesystem::path& dir, int per_batch, int n_test);

// A synthetic image whose content depends on the class: oriented stripes
// plus noise, so classical features separate the classes.
cv::Mat ClassImage(int cls, int index, int width, int height, int channels = 1);

// ROOT/{train,test}/<Class>/img_NNN.png (or .jpg) trees of ClassImage.
void WriteFolderDataset(const std::filesystem::path& root, const std::vector<std::string>& classes, int n_train,
                        int n_test, int size = 64, const std::string& ext = ".png");

// Tiny-ImageNet layout with `wnids` classes; wnids.txt without final newline
// and stray .DS_Store files, as the issue asks.
void WriteTinyImageNet(const std::filesystem::path& root, int n_classes, int n_train, int n_val);

// Runs a shell command and returns what it printed on stdout.
std::string CaptureCommand(const std::string& cmd);

// Starts `args` (argv[0] a path) with stdout and stderr appended to `log`.
int SpawnLogged(const std::vector<std::string>& args, const std::filesystem::path& log);
// Waits for it: the exit code, or 128 + signal number.
int WaitExit(int pid);

// True when SCENELAB_REQUIRE_DATA=1 (.ci/run sets it): a test whose data,
// reference files or tools are missing then fails instead of skipping.
bool RequireData();

// Where the real datasets are looked for (SCENELAB_SCENE15 / SCENELAB_FMNIST
// or the configured default), and those paths when the data is there, else "".
std::string Scene15Path();
std::string FashionMnistPath();
std::string Scene15Dir();
std::string FashionMnistDir();

}  // namespace scenelab::fixtures

// Skips the test saying what is missing and where, or, under
// SCENELAB_REQUIRE_DATA=1, fails with the same words: in CI a missing
// dataset must never look like a pass.
#define SCENELAB_SKIP_OR_FAIL(what)                           \
  do {                                                        \
    if (::scenelab::fixtures::RequireData()) {                \
      GTEST_FAIL() << "SCENELAB_REQUIRE_DATA=1 and " << what; \
    } else {                                                  \
      GTEST_SKIP() << what;                                   \
    }                                                         \
  } while (0)

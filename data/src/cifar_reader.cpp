// CIFAR-10 / CIFAR-100 binary version: fixed-size records of label byte(s)
// followed by 3072 bytes, the red, green and blue 32x32 planes in row order.
#include <filesystem>
#include <sstream>

#include "scenelab/data/error.h"
#include "scenelab/data/io.h"
#include "scenelab/data/readers.h"

namespace fs = std::filesystem;

namespace scenelab::data {

namespace {
constexpr int kSide = 32;
constexpr std::size_t kPixels = 3 * kSide * kSide;

std::vector<std::string> ReadNameList(const fs::path& p) {
  std::istringstream in(ReadFileText(p));
  std::vector<std::string> names;
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    if (!line.empty()) names.push_back(line);
  }
  return names;
}

fs::path ResolveCifarRoot(const fs::path& root) {
  std::error_code ec;
  for (const char* sub : {"cifar-10-batches-bin", "cifar-100-binary"}) {
    if (fs::is_directory(root / sub, ec)) return root / sub;
  }
  return root;
}
}  // namespace

void ParseCifarBatch(const std::vector<unsigned char>& bytes, const std::string& what, int label_bytes, int num_classes,
                     std::vector<Sample>* out) {
  const std::size_t rec = static_cast<std::size_t>(label_bytes) + kPixels;
  if (bytes.empty()) throw Error(what + ": empty CIFAR batch file");
  if (bytes.size() % rec != 0) {
    throw Error(what + ": size " + std::to_string(bytes.size()) + " bytes is not a multiple of the " +
                std::to_string(rec) + "-byte CIFAR record (" + std::to_string(bytes.size() / rec) +
                " whole records plus " + std::to_string(bytes.size() % rec) + " stray bytes)");
  }
  const std::size_t n = bytes.size() / rec;
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char* r = &bytes[i * rec];
    const int label = r[label_bytes - 1];
    if (label >= num_classes) {
      throw Error(what + ": record " + std::to_string(i) + " has label " + std::to_string(label) + ", expected 0.." +
                  std::to_string(num_classes - 1));
    }
    const unsigned char* px = r + label_bytes;
    cv::Mat img(kSide, kSide, CV_8UC3);
    for (int y = 0; y < kSide; ++y) {
      auto* row = img.ptr<unsigned char>(y);
      for (int x = 0; x < kSide; ++x) {
        const int o = y * kSide + x;
        row[3 * x + 0] = px[2 * kSide * kSide + o];  // OpenCV stores BGR
        row[3 * x + 1] = px[kSide * kSide + o];
        row[3 * x + 2] = px[o];
      }
    }
    out->push_back(Sample{label, what + "#" + std::to_string(i), img});
  }
}

DatasetInfo ReadCifarDataset(const std::string& root_str, bool cifar100, const OpenOptions&) {
  std::error_code ec;
  if (!fs::is_directory(root_str, ec)) throw Error(root_str + ": no such directory");
  const fs::path root = ResolveCifarRoot(root_str);
  DatasetInfo info;
  info.format = cifar100 ? DatasetFormat::kCifar100 : DatasetFormat::kCifar10;
  info.root = root_str;
  const fs::path meta = root / (cifar100 ? "fine_label_names.txt" : "batches.meta.txt");
  if (fs::exists(meta, ec)) {
    info.class_names = ReadNameList(meta);
  } else if (!cifar100) {
    info.class_names = {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};
  } else {
    throw Error(meta.string() + ": missing (CIFAR-100 needs its fine label names)");
  }
  const std::size_t want = cifar100 ? 100 : 10;
  if (info.class_names.size() != want) {
    throw Error(meta.string() + ": lists " + std::to_string(info.class_names.size()) + " class names, expected " +
                std::to_string(want));
  }
  const int label_bytes = cifar100 ? 2 : 1;
  const int nc = static_cast<int>(want);
  std::vector<Sample> train, test;
  if (cifar100) {
    ParseCifarBatch(ReadFileBytes(root / "train.bin"), (root / "train.bin").string(), label_bytes, nc, &train);
  } else {
    int found = 0;
    for (int b = 1; b <= 5; ++b) {
      const fs::path p = root / ("data_batch_" + std::to_string(b) + ".bin");
      if (!fs::exists(p, ec)) continue;
      ++found;
      ParseCifarBatch(ReadFileBytes(p), p.string(), label_bytes, nc, &train);
    }
    if (found == 0) throw Error(root.string() + ": no data_batch_{1..5}.bin found");
  }
  const fs::path tp = root / (cifar100 ? "test.bin" : "test_batch.bin");
  ParseCifarBatch(ReadFileBytes(tp), tp.string(), label_bytes, nc, &test);
  info.splits.emplace_back("train", Dataset(info.class_names, std::move(train)));
  info.splits.emplace_back("test", Dataset(info.class_names, std::move(test)));
  info.class_descriptions = info.class_names;
  return info;
}

}  // namespace scenelab::data

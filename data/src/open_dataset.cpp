#include <algorithm>
#include <filesystem>

#include "scenelab/data/error.h"
#include "scenelab/data/readers.h"

namespace fs = std::filesystem;

namespace scenelab::data {

const EnumTable<DatasetFormat>& DatasetFormatNames() {
  static const EnumTable<DatasetFormat> t = {
      {DatasetFormat::kAuto, "auto"},         {DatasetFormat::kFolder, "folder"},
      {DatasetFormat::kIdx, "idx"},           {DatasetFormat::kCifar10, "cifar10"},
      {DatasetFormat::kCifar100, "cifar100"}, {DatasetFormat::kTinyImageNet, "tinyimagenet"}};
  return t;
}

void OpenOptions::Validate() const {
  if (!(test_fraction > 0.0 && test_fraction < 1.0)) {
    throw Error("--split: test fraction must be in (0, 1), got " + std::to_string(test_fraction));
  }
}

const Dataset& DatasetInfo::split(const std::string& name) const {
  for (const auto& [n, d] : splits) {
    if (n == name) return d;
  }
  std::string have;
  for (const auto& s : splits) have += (have.empty() ? "" : ", ") + s.first;
  throw Error(root + ": no split named '" + name + "' (have: " + have + ")");
}

bool DatasetInfo::has_split(const std::string& name) const {
  return std::any_of(splits.begin(), splits.end(), [&](const auto& s) { return s.first == name; });
}

const Dataset& DatasetInfo::train() const { return split("train"); }
const Dataset& DatasetInfo::test() const { return has_split("test") ? split("test") : split("val"); }

DatasetFormat DetectFormat(const std::string& path) {
  const fs::path root(path);
  std::error_code ec;
  if (!fs::exists(root, ec)) throw Error(path + ": no such file or directory");
  if (!fs::is_directory(root, ec)) throw Error(path + ": expected a dataset directory, found a file");
  if (fs::exists(root / "wnids.txt", ec)) return DatasetFormat::kTinyImageNet;
  for (const fs::path& base : {root, root / "cifar-10-batches-bin", root / "cifar-100-binary"}) {
    if (fs::exists(base / "data_batch_1.bin", ec) || fs::exists(base / "test_batch.bin", ec))
      return DatasetFormat::kCifar10;
    if (fs::exists(base / "fine_label_names.txt", ec) || fs::exists(base / "train.bin", ec))
      return DatasetFormat::kCifar100;
  }
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string n = it->path().filename().string();
    if (n.find("idx3-ubyte") != std::string::npos || n.find("idx1-ubyte") != std::string::npos)
      return DatasetFormat::kIdx;
  }
  return DatasetFormat::kFolder;
}

DatasetInfo OpenDataset(const std::string& path, const OpenOptions& opts) {
  opts.Validate();
  switch (opts.format == DatasetFormat::kAuto ? DetectFormat(path) : opts.format) {
    case DatasetFormat::kAuto:
    case DatasetFormat::kFolder:
      return ReadFolderDataset(path, opts);
    case DatasetFormat::kIdx:
      return ReadIdxDataset(path, opts);
    case DatasetFormat::kCifar10:
      return ReadCifarDataset(path, false, opts);
    case DatasetFormat::kCifar100:
      return ReadCifarDataset(path, true, opts);
    case DatasetFormat::kTinyImageNet:
      break;
  }
  return ReadTinyImageNet(path, opts);
}

}  // namespace scenelab::data

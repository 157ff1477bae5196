#include <algorithm>
#include <filesystem>

#include "scenelab/data/error.h"
#include "scenelab/data/readers.h"

namespace fs = std::filesystem;

namespace scenelab::data {

void OpenOptions::Validate() const {
  static const std::vector<std::string> kFormats = {"auto", "folder", "idx", "cifar10", "cifar100", "tinyimagenet"};
  if (std::find(kFormats.begin(), kFormats.end(), format) == kFormats.end()) {
    throw Error("--format: unknown format '" + format +
                "' (expected auto, folder, idx, cifar10, cifar100 or tinyimagenet)");
  }
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

std::string DetectFormat(const std::string& path) {
  const fs::path root(path);
  std::error_code ec;
  if (!fs::exists(root, ec)) throw Error(path + ": no such file or directory");
  if (!fs::is_directory(root, ec)) throw Error(path + ": expected a dataset directory, found a file");
  if (fs::exists(root / "wnids.txt", ec)) return "tinyimagenet";
  for (const fs::path& base : {root, root / "cifar-10-batches-bin", root / "cifar-100-binary"}) {
    if (fs::exists(base / "data_batch_1.bin", ec) || fs::exists(base / "test_batch.bin", ec)) return "cifar10";
    if (fs::exists(base / "fine_label_names.txt", ec) || fs::exists(base / "train.bin", ec)) return "cifar100";
  }
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string n = it->path().filename().string();
    if (n.find("idx3-ubyte") != std::string::npos || n.find("idx1-ubyte") != std::string::npos) return "idx";
  }
  return "folder";
}

DatasetInfo OpenDataset(const std::string& path, const OpenOptions& opts) {
  opts.Validate();
  const std::string fmt = opts.format == "auto" ? DetectFormat(path) : opts.format;
  if (fmt == "folder") return ReadFolderDataset(path, opts);
  if (fmt == "idx") return ReadIdxDataset(path, opts);
  if (fmt == "cifar10") return ReadCifarDataset(path, false, opts);
  if (fmt == "cifar100") return ReadCifarDataset(path, true, opts);
  return ReadTinyImageNet(path, opts);
}

}  // namespace scenelab::data

// Folder-per-class trees: ROOT/{train,test}/<Class>/* or ROOT/<Class>/*.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "scenelab/data/error.h"
#include "scenelab/data/readers.h"

namespace fs = std::filesystem;

namespace scenelab::data {

namespace {

bool HasImageExtension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  static const std::set<std::string> kExt = {".jpg", ".jpeg", ".jpe", ".png", ".bmp",  ".dib", ".pgm",
                                             ".ppm", ".pbm",  ".pnm", ".tif", ".tiff", ".webp"};
  return kExt.count(ext) > 0;
}

// Class folders directly under `dir`, sorted bytewise. Symlinked folders are
// followed once; non-folders are ignored (they are not classes).
std::vector<std::string> ListClassDirs(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code ec2;
    if (it->is_directory(ec2)) names.push_back(it->path().filename().string());
  }
  if (ec) throw Error(dir.string() + ": cannot list directory (" + ec.message() + ")");
  std::sort(names.begin(), names.end());
  return names;
}

struct ClassScan {
  std::vector<std::string> files;
  std::size_t non_images = 0;
  std::size_t bad_images = 0;
};

ClassScan ScanClass(const fs::path& dir, const OpenOptions& opts) {
  ClassScan out;
  std::vector<fs::path> entries;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    entries.push_back(it->path());
  }
  if (ec) throw Error(dir.string() + ": cannot list directory (" + ec.message() + ")");
  std::sort(entries.begin(), entries.end());
  for (const auto& p : entries) {
    std::error_code ec2;
    // is_regular_file follows symlinks; a dangling or looping link is an error code, not a crash.
    const bool regular = fs::is_regular_file(p, ec2);
    if (ec2 || !regular) {
      if (fs::is_symlink(fs::symlink_status(p, ec2))) {
        if (!opts.skip_bad) {
          throw Error(p.string() + ": broken or looping symbolic link (use --skip-bad to skip it)");
        }
        ++out.bad_images;
      }
      continue;  // sub-folders are not part of a class
    }
    const bool image_ext = HasImageExtension(p);
    if (SniffImageFile(p.string())) {
      out.files.push_back(p.string());
    } else if (image_ext) {
      if (!opts.skip_bad) {
        throw Error(p.string() +
                    ": has an image extension but is not an image (empty or unrecognised "
                    "content); use --skip-bad to skip such files");
      }
      ++out.bad_images;
    } else {
      ++out.non_images;  // .DS_Store, Thumbs.db, README, ...
    }
  }
  return out;
}

Dataset ReadSplitTree(const fs::path& dir, const std::vector<std::string>& classes, const OpenOptions& opts,
                      DatasetInfo* info, bool require_all) {
  std::vector<Sample> samples;
  for (std::size_t c = 0; c < classes.size(); ++c) {
    const fs::path cdir = dir / classes[c];
    std::error_code ec;
    if (!fs::is_directory(cdir, ec)) {
      if (require_all) {
        throw Error(cdir.string() + ": class folder '" + classes[c] + "' is missing from this split");
      }
      continue;
    }
    ClassScan scan = ScanClass(cdir, opts);
    info->skipped_non_images += scan.non_images;
    info->skipped_bad_images += scan.bad_images;
    if (scan.files.empty()) {
      throw Error(cdir.string() + ": empty class folder '" + classes[c] + "' (expected at least 1 image, found 0" +
                  (scan.non_images + scan.bad_images
                       ? ", plus " + std::to_string(scan.non_images + scan.bad_images) + " non-image files"
                       : std::string()) +
                  ")");
    }
    for (auto& f : scan.files) samples.push_back(Sample{static_cast<int>(c), std::move(f), {}});
  }
  return Dataset(classes, std::move(samples));
}

}  // namespace

DatasetInfo ReadFolderDataset(const std::string& root_str, const OpenOptions& opts) {
  const fs::path root(root_str);
  std::error_code ec;
  if (!fs::is_directory(root, ec)) throw Error(root_str + ": no such directory");
  DatasetInfo info;
  info.format = DatasetFormat::kFolder;
  info.root = root_str;
  const bool split_tree = fs::is_directory(root / "train", ec) && fs::is_directory(root / "test", ec);
  if (split_tree) {
    const auto train_classes = ListClassDirs(root / "train");
    const auto test_classes = ListClassDirs(root / "test");
    if (train_classes.empty()) throw Error((root / "train").string() + ": no class folders found");
    for (const auto& c : test_classes) {
      if (!std::binary_search(train_classes.begin(), train_classes.end(), c)) {
        throw Error((root / "test" / c).string() + ": test class '" + c +
                    "' has no folder in train/ (classes must match)");
      }
    }
    info.class_names = train_classes;
    info.splits.emplace_back("train", ReadSplitTree(root / "train", train_classes, opts, &info, true));
    info.splits.emplace_back("test", ReadSplitTree(root / "test", train_classes, opts, &info, false));
  } else {
    const auto classes = ListClassDirs(root);
    if (classes.empty()) {
      throw Error(root_str + ": no class folders found (expected ROOT/<Class>/* or ROOT/{train,test}/<Class>/*)");
    }
    info.class_names = classes;
    Dataset all = ReadSplitTree(root, classes, opts, &info, true);
    auto split = all.StratifiedSplit(opts.test_fraction, opts.seed);
    info.splits.emplace_back("train", std::move(split.first));
    info.splits.emplace_back("test", std::move(split.second));
  }
  info.class_descriptions = info.class_names;
  return info;
}

}  // namespace scenelab::data

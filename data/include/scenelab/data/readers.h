#pragma once
// Readers for the dataset layouts scenelab understands. OpenDataset()
// auto-detects the layout, or takes it from `OpenOptions::format`.
//
//   folder        ROOT/{train,test}/<Class>/<image>  (the 15-scene layout), or
//                 ROOT/<Class>/<image> split by `test_fraction`
//   idx           MNIST / Fashion-MNIST IDX files, plain or .gz
//   cifar10       data_batch_{1..5}.bin, test_batch.bin, batches.meta.txt
//   cifar100      train.bin, test.bin, fine_label_names.txt
//   tinyimagenet  wnids.txt, words.txt, train/<wnid>/images, val/images +
//                 val/val_annotations.txt
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "scenelab/data/dataset.h"
#include "scenelab/data/enum_table.h"

namespace scenelab::data {

enum class DatasetFormat { kAuto, kFolder, kIdx, kCifar10, kCifar100, kTinyImageNet };
// auto | folder | idx | cifar10 | cifar100 | tinyimagenet
const EnumTable<DatasetFormat>& DatasetFormatNames();

struct OpenOptions {
  DatasetFormat format = DatasetFormat::kAuto;  // auto: detected from the files (DetectFormat)
  // Single-tree folders only: fraction of each class held out as "test".
  double test_fraction = 0.2;
  std::uint64_t seed = 0;  // seeds the split above
  // Skip files with an image extension that are not decodable images,
  // counting them, instead of raising an Error. Default: refuse.
  bool skip_bad = false;
  // IDX only: a text file with one class name per line, in label order.
  // Without it, MNIST and Fashion-MNIST are recognised by content (never by
  // path) and other IDX sets get "0".."max".
  std::string class_names_file;
  void Validate() const;
};

struct DatasetInfo {
  DatasetFormat format = DatasetFormat::kFolder;  // the reader that opened it
  std::string root;
  std::vector<std::string> class_names;
  // Human-readable names (Tiny-ImageNet words.txt); equal to class_names otherwise.
  std::vector<std::string> class_descriptions;
  // Splits in the dataset's own order, e.g. {train, test} or {train, val}.
  std::vector<std::pair<std::string, Dataset>> splits;
  std::size_t skipped_non_images = 0;  // .DS_Store, README, ... (by content)
  std::size_t skipped_bad_images = 0;  // with skip_bad: unreadable "images"
  std::string recognised_as;           // IDX: "fashion-mnist", "mnist", "class names from FILE" or ""

  const Dataset& split(const std::string& name) const;
  bool has_split(const std::string& name) const;
  // The training split, and the evaluation split (test, else val).
  const Dataset& train() const;
  const Dataset& test() const;
};

DatasetInfo OpenDataset(const std::string& path, const OpenOptions& opts = {});
// Returns the detected format name, or throws Error listing what was looked for.
DatasetFormat DetectFormat(const std::string& path);

// Single-format readers, exposed for tests and fuzzing.
DatasetInfo ReadFolderDataset(const std::string& root, const OpenOptions& opts);
DatasetInfo ReadIdxDataset(const std::string& root, const OpenOptions& opts);
DatasetInfo ReadCifarDataset(const std::string& root, bool cifar100, const OpenOptions& opts);
DatasetInfo ReadTinyImageNet(const std::string& root, const OpenOptions& opts);

// IDX parsing of an in-memory buffer (already gunzipped). `what` names the
// file in error messages. Images come back as one CV_8U matrix of
// count x (rows*cols); labels as a vector.
struct IdxArray {
  std::vector<int> dims;
  std::vector<unsigned char> data;
};
IdxArray ParseIdx(const std::vector<unsigned char>& bytes, const std::string& what);
// Reads an IDX file, gunzipping when it ends in .gz or starts with the gzip magic.
// One class name per line, in label order; blank lines ignored, repeats refused.
std::vector<std::string> ReadClassNamesFile(const std::string& path);
std::vector<unsigned char> ReadMaybeGzip(const std::string& path);

// CIFAR record parsing; `label_bytes` is 1 (CIFAR-10) or 2 (CIFAR-100, the
// fine label is the second). Appends BGR 32x32 images.
void ParseCifarBatch(const std::vector<unsigned char>& bytes, const std::string& what, int label_bytes, int num_classes,
                     std::vector<Sample>* out);

// Tiny-ImageNet text files.
std::vector<std::string> ParseWnids(const std::string& text, const std::string& what);
std::map<std::string, std::string> ParseWords(const std::string& text, const std::string& what);
// val_annotations.txt: file name -> wnid.
std::vector<std::pair<std::string, std::string>> ParseValAnnotations(const std::string& text, const std::string& what);

}  // namespace scenelab::data

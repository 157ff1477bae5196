#pragma once
// Dataset: class names plus labelled samples in a deterministic order.
// A sample either names an image file (decoded on demand) or holds an
// in-memory image (IDX, CIFAR). Class order is fixed by the reader (sorted
// folder names, IDX label value, CIFAR meta file order), so every pipeline
// run on the same data shares it cell for cell.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace scenelab::data {

struct Sample {
  int label = -1;
  std::string source;  // file path, or "<file>#<index>" for in-memory images
  cv::Mat image;       // empty when the image lives in `source`
};

// How an image is decoded.
enum class ColorMode { kGray, kColor, kUnchanged };

struct DecodeOptions {
  ColorMode color = ColorMode::kGray;  // grayscale, as 15-scene and MNIST are
  // Images larger than this many pixels are refused before decoding, so a
  // hostile 20000x20000 header cannot exhaust memory. Default: 64 Mpx.
  std::int64_t max_pixels = 64ll * 1024 * 1024;
  void Validate() const;
};

class Dataset {
 public:
  Dataset() = default;
  Dataset(std::vector<std::string> class_names, std::vector<Sample> samples);

  const std::vector<std::string>& class_names() const { return class_names_; }
  int num_classes() const { return static_cast<int>(class_names_.size()); }
  const std::vector<Sample>& samples() const { return samples_; }
  std::size_t size() const { return samples_.size(); }
  bool empty() const { return samples_.empty(); }
  const Sample& operator[](std::size_t i) const { return samples_[i]; }
  std::vector<int> Labels() const;
  std::vector<std::size_t> CountPerClass() const;

  // Decodes sample i (or converts its in-memory image) to the colour mode
  // asked for. Throws Error naming the file when it cannot be decoded.
  cv::Mat LoadImage(std::size_t i, const DecodeOptions& opts = {}) const;

  // The first n samples of each class after a seeded shuffle, kept in the
  // dataset's order. Throws if a class has fewer than n samples and
  // `allow_fewer` is false.
  Dataset Subset(std::size_t n_per_class, std::uint64_t seed, bool allow_fewer = true) const;

  // The samples at `indices`, in that order. Throws on an index out of range.
  Dataset Select(const std::vector<std::size_t>& indices) const;

  // Seeded stratified split: `fraction` of every class goes to `second`.
  struct Split;
  Split StratifiedSplit(double fraction, std::uint64_t seed) const;

  // A stable fingerprint of class names and sample sources (and sizes of
  // in-memory images); used to key caches.
  std::uint64_t Fingerprint() const;

 private:
  std::vector<std::string> class_names_;
  std::vector<Sample> samples_;
};

struct Dataset::Split {
  Dataset first;
  Dataset second;
};

// Decodes an image file with the same checks as Dataset::LoadImage.
cv::Mat DecodeImageFile(const std::string& path, const DecodeOptions& opts = {});

// Reads the pixel size from a PNG/JPEG/BMP/GIF/PNM header without decoding;
// returns false when the format is not recognised.
bool ProbeImageSize(const std::vector<unsigned char>& bytes, int* width, int* height);

// True when the leading bytes are those of an image format OpenCV decodes.
bool LooksLikeImage(const unsigned char* bytes, std::size_t size);
// Reads only the first bytes of a file and applies LooksLikeImage.
bool SniffImageFile(const std::string& path);

}  // namespace scenelab::data

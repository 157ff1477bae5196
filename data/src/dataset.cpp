#include "scenelab/data/dataset.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "scenelab/data/error.h"
#include "scenelab/data/io.h"
#include "scenelab/data/rng.h"

namespace scenelab::data {

void DecodeOptions::Validate() const {
  if (max_pixels <= 0) {
    throw Error("DecodeOptions.max_pixels must be > 0, got " + std::to_string(max_pixels));
  }
}

Dataset::Dataset(std::vector<std::string> class_names, std::vector<Sample> samples)
    : class_names_(std::move(class_names)), samples_(std::move(samples)) {
  for (const auto& s : samples_) {
    if (s.label < 0 || s.label >= num_classes()) {
      throw Error(s.source + ": label " + std::to_string(s.label) + " out of range [0, " +
                  std::to_string(num_classes()) + ")");
    }
  }
}

std::vector<int> Dataset::Labels() const {
  std::vector<int> out(samples_.size());
  for (std::size_t i = 0; i < samples_.size(); ++i) out[i] = samples_[i].label;
  return out;
}

std::vector<std::size_t> Dataset::CountPerClass() const {
  std::vector<std::size_t> c(class_names_.size(), 0);
  for (const auto& s : samples_) ++c[static_cast<std::size_t>(s.label)];
  return c;
}

namespace {
cv::Mat ConvertColor(const cv::Mat& img, ColorMode mode) {
  if (mode == ColorMode::kUnchanged) return img;
  const int ch = img.channels();
  cv::Mat out;
  if (mode == ColorMode::kGray) {
    if (ch == 1) return img;
    cv::cvtColor(img, out, ch == 4 ? cv::COLOR_BGRA2GRAY : cv::COLOR_BGR2GRAY);
    return out;
  }
  if (ch == 3) return img;
  cv::cvtColor(img, out, ch == 4 ? cv::COLOR_BGRA2BGR : cv::COLOR_GRAY2BGR);
  return out;
}

std::uint32_t Be32(const unsigned char* p) {
  return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
}
std::uint16_t Be16(const unsigned char* p) { return std::uint16_t((p[0] << 8) | p[1]); }
std::uint16_t Le16(const unsigned char* p) { return std::uint16_t(p[0] | (p[1] << 8)); }
std::int32_t Le32(const unsigned char* p) {
  return static_cast<std::int32_t>(std::uint32_t(p[0]) | (std::uint32_t(p[1]) << 8) | (std::uint32_t(p[2]) << 16) |
                                   (std::uint32_t(p[3]) << 24));
}
}  // namespace

bool LooksLikeImage(const unsigned char* b, std::size_t n) {
  if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return true;                          // JPEG
  if (n >= 8 && std::memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0) return true;                           // PNG
  if (n >= 2 && b[0] == 'B' && b[1] == 'M') return true;                                            // BMP
  if (n >= 2 && b[0] == 'P' && b[1] >= '1' && b[1] <= '6') return true;                             // PNM
  if (n >= 4 && (std::memcmp(b, "II*\0", 4) == 0 || std::memcmp(b, "MM\0*", 4) == 0)) return true;  // TIFF
  if (n >= 12 && std::memcmp(b, "RIFF", 4) == 0 && std::memcmp(b + 8, "WEBP", 4) == 0) return true;
  return false;
}

bool SniffImageFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  unsigned char head[16] = {0};
  in.read(reinterpret_cast<char*>(head), sizeof head);
  return LooksLikeImage(head, static_cast<std::size_t>(in.gcount()));
}

bool ProbeImageSize(const std::vector<unsigned char>& b, int* w, int* h) {
  const std::size_t n = b.size();
  if (n >= 24 && std::memcmp(b.data(), "\x89PNG\r\n\x1a\n", 8) == 0 && std::memcmp(b.data() + 12, "IHDR", 4) == 0) {
    *w = static_cast<int>(std::min<std::uint32_t>(Be32(&b[16]), 1u << 30));
    *h = static_cast<int>(std::min<std::uint32_t>(Be32(&b[20]), 1u << 30));
    return true;
  }
  if (n >= 26 && b[0] == 'B' && b[1] == 'M') {
    *w = std::abs(Le32(&b[18]));
    *h = std::abs(Le32(&b[22]));
    (void)Le16;
    return true;
  }
  if (n >= 4 && b[0] == 0xFF && b[1] == 0xD8) {
    // Walk the JPEG markers up to the first start-of-frame.
    std::size_t i = 2;
    while (i + 9 < n) {
      if (b[i] != 0xFF) return false;
      const unsigned char m = b[i + 1];
      if (m == 0xFF) {
        ++i;
        continue;
      }
      if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) {
        i += 2;
        continue;
      }
      const std::uint16_t len = Be16(&b[i + 2]);
      const bool sof = (m >= 0xC0 && m <= 0xCF) && m != 0xC4 && m != 0xC8 && m != 0xCC;
      if (sof) {
        *h = Be16(&b[i + 5]);
        *w = Be16(&b[i + 7]);
        return true;
      }
      if (len < 2) return false;
      i += 2 + len;
    }
    return false;
  }
  return false;
}

cv::Mat DecodeImageFile(const std::string& path, const DecodeOptions& opts) {
  const auto bytes = ReadFileBytes(path);
  if (bytes.empty()) throw Error(path + ": empty file (0 bytes), expected an image");
  if (!LooksLikeImage(bytes.data(), bytes.size())) {
    throw Error(path + ": not an image (unrecognised leading bytes), expected JPEG/PNG/BMP/PNM/TIFF/WebP");
  }
  int w = 0, h = 0;
  if (ProbeImageSize(bytes, &w, &h)) {
    if (w <= 0 || h <= 0) {
      throw Error(path + ": image header gives size " + std::to_string(w) + "x" + std::to_string(h));
    }
    if (static_cast<std::int64_t>(w) * h > opts.max_pixels) {
      throw Error(path + ": image header gives size " + std::to_string(w) + "x" + std::to_string(h) +
                  ", more than the limit of " + std::to_string(opts.max_pixels) + " pixels");
    }
  }
  const int flag = opts.color == ColorMode::kGray    ? cv::IMREAD_GRAYSCALE
                   : opts.color == ColorMode::kColor ? cv::IMREAD_COLOR
                                                     : cv::IMREAD_UNCHANGED;
  cv::Mat img;
  try {
    img =
        cv::imdecode(cv::Mat(1, static_cast<int>(bytes.size()), CV_8U, const_cast<unsigned char*>(bytes.data())), flag);
  } catch (const cv::Exception& e) {
    throw Error(path + ": image decoder failed: " + e.what());
  }
  if (img.empty()) throw Error(path + ": corrupt or truncated image (decoder returned nothing)");
  if (img.depth() != CV_8U) {
    cv::Mat tmp;
    img.convertTo(tmp, CV_8U, img.depth() == CV_16U ? 1.0 / 257 : 1.0);
    img = tmp;
  }
  return img;
}

cv::Mat Dataset::LoadImage(std::size_t i, const DecodeOptions& opts) const {
  if (i >= samples_.size()) {
    throw Error("sample index " + std::to_string(i) + " out of range (" + std::to_string(size()) + " samples)");
  }
  const Sample& s = samples_[i];
  if (!s.image.empty()) return ConvertColor(s.image, opts.color);
  return DecodeImageFile(s.source, opts);
}

Dataset Dataset::Subset(std::size_t n_per_class, std::uint64_t seed, bool allow_fewer) const {
  std::vector<std::vector<std::size_t>> by_class(class_names_.size());
  for (std::size_t i = 0; i < samples_.size(); ++i) by_class[samples_[i].label].push_back(i);
  std::vector<std::size_t> keep;
  for (std::size_t c = 0; c < by_class.size(); ++c) {
    auto idx = by_class[c];
    if (idx.size() < n_per_class && !allow_fewer) {
      throw Error("class '" + class_names_[c] + "' has " + std::to_string(idx.size()) + " samples, fewer than the " +
                  std::to_string(n_per_class) + " asked for");
    }
    Rng rng(MixSeed(seed, c + 1));
    rng.Shuffle(idx);
    idx.resize(std::min(idx.size(), n_per_class));
    keep.insert(keep.end(), idx.begin(), idx.end());
  }
  std::sort(keep.begin(), keep.end());
  std::vector<Sample> out;
  out.reserve(keep.size());
  for (auto i : keep) out.push_back(samples_[i]);
  return Dataset(class_names_, std::move(out));
}

Dataset Dataset::Select(const std::vector<std::size_t>& indices) const {
  std::vector<Sample> out;
  out.reserve(indices.size());
  for (auto i : indices) {
    if (i >= samples_.size()) {
      throw Error("Dataset::Select: index " + std::to_string(i) + " is outside a dataset of " +
                  std::to_string(samples_.size()));
    }
    out.push_back(samples_[i]);
  }
  return Dataset(class_names_, std::move(out));
}

Dataset::Split Dataset::StratifiedSplit(double fraction, std::uint64_t seed) const {
  if (!(fraction >= 0.0 && fraction <= 1.0)) {
    throw Error("split fraction must be in [0, 1], got " + std::to_string(fraction));
  }
  std::vector<std::vector<std::size_t>> by_class(class_names_.size());
  for (std::size_t i = 0; i < samples_.size(); ++i) by_class[samples_[i].label].push_back(i);
  std::vector<char> to_second(samples_.size(), 0);
  for (std::size_t c = 0; c < by_class.size(); ++c) {
    auto idx = by_class[c];
    Rng rng(MixSeed(seed, 1000003 + c));
    rng.Shuffle(idx);
    const auto n2 = static_cast<std::size_t>(std::llround(fraction * static_cast<double>(idx.size())));
    for (std::size_t j = 0; j < n2; ++j) to_second[idx[j]] = 1;
  }
  std::vector<Sample> a, b;
  for (std::size_t i = 0; i < samples_.size(); ++i) (to_second[i] ? b : a).push_back(samples_[i]);
  return Split{Dataset(class_names_, std::move(a)), Dataset(class_names_, std::move(b))};
}

std::uint64_t Dataset::Fingerprint() const {
  std::uint64_t h = Fnv1a64("scenelab-dataset-v1");
  for (const auto& c : class_names_) h = Fnv1a64(c.data(), c.size() + 0, h ^ 0x1f);
  for (const auto& s : samples_) {
    h = Fnv1a64(s.source.data(), s.source.size(), h ^ static_cast<std::uint64_t>(s.label + 7));
    if (!s.image.empty() && s.image.isContinuous()) {
      h = Fnv1a64(s.image.data, s.image.total() * s.image.elemSize(), h);
    }
  }
  return h;
}

}  // namespace scenelab::data

// IDX files (LeCun's MNIST format, also Fashion-MNIST): a 4-byte magic
// (0, 0, type, ndims), ndims big-endian uint32 sizes, then the data.
#include <zlib.h>
#include <filesystem>

#include <algorithm>
#include <cctype>
#include <sstream>

#include "scenelab/data/error.h"
#include "scenelab/data/io.h"
#include "scenelab/data/readers.h"

namespace fs = std::filesystem;

namespace scenelab::data {

namespace {
constexpr std::size_t kMaxInflated = std::size_t{1} << 31;  // refuse gzip bombs

std::vector<unsigned char> Gunzip(const std::vector<unsigned char>& in, const std::string& what) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) throw Error(what + ": zlib initialisation failed");
  std::vector<unsigned char> out;
  out.resize(std::max<std::size_t>(in.size() * 4, 1 << 16));
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  int ret = Z_OK;
  while (ret != Z_STREAM_END) {
    if (zs.total_out >= out.size()) {
      if (out.size() >= kMaxInflated) {
        inflateEnd(&zs);
        throw Error(what + ": decompresses to more than 2 GiB; refusing");
      }
      out.resize(std::min(out.size() * 2, kMaxInflated));
    }
    zs.next_out = out.data() + zs.total_out;
    zs.avail_out = static_cast<uInt>(out.size() - zs.total_out);
    ret = inflate(&zs, Z_NO_FLUSH);
    if (ret == Z_BUF_ERROR && zs.avail_in == 0) {
      inflateEnd(&zs);
      throw Error(what + ": truncated gzip stream (ended after " + std::to_string(zs.total_out) +
                  " decompressed bytes)");
    }
    if (ret != Z_OK && ret != Z_STREAM_END && ret != Z_BUF_ERROR) {
      const std::string msg = zs.msg ? zs.msg : "unknown error";
      inflateEnd(&zs);
      throw Error(what + ": corrupt gzip data (" + msg + ")");
    }
  }
  out.resize(zs.total_out);
  inflateEnd(&zs);
  return out;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// Finds e.g. "train-images-idx3-ubyte" or "train-images.idx3-ubyte[.gz]".
std::string FindIdx(const fs::path& root, const std::string& prefix, const std::string& kind) {
  std::vector<std::string> hits;
  std::error_code ec;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const std::string l = Lower(name);
    if (l.rfind(prefix, 0) == 0 && l.find(kind) != std::string::npos) hits.push_back(it->path().string());
  }
  std::sort(hits.begin(), hits.end());
  if (hits.empty()) {
    throw Error(root.string() + ": missing IDX file '" + prefix + "-" + kind + "-ubyte[.gz]'");
  }
  // Prefer the uncompressed one when both exist.
  for (const auto& h : hits) {
    if (Lower(h).size() < 3 || Lower(h).substr(h.size() - 3) != ".gz") return h;
  }
  return hits.front();
}

const std::vector<std::string> kFashionNames = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
const std::vector<std::string> kDigitNames = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
// The datasets are recognised by content, never by their path: the first
// training labels of the published files (Xiao et al. 2017; LeCun et al.).
const std::vector<unsigned char> kFashionFirstLabels = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5, 0, 9, 5, 5, 7, 9,
                                                        1, 0, 6, 4, 3, 1, 4, 8, 4, 3, 0, 2, 4, 4, 5, 3};
const std::vector<unsigned char> kMnistFirstLabels = {5, 0, 4, 1, 9, 2, 1, 3, 1, 4, 3, 5, 3, 6, 1, 7,
                                                      2, 8, 6, 9, 4, 0, 9, 1, 1, 2, 4, 3, 2, 7, 3, 8};

// "fashion-mnist", "mnist" or "" from the shapes and the first training labels.
std::string Recognise(const IdxArray& train_images, const IdxArray& train_labels) {
  if (train_images.dims.size() != 3 || train_images.dims[0] != 60000 || train_images.dims[1] != 28 ||
      train_images.dims[2] != 28 || train_labels.data.size() < kFashionFirstLabels.size()) {
    return "";
  }
  auto starts_with = [&](const std::vector<unsigned char>& head) {
    return std::equal(head.begin(), head.end(), train_labels.data.begin());
  };
  if (starts_with(kFashionFirstLabels)) return "fashion-mnist";
  if (starts_with(kMnistFirstLabels)) return "mnist";
  return "";
}
}  // namespace

std::vector<std::string> ReadClassNamesFile(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw Error("--class-names: " + path + ": no such file");
  std::vector<std::string> names;
  std::istringstream in(ReadFileText(path));
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    if (std::find(names.begin(), names.end(), line) != names.end()) {
      throw Error("--class-names: " + path + ": line " + std::to_string(n) + " repeats the class name '" + line + "'");
    }
    names.push_back(line);
  }
  if (names.empty()) throw Error("--class-names: " + path + ": no class names (one per line, in label order)");
  return names;
}

std::vector<unsigned char> ReadMaybeGzip(const std::string& path) {
  auto bytes = ReadFileBytes(path);
  if (bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b) return Gunzip(bytes, path);
  return bytes;
}

IdxArray ParseIdx(const std::vector<unsigned char>& b, const std::string& what) {
  if (b.size() < 4) {
    throw Error(what + ": truncated IDX header (" + std::to_string(b.size()) + " bytes, expected at least 4)");
  }
  if (b[0] != 0 || b[1] != 0) {
    throw Error(what + ": bad IDX magic number: first two bytes are " + std::to_string(b[0]) + "," +
                std::to_string(b[1]) + ", expected 0,0");
  }
  if (b[2] != 0x08) {
    throw Error(what + ": IDX data type 0x" + Hex64(b[2]).substr(14) +
                " is not supported (expected 0x08, unsigned byte)");
  }
  const int nd = b[3];
  if (nd < 1 || nd > 4) throw Error(what + ": IDX has " + std::to_string(nd) + " dimensions, expected 1 to 4");
  if (b.size() < 4 + 4 * static_cast<std::size_t>(nd)) {
    throw Error(what + ": truncated IDX header: " + std::to_string(nd) + " dimension sizes need " +
                std::to_string(4 + 4 * nd) + " bytes, file has " + std::to_string(b.size()));
  }
  IdxArray a;
  std::uint64_t total = 1;
  for (int i = 0; i < nd; ++i) {
    const unsigned char* p = &b[4 + 4 * i];
    const std::uint32_t d =
        (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
    if (d > (1u << 30))
      throw Error(what + ": IDX dimension " + std::to_string(i) + " is " + std::to_string(d) + ", too large");
    a.dims.push_back(static_cast<int>(d));
    total *= d;
    if (total > (std::uint64_t{1} << 34)) throw Error(what + ": IDX claims more than 16 GiB of data");
  }
  const std::size_t header = 4 + 4 * static_cast<std::size_t>(nd);
  const std::size_t have = b.size() - header;
  if (have < total) {
    throw Error(what + ": truncated IDX data: header claims " + std::to_string(a.dims[0]) + " items (" +
                std::to_string(total) + " bytes), file holds " + std::to_string(have) + " bytes");
  }
  if (have > total) {
    throw Error(what + ": IDX has " + std::to_string(have - total) + " trailing bytes after the " +
                std::to_string(total) + " the header describes");
  }
  a.data.assign(b.begin() + static_cast<std::ptrdiff_t>(header), b.end());
  return a;
}

DatasetInfo ReadIdxDataset(const std::string& root_str, const OpenOptions& opts) {
  const fs::path root(root_str);
  std::error_code ec;
  if (!fs::is_directory(root, ec)) throw Error(root_str + ": no such directory");
  DatasetInfo info;
  info.format = DatasetFormat::kIdx;
  info.root = root_str;
  struct Part {
    std::string split, prefix;
  };
  std::vector<std::pair<std::string, std::pair<IdxArray, IdxArray>>> parts;
  std::vector<std::string> label_paths;
  for (const Part& part : {Part{"train", "train"}, Part{"test", "t10k"}}) {
    const std::string ip = FindIdx(root, part.prefix, "images");
    const std::string lp = FindIdx(root, part.prefix, "labels");
    IdxArray im = ParseIdx(ReadMaybeGzip(ip), ip);
    IdxArray lb = ParseIdx(ReadMaybeGzip(lp), lp);
    if (im.dims.size() != 3)
      throw Error(ip + ": expected a 3-dimensional image IDX, found " + std::to_string(im.dims.size()) + " dimensions");
    if (lb.dims.size() != 1)
      throw Error(lp + ": expected a 1-dimensional label IDX, found " + std::to_string(lb.dims.size()) + " dimensions");
    if (im.dims[0] != lb.dims[0]) {
      throw Error(lp + ": holds " + std::to_string(lb.dims[0]) + " labels but " + ip + " holds " +
                  std::to_string(im.dims[0]) + " images");
    }
    parts.push_back({part.split, {std::move(im), std::move(lb)}});
    label_paths.push_back(lp);
  }
  // Class names: given (--class-names), else recognised by content, else "0".."max".
  std::vector<std::string> names;
  if (!opts.class_names_file.empty()) {
    names = ReadClassNamesFile(opts.class_names_file);
    info.recognised_as = "class names from " + opts.class_names_file;
  } else {
    info.recognised_as = Recognise(parts[0].second.first, parts[0].second.second);
    if (info.recognised_as == "fashion-mnist") names = kFashionNames;
    if (info.recognised_as == "mnist") names = kDigitNames;
  }
  int max_label = -1;
  for (std::size_t p = 0; p < parts.size(); ++p) {
    const auto& lb = parts[p].second.second;
    for (std::size_t i = 0; i < lb.data.size(); ++i) {
      if (!names.empty() && lb.data[i] >= names.size()) {
        throw Error(label_paths[p] + ": label " + std::to_string(lb.data[i]) + " at item " + std::to_string(i) +
                    " is out of range [0, " + std::to_string(names.size() - 1) + "] (" +
                    (opts.class_names_file.empty() ? info.recognised_as : opts.class_names_file) + " has " +
                    std::to_string(names.size()) + " classes)");
      }
      max_label = std::max<int>(max_label, lb.data[i]);
    }
  }
  if (!names.empty()) {
    info.class_names = names;
  } else {
    const int num_classes = std::max(10, max_label + 1);
    for (int c = 0; c < num_classes; ++c) info.class_names.push_back(std::to_string(c));
  }
  for (auto& [split, arrays] : parts) {
    auto& [im, lb] = arrays;
    const int n = im.dims[0], rows = im.dims[1], cols = im.dims[2];
    // One shared buffer; every sample is a view into it.
    cv::Mat all(n, rows * cols, CV_8U);
    if (!im.data.empty()) std::copy(im.data.begin(), im.data.end(), all.data);
    std::vector<Sample> samples;
    samples.reserve(n);
    const std::string src = FindIdx(root, split == "train" ? "train" : "t10k", "images");
    for (int i = 0; i < n; ++i) {
      samples.push_back(Sample{lb.data[i], src + "#" + std::to_string(i), all.row(i).reshape(1, rows)});
    }
    info.splits.emplace_back(split, Dataset(info.class_names, std::move(samples)));
  }
  info.class_descriptions = info.class_names;
  return info;
}

}  // namespace scenelab::data

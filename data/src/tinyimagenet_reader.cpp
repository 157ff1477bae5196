// Tiny-ImageNet-200: wnids.txt (one WordNet id per line), words.txt
// ("wnid<TAB>names"), train/<wnid>/images/*.JPEG, val/images/*.JPEG with
// val/val_annotations.txt ("file<TAB>wnid<TAB>x0<TAB>y0<TAB>x1<TAB>y1").
#include <algorithm>
#include <filesystem>
#include <set>
#include <sstream>

#include "scenelab/data/error.h"
#include "scenelab/data/io.h"
#include "scenelab/data/readers.h"

namespace fs = std::filesystem;

namespace scenelab::data {

namespace {
std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {  // also takes a last line with no newline
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(line);
  }
  return out;
}
std::string Trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}
}  // namespace

std::vector<std::string> ParseWnids(const std::string& text, const std::string& what) {
  std::vector<std::string> ids;
  std::set<std::string> seen;
  int lineno = 0;
  for (const auto& raw : Lines(text)) {
    ++lineno;
    const std::string id = Trim(raw);
    if (id.empty()) continue;
    if (id.find_first_of(" \t/\\") != std::string::npos || id == "." || id == "..") {
      throw Error(what + ":" + std::to_string(lineno) + ": invalid wnid '" + id + "'");
    }
    if (!seen.insert(id).second) throw Error(what + ":" + std::to_string(lineno) + ": duplicate wnid '" + id + "'");
    ids.push_back(id);
  }
  if (ids.empty()) throw Error(what + ": no wnids found (expected one per line)");
  return ids;
}

std::map<std::string, std::string> ParseWords(const std::string& text, const std::string& what) {
  std::map<std::string, std::string> words;
  int lineno = 0;
  for (const auto& raw : Lines(text)) {
    ++lineno;
    if (Trim(raw).empty()) continue;
    const auto tab = raw.find('\t');
    if (tab == std::string::npos) {
      throw Error(what + ":" + std::to_string(lineno) + ": expected 'wnid<TAB>names', found no tab");
    }
    words[Trim(raw.substr(0, tab))] = Trim(raw.substr(tab + 1));
  }
  return words;
}

std::vector<std::pair<std::string, std::string>> ParseValAnnotations(const std::string& text, const std::string& what) {
  std::vector<std::pair<std::string, std::string>> out;
  int lineno = 0;
  for (const auto& raw : Lines(text)) {
    ++lineno;
    if (Trim(raw).empty()) continue;
    std::vector<std::string> f;
    std::string field;
    std::istringstream in(raw);
    while (std::getline(in, field, '\t')) f.push_back(field);
    if (f.size() < 2) {
      throw Error(what + ":" + std::to_string(lineno) +
                  ": expected at least 2 tab-separated fields "
                  "(file, wnid), found " +
                  std::to_string(f.size()));
    }
    const std::string file = Trim(f[0]);
    if (file.empty() || file.find('/') != std::string::npos || file.find("..") != std::string::npos) {
      throw Error(what + ":" + std::to_string(lineno) + ": invalid image file name '" + file + "'");
    }
    out.emplace_back(file, Trim(f[1]));
  }
  return out;
}

DatasetInfo ReadTinyImageNet(const std::string& root_str, const OpenOptions& opts) {
  const fs::path root(root_str);
  std::error_code ec;
  if (!fs::is_directory(root, ec)) throw Error(root_str + ": no such directory");
  DatasetInfo info;
  info.format = DatasetFormat::kTinyImageNet;
  info.root = root_str;
  const fs::path wp = root / "wnids.txt";
  const auto wnids = ParseWnids(ReadFileText(wp), wp.string());
  std::map<std::string, std::string> words;
  if (fs::exists(root / "words.txt", ec))
    words = ParseWords(ReadFileText(root / "words.txt"), (root / "words.txt").string());
  info.class_names = wnids;
  for (const auto& id : wnids) {
    auto it = words.find(id);
    info.class_descriptions.push_back(it == words.end() ? id : it->second);
  }
  std::map<std::string, int> label_of;
  for (std::size_t i = 0; i < wnids.size(); ++i) label_of[wnids[i]] = static_cast<int>(i);

  auto is_image = [&](const fs::path& p, std::size_t* skipped_non, std::size_t* skipped_bad) {
    if (SniffImageFile(p.string())) return true;
    std::string ext = p.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    if (ext == ".jpeg" || ext == ".jpg" || ext == ".png") {
      if (!opts.skip_bad) throw Error(p.string() + ": has an image extension but is not an image");
      ++*skipped_bad;
    } else {
      ++*skipped_non;
    }
    return false;
  };

  std::vector<Sample> train;
  for (std::size_t c = 0; c < wnids.size(); ++c) {
    const fs::path dir = root / "train" / wnids[c] / "images";
    if (!fs::is_directory(dir, ec)) throw Error(dir.string() + ": missing train folder for wnid '" + wnids[c] + "'");
    std::vector<fs::path> files;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      std::error_code ec2;
      if (it->is_regular_file(ec2)) files.push_back(it->path());
    }
    std::sort(files.begin(), files.end());
    std::size_t before = train.size();
    for (const auto& f : files) {
      if (is_image(f, &info.skipped_non_images, &info.skipped_bad_images)) {
        train.push_back(Sample{static_cast<int>(c), f.string(), {}});
      }
    }
    if (train.size() == before)
      throw Error(dir.string() + ": empty class folder for wnid '" + wnids[c] + "' (0 images)");
  }
  info.splits.emplace_back("train", Dataset(info.class_names, std::move(train)));

  const fs::path ann = root / "val" / "val_annotations.txt";
  if (fs::exists(ann, ec)) {
    std::vector<Sample> val;
    int lineno = 0;
    for (const auto& [file, wnid] : ParseValAnnotations(ReadFileText(ann), ann.string())) {
      ++lineno;
      auto it = label_of.find(wnid);
      if (it == label_of.end()) {
        throw Error(ann.string() + ": entry " + std::to_string(lineno) + " ('" + file + "') names wnid '" + wnid +
                    "', which is not in wnids.txt");
      }
      const fs::path img = root / "val" / "images" / file;
      if (!fs::is_regular_file(img, ec)) throw Error(img.string() + ": listed in val_annotations.txt but missing");
      val.push_back(Sample{it->second, img.string(), {}});
    }
    info.splits.emplace_back("val", Dataset(info.class_names, std::move(val)));
  }
  return info;
}

}  // namespace scenelab::data

#include "scenelab/features/cache.h"

#include <cstring>
#include <filesystem>
#include <fstream>

#include "scenelab/data/error.h"
#include "scenelab/data/io.h"

namespace scenelab::features {

namespace {
constexpr char kMatrixMagic[8] = {'S', 'L', 'M', 'A', 'T', 'R', 'X', '1'};
constexpr char kSiftMagic[8] = {'S', 'L', 'S', 'I', 'F', 'T', 'S', '1'};
constexpr char kMatrixSetMagic[8] = {'S', 'L', 'M', 'S', 'E', 'T', 'S', '1'};

// Streams straight to the file; the trailing checksum covers every byte.
class Writer {
 public:
  explicit Writer(const std::string& path) : out_(path, /*durable=*/false) {}
  void Raw(const void* p, std::size_t n) {
    sum_.Update(p, n);
    out_.Write(p, n);
  }
  template <typename T>
  void Pod(T v) {
    Raw(&v, sizeof v);
  }
  void Str(const std::string& s) {
    Pod<std::uint32_t>(static_cast<std::uint32_t>(s.size()));
    Raw(s.data(), s.size());
  }
  void Commit() {
    const std::uint64_t d = sum_.Digest();
    out_.Write(&d, sizeof d);
    out_.Commit();
  }

 private:
  AtomicFileWriter out_;
  Checksum64 sum_;
};

// Streams from the file, checksumming as it goes; Finish() checks the sum,
// so nothing read is trusted until then.
class Reader {
 public:
  explicit Reader(const std::string& path) : in_(path, std::ios::binary), path_(path) {
    if (!in_) throw Error(path_ + ": cannot open");
    in_.seekg(0, std::ios::end);
    const auto size = static_cast<std::int64_t>(in_.tellg());
    in_.seekg(0);
    if (size < 16) throw Error(path_ + ": cache file too short (" + std::to_string(size) + " bytes)");
    end_ = static_cast<std::size_t>(size) - 8;
  }
  void Raw(void* p, std::size_t n) {
    if (n > end_ - pos_) throw Error(path_ + ": truncated cache file");
    if (!in_.read(static_cast<char*>(p), static_cast<std::streamsize>(n))) throw Error(path_ + ": read failed");
    sum_.Update(p, n);
    pos_ += n;
  }
  template <typename T>
  T Pod() {
    T v;
    Raw(&v, sizeof v);
    return v;
  }
  std::string Str() {
    const auto n = Pod<std::uint32_t>();
    if (n > end_ - pos_) throw Error(path_ + ": truncated cache file");
    std::string s(n, '\0');
    Raw(s.data(), n);
    return s;
  }
  void Begin(const char magic[8]) {
    char m[8];
    Raw(m, 8);
    if (std::memcmp(m, magic, 8) != 0) throw Error(path_ + ": wrong magic (not this kind of cache file)");
  }
  void Finish() {
    if (pos_ != end_) throw Error(path_ + ": " + std::to_string(end_ - pos_) + " unexpected trailing bytes");
    std::uint64_t stored = 0;
    if (!in_.read(reinterpret_cast<char*>(&stored), 8)) throw Error(path_ + ": truncated cache file");
    if (stored != sum_.Digest()) throw Error(path_ + ": checksum mismatch (corrupt cache file)");
  }
  std::size_t remaining() const { return end_ - pos_; }

 private:
  std::ifstream in_;
  std::string path_;
  Checksum64 sum_;
  std::size_t pos_ = 0;
  std::size_t end_ = 0;
};

template <typename Fn>
auto TryLoad(const std::string& path, std::string* why, Fn&& fn)
    -> std::optional<decltype(fn(std::declval<Reader&>()))> {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    if (why) *why = "missing";
    return std::nullopt;
  }
  try {
    Reader r(path);
    auto out = fn(r);
    r.Finish();
    return out;
  } catch (const Error& e) {
    if (why) *why = e.what();
    return std::nullopt;
  } catch (const std::bad_alloc&) {
    if (why) *why = path + ": sizes in the header are implausible";
    return std::nullopt;
  }
}
}  // namespace

void SaveMatrixCache(const std::string& path, const std::string& key, const Matrix& m) {
  Writer w(path);
  w.Raw(kMatrixMagic, 8);
  w.Str(key);
  w.Pod<std::uint64_t>(static_cast<std::uint64_t>(m.rows()));
  w.Pod<std::uint64_t>(static_cast<std::uint64_t>(m.cols()));
  w.Raw(m.data(), sizeof(float) * static_cast<std::size_t>(m.size()));
  w.Commit();
}

namespace {
// `expected` null: accept any key and store it in `*found`.
std::optional<Matrix> ReadMatrixFile(const std::string& path, const std::string* expected, std::string* found,
                                     std::string* why) {
  return TryLoad(path, why, [&](Reader& r) {
    r.Begin(kMatrixMagic);
    const std::string key = r.Str();
    if (expected && key != *expected) throw Error(path + ": made for other parameters (key mismatch)");
    if (found) *found = key;
    const auto rows = r.Pod<std::uint64_t>(), cols = r.Pod<std::uint64_t>();
    if (cols != 0 && rows > r.remaining() / sizeof(float) / cols) throw Error(path + ": truncated matrix payload");
    if (rows * cols * sizeof(float) != r.remaining()) throw Error(path + ": matrix payload size mismatch");
    Matrix m(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
    r.Raw(m.data(), sizeof(float) * rows * cols);
    return m;
  });
}
}  // namespace

std::optional<Matrix> LoadMatrixCache(const std::string& path, const std::string& key, std::string* why) {
  return ReadMatrixFile(path, &key, nullptr, why);
}

std::optional<Matrix> LoadMatrixCacheAnyKey(const std::string& path, std::string* key, std::string* why) {
  return ReadMatrixFile(path, nullptr, key, why);
}

void SaveMatrixSetCache(const std::string& path, const std::string& key,
                        const std::vector<std::pair<std::string, Matrix>>& parts) {
  Writer w(path);
  w.Raw(kMatrixSetMagic, 8);
  w.Str(key);
  w.Pod<std::uint64_t>(parts.size());
  for (const auto& [name, m] : parts) {
    w.Str(name);
    w.Pod<std::uint64_t>(static_cast<std::uint64_t>(m.rows()));
    w.Pod<std::uint64_t>(static_cast<std::uint64_t>(m.cols()));
    w.Raw(m.data(), sizeof(float) * static_cast<std::size_t>(m.size()));
  }
  w.Commit();
}

std::optional<std::vector<std::pair<std::string, Matrix>>> LoadMatrixSetCache(const std::string& path,
                                                                              const std::string& key,
                                                                              std::string* why) {
  return TryLoad(path, why, [&](Reader& r) {
    r.Begin(kMatrixSetMagic);
    if (r.Str() != key) throw Error(path + ": made for other parameters (key mismatch)");
    const auto n = r.Pod<std::uint64_t>();
    if (n > r.remaining() / 24) throw Error(path + ": matrix count " + std::to_string(n) + " exceeds the file size");
    std::vector<std::pair<std::string, Matrix>> out;
    for (std::uint64_t i = 0; i < n; ++i) {
      std::string name = r.Str();
      const auto rows = r.Pod<std::uint64_t>(), cols = r.Pod<std::uint64_t>();
      if (cols != 0 && rows > r.remaining() / sizeof(float) / cols)
        throw Error(path + ": truncated matrix '" + name + "'");
      Matrix m(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
      r.Raw(m.data(), sizeof(float) * rows * cols);
      out.emplace_back(std::move(name), std::move(m));
    }
    return out;
  });
}

void SaveSiftCache(const std::string& path, const std::string& key, const std::vector<SiftFeatures>& fs) {
  Writer w(path);
  w.Raw(kSiftMagic, 8);
  w.Str(key);
  w.Pod<std::uint64_t>(fs.size());
  for (const auto& f : fs) {
    w.Pod<std::int32_t>(f.width);
    w.Pod<std::int32_t>(f.height);
    w.Pod<std::uint64_t>(static_cast<std::uint64_t>(f.descriptors.rows()));
    w.Pod<std::uint32_t>(static_cast<std::uint32_t>(f.descriptors.cols()));
    w.Raw(f.descriptors.data(), static_cast<std::size_t>(f.descriptors.size()));
    w.Raw(f.frames.data(), sizeof(float) * static_cast<std::size_t>(f.frames.size()));
  }
  w.Commit();
}

std::optional<std::vector<SiftFeatures>> LoadSiftCache(const std::string& path, const std::string& key,
                                                       std::string* why) {
  return TryLoad(path, why, [&](Reader& r) {
    r.Begin(kSiftMagic);
    if (r.Str() != key) throw Error(path + ": made for other parameters (key mismatch)");
    const auto n = r.Pod<std::uint64_t>();
    if (n > r.remaining() / 16) throw Error(path + ": image count " + std::to_string(n) + " exceeds the file size");
    std::vector<SiftFeatures> out(n);
    for (auto& f : out) {
      f.width = r.Pod<std::int32_t>();
      f.height = r.Pod<std::int32_t>();
      const auto rows = r.Pod<std::uint64_t>();
      const auto cols = r.Pod<std::uint32_t>();
      if (cols != 128 || rows > r.remaining() / (128 + 12)) throw Error(path + ": bad descriptor block");
      f.descriptors.resize(static_cast<Eigen::Index>(rows), cols);
      f.frames.resize(static_cast<Eigen::Index>(rows), 3);
      r.Raw(f.descriptors.data(), static_cast<std::size_t>(f.descriptors.size()));
      r.Raw(f.frames.data(), sizeof(float) * static_cast<std::size_t>(f.frames.size()));
    }
    return out;
  });
}

}  // namespace scenelab::features

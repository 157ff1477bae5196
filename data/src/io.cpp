#include "scenelab/data/io.h"

#include <fcntl.h>
#include <unistd.h>
#include <filesystem>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "scenelab/data/error.h"

namespace fs = std::filesystem;

namespace scenelab {

std::vector<unsigned char> ReadFileBytes(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    throw Error(path.string() + ": expected a file, found a directory");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw Error(path.string() + ": cannot open for reading (" + std::strerror(errno) + ")");
  }
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0) throw Error(path.string() + ": cannot determine file size");
  in.seekg(0, std::ios::beg);
  std::vector<unsigned char> bytes(static_cast<std::size_t>(size));
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size)) {
    throw Error(path.string() + ": read failed after " + std::to_string(in.gcount()) + " of " + std::to_string(size) +
                " bytes");
  }
  return bytes;
}

std::string ReadFileText(const fs::path& path) {
  auto b = ReadFileBytes(path);
  return std::string(b.begin(), b.end());
}

AtomicFileWriter::AtomicFileWriter(fs::path path, bool durable) : path_(std::move(path)), durable_(durable) {
  std::error_code ec;
  if (path_.has_parent_path()) fs::create_directories(path_.parent_path(), ec);
  tmp_ = path_.string() + ".tmp." + std::to_string(::getpid());
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error(tmp_.string() + ": cannot create (" + std::strerror(errno) + ")");
  buf_.reserve(1 << 20);
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(tmp_.c_str());
  }
}

void AtomicFileWriter::Flush() {
  std::size_t off = 0;
  while (off < buf_.size()) {
    const ssize_t n = ::write(fd_, buf_.data() + off, buf_.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(tmp_.string() + ": write failed (" + std::strerror(errno) + ")");
    }
    off += static_cast<std::size_t>(n);
  }
  buf_.clear();
}

void AtomicFileWriter::Write(const void* data, std::size_t size) {
  if (fd_ < 0) throw Error(path_.string() + ": write after commit");
  const char* p = static_cast<const char*>(data);
  if (buf_.size() + size > buf_.capacity()) Flush();
  if (size >= buf_.capacity()) {
    buf_.assign(p, p + size);
    Flush();
  } else {
    buf_.insert(buf_.end(), p, p + size);
  }
}

void AtomicFileWriter::Commit() {
  Flush();
  // fsync so that a rename that survives a crash never points at lost data.
  if (durable_) ::fsync(fd_);
  ::close(fd_);
  fd_ = -1;
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp_.c_str());
    throw Error(path_.string() + ": cannot rename temporary file into place (" + why + ")");
  }
}

void WriteFileAtomic(const fs::path& path, std::string_view bytes) {
  AtomicFileWriter w(path);
  w.Write(bytes.data(), bytes.size());
  w.Commit();
}

namespace {
inline std::uint64_t Rotl(std::uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
constexpr std::uint64_t kP1 = 0x9E3779B185EBCA87ull, kP2 = 0xC2B2AE3D27D4EB4Full;
}  // namespace

void Checksum64::Block(const unsigned char* p) {
  for (int l = 0; l < 4; ++l) {
    std::uint64_t w;
    std::memcpy(&w, p + 8 * l, 8);
    lanes_[l] = Rotl(lanes_[l] + w * kP2, 31) * kP1;
  }
}

void Checksum64::Update(const void* data, std::size_t size) {
  const auto* p = static_cast<const unsigned char*>(data);
  total_ += size;
  if (tail_size_) {
    const std::size_t take = std::min(size, 32 - tail_size_);
    std::memcpy(tail_ + tail_size_, p, take);
    tail_size_ += take;
    p += take;
    size -= take;
    if (tail_size_ < 32) return;
    Block(tail_);
    tail_size_ = 0;
  }
  while (size >= 32) {
    Block(p);
    p += 32;
    size -= 32;
  }
  std::memcpy(tail_, p, size);
  tail_size_ = size;
}

std::uint64_t Checksum64::Digest() const {
  std::uint64_t h = Rotl(lanes_[0], 1) + Rotl(lanes_[1], 7) + Rotl(lanes_[2], 12) + Rotl(lanes_[3], 18);
  h ^= total_ * kP1;
  for (std::size_t i = 0; i < tail_size_; ++i) h = Rotl(h ^ (tail_[i] * kP2), 11) * kP1;
  h ^= h >> 33;
  h *= kP2;
  h ^= h >> 29;
  return h;
}

std::uint64_t Fnv1a64(const void* data, std::size_t size, std::uint64_t seed) {
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint64_t h = seed;
  for (std::size_t i = 0; i < size; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

std::uint64_t Fnv1a64(std::string_view s) { return Fnv1a64(s.data(), s.size()); }

std::string Hex64(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string SafeFileName(std::string_view name) {
  std::string out;
  bool changed = false;
  for (unsigned char c : name) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    out.push_back(ok ? static_cast<char>(c) : '_');
    changed |= !ok;
  }
  if (out.empty() || out == "." || out == ".." || out.front() == '.') {
    out = "_" + out;
    changed = true;
  }
  if (out.size() > 80) {
    out.resize(80);
    changed = true;
  }
  if (changed) out += "-" + Hex64(Fnv1a64(name)).substr(0, 8);
  return out;
}

fs::path JoinInside(const fs::path& root, const fs::path& relative) {
  if (relative.is_absolute()) {
    throw Error("refusing absolute path '" + relative.string() + "' inside '" + root.string() + "'");
  }
  fs::path joined = (root / relative).lexically_normal();
  const fs::path base = root.lexically_normal();
  auto rel = joined.lexically_relative(base);
  if (rel.empty() || *rel.begin() == "..") {
    throw Error("refusing path '" + relative.string() + "': it leaves '" + root.string() + "'");
  }
  return joined;
}

}  // namespace scenelab

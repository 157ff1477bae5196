#include "scenelab/data/io.h"

#include <filesystem>
#include <fcntl.h>
#include <unistd.h>

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
    throw Error(path.string() + ": read failed after " + std::to_string(in.gcount()) + " of " +
                std::to_string(size) + " bytes");
  }
  return bytes;
}

std::string ReadFileText(const fs::path& path) {
  auto b = ReadFileBytes(path);
  return std::string(b.begin(), b.end());
}

void WriteFileAtomic(const fs::path& path, std::string_view bytes) {
  std::error_code ec;
  if (path.has_parent_path()) fs::create_directories(path.parent_path(), ec);
  const fs::path tmp = path.string() + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw Error(tmp.string() + ": cannot create (" + std::strerror(errno) + ")");
  }
  std::size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string why = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      throw Error(tmp.string() + ": write failed (" + why + ")");
    }
    off += static_cast<std::size_t>(n);
  }
  // fsync so that a rename that survives a crash never points at lost data.
  ::fsync(fd);
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    throw Error(path.string() + ": cannot rename temporary file into place (" + why + ")");
  }
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
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
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
  const fs::path joined = (root / relative).lexically_normal();
  const fs::path base = root.lexically_normal();
  auto rel = joined.lexically_relative(base);
  if (rel.empty() || *rel.begin() == "..") {
    throw Error("refusing path '" + relative.string() + "': it leaves '" + root.string() + "'");
  }
  return joined;
}

}  // namespace scenelab

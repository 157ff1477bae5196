#pragma once
// File helpers shared by every module: whole-file reads with clear errors,
// atomic writes (temporary file + rename), checksums and safe file names.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace scenelab {

// Reads a whole file; throws Error naming the path when it cannot.
std::vector<unsigned char> ReadFileBytes(const std::filesystem::path& path);
std::string ReadFileText(const std::filesystem::path& path);

// Writes to "<path>.tmp.<pid>", flushes, then renames over `path`, so a
// reader never sees a half-written file, even after a crash.
void WriteFileAtomic(const std::filesystem::path& path, std::string_view bytes);

// Streams a file into place: bytes go to "<path>.tmp.<pid>", Commit()
// renames it over `path`; destroyed uncommitted, it removes the temporary.
class AtomicFileWriter {
 public:
  // `durable`: fsync before the rename (results); caches may skip it since
  // their checksums catch a torn write anyway.
  explicit AtomicFileWriter(std::filesystem::path path, bool durable = true);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
  void Write(const void* data, std::size_t size);
  void Commit();

 private:
  std::filesystem::path path_, tmp_;
  int fd_ = -1;
  bool durable_;
  std::vector<char> buf_;
  void Flush();
};

// Fast incremental 64-bit checksum (word-wise multiply-rotate, 4 lanes);
// detects truncation and flipped bits in cache files at memory speed.
class Checksum64 {
 public:
  void Update(const void* data, std::size_t size);
  std::uint64_t Digest() const;

 private:
  std::uint64_t lanes_[4] = {0x9E3779B185EBCA87ull, 0xC2B2AE3D27D4EB4Full, 0x165667B19E3779F9ull,
                             0x27D4EB2F165667C5ull};
  unsigned char tail_[32];
  std::size_t tail_size_ = 0;
  std::uint64_t total_ = 0;
  void Block(const unsigned char* p);
};

// 64-bit FNV-1a; used for cache keys and to detect corrupt cache payloads.
std::uint64_t Fnv1a64(const void* data, std::size_t size, std::uint64_t seed = 0xcbf29ce484222325ull);
std::uint64_t Fnv1a64(std::string_view s);
std::string Hex64(std::uint64_t v);

// Makes a class or file name safe as a single path component: keeps ASCII
// letters, digits, '-', '_' and '.', replaces the rest, never returns "",
// "." or "..". Distinct inputs stay distinct through a short hash suffix
// whenever anything had to be replaced.
std::string SafeFileName(std::string_view name);

// Throws Error unless `path` stays inside `root` after normalisation.
std::filesystem::path JoinInside(const std::filesystem::path& root, const std::filesystem::path& relative);

}  // namespace scenelab

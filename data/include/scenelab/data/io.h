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

// 64-bit FNV-1a; used for cache keys and to detect corrupt cache payloads.
std::uint64_t Fnv1a64(const void* data, std::size_t size,
                      std::uint64_t seed = 0xcbf29ce484222325ull);
std::uint64_t Fnv1a64(std::string_view s);
std::string Hex64(std::uint64_t v);

// Makes a class or file name safe as a single path component: keeps ASCII
// letters, digits, '-', '_' and '.', replaces the rest, never returns "",
// "." or "..". Distinct inputs stay distinct through a short hash suffix
// whenever anything had to be replaced.
std::string SafeFileName(std::string_view name);

// Throws Error unless `path` stays inside `root` after normalisation.
std::filesystem::path JoinInside(const std::filesystem::path& root,
                                 const std::filesystem::path& relative);

}  // namespace scenelab

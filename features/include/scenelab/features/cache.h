#pragma once
// On-disk cache of stage outputs. Each file starts with a magic, the cache
// key it was made for, and ends with a checksum of everything before it, so
// a stale, truncated or bit-flipped file is detected and rebuilt, never
// trusted.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "scenelab/features/dense_sift.h"
#include "scenelab/features/types.h"

namespace scenelab::features {

void SaveMatrixCache(const std::string& path, const std::string& key, const Matrix& m);
// nullopt when missing, made for another key, or corrupt (`why` says which).
std::optional<Matrix> LoadMatrixCache(const std::string& path, const std::string& key, std::string* why = nullptr);
// Reads a matrix file whatever its key, and returns the key stored in it
// (files such as vocabularies keep their parameters there).
std::optional<Matrix> LoadMatrixCacheAnyKey(const std::string& path, std::string* key, std::string* why = nullptr);

// Several named matrices in one file (an encoder's model).
void SaveMatrixSetCache(const std::string& path, const std::string& key,
                        const std::vector<std::pair<std::string, Matrix>>& parts);
std::optional<std::vector<std::pair<std::string, Matrix>>> LoadMatrixSetCache(const std::string& path,
                                                                              const std::string& key,
                                                                              std::string* why = nullptr);

void SaveSiftCache(const std::string& path, const std::string& key, const std::vector<SiftFeatures>& f);
std::optional<std::vector<SiftFeatures>> LoadSiftCache(const std::string& path, const std::string& key,
                                                       std::string* why = nullptr);

}  // namespace scenelab::features

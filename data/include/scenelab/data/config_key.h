#pragma once
// Cache keys: an ordered list of "name=value" parts, hashed into a short
// file-name-safe id. The full key is stored inside each cache file too, so
// a hash collision is caught on load.
#include <sstream>
#include <string>

#include "scenelab/data/io.h"

namespace scenelab {

class CacheKey {
 public:
  explicit CacheKey(std::string stage) : text_(std::move(stage)) {}
  template <typename T>
  CacheKey& Add(const std::string& name, const T& value) {
    std::ostringstream s;
    s.precision(17);
    s << value;
    text_ += "|" + name + "=" + s.str();
    return *this;
  }
  const std::string& text() const { return text_; }
  std::string id() const { return Hex64(Fnv1a64(text_)); }

 private:
  std::string text_;
};

}  // namespace scenelab

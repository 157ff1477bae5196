#pragma once
// The one exception type of scenelab. Every message names what was being
// read (a file, a field, an option) and what was expected versus found.
#include <stdexcept>
#include <string>

namespace scenelab {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace scenelab

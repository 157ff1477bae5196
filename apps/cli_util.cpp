#include "cli_util.h"

#include <algorithm>
#include <sstream>

#include "scenelab/pipelines/sweep.h"

namespace scenelab::app {

std::vector<std::string> SplitList(const std::string& text) { return pipelines::SplitList(text); }

std::vector<int> ParseIntList(const std::string& text, const std::string& flag) {
  return pipelines::ParseIntList(text, flag);
}

}  // namespace scenelab::app

#pragma once
// Small parsers for CLI values such as "--k 1-10" or "--metric l1,l2".
#include <string>
#include <vector>

namespace scenelab::app {

// "1-10", "1,3,5", "2-6,10" -> sorted unique integers. Throws Error naming `flag`.
std::vector<int> ParseIntList(const std::string& text, const std::string& flag);
// "l1,l2" -> {"l1", "l2"}
std::vector<std::string> SplitList(const std::string& text);

}  // namespace scenelab::app

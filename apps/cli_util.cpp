#include "cli_util.h"

#include <algorithm>
#include <sstream>

#include "scenelab/data/error.h"

namespace scenelab::app {

std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(text);
  while (std::getline(in, item, ',')) {
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::vector<int> ParseIntList(const std::string& text, const std::string& flag) {
  auto to_int = [&](const std::string& s) {
    try {
      std::size_t used = 0;
      const int v = std::stoi(s, &used);
      if (used != s.size()) throw std::invalid_argument("x");
      return v;
    } catch (const std::exception&) {
      throw Error(flag + ": expected an integer, a range a-b or a list, found '" + s + "' in '" + text + "'");
    }
  };
  std::vector<int> out;
  for (const auto& part : SplitList(text)) {
    const auto dash = part.find('-', 1);
    if (dash == std::string::npos) {
      out.push_back(to_int(part));
    } else {
      const int a = to_int(part.substr(0, dash)), b = to_int(part.substr(dash + 1));
      if (b < a) throw Error(flag + ": empty range '" + part + "'");
      if (b - a > 100000) throw Error(flag + ": range '" + part + "' is too long");
      for (int v = a; v <= b; ++v) out.push_back(v);
    }
  }
  if (out.empty()) throw Error(flag + ": empty list '" + text + "'");
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace scenelab::app

#include "cli_util.h"

namespace scenelab::app {

std::string DefaultText(const nlohmann::json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    std::string out;
    for (const auto& x : v) out += (out.empty() ? "" : ",") + (x.is_string() ? x.get<std::string>() : x.dump());
    return out;
  }
  return v.dump();
}

}  // namespace scenelab::app

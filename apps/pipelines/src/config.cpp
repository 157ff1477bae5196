#include "scenelab/pipelines/config.h"

#include <yaml-cpp/yaml.h>

#include "scenelab/data/error.h"
#include "scenelab/data/io.h"
#include "scenelab/pipelines/options.h"
#include "scenelab/pipelines/sweep.h"

namespace scenelab::pipelines {

namespace {
nlohmann::json ToJson(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Sequence: {
      nlohmann::json a = nlohmann::json::array();
      for (const auto& x : n) a.push_back(ToJson(x));
      return a;
    }
    case YAML::NodeType::Map: {
      nlohmann::json o = nlohmann::json::object();
      for (const auto& kv : n) o[kv.first.as<std::string>()] = ToJson(kv.second);
      return o;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = n.Scalar();
      if (n.Tag() == "!") return s;  // quoted: keep as a string
      if (s == "true" || s == "True") return true;
      if (s == "false" || s == "False") return false;
      if (s == "null" || s == "~") return nullptr;
      try {
        std::size_t used = 0;
        const long long v = std::stoll(s, &used);
        if (used == s.size()) return v;
      } catch (const std::exception&) {
      }
      try {
        std::size_t used = 0;
        const double v = std::stod(s, &used);
        if (used == s.size()) return v;
      } catch (const std::exception&) {
      }
      return s;
    }
  }
  return nullptr;
}

}  // namespace

nlohmann::json ParseConfigText(const std::string& text, const std::string& what) {
  try {
    return ToJson(YAML::Load(text));
  } catch (const YAML::Exception& e) {
    throw Error(what + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
}

nlohmann::json LoadConfigFile(const std::string& path) { return ParseConfigText(ReadFileText(path), path); }

void ApplyDataJson(const nlohmann::json& j, DataConfig* cfg, const std::string& what) {
  if (!j.is_object()) throw Error(what + ": expected a mapping");
  // The data entries of the option table, without presets or the rest of
  // the pipeline's validation.
  ClassicConfig tmp;
  tmp.data = *cfg;
  for (const auto& g : OptionsFromJson(j, what, {}, "data")) g.spec->set(&tmp, g.value, g.what);
  tmp.data.Validate();
  *cfg = tmp.data;
}

void ApplyProtocol(const std::string& name, ClassicConfig* cfg) {
  // The preset mechanism of the option table, as `protocol:` in a config.
  ApplyOptions({{FindClassicOption("protocol"), name, "protocol"}}, cfg, /*validate=*/false);
}

void ApplyClassicJson(const nlohmann::json& j, ClassicConfig* cfg, const std::string& what) {
  ApplyOptions(OptionsFromJson(j, what, {"type", "name", "sweep"}), cfg, /*validate=*/false);
}

}  // namespace scenelab::pipelines

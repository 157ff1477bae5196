#pragma once
// Config files: YAML or JSON (JSON is read as YAML), turned into JSON so the
// rest of the code sees one representation. Errors name the file and line.
#include <string>

#include <nlohmann/json.hpp>

#include "scenelab/pipelines/classic.h"

namespace scenelab::pipelines {

nlohmann::json LoadConfigFile(const std::string& path);
nlohmann::json ParseConfigText(const std::string& text, const std::string& what);

// Fills a ClassicConfig from a pipeline entry such as
// {"type": "bow", "sift": {"step": 5, "bins": [8]}, "vocab": {"size": 200}, "knn": {"metrics": ["l1"], "k": "1-10"}}.
// Unknown keys are errors that name the key.
void ApplyClassicJson(const nlohmann::json& j, ClassicConfig* cfg, const std::string& what);
void ApplyDataJson(const nlohmann::json& j, DataConfig* cfg, const std::string& what);

// Named evaluation protocols, usable as `--protocol` and `protocol:` in any
// config: lazebnik (10 seeded random splits, 100 training images per class,
// the rest for testing) or standard (the dataset's own split, once).
void ApplyProtocol(const std::string& name, ClassicConfig* cfg);

}  // namespace scenelab::pipelines

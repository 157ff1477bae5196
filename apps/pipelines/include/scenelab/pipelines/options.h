#pragma once
// The option table of the classic pipeline (ClassicConfig; data/option_table.h
// has the mechanism). Each entry holds the config key, the CLI flag, the
// help, the kind, and how to read and write the value. The CLI options of
// `classic` and `sweep`, the keys of YAML/JSON configs (sweep --config,
// compare), the `params` echo in results.json and the presets (recipes,
// protocols) all come from it, so a new option is one entry.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "scenelab/data/option_table.h"
#include "scenelab/pipelines/classic.h"

namespace scenelab::pipelines {

using scenelab::OptionKind;
using OptionSpec = BasicOptionSpec<ClassicConfig>;
using GivenOption = BasicGivenOption<ClassicConfig>;

// The data block's entries (path, format, per-class counts, skip_bad, ...),
// shared by the classic table (under "data") and `cnn train`.
const OptionTable<DataConfig>& DataOptions();
const OptionTable<ClassicConfig>& ClassicOptions();

const std::vector<OptionSpec>& ClassicOptionTable();
// The entry for a canonical key or an alias; nullptr when there is none.
const OptionSpec* FindClassicOption(const std::string& key);

// The options of a config mapping (OptionTable::FromJson of the classic table).
std::vector<GivenOption> OptionsFromJson(const nlohmann::json& j, const std::string& what,
                                         const std::vector<std::string>& skip = {}, const std::string& prefix = "");

// Presets, then the given values (OptionTable::Apply), then cfg->Validate()
// unless `validate` is false (a caller with more to apply).
void ApplyOptions(const std::vector<GivenOption>& given, ClassicConfig* cfg, bool validate = true);

// results.json's params: every echoed entry that applies, by canonical key.
nlohmann::ordered_json EchoClassic(const ClassicConfig& cfg);

// A preset's values by canonical key: Preset("recipe", "phow").
const nlohmann::json& Preset(const std::string& kind, const std::string& name);

}  // namespace scenelab::pipelines

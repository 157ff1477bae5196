#pragma once
// One table of the classic pipeline's options (ClassicConfig). Each entry
// holds the config key, the CLI flag, the help, the kind, and how to read
// and write the value. The CLI options of `classic` and `sweep`, the keys of
// YAML/JSON configs (sweep --config, compare), the `params` echo in
// results.json and the presets (recipes, protocols) all come from it, so a
// new option is one entry.
//
// Values arrive as JSON: CLI text as a JSON string, config values as they
// are. Both go through the entry's one parser, so the CLI and a config file
// reject a bad value with the same message (only the prefix naming the
// source differs). The echo uses the canonical keys, so a run's params are a
// valid config for the same run.
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "scenelab/pipelines/classic.h"

namespace scenelab::pipelines {

enum class OptionKind {
  kScalar,  // one number or string
  kList,    // several values: "1-10,15", [1, 3] or a single value
  kChoice,  // one of `choices`
  kFlag,    // a CLI switch; true/false in a config
};

struct OptionSpec {
  std::string key;                   // dotted config key and params path, e.g. "vocabulary.size"
  std::vector<std::string> aliases;  // other config spellings accepted, e.g. "vocab.size"
  std::string flag;                  // CLI flag; empty = config files only
  std::string help;
  OptionKind kind = OptionKind::kScalar;
  std::vector<std::string> choices;    // kChoice: the accepted values
  std::vector<std::string> conflicts;  // a preset leaves this entry alone when one of these keys is given
  bool preset = false;                 // names a preset (recipe, protocol) applied before the other values
  bool sweepable = false;              // `sweep` takes a list here and makes it a grid axis
  bool echo = true;                    // written to results.json's params
  std::function<bool(const ClassicConfig&)> applies;  // echoed only when this holds; empty = always
  std::function<void(ClassicConfig*, const nlohmann::json&, const std::string& what)> set;
  std::function<nlohmann::json(const ClassicConfig&)> get;
};

const std::vector<OptionSpec>& ClassicOptionTable();
// The entry for a canonical key or an alias; nullptr when there is none.
const OptionSpec* FindClassicOption(const std::string& key);

// A value given for an option, and where it came from (for messages).
struct GivenOption {
  const OptionSpec* spec = nullptr;
  nlohmann::json value;
  std::string what;  // "--step" or "exp.yaml: sift.step"
};

// The options of a config mapping, with nested ({sift: {step: 4}}) or dotted
// ("sift.step": 4) keys. Top-level keys in `skip` are left to the caller. An
// unknown key is an error naming it and the keys known at its level.
// `prefix`: the mapping sits under this key ("data" for a shared data block).
std::vector<GivenOption> OptionsFromJson(const nlohmann::json& j, const std::string& what,
                                         const std::vector<std::string>& skip = {}, const std::string& prefix = "");

// Applies presets first (recipe, protocol; except for keys given explicitly
// or their `conflicts`), then the given values in table order (for one key
// the later value wins, so list the config file before the CLI), then
// cfg->Validate() unless `validate` is false (a caller with more to apply).
void ApplyOptions(const std::vector<GivenOption>& given, ClassicConfig* cfg, bool validate = true);

// results.json's params: every echoed entry that applies, by canonical key.
nlohmann::ordered_json EchoClassic(const ClassicConfig& cfg);

// A preset's values by canonical key: Preset("recipe", "phow").
const nlohmann::json& Preset(const std::string& kind, const std::string& name);

// Parsers every entry uses, exposed for the other config readers (sweep grids).
int IntFromJson(const nlohmann::json& v, const std::string& what);
double DoubleFromJson(const nlohmann::json& v, const std::string& what);

}  // namespace scenelab::pipelines

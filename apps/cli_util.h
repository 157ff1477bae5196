#pragma once
// CLI11 options from option tables (data/option_table.h): one flag per entry
// that has one, its text handed to the entry's parser as a config file's
// value is, so both reject a bad value with the same message.
#include <map>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "scenelab/data/option_table.h"

namespace scenelab::app {

// A default as the CLI shows it: lists comma-separated, strings bare.
std::string DefaultText(const nlohmann::json& v);

template <typename Config>
class TableFlags {
 public:
  // Adds a flag for every entry of `table` that has one, except `skip`.
  void Add(CLI::App* cmd, const OptionTable<Config>& table, const std::vector<std::string>& skip = {}) {
    cmd_ = cmd;
    table_ = &table;
    skip_ = skip;
    for (const auto& s : table.entries()) {
      if (s.flag.empty() || Skipped(s)) continue;
      if (s.kind == OptionKind::kFlag) {
        cmd->add_flag(s.flag, on_[s.key], s.help);
        continue;
      }
      auto* opt = cmd->add_option(s.flag, text_[s.key], s.help);
      opt->type_name(s.kind == OptionKind::kList ? "LIST" : s.kind == OptionKind::kChoice ? "CHOICE" : "VALUE");
      const std::string d = s.preset ? "" : DefaultText(s.get(Config{}));
      if (!d.empty()) opt->default_str(d);
    }
  }

  // The flags given on the command line, as the table's values.
  std::vector<BasicGivenOption<Config>> Given() const {
    std::vector<BasicGivenOption<Config>> out;
    for (const auto& s : table_->entries()) {
      if (s.flag.empty() || Skipped(s) || cmd_->count(s.flag) == 0) continue;
      if (s.kind == OptionKind::kFlag)
        out.push_back({&s, nlohmann::json(true), s.flag});
      else
        out.push_back({&s, nlohmann::json(text_.at(s.key)), s.flag});
    }
    return out;
  }

 private:
  bool Skipped(const BasicOptionSpec<Config>& s) const {
    for (const auto& k : skip_) {
      if (s.key == k) return true;
    }
    return false;
  }

  CLI::App* cmd_ = nullptr;  // to tell explicit flags from defaults
  const OptionTable<Config>* table_ = nullptr;
  std::vector<std::string> skip_;
  std::map<std::string, std::string> text_;  // by key; std::map keeps addresses stable for CLI11
  std::map<std::string, bool> on_;           // switches, by key
};

}  // namespace scenelab::app

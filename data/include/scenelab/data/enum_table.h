#pragma once
// EnumTable: the one to/from-string table of an enum option. Library option
// structs hold enums; their names live here, once, for the CLI, config
// files, echoes and messages (option_table.h builds options from it).
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "scenelab/data/error.h"

namespace scenelab {

// One to/from-string table of an enum: the names a config and the CLI use,
// in the order `--help` lists them.
template <typename E>
class EnumTable {
 public:
  EnumTable(std::initializer_list<std::pair<E, const char*>> entries) : entries_(entries) {}
  // Throws "unknown value 'x' (expected a, b or c)".
  E Parse(const std::string& text) const {
    for (const auto& [e, name] : entries_) {
      if (text == name) return e;
    }
    std::string list;
    for (std::size_t i = 0; i < entries_.size(); ++i)
      list += std::string(i ? i + 1 == entries_.size() ? " or " : ", " : "") + entries_[i].second;
    throw Error("unknown value '" + text + "' (expected " + list + ")");
  }
  std::string Show(E e) const {
    for (const auto& [v, name] : entries_) {
      if (v == e) return name;
    }
    return "?";
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& entry : entries_) out.emplace_back(entry.second);
    return out;
  }

 private:
  std::vector<std::pair<E, const char*>> entries_;
};

}  // namespace scenelab

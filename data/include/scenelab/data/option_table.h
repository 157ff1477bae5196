#pragma once
// Option tables: one entry per option of a config struct, holding its config
// key, CLI flag, help, kind, check and how to read and write the value. A
// table gives the CLI options, the YAML/JSON keys, the echo written into
// results (and checkpoints), and the values presets set, so a new option is
// one entry and the CLI and a config file cannot drift apart.
//
// Values arrive as JSON: CLI text as a JSON string, config values as they
// are. Both go through the entry's one parser, so the CLI and a config file
// reject a bad value with the same message (only the prefix naming the
// source differs). The echo uses the canonical keys, so it is a valid config
// for the same run.
//
// The pipelines build tables for ClassicConfig and DataConfig, cnn/ for
// TrainConfig and DistributedOptions.
#include <algorithm>
#include <functional>
#include <initializer_list>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "scenelab/data/enum_table.h"
#include "scenelab/data/error.h"

namespace scenelab {

enum class OptionKind {
  kScalar,  // one number or string
  kList,    // several values: "1-10,15", [1, 3] or a single value
  kChoice,  // one of `choices`
  kFlag,    // a CLI switch; true/false in a config
};

template <typename Config>
struct BasicOptionSpec {
  std::string key;                   // dotted config key and echo path, e.g. "vocabulary.size"
  std::vector<std::string> aliases;  // other config spellings accepted, e.g. "vocab.size"
  std::string flag;                  // CLI flag; empty = config files only
  std::string help;
  OptionKind kind = OptionKind::kScalar;
  std::vector<std::string> choices;            // kChoice: the accepted values
  std::vector<std::string> conflicts;          // a preset leaves this entry alone when one of these keys is given
  bool preset = false;                         // names a preset (recipe, protocol) applied before the other values
  bool sweepable = false;                      // `sweep` takes a list here and makes it a grid axis
  bool echo = true;                            // written to the echo (results.json's params, checkpoints)
  bool required = false;                       // a stored echo (checkpoint metadata) must carry it
  std::function<bool(const Config&)> applies;  // echoed only when this holds; empty = always
  std::function<void(Config*, const nlohmann::json&, const std::string& what)> set;
  std::function<nlohmann::json(const Config&)> get;
  // Presets: the values (by canonical key) a preset name stands for.
  std::function<const nlohmann::json&(const std::string& name)> preset_values;
};

// A value given for an option, and where it came from (for messages).
template <typename Config>
struct BasicGivenOption {
  const BasicOptionSpec<Config>* spec = nullptr;
  nlohmann::json value;
  std::string what;  // "--step" or "exp.yaml: sift.step"
};

// ---- The one parser per value type, shared by every table. ----

std::string ShowJson(const nlohmann::json& v);
double DoubleFromJson(const nlohmann::json& v, const std::string& what);
bool BoolFromJson(const nlohmann::json& v, const std::string& what);
std::string StringFromJson(const nlohmann::json& v, const std::string& what);
std::string ChoiceFromJson(const nlohmann::json& v, const std::string& what, const std::vector<std::string>& choices);
// Strings split on commas; arrays as they are; one value as a list of one.
std::vector<nlohmann::json> ListItems(const nlohmann::json& v);
// "l1, l2" -> {"l1", "l2"} (items trimmed, empty items dropped).
std::vector<std::string> SplitList(const std::string& text);
// The one integer-list syntax: "1-10", "1,3,5", "2-6,10" -> sorted unique
// integers. Errors name `what`.
std::vector<int> ParseIntList(const std::string& text, const std::string& what);
// 5, [1, 3, 5] or "1-10,15" -> sorted unique integers, through ParseIntList,
// so [1, "x"] and "1,x" fail with the same message.
std::vector<int> IntListFromJson(const nlohmann::json& v, const std::string& what);
// Sets `path` (dotted) in `j` to `v`, creating the objects on the way.
void SetJsonPath(nlohmann::ordered_json* j, const std::string& path, const nlohmann::json& v);

namespace detail {
bool ParseWholeInteger(const std::string& s, long long* out);
bool ParseWholeUnsigned(const std::string& s, unsigned long long* out);
}  // namespace detail

// An integer of type T, range-checked: nlohmann's get<int>() converts a float
// such as 1e127 with undefined behaviour. Whole-string text ("5", not "5abc").
template <typename T>
T IntegerFromJson(const nlohmann::json& v, const std::string& what) {
  const auto bad = [&] {
    return Error(what + ": expected " + (std::is_unsigned_v<T> ? "a non-negative integer" : "an integer") + ", found " +
                 ShowJson(v));
  };
  long long s = 0;           // the value when negative
  unsigned long long u = 0;  // the value when not
  bool negative = false;
  if (v.is_number_unsigned()) {
    u = v.get<unsigned long long>();
  } else if (v.is_number_integer()) {
    s = v.get<long long>();
    negative = s < 0;
    if (!negative) u = static_cast<unsigned long long>(s);
  } else if (v.is_string()) {
    const std::string text = v.get<std::string>();
    negative = !text.empty() && text[0] == '-';
    if (negative ? !detail::ParseWholeInteger(text, &s) : !detail::ParseWholeUnsigned(text, &u)) throw bad();
  } else {
    throw bad();
  }
  if (negative) {
    if constexpr (std::is_unsigned_v<T>) {
      throw Error(what + ": must be >= 0, got " + ShowJson(v));
    } else {
      if (s < static_cast<long long>(std::numeric_limits<T>::min()))
        throw Error(what + ": " + ShowJson(v) + " is out of range");
      return static_cast<T>(s);
    }
  }
  if (u > static_cast<unsigned long long>(std::numeric_limits<T>::max()))
    throw Error(what + ": " + ShowJson(v) + " is out of range");
  return static_cast<T>(u);
}

// Rewrites an exception from a domain parser (ParseNorm, ParseMetric, ...)
// to name the option it came from.
template <typename F>
auto NamedError(const std::string& what, F&& f) {
  try {
    return f();
  } catch (const Error& e) {
    throw Error(what + ": " + e.what());
  }
}

// ---- Entry builders. `field` is the accessor of one field, written
// +[](Config& c) -> auto& { return c.some.field; }. ----

template <typename T, typename Config>
using FieldRef = T& (*)(Config&);

namespace detail {
template <typename T, typename Config>
const T& Read(FieldRef<T, Config> r, const Config& c) {
  return r(const_cast<Config&>(c));  // the accessor only names the field
}
template <typename Config>
BasicOptionSpec<Config> Entry(const std::string& key, const std::string& flag, const std::string& help,
                              OptionKind kind) {
  BasicOptionSpec<Config> s;
  s.key = key;
  s.flag = flag;
  s.help = help;
  s.kind = kind;
  return s;
}
}  // namespace detail

template <typename T, typename Config>
BasicOptionSpec<Config> IntOption(const std::string& key, const std::string& flag, const std::string& help,
                                  FieldRef<T, Config> r) {
  auto s = detail::Entry<Config>(key, flag, help, OptionKind::kScalar);
  s.set = [r](Config* c, const nlohmann::json& v, const std::string& w) { r(*c) = IntegerFromJson<T>(v, w); };
  s.get = [r](const Config& c) { return nlohmann::json(detail::Read(r, c)); };
  return s;
}

template <typename Config>
BasicOptionSpec<Config> DoubleOption(const std::string& key, const std::string& flag, const std::string& help,
                                     FieldRef<double, Config> r) {
  auto s = detail::Entry<Config>(key, flag, help, OptionKind::kScalar);
  s.set = [r](Config* c, const nlohmann::json& v, const std::string& w) { r(*c) = DoubleFromJson(v, w); };
  s.get = [r](const Config& c) { return nlohmann::json(detail::Read(r, c)); };
  return s;
}

template <typename Config>
BasicOptionSpec<Config> FlagOption(const std::string& key, const std::string& flag, const std::string& help,
                                   FieldRef<bool, Config> r) {
  auto s = detail::Entry<Config>(key, flag, help, OptionKind::kFlag);
  s.set = [r](Config* c, const nlohmann::json& v, const std::string& w) { r(*c) = BoolFromJson(v, w); };
  s.get = [r](const Config& c) { return nlohmann::json(detail::Read(r, c)); };
  return s;
}

template <typename Config>
BasicOptionSpec<Config> TextOption(const std::string& key, const std::string& flag, const std::string& help,
                                   FieldRef<std::string, Config> r) {
  auto s = detail::Entry<Config>(key, flag, help, OptionKind::kScalar);
  s.set = [r](Config* c, const nlohmann::json& v, const std::string& w) { r(*c) = StringFromJson(v, w); };
  s.get = [r](const Config& c) { return nlohmann::json(detail::Read(r, c)); };
  return s;
}

template <typename Config>
BasicOptionSpec<Config> ChoiceOption(const std::string& key, const std::string& flag, const std::string& help,
                                     FieldRef<std::string, Config> r, const std::vector<std::string>& choices) {
  auto s = detail::Entry<Config>(key, flag, help, OptionKind::kChoice);
  s.choices = choices;
  s.set = [r, choices](Config* c, const nlohmann::json& v, const std::string& w) {
    r(*c) = ChoiceFromJson(v, w, choices);
  };
  s.get = [r](const Config& c) { return nlohmann::json(detail::Read(r, c)); };
  return s;
}

// An enum field through its table (which must outlive the option table: a
// function-local static).
template <typename E, typename Config>
BasicOptionSpec<Config> EnumTableOption(const std::string& key, const std::string& flag, const std::string& help,
                                        FieldRef<E, Config> r, const EnumTable<E>& table) {
  auto s = detail::Entry<Config>(key, flag, help, OptionKind::kChoice);
  s.choices = table.names();
  s.set = [r, &table](Config* c, const nlohmann::json& v, const std::string& w) {
    const std::string text = StringFromJson(v, w);
    r(*c) = NamedError(w, [&] { return table.Parse(text); });
  };
  s.get = [r, &table](const Config& c) { return nlohmann::json(table.Show(detail::Read(r, c))); };
  return s;
}

// An enum with its own to/from-string pair.
template <typename E, typename Config>
BasicOptionSpec<Config> EnumOption(const std::string& key, const std::string& flag, const std::string& help,
                                   FieldRef<E, Config> r, E (*parse)(const std::string&), std::string (*show)(E),
                                   const std::vector<std::string>& choices) {
  auto s = detail::Entry<Config>(key, flag, help, OptionKind::kChoice);
  s.choices = choices;
  s.set = [r, parse](Config* c, const nlohmann::json& v, const std::string& w) {
    const std::string text = StringFromJson(v, w);
    r(*c) = NamedError(w, [&] { return parse(text); });
  };
  s.get = [r, show](const Config& c) { return nlohmann::json(show(detail::Read(r, c))); };
  return s;
}

// Sorted, unique integers through IntListFromJson. `allow_empty`: "" and []
// clear the list.
template <typename Config>
BasicOptionSpec<Config> IntSetOption(const std::string& key, const std::string& flag, const std::string& help,
                                     FieldRef<std::vector<int>, Config> r, bool allow_empty = false) {
  auto s = detail::Entry<Config>(key, flag, help, OptionKind::kList);
  s.set = [r, allow_empty](Config* c, const nlohmann::json& v, const std::string& w) {
    if (allow_empty && ((v.is_array() && v.empty()) || (v.is_string() && v.get<std::string>().empty()))) {
      r(*c).clear();
      return;
    }
    r(*c) = IntListFromJson(v, w);
  };
  s.get = [r](const Config& c) { return nlohmann::json(detail::Read(r, c)); };
  return s;
}

// Words from `choices`, in the given order, without repeats: "crop,flip",
// ["crop", "flip"] or "crop".
template <typename Config>
BasicOptionSpec<Config> ChoiceListOption(const std::string& key, const std::string& flag, const std::string& help,
                                         FieldRef<std::vector<std::string>, Config> r,
                                         const std::vector<std::string>& choices) {
  auto s = detail::Entry<Config>(key, flag, help, OptionKind::kList);
  s.choices = choices;
  s.set = [r, choices](Config* c, const nlohmann::json& v, const std::string& w) {
    std::vector<std::string> out;
    for (const auto& x : ListItems(v)) {
      // A number as its text, so [1] and "1" fail alike.
      const std::string item = ChoiceFromJson(x.is_number() ? nlohmann::json(x.dump()) : x, w, choices);
      if (std::find(out.begin(), out.end(), item) == out.end()) out.push_back(item);
    }
    r(*c) = out;
  };
  s.get = [r](const Config& c) { return nlohmann::json(detail::Read(r, c)); };
  return s;
}

template <typename Config>
BasicOptionSpec<Config> When(BasicOptionSpec<Config> s, bool (*p)(const Config&)) {
  s.applies = p;
  return s;
}
template <typename Config>
BasicOptionSpec<Config> Aka(BasicOptionSpec<Config> s, const std::vector<std::string>& aliases) {
  s.aliases = aliases;
  return s;
}
template <typename Config>
BasicOptionSpec<Config> Sweepable(BasicOptionSpec<Config> s) {
  s.sweepable = true;
  return s;
}
template <typename Config>
BasicOptionSpec<Config> NoEcho(BasicOptionSpec<Config> s) {
  s.echo = false;
  return s;
}
template <typename Config>
BasicOptionSpec<Config> Required(BasicOptionSpec<Config> s) {
  s.required = true;
  return s;
}

// The entries of a part's table (DataConfig inside ClassicConfig) as entries
// of the whole, under `prefix` ("data"): keys, aliases and conflicts are
// prefixed, values read and written through `part`.
template <typename Outer, typename Inner>
std::vector<BasicOptionSpec<Outer>> Nest(const std::vector<BasicOptionSpec<Inner>>& inner, FieldRef<Inner, Outer> part,
                                         const std::string& prefix) {
  std::vector<BasicOptionSpec<Outer>> out;
  for (const auto& e : inner) {
    BasicOptionSpec<Outer> s;
    s.key = prefix + "." + e.key;
    for (const auto& a : e.aliases) s.aliases.push_back(prefix + "." + a);
    for (const auto& c : e.conflicts) s.conflicts.push_back(prefix + "." + c);
    s.flag = e.flag;
    s.help = e.help;
    s.kind = e.kind;
    s.choices = e.choices;
    s.preset = e.preset;
    s.sweepable = e.sweepable;
    s.echo = e.echo;
    s.required = e.required;
    s.preset_values = e.preset_values;
    if (e.applies) s.applies = [f = e.applies, part](const Outer& o) { return f(detail::Read(part, o)); };
    s.set = [f = e.set, part](Outer* o, const nlohmann::json& v, const std::string& w) { f(&part(*o), v, w); };
    s.get = [f = e.get, part](const Outer& o) { return f(detail::Read(part, o)); };
    out.push_back(std::move(s));
  }
  return out;
}

// ---- A table. ----

template <typename Config>
class OptionTable {
 public:
  using Spec = BasicOptionSpec<Config>;
  using Given = BasicGivenOption<Config>;

  explicit OptionTable(std::vector<Spec> entries) : entries_(std::move(entries)) {
    for (const auto& s : entries_) {
      index_[s.key] = &s;
      for (const auto& a : s.aliases) index_[a] = &s;
    }
  }
  OptionTable(const OptionTable&) = delete;  // index_ points into entries_
  OptionTable& operator=(const OptionTable&) = delete;

  const std::vector<Spec>& entries() const { return entries_; }

  // The entry for a canonical key or an alias; nullptr when there is none.
  const Spec* Find(const std::string& key) const {
    const auto it = index_.find(key);
    return it == index_.end() ? nullptr : it->second;
  }
  // The entry for a key that must exist (the code's own keys).
  const Spec& At(const std::string& key) const {
    const Spec* s = Find(key);
    if (!s) throw Error("option table: no entry '" + key + "'");
    return *s;
  }

  // The options of a config mapping, with nested ({sift: {step: 4}}) or
  // dotted ("sift.step": 4) keys. Top-level keys in `skip` are left to the
  // caller. An unknown key is an error naming it and the keys known at its
  // level. `prefix`: the mapping sits under this key ("data" for a shared
  // data block).
  std::vector<Given> FromJson(const nlohmann::json& j, const std::string& what,
                              const std::vector<std::string>& skip = {}, const std::string& prefix = "") const {
    if (!j.is_object()) throw Error(what + ": expected a mapping");
    nlohmann::json rest = j;
    for (const auto& k : skip) rest.erase(k);
    std::vector<Given> out;
    Collect(rest, prefix, prefix, what, &out);
    return out;
  }

  // Applies presets first (except for keys given explicitly or their
  // `conflicts`), then the given values in table order (for one key the
  // later value wins, so list the config file before the CLI).
  void Apply(const std::vector<Given>& given, Config* cfg) const {
    std::set<std::string> explicit_keys;
    for (const auto& g : given) {
      if (!g.spec->preset) explicit_keys.insert(g.spec->key);
    }
    for (const auto& g : given) {
      if (!g.spec->preset) continue;
      g.spec->set(cfg, g.value, g.what);  // checks the name
      const std::string name = g.value.template get<std::string>();
      std::vector<std::pair<const Spec*, nlohmann::json>> ordered;
      for (const auto& [k, v] : g.spec->preset_values(name).items()) ordered.emplace_back(&At(k), v);
      std::stable_sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      for (const auto& [spec, v] : ordered) {
        bool given_here = explicit_keys.count(spec->key) > 0;
        for (const auto& c : spec->conflicts) given_here = given_here || explicit_keys.count(c) > 0;
        if (!given_here) spec->set(cfg, v, g.what + " " + name + ": " + spec->key);
      }
    }
    std::vector<const Given*> ordered;
    for (const auto& g : given) {
      if (!g.spec->preset) ordered.push_back(&g);
    }
    std::stable_sort(ordered.begin(), ordered.end(), [](const Given* a, const Given* b) { return a->spec < b->spec; });
    for (const Given* g : ordered) g->spec->set(cfg, g->value, g->what);
  }

  // A stored echo read back: every value through its parser, and every
  // `required` key present.
  void ApplyStored(const nlohmann::json& j, const std::string& what, Config* cfg) const {
    Apply(FromJson(j, what), cfg);
    for (const auto& s : entries_) {
      if (!s.required) continue;
      const nlohmann::json* at = &j;
      std::size_t start = 0;
      for (;;) {
        const auto dot = s.key.find('.', start);
        const std::string part = s.key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        if (!at->is_object() || !at->contains(part)) throw Error(what + ": '" + s.key + "' is missing");
        at = &(*at)[part];
        if (dot == std::string::npos) break;
        start = dot + 1;
      }
    }
  }

  // Every echoed entry that applies, by canonical key.
  nlohmann::ordered_json Echo(const Config& cfg) const {
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    for (const auto& s : entries_) {
      if (!s.echo || (s.applies && !s.applies(cfg))) continue;
      SetJsonPath(&j, s.key, s.get(cfg));
    }
    return j;
  }

  // Keys (canonical and aliases) one level below `prefix` ("" = top level),
  // comma-separated.
  std::string KnownBelow(const std::string& prefix) const {
    std::set<std::string> names;
    auto add = [&](const std::string& key) {
      if (!prefix.empty() && key.rfind(prefix + ".", 0) != 0) return;
      const std::string rest = prefix.empty() ? key : key.substr(prefix.size() + 1);
      names.insert(rest.substr(0, rest.find('.')));
    };
    for (const auto& s : entries_) {
      add(s.key);
      for (const auto& a : s.aliases) add(a);
    }
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
    return out;
  }

 private:
  // `top`: the dotted key the mapping sits under ("" or "data"); `what`
  // names it for messages ("t.yaml" or "t.yaml: data").
  void Collect(const nlohmann::json& j, const std::string& prefix, const std::string& top, const std::string& what,
               std::vector<Given>* out) const {
    for (const auto& [k, v] : j.items()) {
      const std::string key = prefix.empty() ? k : prefix + "." + k;
      const std::string w = top.empty() ? what + ": " + key : what + key.substr(top.size());
      if (const Spec* s = Find(key); s && !v.is_object()) {
        out->push_back({s, v, w});
      } else if (v.is_object() && !KnownBelow(key).empty()) {
        Collect(v, key, top, what, out);
      } else {
        throw Error(w + ": unknown key (expected " + KnownBelow(prefix) + ")");
      }
    }
  }

  std::vector<Spec> entries_;
  std::map<std::string, const Spec*> index_;
};

}  // namespace scenelab

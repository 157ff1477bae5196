#include "scenelab/data/option_table.h"

#include <sstream>

namespace scenelab {

using json = nlohmann::json;

std::string ShowJson(const json& v) { return v.dump(-1, ' ', false, json::error_handler_t::replace); }

namespace detail {
// Whole strings only: "5abc", "" and "1,2" are not numbers.
bool ParseWholeInteger(const std::string& s, long long* out) {
  if (s.empty()) return false;
  try {
    std::size_t used = 0;
    *out = std::stoll(s, &used);
    return used == s.size();
  } catch (const std::exception&) {
    return false;
  }
}

bool ParseWholeUnsigned(const std::string& s, unsigned long long* out) {
  if (s.empty() || s.find('-') != std::string::npos) return false;
  try {
    std::size_t used = 0;
    *out = std::stoull(s, &used);
    return used == s.size();
  } catch (const std::exception&) {
    return false;
  }
}
}  // namespace detail

double DoubleFromJson(const json& v, const std::string& what) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string() && !v.get<std::string>().empty()) {
    const std::string s = v.get<std::string>();
    try {
      std::size_t used = 0;
      const double out = std::stod(s, &used);
      if (used == s.size()) return out;
    } catch (const std::exception&) {
      // not a number: the error below
    }
  }
  throw Error(what + ": expected a number, found " + ShowJson(v));
}

bool BoolFromJson(const json& v, const std::string& what) {
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_string()) {
    const auto s = v.get<std::string>();
    if (s == "true" || s == "1") return true;
    if (s == "false" || s == "0") return false;
  }
  throw Error(what + ": expected true or false, found " + ShowJson(v));
}

std::string StringFromJson(const json& v, const std::string& what) {
  if (v.is_string()) return v.get<std::string>();
  throw Error(what + ": expected a string, found " + ShowJson(v));
}

std::string ChoiceFromJson(const json& v, const std::string& what, const std::vector<std::string>& choices) {
  std::string s = StringFromJson(v, what);
  if (std::find(choices.begin(), choices.end(), s) != choices.end()) return s;
  std::string list;
  for (std::size_t i = 0; i < choices.size(); ++i)
    list += (i ? i + 1 == choices.size() ? " or " : ", " : "") + choices[i];
  throw Error(what + ": unknown value '" + s + "' (expected " + list + ")");
}

std::vector<json> ListItems(const json& v) {
  std::vector<json> out;
  if (v.is_array()) {
    for (const auto& x : v) out.push_back(x);
  } else if (v.is_string()) {
    for (const auto& s : SplitList(v.get<std::string>())) out.emplace_back(s);
  } else {
    out.push_back(v);
  }
  return out;
}

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

std::vector<int> ParseIntList(const std::string& text, const std::string& what) {
  auto to_int = [&](const std::string& s) {
    try {
      std::size_t used = 0;
      const int v = std::stoi(s, &used);
      if (used != s.size()) throw std::invalid_argument("x");
      return v;
    } catch (const std::exception&) {
      throw Error(what + ": expected an integer, a range a-b or a list, found '" + s + "' in '" + text + "'");
    }
  };
  std::vector<int> out;
  for (const auto& part : SplitList(text)) {
    const auto dash = part.find('-', 1);
    if (dash == std::string::npos) {
      out.push_back(to_int(part));
    } else {
      const int a = to_int(part.substr(0, dash)), b = to_int(part.substr(dash + 1));
      if (b < a) throw Error(what + ": empty range '" + part + "'");
      if (b - a > 100000) throw Error(what + ": range '" + part + "' is too long");
      for (int v = a; v <= b; ++v) out.push_back(v);
    }
  }
  if (out.empty()) throw Error(what + ": empty list '" + text + "'");
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<int> IntListFromJson(const json& v, const std::string& what) {
  if (v.is_string()) return ParseIntList(v.get<std::string>(), what);
  std::string text;
  if (v.is_number_integer()) {
    text = std::to_string(v.get<long long>());
  } else if (v.is_array()) {
    // Elements as the CLI's comma-separated items.
    for (const auto& x : v) {
      std::string item;
      if (x.is_number_integer())
        item = std::to_string(x.get<long long>());
      else if (x.is_string())
        item = x.get<std::string>();
      else
        throw Error(what + ": expected integers, found " + ShowJson(x));
      text += (text.empty() ? "" : ",") + item;
    }
  } else {
    throw Error(what + ": expected an integer, a list or a range string, found " + ShowJson(v));
  }
  return ParseIntList(text, what);
}

void SetJsonPath(nlohmann::ordered_json* j, const std::string& path, const json& v) {
  nlohmann::ordered_json* at = j;
  std::size_t start = 0;
  for (;;) {
    const auto dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (dot == std::string::npos) {
      (*at)[part] = v;
      return;
    }
    at = &(*at)[part];
    start = dot + 1;
  }
}

}  // namespace scenelab

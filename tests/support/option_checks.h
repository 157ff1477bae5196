#pragma once
// Checks every option table must pass (data/option_table.h), shared by the
// tests of the classic and the training tables.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fixtures.h"
#include "scenelab/data/option_table.h"

namespace scenelab::fixtures {

// What a user would type after the flag for this config value.
inline std::string CliText(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (!v.is_array()) return v.dump();
  std::string out;
  for (const auto& x : v) out += (out.empty() ? "" : ",") + (x.is_string() ? x.get<std::string>() : x.dump());
  return out;
}

struct RejectCounts {
  int lists = 0;    // list entries tried
  int refused = 0;  // (entry, value) pairs refused by the entry's parser
};

// Every entry with a flag parses CLI text and config values with one
// parser: each bad value (plus two bad lists for list entries) gives the
// same message from both, apart from the prefix naming the source; values
// the parser takes fail or pass Validate() alike.
template <typename Config>
RejectCounts ExpectCliAndConfigRejectAlike(const OptionTable<Config>& table, const std::vector<nlohmann::json>& bad) {
  auto body = [](const std::string& msg, const std::string& prefix) {
    return msg.rfind(prefix, 0) == 0 ? msg.substr(prefix.size()) : "(prefix missing) " + msg;
  };
  RejectCounts n;
  for (const auto& s : table.entries()) {
    if (s.flag.empty() || s.kind == OptionKind::kFlag) continue;
    std::vector<nlohmann::json> values = bad;
    if (s.kind == OptionKind::kList) {
      ++n.lists;
      values.push_back(nlohmann::json::array({1, "x"}));
      values.push_back(nlohmann::json::array({"5abc"}));
    }
    for (const auto& v : values) {
      Config a, b;
      const std::string cli = ErrorOf([&] {
        s.set(&a, v.is_array() ? nlohmann::json(CliText(v)) : v, s.flag);
        a.Validate();
      });
      const std::string file = ErrorOf([&] {
        s.set(&b, v, "t.yaml: " + s.key);
        b.Validate();
      });
      if (cli.find(s.flag + ":") == 0 || file.find("t.yaml: " + s.key + ":") == 0) {
        ++n.refused;
        EXPECT_EQ(body(cli, s.flag), body(file, "t.yaml: " + s.key)) << s.key << " " << v.dump();
      } else {
        EXPECT_EQ(cli, file) << s.key << " " << v.dump();  // both accepted, or both failed in Validate()
      }
    }
  }
  return n;
}

}  // namespace scenelab::fixtures

// scenelab report --runs DIR... --out DIR
#include <filesystem>
#include <iostream>

#include "commands.h"
#include "scenelab/eval/report.h"

namespace scenelab::app {

void AddReportCommand(CLI::App& app, Runner* run) {
  auto* cmd = app.add_subcommand("report", "Build an HTML + Markdown report from run folders alone");
  struct Opts {
    std::vector<std::string> runs;
    std::string out;
    eval::ReportOptions report;
    bool significance = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--runs", o->runs, "Run folders (classic, sweep or CNN)")->required();
  cmd->add_option("--out", o->out, "Report folder")->required();
  cmd->add_option("--title", o->report.title, "Report title")->capture_default_str();
  cmd->add_flag("--significance", o->significance,
                "Require McNemar tests between every two runs: fail unless they share one test set");
  cmd->callback([o, run]() {
    *run = [o]() {
      std::vector<std::string> names;
      for (const auto& r : o->runs) {
        std::filesystem::path p = std::filesystem::path(r).lexically_normal();
        if (p.filename().empty()) p = p.parent_path();
        names.push_back(p.filename().string());
      }
      // Checked before anything is written: runs on different test images cannot be paired.
      if (o->significance) {
        const auto t = eval::RunSignificance(o->runs, names);
        for (const auto& s : t.Statements()) std::cout << s << "\n";
      }
      std::cout << "report: " << eval::BuildReport(o->runs, o->out, o->report) << "\n";
      return 0;
    };
  });
}

}  // namespace scenelab::app

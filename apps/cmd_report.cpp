// scenelab report --runs DIR... --out DIR
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
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--runs", o->runs, "Run folders (classic, sweep or CNN)")->required();
  cmd->add_option("--out", o->out, "Report folder")->required();
  cmd->add_option("--title", o->report.title, "Report title")->capture_default_str();
  cmd->callback([o, run]() {
    *run = [o]() {
      std::cout << "report: " << eval::BuildReport(o->runs, o->out, o->report) << "\n";
      return 0;
    };
  });
}

}  // namespace scenelab::app

#pragma once
// Each subcommand registers its options on the CLI11 app and returns the
// function that runs it. The functions are thin: they resolve options and
// call the library.
#include <functional>

#include <CLI/CLI.hpp>

namespace scenelab::app {

using Runner = std::function<int()>;

void AddDataCommands(CLI::App& app, Runner* run);
void AddClassicCommands(CLI::App& app, Runner* run);
void AddSweepCommand(CLI::App& app, Runner* run);
void AddReportCommand(CLI::App& app, Runner* run);
void AddCnnCommands(CLI::App& app, Runner* run);
void AddCompareCommand(CLI::App& app, Runner* run);

}  // namespace scenelab::app

#pragma once
// Each subcommand registers its options on the CLI11 app and returns the
// function that runs it. The functions are thin: they resolve options and
// call the library.
#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace scenelab::app {

using Runner = std::function<int()>;

void AddDataCommands(CLI::App& app, Runner* run);
class Job;
// `job`: this process's place in an MPI job (job.h), or the whole job.
void AddClassicCommands(CLI::App& app, Runner* run, const Job* job);
void AddSweepCommand(CLI::App& app, Runner* run, const Job* job);
void AddReportCommand(CLI::App& app, Runner* run);
// argv: the process arguments, for `cnn train --nproc` to start its workers.
void AddCnnCommands(CLI::App& app, Runner* run, const std::vector<std::string>& argv);
void AddCompareCommand(CLI::App& app, Runner* run, const Job* job);

}  // namespace scenelab::app

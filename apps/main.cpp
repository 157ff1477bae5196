// scenelab: one binary, one subcommand per job. Exit codes: 0 success,
// 2 bad input (one "scenelab: error: ..." line on stderr), 1 internal error.
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "commands.h"
#include "job.h"
#include "scenelab/data/error.h"

namespace {
// LibTorch's OpenMP spin-waits by default, which makes two threads up to 6x
// slower when the other core is busy. libgomp reads OMP_WAIT_POLICY once,
// in its initialiser; an executable's preinit functions run before any
// shared library's initialisers, so setting it here takes effect (no
// re-execution, which cost a second start of about 0.4 s). A policy the user
// set is kept.
void PassiveOpenMp(int, char**, char**) { ::setenv("OMP_WAIT_POLICY", "PASSIVE", 0); }
__attribute__((section(".preinit_array"), used)) void (*const kPassiveOpenMp)(int, char**, char**) = PassiveOpenMp;
}  // namespace

namespace {
int Main(int argc, char** argv) {
  CLI::App app{"scenelab: image-recognition experiments, classical pipelines and CNNs side by side"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "scenelab 0.1.0");
  scenelab::app::Runner run;
  // One rank of an MPI job when mpirun / srun started several processes.
  std::unique_ptr<scenelab::app::Job> job;
  try {
    job = std::make_unique<scenelab::app::Job>();
  } catch (const std::exception& e) {
    std::cerr << "scenelab: error: " << e.what() << "\n";
    return 2;
  }
  scenelab::app::AddDataCommands(app, &run);
  scenelab::app::AddClassicCommands(app, &run, job.get());
  scenelab::app::AddSweepCommand(app, &run, job.get());
  scenelab::app::AddReportCommand(app, &run);
#ifdef SCENELAB_WITH_CNN
  scenelab::app::AddCnnCommands(app, &run, std::vector<std::string>(argv, argv + argc));
  scenelab::app::AddCompareCommand(app, &run, job.get());
#endif
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "scenelab: error: " << e.what() << " (see --help)\n";
    return job->Fail(2);
  }
  // In an MPI job every message names its rank, and an error ends every
  // rank (none waits forever for the one that failed).
  const std::string who = job->size() > 1 ? "rank " + std::to_string(job->rank()) + ": " : "";
  try {
    return run ? run() : 0;
  } catch (const scenelab::Error& e) {
    std::cerr << "scenelab: error: " << who << e.what() << "\n";
    return job->Fail(2);
  } catch (const std::exception& e) {
    std::cerr << "scenelab: internal error: " << who << e.what() << "\n";
    return job->Fail(1);
  }
}
}  // namespace

int main(int argc, char** argv) {
  // Nothing escapes main: an error while the commands are set up is reported
  // like any other.
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "scenelab: internal error: " << e.what() << "\n";
    return 1;
  }
}

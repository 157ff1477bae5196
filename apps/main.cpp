// scenelab: one binary, one subcommand per job. Exit codes: 0 success,
// 2 bad input (one "scenelab: error: ..." line on stderr), 1 internal error.
#include <iostream>

#include "commands.h"
#include "scenelab/data/error.h"

int main(int argc, char** argv) {
  CLI::App app{"scenelab: image-recognition experiments, classical pipelines and CNNs side by side"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "scenelab 0.1.0");
  scenelab::app::Runner run;
  scenelab::app::AddDataCommands(app, &run);
  scenelab::app::AddClassicCommands(app, &run);
#ifdef SCENELAB_WITH_CNN
  scenelab::app::AddCnnCommands(app, &run);
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
    return 2;
  }
  try {
    return run ? run() : 0;
  } catch (const scenelab::Error& e) {
    std::cerr << "scenelab: error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "scenelab: internal error: " << e.what() << "\n";
    return 1;
  }
}

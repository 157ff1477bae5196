// scenelab cnn summary | train | eval
#include <iostream>

#include "commands.h"
#include "scenelab/cnn/zoo.h"
#include "scenelab/data/error.h"

namespace scenelab::app {

void AddCnnSummary(CLI::App* cnn, Runner* run) {
  auto* cmd = cnn->add_subcommand("summary", "Print a torchsummary-style table of a zoo model");
  struct Opts {
    std::string model, input;
    int classes = 0;
    bool list = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--model", o->model, "Model name (see --list)");
  cmd->add_option("--input", o->input, "Input CxHxW (default: the model's own, e.g. 3x32x32)");
  cmd->add_option("--classes", o->classes, "Number of classes (default: 200 for resnet18-tiny200, else 10)");
  cmd->add_flag("--list", o->list, "List the model names");
  cmd->callback([o, run]() {
    *run = [o]() {
      if (o->list || o->model.empty()) {
        if (!o->list) throw Error("--model is required (known: use --list)");
        for (const auto& n : cnn::ModelNames()) std::cout << n << "\n";
        return 0;
      }
      cnn::ModelOptions mo;
      mo.input = o->input.empty() ? cnn::DefaultInput(o->model) : cnn::InputShape::Parse(o->input);
      mo.num_classes = o->classes > 0 ? o->classes : (o->model == "resnet18-tiny200" ? 200 : 10);
      std::cout << cnn::FormatSummary(cnn::Summarize(o->model, mo));
      return 0;
    };
  });
}

void AddCnnTrainCommands(CLI::App* cnn, Runner* run) { (void)cnn; (void)run; }  // TEMP

void AddCnnCommands(CLI::App& app, Runner* run) {
  auto* cnn = app.add_subcommand("cnn", "CNN model zoo, summaries, training and evaluation (LibTorch)");
  cnn->require_subcommand(1);
  AddCnnSummary(cnn, run);
  AddCnnTrainCommands(cnn, run);
}

}  // namespace scenelab::app

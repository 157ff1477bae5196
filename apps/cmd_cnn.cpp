// scenelab cnn summary | train | eval
#include <filesystem>
#include <iostream>

#include <fmt/format.h>

#include "cli_util.h"

#include "commands.h"
#include "launcher.h"
#include "scenelab/cnn/zoo.h"
#include "scenelab/data/error.h"
#include "scenelab/pipelines/cnn_run.h"
#include "scenelab/pipelines/options.h"

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

void AddCnnTrainCommands(CLI::App* cnn, Runner* run, const std::vector<std::string>& argv) {
  auto* cmd =
      cnn->add_subcommand("train", "Train a zoo model; writes metrics.csv, checkpoints, results.json and figures");
  // Data, training and distributed options come from their option tables
  // (the same keys a compare config's CNN pipeline takes).
  struct Opts {
    pipelines::CnnRunConfig cfg;
    TableFlags<pipelines::DataConfig> data;
    TableFlags<cnn::TrainConfig> train;
    TableFlags<cnn::DistributedOptions> dist;
    std::string out, resume_dir;
    int nproc = 0;
  };
  auto o = std::make_shared<Opts>();
  o->data.Add(cmd, pipelines::DataOptions());
  cmd->get_option("--data")->required();
  o->train.Add(cmd, cnn::TrainOptions());
  o->dist.Add(cmd, cnn::DistributedOptionTable());
  cmd->add_option("--out", o->out, "Run folder");
  cmd->add_option("--resume", o->resume_dir, "Continue the run in this folder from its last checkpoint");
  cmd->add_option("--nproc", o->nproc, "Data-parallel: start N local worker processes (c10d over Gloo, loopback)");
  cmd->callback([o, run, argv]() {
    *run = [o, argv]() {
      auto& c = o->cfg;
      pipelines::DataOptions().Apply(o->data.Given(), &c.data);
      cnn::TrainOptions().Apply(o->train.Given(), &c.train);
      cnn::DistributedOptionTable().Apply(o->dist.Given(), &c.dist);
      c.train.Validate();
      // Every option is checked before workers start or the run folder is made.
      NamedError("--model", [&] { cnn::RequireModel(c.train.model); });
      if (!o->resume_dir.empty()) {
        if (!o->out.empty() && o->out != o->resume_dir) throw Error("--resume DIR and --out must name the same folder");
        o->out = o->resume_dir;
        c.resume = true;
      }
      if (o->out.empty()) throw Error("--out is required");
      if (o->nproc > 0) {
        if (c.dist.world_size > 1) throw Error("--nproc starts its own workers: do not combine it with --world-size");
        if (o->nproc > 1) return LaunchLocalWorkers(argv, o->nproc, o->out, c.train.threads, c.dist.timeout_s + 15);
      }
      c.dist.Validate();
      std::filesystem::create_directories(o->out);
      const bool writer = c.dist.rank == 0;
      Logger log(std::filesystem::path(o->out) /
                 (writer ? std::string("log.txt") : fmt::format("log-rank{}.txt", c.dist.rank)));
      const auto r = pipelines::RunCnn(c, o->out, &log);
      if (!writer) return 0;
      std::cout << fmt::format("{}: test accuracy {:.4f} ({} params, {:.0f} img/s)\nresults: {}/results.json\n",
                               c.train.model, r["best"]["accuracy"].get<double>(), r["model_params"].get<long long>(),
                               r["train_images_per_s"].get<double>(), o->out);
      return 0;
    };
  });

  auto* ev = cnn->add_subcommand("eval", "Evaluate a training run's checkpoint on a dataset");
  struct EvalOpts {
    std::string checkpoint, out;
    pipelines::DataConfig data;
    std::string precision;
    std::string format = "auto";
  };
  auto e = std::make_shared<EvalOpts>();
  ev->add_option("--precision", e->precision, "fp32 | bf16 | auto (default: the precision the run was trained with)");
  ev->add_option("--checkpoint", e->checkpoint, "Training run folder (holding checkpoint/meta.json)")->required();
  ev->add_option("--data", e->data.path, "Dataset root")->required();
  ev->add_option("--format", e->format, "auto|folder|idx|cifar10|cifar100|tinyimagenet")->capture_default_str();
  ev->add_option("--out", e->out, "Output folder")->required();
  ev->callback([e, run]() {
    *run = [e]() {
      std::optional<cnn::PrecisionMode> precision;
      if (!e->precision.empty())
        precision = NamedError("--precision", [&] { return cnn::PrecisionModeNames().Parse(e->precision); });
      e->data.open.format = NamedError("--format", [&] { return data::DatasetFormatNames().Parse(e->format); });
      std::filesystem::create_directories(e->out);  // once the options are known to be good
      Logger log(std::filesystem::path(e->out) / "log.txt");
      const auto r = pipelines::EvalCnn(e->checkpoint, e->data, e->out, &log, precision);
      std::cout << fmt::format("test accuracy {:.4f}\nresults: {}/results.json\n", r["best"]["accuracy"].get<double>(),
                               e->out);
      return 0;
    };
  });
}

void AddCnnCommands(CLI::App& app, Runner* run, const std::vector<std::string>& argv) {
  auto* cnn = app.add_subcommand("cnn", "CNN model zoo, summaries, training and evaluation (LibTorch)");
  cnn->require_subcommand(1);
  AddCnnSummary(cnn, run);
  AddCnnTrainCommands(cnn, run, argv);
}

}  // namespace scenelab::app

// scenelab classic: tiny images or bag of SIFT, then kNN.
#include <filesystem>
#include <iostream>
#include <map>

#include <fmt/format.h>

#include "cli_util.h"
#include "commands.h"
#include "job.h"
#include "scenelab/data/error.h"
#include "scenelab/pipelines/classic.h"
#include "scenelab/pipelines/config.h"
#include "scenelab/pipelines/options.h"
#include "scenelab/pipelines/sweep.h"

namespace scenelab::app {

namespace {
// Every option of the classic pipelines comes from the option table
// (pipelines/options.h).
struct ClassicFlags {
  pipelines::ClassicConfig cfg;
  std::string out;
  TableFlags<pipelines::ClassicConfig> flags;
};

void AddClassicOptions(CLI::App* cmd, ClassicFlags* f) {
  f->flags.Add(cmd, pipelines::ClassicOptions());
  cmd->get_option("--data")->required();
}

// `sweep`: several values for a sweepable entry make it a grid axis, and the
// run's base takes the first. `classic` takes one value there.
void TakeGridAxes(std::vector<pipelines::GivenOption>* given, pipelines::SweepGrid* grid) {
  for (auto& g : *given) {
    if (!g.spec->sweepable) continue;
    const std::string text = g.value.get<std::string>();
    if (!grid) {
      if (g.spec->kind == pipelines::OptionKind::kScalar &&
          SplitList(text).size() + (text.find('-', 1) != std::string::npos) > 1) {
        throw Error(g.what + ": takes one value here, got '" + text + "' (use scenelab sweep for grids)");
      }
      continue;
    }
    if (g.spec->key == "tiny.norm") {
      const auto v = SplitList(text);
      if (v.size() > 1) grid->norms = v;
      if (!v.empty()) g.value = v.front();
      continue;
    }
    const auto v = ParseIntList(text, g.what);
    std::vector<int>* axis = g.spec->key == "tiny.size"         ? &grid->tiny_sizes
                             : g.spec->key == "sift.step"       ? &grid->steps
                             : g.spec->key == "sift.bin_sizes"  ? &grid->bins
                             : g.spec->key == "vocabulary.size" ? &grid->vocab_sizes
                                                                : nullptr;
    if (!axis) throw Error(g.what + ": not a sweep axis");
    if (v.size() > 1) *axis = v;
    g.value = std::to_string(v.front());
  }
}

// Config file (sweep --config) first, then the command line: a flag given
// on the command line wins over the file.
void Resolve(ClassicFlags* f, pipelines::SweepGrid* grid = nullptr, const nlohmann::json* config = nullptr,
             const std::string& config_path = "") {
  auto cli = f->flags.Given();
  TakeGridAxes(&cli, grid);
  std::vector<pipelines::GivenOption> all;
  if (config) all = pipelines::OptionsFromJson(*config, config_path, {"sweep"});
  all.insert(all.end(), cli.begin(), cli.end());
  pipelines::ApplyOptions(all, &f->cfg);
  if (config && config->contains("sweep")) {
    pipelines::ApplySweepJson((*config)["sweep"], &f->cfg, grid, config_path + ": sweep");
    f->cfg.Validate();
  }
}
}  // namespace

void AddClassicCommands(CLI::App& app, Runner* run, const Job* job) {
  auto* cmd =
      app.add_subcommand("classic",
                         "Tiny images, GIST, bag of words, Fisher vectors or VLAD, classified by kNN or a linear "
                         "SVM (under mpirun -np N: one job split over N processes, docs/DISTRIBUTED.md)");
  auto f = std::make_shared<ClassicFlags>();
  AddClassicOptions(cmd, f.get());
  cmd->add_option("--out", f->out, "Output folder")->required();
  cmd->callback([f, run, job]() {
    *run = [f, job]() {
      Resolve(f.get());
      const auto log = job->OpenLog(f->out);
      f->cfg.threads = job->Threads(f->cfg.threads, log.get());
      const auto r = pipelines::RunClassic(f->cfg, f->out, log.get(), job->comm());
      if (!job->root()) return 0;  // rank 0 reports
      std::cout << fmt::format("{} on {} ({} train / {} test images)\n", r["pipeline"].get<std::string>(),
                               f->cfg.data.path, r["train_size"].get<std::size_t>(), r["test_size"].get<std::size_t>());
      const auto& b = r["best"];
      const auto& sel = r["selected"];
      auto ci = [](const nlohmann::json& v) {
        return fmt::format("[{:.4f}, {:.4f}]", v[0].get<double>(), v[1].get<double>());
      };
      if (r.contains("repeats")) {
        const auto& rep = r["repeats"];
        std::cout << fmt::format(
            "{} repeated splits ({} training images per class): accuracy {:.4f} +- {:.4f} (std), "
            "95% t-interval {}\n  per split:",
            rep["count"].get<int>(), rep["train_per_class"].get<std::size_t>(), rep["mean"].get<double>(),
            rep["std"].get<double>(), ci(rep["ci95"]));
        for (const auto& a : rep["accuracy"]) std::cout << fmt::format(" {:.4f}", a.get<double>());
        std::cout << fmt::format(
            "\noracle mean (chosen on test, optimistic): {:.4f}\ntotal {:.2f} s\nresults: {}/results.json\n",
            sel.is_null() ? 0.0 : b["accuracy"].get<double>(), r["timings_s"]["total_s"].get<double>(), f->out);
        return 0;
      }
      if (f->cfg.classifier == pipelines::Classifier::kSvm) {
        std::cout << fmt::format(
            "linear SVM, C = {} ({}): accuracy {:.4f} {} (95% Wilson)   total {:.2f} s\nresults: {}/results.json\n",
            sel["c"].get<double>(), sel["how"].get<std::string>(), sel["accuracy"].get<double>(),
            ci(sel["accuracy_ci95"]), r["timings_s"]["total_s"].get<double>(), f->out);
        return 0;
      }
      std::cout << fmt::format("{:>4}", "k");
      for (const auto& [m, _] : r["accuracy"].items()) std::cout << fmt::format(" {:>9} {:>9}", m + " cv", m + " test");
      std::cout << "\n";
      for (int k : f->cfg.ks) {
        std::cout << fmt::format("{:>4}", k);
        for (const auto& [m, byk] : r["accuracy"].items()) {
          std::cout << fmt::format(" {:>9.4f} {:>9.4f}", r["cv_accuracy"][m][std::to_string(k)].get<double>(),
                                   byk[std::to_string(k)].get<double>());
        }
        std::cout << "\n";
      }
      std::cout << fmt::format("selected ({}): {} k={}, cv {:.4f} +- {:.4f}\n  test accuracy {:.4f} {} (95% Wilson)\n",
                               sel["how"].get<std::string>(), sel["metric"].get<std::string>(), sel["k"].get<int>(),
                               sel["cv_accuracy"].get<double>(), sel["cv_std"].get<double>(),
                               sel["accuracy"].get<double>(), ci(sel["accuracy_ci95"]));
      std::cout << fmt::format(
          "oracle (chosen on test, optimistic): {} k={} accuracy {:.4f}\ntotal {:.2f} s\nresults: {}/results.json\n",
          b["metric"].get<std::string>(), b["k"].get<int>(), b["accuracy"].get<double>(),
          r["timings_s"]["total_s"].get<double>(), f->out);
      return 0;
    };
  });
}

void AddSweepCommand(CLI::App& app, Runner* run, const Job* job) {
  auto* cmd =
      app.add_subcommand("sweep",
                         "Grid over k, metric, tiny size, norm, SIFT step, bin size and vocabulary size (under mpirun "
                         "-np N: points handed out to N processes, docs/DISTRIBUTED.md)");
  auto f = std::make_shared<ClassicFlags>();
  AddClassicOptions(cmd, f.get());
  auto config = std::make_shared<std::string>();
  cmd->add_option("--config", *config,
                  "YAML/JSON file: {data: {...}, features: bow, sweep: {k: 1-10, vocab: [50, 100]}, ...}");
  cmd->add_option("--out", f->out, "Output folder")->required();
  cmd->callback([f, config, run, job]() {
    *run = [f, config, job]() {
      pipelines::SweepGrid grid;
      if (config->empty()) {
        Resolve(f.get(), &grid);
      } else {
        const auto j = pipelines::LoadConfigFile(*config);
        Resolve(f.get(), &grid, &j, *config);
      }
      const auto log = job->OpenLog(f->out);
      f->cfg.threads = job->Threads(f->cfg.threads, log.get());
      const auto r = pipelines::RunSweep(f->cfg, grid, f->out, log.get(), job->comm());
      if (!job->root()) return 0;  // rank 0 reports
      const auto dump = [](const nlohmann::json& v) {
        return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      };
      const auto& best_row = r.json["best"];
      std::cout << fmt::format("{} points ({} feature points reused)\n", r.json["points"].size(), r.points_reused);
      if (r.json.contains("selected")) {
        const auto& s = r.json["selected"];
        std::cout << fmt::format("selected by cross-validation on train: test accuracy {:.4f} (cv {:.4f}) at {}\n",
                                 s["accuracy"].get<double>(), s["cv_accuracy"].get<double>(), dump(s));
      }
      std::cout << fmt::format("oracle (chosen on test, optimistic): accuracy {:.4f} at {}\nsweep: {}/sweep.csv\n",
                               best_row["accuracy"].get<double>(), dump(best_row), f->out);
      return 0;
    };
  });
}

}  // namespace scenelab::app

// scenelab compare [--config FILE] [--out DIR]
#include <filesystem>
#include <iostream>

#include <fmt/format.h>

#include "commands.h"
#include "job.h"
#include "scenelab/pipelines/compare.h"
#include "scenelab/pipelines/config.h"

namespace scenelab::app {

void AddCompareCommand(CLI::App& app, Runner* run, const Job* job) {
  auto* cmd = app.add_subcommand("compare",
                                 "Run classical pipelines and CNNs side by side into one report (no arguments: "
                                 "built-in Fashion-MNIST experiment)");
  struct Opts {
    std::string config, out, data;
    long long seed = -1;
    int threads = -1;
    bool check = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--config", o->config, "YAML or JSON experiment config (see examples/)");
  cmd->add_option("--out", o->out, "Experiment folder (default: runs/<name>)");
  cmd->add_option("--data", o->data, "Override the dataset path");
  cmd->add_option("--seed", o->seed, "Override the seed");
  cmd->add_option("--threads", o->threads, "Override the thread count (0 = all cores)");
  cmd->add_flag("--check", o->check, "Only parse and validate the config, then print it resolved");
  cmd->callback([o, run, job]() {
    *run = [o, job]() {
      pipelines::CompareConfig cfg =
          o->config.empty() ? pipelines::DefaultCompareConfig()
                            : pipelines::ParseCompareConfig(pipelines::LoadConfigFile(o->config), o->config);
      if (!o->data.empty()) cfg.data.path = o->data;
      if (o->seed >= 0) cfg.seed = static_cast<std::uint64_t>(o->seed);
      if (o->threads >= 0) cfg.threads = o->threads;
      cfg.Validate();
      if (o->check) {
        std::cout << cfg.ToJson().dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
        return 0;
      }
      const std::string out = o->out.empty() ? "runs/" + cfg.name : o->out;
      const auto log = job->OpenLog(out);
      log->Info("scenelab compare: " + cfg.name + " -> " + out);
      // In an MPI job the classical pipelines split over the ranks; a CNN
      // trains on rank 0 with the node's cores while the others sleep.
      const int requested = cfg.threads;
      cfg.threads = job->Threads(cfg.threads, log.get());
      const int cnn_threads = job->size() > 1 ? job->NodeThreads(requested) : 0;
      const auto r = pipelines::RunCompare(cfg, out, log.get(), job->comm(), cnn_threads);
      if (!job->root()) return 0;  // rank 0 reports
      std::cout << fmt::format("\n{:<20} {:<6} {:>9} {:>18} {:>12} {:>16} {:>9} {:>10}\n", "pipeline", "type",
                               "accuracy", "95% interval", "selected", "oracle (on test)", "time (s)", "params");
      auto setting = [](const nlohmann::json& b) {
        if (b.contains("k") && !b["k"].is_null())
          return fmt::format("{} k={}", b["metric"].get<std::string>(), b["k"].get<int>());
        if (b.contains("c") && !b["c"].is_null()) return fmt::format("C={}", b["c"].get<double>());
        if (b.contains("epoch") && !b["epoch"].is_null()) return fmt::format("epoch {}", b["epoch"].get<int>());
        return std::string("-");
      };
      for (const auto& p : r.summary["pipelines"]) {
        const auto& ci = p["accuracy_ci95"];
        const std::string interval =
            ci.is_array() ? fmt::format("[{:.4f}, {:.4f}]", ci[0].get<double>(), ci[1].get<double>()) : "-";
        std::cout << fmt::format(
            "{:<20} {:<6} {:>9.4f} {:>18} {:>12} {:>16} {:>9.1f} {:>10}{}\n", p["name"].get<std::string>(),
            p["type"].get<std::string>(), p["accuracy"].get<double>(), interval, setting(p["selected"]),
            fmt::format("{:.4f}", p["oracle"]["accuracy"].get<double>()), p["seconds"].get<double>(),
            p["model_params"].is_null() ? std::string("-") : std::to_string(p["model_params"].get<long long>()),
            p["reused"].get<bool>() ? "  (reused)" : "");
      }
      std::cout << "accuracy: chosen without the test labels, 95% Wilson interval; oracle: best point on the test "
                   "labels (optimistic)\n";
      if (r.summary.contains("significance")) {
        const auto& sig = r.summary["significance"];
        if (sig.contains("pairs")) {
          std::cout << "\n" << sig["test"].get<std::string>() << ", Holm-corrected, alpha 0.05:\n";
          for (const auto& pr : sig["pairs"]) std::cout << "  " << pr["statement"].get<std::string>() << "\n";
        } else if (sig.contains("skipped")) {
          std::cout << "\nno significance test: " << sig["skipped"].get<std::string>() << "\n";
        }
      }
      std::cout << "\nreport: " << r.report_path << "\n";
      return 0;
    };
  });
}

}  // namespace scenelab::app

#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "scenelab/data/option_table.h"
#include "scenelab/data/readers.h"

namespace scenelab::app {

void AddDataCommands(CLI::App& app, Runner* run) {
  auto* data = app.add_subcommand("data", "Inspect datasets");
  data->require_subcommand(1);
  auto* info = data->add_subcommand("info", "Print format, classes and image counts per split");
  struct Opts {
    std::string path;
    data::OpenOptions open;
    std::string format = "auto";
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  info->add_option("--data", o->path, "Dataset root (folder tree, IDX, CIFAR or Tiny-ImageNet)")->required();
  info->add_option("--format", o->format, "auto|folder|idx|cifar10|cifar100|tinyimagenet")->capture_default_str();
  info->add_option("--class-names", o->open.class_names_file,
                   "IDX: a file with one class name per line, in label order");
  info->add_option("--split", o->open.test_fraction, "Test fraction for single-tree folders")->capture_default_str();
  info->add_option("--seed", o->open.seed, "Seed for the split")->capture_default_str();
  info->add_flag("--skip-bad", o->open.skip_bad, "Skip unreadable images (counted) instead of failing");
  info->add_flag("--json", o->json, "Print exactly one JSON object");
  info->callback([o, run]() {
    *run = [o]() {
      o->open.format = NamedError("--format", [&] { return data::DatasetFormatNames().Parse(o->format); });
      const auto ds = data::OpenDataset(o->path, o->open);
      if (o->json) {
        nlohmann::ordered_json j;
        j["format"] = data::DatasetFormatNames().Show(ds.format);
        if (!ds.recognised_as.empty()) j["recognised_as"] = ds.recognised_as;
        j["classes"] = ds.class_names.size();
        j["class_names"] = ds.class_names;
        if (ds.class_descriptions != ds.class_names) j["class_descriptions"] = ds.class_descriptions;
        nlohmann::ordered_json splits = nlohmann::ordered_json::object();
        for (const auto& [name, d] : ds.splits) splits[name] = d.size();
        j["splits"] = splits;
        j["skipped"] = {{"non_images", ds.skipped_non_images}, {"bad_images", ds.skipped_bad_images}};
        std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
        return 0;
      }
      std::cout << fmt::format(
          "dataset  {}\nformat   {}{}\nclasses  {}\n", ds.root, data::DatasetFormatNames().Show(ds.format),
          ds.recognised_as.empty() ? std::string() : " (" + ds.recognised_as + ")", ds.class_names.size());
      for (const auto& [name, d] : ds.splits) std::cout << fmt::format("{:<8} {} images\n", name, d.size());
      if (ds.skipped_non_images || ds.skipped_bad_images) {
        std::cout << fmt::format("skipped  {} non-image files, {} unreadable images\n", ds.skipped_non_images,
                                 ds.skipped_bad_images);
      }
      std::cout << "\n";
      std::cout << fmt::format("{:<4} {:<24}", "#", "class");
      for (const auto& s : ds.splits) std::cout << fmt::format(" {:>8}", s.first);
      std::cout << "\n";
      for (std::size_t c = 0; c < ds.class_names.size(); ++c) {
        std::string name = ds.class_names[c];
        if (ds.class_descriptions[c] != name) name += " (" + ds.class_descriptions[c] + ")";
        std::cout << fmt::format("{:<4} {:<24}", c, name);
        for (const auto& s : ds.splits) std::cout << fmt::format(" {:>8}", s.second.CountPerClass()[c]);
        std::cout << "\n";
      }
      return 0;
    };
  });
}

}  // namespace scenelab::app

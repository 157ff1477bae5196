// scenelab classic: tiny images or bag of SIFT, then kNN.
#include <filesystem>
#include <iostream>

#include <fmt/format.h>

#include "cli_util.h"
#include "commands.h"
#include "scenelab/data/error.h"
#include "scenelab/pipelines/classic.h"
#include "scenelab/pipelines/config.h"
#include "scenelab/pipelines/sweep.h"

namespace scenelab::app {

namespace {
struct ClassicFlags {
  pipelines::ClassicConfig cfg;
  std::string norm = "l2", interp = "area", metrics = "l1,l2", ks = "1-10", index = "brute", bins = "8";
  std::string tiny_size = "16", step = "5", vocab = "200";
  std::string grids, svm_c = "10", recipe, protocol, gist_orientations = "8,8,8,8";
  std::string out;
  bool phow = false;
  CLI::App* cmd = nullptr;  // to tell explicit flags from defaults
};

// Published recipes as defaults; flags given explicitly still win.
void ApplyRecipe(ClassicFlags* f) {
  if (f->recipe.empty()) return;
  auto given = [&](const char* flag) { return f->cmd && f->cmd->count(flag) > 0; };
  auto& c = f->cfg;
  if (f->recipe == "phow" || f->recipe == "fisher") {
    // VLFeat's phow_caltech101: vl_phow (sizes 4-10, step 3), 1e5 descriptors
    // sampled for k-means (50 iterations), 600 words, 2x2 + 4x4 grids, chi2
    // map (gamma 0.5, order 1), linear SVMs with C = 10.
    if (!given("--bin")) f->phow = true;
    if (!given("--step")) f->step = "3";
    if (!given("--vocab-images")) c.vocab.images = 150;
    if (!given("--samples-per-image")) c.vocab.descriptors_per_image = 667;
    if (!given("--classifier")) c.classifier = "svm";
    if (!given("--svm-c")) f->svm_c = "10";
  }
  if (f->recipe == "phow") {
    if (!given("--features")) c.features = "bow";
    if (!given("--vocab")) f->vocab = "600";
    if (!given("--kmeans-iters")) c.vocab.max_iterations = 50;
    if (!given("--grids")) f->grids = "2,4";
    if (!given("--homkermap")) c.homkermap = "chi2";
  } else if (f->recipe == "fisher") {
    // Chatfield et al. 2011: PCA to 80, 256 Gaussians, improved Fisher vectors.
    if (!given("--features")) c.features = "fisher";
    if (!given("--pca")) c.pca_dim = 80;
    if (!given("--gmm")) c.gmm.components = 256;
    if (!given("--grids")) f->grids = "1";
  } else if (f->recipe != "phow") {
    throw Error("--recipe: unknown value '" + f->recipe + "' (expected phow or fisher)");
  }
}

void AddClassicOptions(CLI::App* cmd, ClassicFlags* f) {
  auto& c = f->cfg;
  f->cmd = cmd;
  cmd->add_option("--recipe", f->recipe,
                  "Published recipe as defaults: phow (VLFeat PHOW: multi-scale SIFT, 600 words, 2x2+4x4, chi2 map, "
                  "linear SVM) | fisher (Fisher vectors + linear SVM)");
  cmd->add_option("--data", c.data.path, "Dataset root")->required();
  cmd->add_option("--format", c.data.open.format, "auto|folder|idx|cifar10|cifar100|tinyimagenet")->capture_default_str();
  cmd->add_option("--class-names", c.data.open.class_names_file, "IDX: a file with one class name per line, in label order");
  cmd->add_option("--split", c.data.open.test_fraction, "Test fraction for single-tree folders")->capture_default_str();
  cmd->add_option("--train-per-class", c.data.train_per_class, "Use N training images per class (0 = all)")->capture_default_str();
  cmd->add_option("--test-per-class", c.data.test_per_class, "Use N test images per class (0 = all)")->capture_default_str();
  cmd->add_flag("--skip-bad", c.data.open.skip_bad, "Skip unreadable images (counted) instead of failing");
  cmd->add_option("--features", c.features, "tiny|bow|fisher|vlad|gist")->capture_default_str();
  cmd->add_option("--gist-size", c.gist.image_size, "gist: images resized and centre-cropped to this square")->capture_default_str();
  cmd->add_option("--gist-orientations", f->gist_orientations, "gist: orientations per scale, finest first")
      ->capture_default_str();
  cmd->add_option("--gist-grid", c.gist.grid, "gist: cells per side over which responses are averaged")->capture_default_str();
  cmd->add_option("--tiny-size", f->tiny_size, "Tiny image side")->capture_default_str();
  cmd->add_option("--norm", f->norm, "Tiny image normalisation: l1|l2|none")->capture_default_str();
  cmd->add_option("--interp", f->interp, "Tiny image interpolation: area|linear|cubic|nearest")->capture_default_str();
  cmd->add_flag("--crop", c.tiny.crop_square, "Centre-crop to a square before resizing");
  cmd->add_option("--step", f->step, "Dense SIFT step in pixels")->capture_default_str();
  cmd->add_option("--bin", f->bins, "Dense SIFT bin size(s), e.g. 8 or 4,6,8,10")->capture_default_str();
  cmd->add_flag("--phow", f->phow, "vl_phow settings: bins 4,6,8,10, smoothing, window 1.5 (overrides --bin)");
  cmd->add_flag("--root-sift", c.sift.root_sift, "RootSIFT descriptors");
  cmd->add_option("--dsift", c.sift.implementation, "Dense SIFT: native (vl_dsift's flat window, ~3x faster) | vlfeat")->capture_default_str();
  cmd->add_option("--vocab", f->vocab, "Vocabulary size")->capture_default_str();
  cmd->add_option("--kmeans", c.vocab.algorithm, "k-means: gemm (Lloyd on BLAS) | elkan | lloyd | ann (VLFeat)")->capture_default_str();
  cmd->add_option("--kmeans-iters", c.vocab.max_iterations, "k-means maximum iterations")->capture_default_str();
  cmd->add_option("--kmeans-min-change", c.vocab.min_energy_variation,
                  "k-means stops when an iteration lowers the energy by less than this fraction (vl_kmeans' MinEnergyVariation; 0 = run to no change)")
      ->capture_default_str();
  cmd->add_option("--samples-per-image", c.vocab.descriptors_per_image, "Descriptors sampled per training image")->capture_default_str();
  cmd->add_option("--pyramid", c.bow.pyramid_levels, "Spatial pyramid levels (0 = none)")->capture_default_str();
  cmd->add_option("--grids", f->grids, "Explicit spatial grids, e.g. 2,4 (PHOW recipe) or 1,2; overrides --pyramid");
  cmd->add_option("--quantizer", c.bow.quantizer, "Word assignment: exact (GEMM) | kdtree (VLFeat kd-forest)")->capture_default_str();
  cmd->add_option("--max-comparisons", c.bow.max_comparisons, "kdtree quantizer: comparisons per descriptor")->capture_default_str();
  cmd->add_option("--vocab-images", c.vocab.images, "Training images the vocabulary sample comes from (0 = all)")->capture_default_str();
  cmd->add_option("--pca", c.pca_dim, "fisher|vlad: PCA dimension of the descriptors")->capture_default_str();
  cmd->add_option("--gmm", c.gmm.components, "fisher: Gaussian components")->capture_default_str();
  cmd->add_option("--gmm-iters", c.gmm.max_iterations, "fisher: EM iterations")->capture_default_str();
  cmd->add_option("--homkermap", c.homkermap, "Explicit kernel map before the classifier: none|chi2|intersection|js")->capture_default_str();
  cmd->add_option("--homkermap-order", c.hkm.order, "Kernel map order n (2n+1 values per dimension)")->capture_default_str();
  cmd->add_option("--homkermap-gamma", c.hkm.gamma, "Kernel map homogeneity gamma")->capture_default_str();
  cmd->add_option("--classifier", c.classifier, "knn|svm")->capture_default_str();
  cmd->add_option("--svm-c", f->svm_c, "SVM C; several values (e.g. 1,10,100) choose C by cross-validation")->capture_default_str();
  cmd->add_option("--svm-folds", c.svm.cv_folds, "Cross-validation folds for choosing C")->capture_default_str();
  cmd->add_option("--svm-solver", c.svm.solver, "sdca|sgd")->capture_default_str();
  cmd->add_option("--metric", f->metrics, "Distances, comma-separated: l1,l2,chi2")->capture_default_str();
  cmd->add_option("--k", f->ks, "k values: 1-10, 1,3,5, ...")->capture_default_str();
  cmd->add_flag("--weighted", c.distance_weighted, "Distance-weighted kNN vote");
  cmd->add_option("--repeats", c.repeats,
                  "Seeded random splits of the pooled images (with --train-per-class): mean, std and t-interval")
      ->capture_default_str();
  cmd->add_option("--protocol", f->protocol,
                  "Evaluation protocol: lazebnik (10 random splits, 100 training images per class, the rest for testing)");
  cmd->add_option("--cv-folds", c.cv_folds, "Stratified cross-validation folds on the training split that choose the reported k and metric")
      ->capture_default_str();
  cmd->add_option("--index", f->index, "Neighbour search: brute (exact) | kdtree | kmeans (FLANN)")->capture_default_str();
  cmd->add_option("--flann-checks", c.knn.flann_checks, "FLANN leaves checked per query")->capture_default_str();
  cmd->add_option("--flann-trees", c.knn.flann_trees, "FLANN randomised kd-trees")->capture_default_str();
  cmd->add_option("--flann-branching", c.knn.flann_branching, "FLANN k-means tree branching")->capture_default_str();
  cmd->add_option("--flann-precision", c.knn.flann_target_precision,
                  "FLANN autotuning: pick index and checks for this recall (0 = off)")->capture_default_str();
  cmd->add_option("--flann-pca", c.knn.flann_pca_dims,
                  "L2: FLANN indexes this many principal components, candidates re-ranked exactly (0 = off)")->capture_default_str();
  cmd->add_option("--flann-rerank", c.knn.flann_rerank, "With --flann-pca: candidates re-ranked per query")->capture_default_str();
  cmd->add_option("--seed", c.seed, "Seed for subsets, sampling and k-means")->capture_default_str();
  cmd->add_option("--threads", c.threads, "Worker threads (0 = all cores)")->capture_default_str();
  cmd->add_option("--cache", c.cache_dir, "Cache folder (default: OUT/cache)");
  cmd->add_option_function<double>(
         "--descriptor-memory-gb",
         [&c](double gb) {
           if (!(gb >= 0)) throw CLI::ValidationError("--descriptor-memory-gb", "must be >= 0");
           c.max_descriptor_memory = static_cast<std::size_t>(gb * 1e9);
         },
         "Keep dense-SIFT descriptors in memory up to this estimate, else stream them (default 2.1)");
  cmd->add_flag("--clobber", c.clobber, "Recompute every stage, ignoring caches");
}

int Single(const std::string& text, const std::string& flag) {
  const auto v = ParseIntList(text, flag);
  if (v.size() != 1) throw Error(flag + ": takes one value here, got '" + text + "' (use scenelab sweep for grids)");
  return v.front();
}

// `sweep`: list-valued flags become the grid instead of single values.
void Resolve(ClassicFlags* f, pipelines::SweepGrid* grid = nullptr) {
  ApplyRecipe(f);
  auto& c = f->cfg;
  if (!f->protocol.empty()) {
    // The protocol's split settings, unless given explicitly.
    pipelines::ClassicConfig p = c;
    pipelines::ApplyProtocol(f->protocol, &p);
    auto given = [&](const char* flag) { return f->cmd && f->cmd->count(flag) > 0; };
    if (!given("--repeats")) c.repeats = p.repeats;
    if (!given("--train-per-class")) c.data.train_per_class = p.data.train_per_class;
    if (!given("--test-per-class")) c.data.test_per_class = p.data.test_per_class;
  }
  if (grid) {
    grid->tiny_sizes = ParseIntList(f->tiny_size, "--tiny-size");
    grid->steps = ParseIntList(f->step, "--step");
    grid->vocab_sizes = ParseIntList(f->vocab, "--vocab");
    grid->norms = SplitList(f->norm);
    c.tiny.size = grid->tiny_sizes.front();
    c.sift.step = grid->steps.front();
    c.vocab.size = grid->vocab_sizes.front();
    f->norm = grid->norms.empty() ? "l2" : grid->norms.front();
  } else {
    c.tiny.size = Single(f->tiny_size, "--tiny-size");
    c.sift.step = Single(f->step, "--step");
    c.vocab.size = Single(f->vocab, "--vocab");
  }
  c.bow.grids = f->grids.empty() ? std::vector<int>{} : ParseIntList(f->grids, "--grids");
  {
    // Orientations per scale keep their order (finest scale first): not a set.
    c.gist.orientations.clear();
    for (const auto& v : SplitList(f->gist_orientations)) {
      const auto one = ParseIntList(v, "--gist-orientations");
      if (one.size() != 1) throw Error("--gist-orientations: one number per scale, found '" + v + "'");
      c.gist.orientations.push_back(one.front());
    }
  }
  {
    std::vector<double> cs;
    for (const auto& v : SplitList(f->svm_c)) {
      try {
        std::size_t used = 0;
        cs.push_back(std::stod(v, &used));
        if (used != v.size()) throw std::invalid_argument(v);
      } catch (const std::exception&) {
        throw Error("--svm-c: cannot read '" + v + "' as a number");
      }
    }
    if (cs.empty()) throw Error("--svm-c: needs a value");
    c.svm.c = cs.front();
    c.svm.c_grid = cs.size() > 1 ? cs : std::vector<double>{};
  }
  c.tiny.norm = features::ParseNorm(f->norm);
  c.tiny.interpolation = features::ParseInterpolation(f->interp);
  c.metrics.clear();
  for (const auto& m : SplitList(f->metrics)) c.metrics.push_back(classify::ParseMetric(m));
  c.ks = ParseIntList(f->ks, "--k");
  c.knn.algorithm = classify::ParseSearchAlgorithm(f->index);
  if (f->phow) {
    const int step = c.sift.step;
    c.sift = features::DenseSiftOptions::Phow();
    c.sift.step = step;
  } else if (grid) {
    grid->bins = ParseIntList(f->bins, "--bin");
    c.sift.bin_sizes = {grid->bins.front()};
  } else {
    c.sift.bin_sizes = ParseIntList(f->bins, "--bin");
  }
  if (grid) {
    // One value: not a swept dimension.
    if (grid->tiny_sizes.size() == 1) grid->tiny_sizes.clear();
    if (grid->steps.size() == 1) grid->steps.clear();
    if (grid->vocab_sizes.size() == 1) grid->vocab_sizes.clear();
    if (grid->norms.size() == 1) grid->norms.clear();
    if (grid->bins.size() == 1) grid->bins.clear();
  }
  c.Validate();
}
}  // namespace

void AddClassicCommands(CLI::App& app, Runner* run) {
  auto* cmd = app.add_subcommand("classic", "Tiny images or dense-SIFT bag of words, classified by kNN");
  auto f = std::make_shared<ClassicFlags>();
  AddClassicOptions(cmd, f.get());
  cmd->add_option("--out", f->out, "Output folder")->required();
  cmd->callback([f, run]() {
    *run = [f]() {
      Resolve(f.get());
      std::filesystem::create_directories(f->out);
      Logger log(std::filesystem::path(f->out) / "log.txt");
      const auto r = pipelines::RunClassic(f->cfg, f->out, &log);
      std::cout << fmt::format("{} on {} ({} train / {} test images)\n", r["pipeline"].get<std::string>(),
                               f->cfg.data.path, r["train_size"].get<std::size_t>(), r["test_size"].get<std::size_t>());
      const auto& b = r["best"];
      const auto& sel = r["selected"];
      auto ci = [](const nlohmann::json& v) {
        return fmt::format("[{:.4f}, {:.4f}]", v[0].get<double>(), v[1].get<double>());
      };
      if (f->cfg.classifier == "svm") {
        std::cout << fmt::format("linear SVM, C = {} ({}): accuracy {:.4f} {} (95% Wilson)   total {:.2f} s\nresults: {}/results.json\n",
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
                               sel["cv_accuracy"].get<double>(), sel["cv_std"].get<double>(), sel["accuracy"].get<double>(),
                               ci(sel["accuracy_ci95"]));
      std::cout << fmt::format("oracle (chosen on test, optimistic): {} k={} accuracy {:.4f}\ntotal {:.2f} s\nresults: {}/results.json\n",
                               b["metric"].get<std::string>(), b["k"].get<int>(), b["accuracy"].get<double>(),
                               r["timings_s"]["total_s"].get<double>(), f->out);
      return 0;
    };
  });
}

void AddSweepCommand(CLI::App& app, Runner* run) {
  auto* cmd = app.add_subcommand("sweep", "Grid over k, metric, tiny size, norm, SIFT step, bin size and vocabulary size");
  auto f = std::make_shared<ClassicFlags>();
  AddClassicOptions(cmd, f.get());
  auto config = std::make_shared<std::string>();
  cmd->add_option("--config", *config, "YAML/JSON file: {data: {...}, features: bow, sweep: {k: 1-10, vocab: [50, 100]}, ...}");
  cmd->add_option("--out", f->out, "Output folder")->required();
  cmd->callback([f, config, run]() {
    *run = [f, config]() {
      pipelines::SweepGrid grid;
      Resolve(f.get(), &grid);
      if (!config->empty()) {
        const auto j = pipelines::LoadConfigFile(*config);
        if (j.contains("data")) pipelines::ApplyDataJson(j["data"], &f->cfg.data, *config + ": data");
        if (j.contains("features")) f->cfg.features = j["features"].get<std::string>();
        nlohmann::json rest = j;
        rest.erase("data");
        rest.erase("features");
        rest.erase("sweep");
        pipelines::ApplyClassicJson(rest, &f->cfg, *config);
        if (j.contains("sweep")) pipelines::ApplySweepJson(j["sweep"], &f->cfg, &grid, *config + ": sweep");
        f->cfg.Validate();
      }
      std::filesystem::create_directories(f->out);
      Logger log(std::filesystem::path(f->out) / "log.txt");
      const auto r = pipelines::RunSweep(f->cfg, grid, f->out, &log);
      const auto dump = [](const nlohmann::json& v) { return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); };
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

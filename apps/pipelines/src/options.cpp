#include "scenelab/pipelines/options.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <type_traits>

#include "scenelab/data/error.h"
#include "scenelab/pipelines/sweep.h"

namespace scenelab::pipelines {

namespace {
using json = nlohmann::json;

// `R(field)` is the accessor of one ClassicConfig field.
#define R(field) (+[](ClassicConfig & c) -> auto& { return c.field; })

// One of the Applies predicates below.
using Pred = bool (*)(const ClassicConfig&);
bool IsTiny(const ClassicConfig& c) { return c.features == "tiny"; }
bool IsGist(const ClassicConfig& c) { return c.features == "gist"; }
bool IsSift(const ClassicConfig& c) { return c.features != "tiny" && c.features != "gist"; }
bool HasWords(const ClassicConfig& c) { return c.features == "bow" || c.features == "vlad"; }
bool IsBow(const ClassicConfig& c) { return c.features == "bow"; }
bool IsKdTree(const ClassicConfig& c) { return c.features == "bow" && c.bow.quantizer == features::Quantizer::kKdTree; }
bool IsEncoded(const ClassicConfig& c) { return c.features == "fisher" || c.features == "vlad"; }
bool IsFisher(const ClassicConfig& c) { return c.features == "fisher"; }
bool HasMap(const ClassicConfig& c) { return c.homkermap != KernelMap::kNone; }
bool IsSvm(const ClassicConfig& c) { return c.classifier == Classifier::kSvm; }
bool IsKnn(const ClassicConfig& c) { return c.classifier == Classifier::kKnn; }
bool Repeated(const ClassicConfig& c) { return c.repeats > 1; }

OptionSpec PresetEntry(const std::string& key, const std::string& flag, const std::string& help,
                       const std::vector<std::string>& names) {
  auto s = detail::Entry<ClassicConfig>(key, flag, help, OptionKind::kChoice);
  s.choices = names;
  s.preset = true;
  s.echo = false;
  const auto choices = s.choices;
  s.set = [choices](ClassicConfig*, const json& v, const std::string& w) { ChoiceFromJson(v, w, choices); };
  s.get = [](const ClassicConfig&) { return json(); };
  s.preset_values = [kind = s.key](const std::string& name) -> const json& { return Preset(kind, name); };
  return s;
}

std::vector<BasicOptionSpec<DataConfig>> BuildDataTable() {
  using D = DataConfig;
  std::vector<BasicOptionSpec<D>> t;
  t.push_back(TextOption(
      "path", "--data", "Dataset root", +[](D & d) -> auto& { return d.path; }));
  t.push_back(EnumTableOption(
      "format", "--format", "auto|folder|idx|cifar10|cifar100|tinyimagenet",
      +[](D & d) -> auto& { return d.open.format; }, data::DatasetFormatNames()));
  t.push_back(DoubleOption(
      "test_fraction", "--split", "Test fraction for single-tree folders",
      +[](D & d) -> auto& { return d.open.test_fraction; }));
  t.push_back(IntOption<std::size_t>(
      "train_per_class", "--train-per-class", "Use N training images per class (0 = all)",
      +[](D & d) -> auto& { return d.train_per_class; }));
  t.push_back(IntOption<std::size_t>(
      "test_per_class", "--test-per-class", "Use N test images per class (0 = all)",
      +[](D & d) -> auto& { return d.test_per_class; }));
  t.push_back(FlagOption(
      "skip_bad", "--skip-bad", "Skip unreadable images (counted) instead of failing",
      +[](D & d) -> auto& { return d.open.skip_bad; }));
  t.push_back(TextOption(
      "class_names", "--class-names", "IDX: a file with one class name per line, in label order",
      +[](D & d) -> auto& { return d.open.class_names_file; }));
  return t;
}

std::vector<OptionSpec> BuildTable() {
  std::vector<OptionSpec> t;
  // Presets: applied before everything else (ApplyOptions).
  t.push_back(PresetEntry("recipe", "--recipe",
                          "Published recipe as defaults: phow (VLFeat PHOW: multi-scale SIFT, 600 words, 2x2+4x4, chi2 "
                          "map, linear SVM) | fisher (Fisher vectors + linear SVM)",
                          {"phow", "fisher"}));
  t.push_back(
      PresetEntry("protocol", "--protocol",
                  "Evaluation protocol: lazebnik (10 random splits, 100 training images per class, the rest for "
                  "testing) | standard",
                  {"lazebnik", "standard"}));
  // Data.
  for (auto& e : Nest(
           DataOptions().entries(), +[](ClassicConfig& c) -> DataConfig& { return c.data; }, "data"))
    t.push_back(std::move(e));
  t.push_back(ChoiceOption("features", "--features", "tiny|bow|fisher|vlad|gist", R(features),
                           {"tiny", "bow", "fisher", "vlad", "gist"}));
  // GIST.
  t.push_back(When(IntOption<int>("gist.image_size", "--gist-size",
                                  "gist: images resized and centre-cropped to this square", R(gist.image_size)),
                   IsGist));
  {
    // Orientations per scale keep their order (finest scale first): a
    // sequence, not a set.
    auto s = detail::Entry<ClassicConfig>("gist.orientations", "--gist-orientations",
                                          "gist: orientations per scale, finest first", OptionKind::kList);
    s.set = [](ClassicConfig* c, const json& v, const std::string& w) {
      std::vector<int> out;
      for (const auto& x : ListItems(v)) {
        if (x.is_string() && x.get<std::string>().find('-', 1) != std::string::npos) {
          throw Error(w + ": one number per scale, found '" + x.get<std::string>() + "'");
        }
        out.push_back(IntegerFromJson<int>(x, w));
      }
      if (out.empty()) throw Error(w + ": needs at least one scale");
      c->gist.orientations = out;
    };
    s.get = [](const ClassicConfig& c) { return json(c.gist.orientations); };
    t.push_back(When(s, IsGist));
  }
  t.push_back(When(IntOption<int>("gist.grid", "--gist-grid", "gist: cells per side over which responses are averaged",
                                  R(gist.grid)),
                   IsGist));
  t.push_back(
      When(DoubleOption("gist.prefilter_fc", "", "gist: prefilter cut-off, cycles per image", R(gist.prefilter_fc)),
           IsGist));
  t.push_back(When(IntOption<int>("gist.boundary", "", "gist: symmetric padding in pixels", R(gist.boundary)), IsGist));
  // Tiny images.
  t.push_back(When(Sweepable(IntOption<int>("tiny.size", "--tiny-size", "Tiny image side", R(tiny.size))), IsTiny));
  t.push_back(
      When(FlagOption("tiny.crop_square", "--crop", "Centre-crop to a square before resizing", R(tiny.crop_square)),
           IsTiny));
  t.push_back(When(EnumOption("tiny.interpolation", "--interp", "Tiny image interpolation: area|linear|cubic|nearest",
                              R(tiny.interpolation), features::ParseInterpolation,
                              static_cast<std::string (*)(features::Interpolation)>(features::ToString),
                              {"area", "linear", "cubic", "nearest"}),
                   IsTiny));
  t.push_back(When(FlagOption("tiny.zero_mean", "", "Subtract the mean intensity", R(tiny.zero_mean)), IsTiny));
  t.push_back(When(Sweepable(EnumOption(
                       "tiny.norm", "--norm", "Tiny image normalisation: l1|l2|none", R(tiny.norm), features::ParseNorm,
                       static_cast<std::string (*)(features::Norm)>(features::ToString), {"l1", "l2", "none"})),
                   IsTiny));
  // Dense SIFT. sift.phow first: it resets the SIFT options (keeping the
  // step), and explicit values after it win.
  {
    auto s = detail::Entry<ClassicConfig>("sift.phow", "--phow",
                                          "vl_phow settings: bins 4,6,8,10, smoothing, window 1.5 (overrides --bin)",
                                          OptionKind::kFlag);
    s.conflicts = {"sift.bin_sizes"};
    s.echo = false;  // its effect is in the other sift entries
    s.set = [](ClassicConfig* c, const json& v, const std::string& w) {
      if (!BoolFromJson(v, w)) return;
      const int step = c->sift.step;
      c->sift = features::DenseSiftOptions::Phow();
      c->sift.step = step;
    };
    s.get = [](const ClassicConfig&) { return json(); };
    t.push_back(s);
  }
  t.push_back(
      When(Sweepable(IntOption<int>("sift.step", "--step", "Dense SIFT step in pixels", R(sift.step))), IsSift));
  t.push_back(When(Sweepable(Aka(IntSetOption("sift.bin_sizes", "--bin", "Dense SIFT bin size(s), e.g. 8 or 4,6,8,10",
                                              R(sift.bin_sizes)),
                                 {"sift.bins"})),
                   IsSift));
  t.push_back(When(FlagOption("sift.fast", "", "Flat window (vl_dsift's fast)", R(sift.fast)), IsSift));
  t.push_back(When(DoubleOption("sift.window_size", "", "Window size in bins", R(sift.window_size)), IsSift));
  t.push_back(When(FlagOption("sift.smooth", "", "Gaussian pre-smoothing, as vl_phow", R(sift.smooth)), IsSift));
  t.push_back(When(DoubleOption("sift.magnif", "", "vl_phow's magnification factor", R(sift.magnif)), IsSift));
  t.push_back(When(FlagOption("sift.phow_bounds", "", "vl_phow's per-scale offset", R(sift.phow_bounds)), IsSift));
  t.push_back(When(DoubleOption("sift.contrast_threshold", "", "Descriptors with a smaller norm are zeroed",
                                R(sift.contrast_threshold)),
                   IsSift));
  t.push_back(When(FlagOption("sift.root_sift", "--root-sift", "RootSIFT descriptors", R(sift.root_sift)), IsSift));
  t.push_back(When(EnumTableOption("sift.implementation", "--dsift",
                                   "Dense SIFT: native (vl_dsift's flat window, ~3x faster) | vlfeat",
                                   R(sift.implementation), features::SiftImplementationNames()),
                   IsSift));
  // Vocabulary (bow, vlad) and the descriptor sample (all SIFT features).
  t.push_back(When(
      Sweepable(Aka(IntOption<int>("vocabulary.size", "--vocab", "Vocabulary size", R(vocab.size)), {"vocab.size"})),
      HasWords));
  t.push_back(When(Aka(EnumTableOption("vocabulary.algorithm", "--kmeans",
                                       "k-means: gemm (Lloyd on BLAS) | elkan | lloyd | ann (VLFeat)",
                                       R(vocab.algorithm), features::KmeansAlgorithmNames()),
                       {"vocab.algorithm"}),
                   HasWords));
  t.push_back(When(Aka(IntOption<int>("vocabulary.max_iterations", "--kmeans-iters", "k-means maximum iterations",
                                      R(vocab.max_iterations)),
                       {"vocab.max_iterations"}),
                   HasWords));
  t.push_back(When(Aka(DoubleOption("vocabulary.min_energy_variation", "--kmeans-min-change",
                                    "k-means stops when an iteration lowers the energy by less than this fraction "
                                    "(vl_kmeans' MinEnergyVariation; 0 = run to no change)",
                                    R(vocab.min_energy_variation)),
                       {"vocab.min_energy_variation"}),
                   HasWords));
  t.push_back(When(Aka(IntOption<int>("vocabulary.descriptors_per_image", "--samples-per-image",
                                      "Descriptors sampled per training image", R(vocab.descriptors_per_image)),
                       {"vocab.descriptors_per_image"}),
                   IsSift));
  t.push_back(When(Aka(IntOption<int>("vocabulary.repetitions", "", "k-means restarts; the lowest energy wins",
                                      R(vocab.repetitions)),
                       {"vocab.repetitions"}),
                   HasWords));
  t.push_back(When(Aka(IntOption<int>("vocabulary.images", "--vocab-images",
                                      "Training images the vocabulary sample comes from (0 = all)", R(vocab.images)),
                       {"vocab.images"}),
                   IsSift));
  // Histograms and spatial grids.
  t.push_back(When(
      Aka(IntOption<int>("bow.pyramid_levels", "--pyramid", "Spatial pyramid levels (0 = none)", R(bow.pyramid_levels)),
          {"pyramid"}),
      IsBow));
  t.push_back(When(Aka(IntSetOption("bow.grids", "--grids",
                                    "Explicit spatial grids, e.g. 2,4 (PHOW recipe) or 1,2; overrides --pyramid",
                                    R(bow.grids), /*allow_empty=*/true),
                       {"grids", "encoding.grids"}),
                   IsSift));
  t.push_back(When(
      Aka(EnumTableOption("bow.quantizer", "--quantizer", "Word assignment: exact (GEMM) | kdtree (VLFeat kd-forest)",
                          R(bow.quantizer), features::QuantizerNames()),
          {"quantizer"}),
      IsBow));
  t.push_back(When(IntOption<int>("bow.max_comparisons", "--max-comparisons",
                                  "kdtree quantizer: comparisons per descriptor", R(bow.max_comparisons)),
                   IsKdTree));
  // Fisher vectors and VLAD.
  t.push_back(
      When(Aka(IntOption<int>("encoding.pca_dim", "--pca", "fisher|vlad: PCA dimension of the descriptors", R(pca_dim)),
               {"encoding.pca"}),
           IsEncoded));
  t.push_back(
      When(Aka(IntOption<int>("encoding.gmm_components", "--gmm", "fisher: Gaussian components", R(gmm.components)),
               {"encoding.gmm"}),
           IsFisher));
  t.push_back(
      When(IntOption<int>("encoding.gmm_iterations", "--gmm-iters", "fisher: EM iterations", R(gmm.max_iterations)),
           IsFisher));
  t.push_back(
      When(FlagOption("encoding.improved", "", "fisher: signed square root + L2", R(fisher_improved)), IsFisher));
  // Explicit kernel map.
  t.push_back(Aka(EnumTableOption("homkermap.kernel", "--homkermap",
                                  "Explicit kernel map before the classifier: none|chi2|intersection|js", R(homkermap),
                                  KernelMapNames()),
                  {"homkermap"}));
  t.push_back(When(IntOption<int>("homkermap.order", "--homkermap-order",
                                  "Kernel map order n (2n+1 values per dimension)", R(hkm.order)),
                   HasMap));
  t.push_back(
      When(DoubleOption("homkermap.gamma", "--homkermap-gamma", "Kernel map homogeneity gamma", R(hkm.gamma)), HasMap));
  {
    auto s = detail::Entry<ClassicConfig>("homkermap.window", "", "Kernel map window: rectangular | uniform",
                                          OptionKind::kChoice);
    s.choices = {"rectangular", "uniform"};
    s.set = [](ClassicConfig* c, const json& v, const std::string& w) {
      c->hkm.rectangular_window = ChoiceFromJson(v, w, {"rectangular", "uniform"}) == "rectangular";
    };
    s.get = [](const ClassicConfig& c) { return json(c.hkm.rectangular_window ? "rectangular" : "uniform"); };
    t.push_back(When(s, HasMap));
  }
  // Classifiers.
  t.push_back(EnumTableOption("classifier", "--classifier", "knn|svm", R(classifier), ClassifierNames()));
  t.push_back(When(EnumTableOption("svm.solver", "--svm-solver",
                                   "dcd (dual coordinate descent with shrinking, LIBLINEAR's) | sdca | sgd (VLFeat's)",
                                   R(svm.solver), classify::SvmSolverNames()),
                   IsSvm));
  {
    // One C, or several chosen by cross-validation.
    auto s = detail::Entry<ClassicConfig>(
        "svm.c", "--svm-c", "SVM C; several values (e.g. 1,10,100) choose C by cross-validation", OptionKind::kList);
    s.set = [](ClassicConfig* c, const json& v, const std::string& w) {
      std::vector<double> cs;
      for (const auto& x : ListItems(v)) cs.push_back(DoubleFromJson(x, w));
      if (cs.empty()) throw Error(w + ": needs at least one value");
      c->svm.c = cs.front();
      c->svm.c_grid = cs.size() > 1 ? cs : std::vector<double>{};
    };
    s.get = [](const ClassicConfig& c) { return c.svm.c_grid.empty() ? json(c.svm.c) : json(c.svm.c_grid); };
    t.push_back(When(s, IsSvm));
  }
  t.push_back(
      When(Aka(IntOption<int>("svm.cv_folds", "--svm-folds", "Cross-validation folds for choosing C", R(svm.cv_folds)),
               {"svm.folds"}),
           IsSvm));
  t.push_back(
      When(DoubleOption("svm.bias_multiplier", "", "The recipe's BiasMultiplier", R(svm.bias_multiplier)), IsSvm));
  t.push_back(
      When(DoubleOption("svm.epsilon", "--svm-epsilon",
                        "Stopping threshold, checked every pass: projected-gradient spread (dcd), duality gap (sdca); "
                        "0 = the solver's default (0.1 dcd, 1e-3 sdca/sgd)",
                        R(svm.epsilon)),
           IsSvm));
  t.push_back(When(DoubleOption("svm.max_iterations_times_lambda", "", "MaxNumIterations = this / lambda",
                                R(svm.max_iterations_times_lambda)),
                   IsSvm));
  {
    auto s = detail::Entry<ClassicConfig>("knn.metrics", "--metric", "Distances, comma-separated: l1,l2,chi2",
                                          OptionKind::kList);
    s.choices = {"l1", "l2", "chi2"};
    s.set = [](ClassicConfig* c, const json& v, const std::string& w) {
      std::vector<classify::Metric> ms;
      for (const auto& x : ListItems(v)) {
        const std::string name = x.is_number() ? x.dump() : StringFromJson(x, w);
        const auto m = NamedError(w, [&] { return classify::ParseMetric(name); });
        if (std::find(ms.begin(), ms.end(), m) == ms.end()) ms.push_back(m);
      }
      if (ms.empty()) throw Error(w + ": at least one metric is needed");
      c->metrics = ms;
    };
    s.get = [](const ClassicConfig& c) {
      json a = json::array();
      for (auto m : c.metrics) a.push_back(classify::ToString(m));
      return a;
    };
    t.push_back(When(s, IsKnn));
  }
  t.push_back(When(IntSetOption("knn.k", "--k", "k values: 1-10, 1,3,5, ...", R(ks)), IsKnn));
  t.push_back(When(
      IntOption<int>("knn.cv_folds", "--cv-folds",
                     "Stratified cross-validation folds on the training split that choose the reported k and metric",
                     R(cv_folds)),
      IsKnn));
  t.push_back(
      When(Aka(FlagOption("knn.distance_weighted", "--weighted", "Distance-weighted kNN vote", R(distance_weighted)),
               {"knn.weighted"}),
           IsKnn));
  t.push_back(When(EnumOption("knn.index", "--index", "Neighbour search: brute (exact) | kdtree | kmeans (FLANN)",
                              R(knn.algorithm), classify::ParseSearchAlgorithm,
                              static_cast<std::string (*)(classify::SearchAlgorithm)>(classify::ToString),
                              {"brute", "kdtree", "kmeans"}),
                   IsKnn));
  t.push_back(
      When(IntOption<int>("knn.flann_trees", "--flann-trees", "FLANN randomised kd-trees", R(knn.flann_trees)), IsKnn));
  t.push_back(
      When(IntOption<int>("knn.flann_checks", "--flann-checks", "FLANN leaves checked per query", R(knn.flann_checks)),
           IsKnn));
  t.push_back(When(IntOption<int>("knn.flann_branching", "--flann-branching", "FLANN k-means tree branching",
                                  R(knn.flann_branching)),
                   IsKnn));
  t.push_back(When(
      DoubleOption("knn.flann_target_precision", "--flann-precision",
                   "FLANN autotuning: pick index and checks for this recall (0 = off)", R(knn.flann_target_precision)),
      IsKnn));
  t.push_back(
      When(IntOption<int>("knn.flann_pca_dims", "--flann-pca",
                          "L2: FLANN indexes this many principal components, candidates re-ranked exactly (0 = off)",
                          R(knn.flann_pca_dims)),
           IsKnn));
  t.push_back(When(IntOption<int>("knn.flann_rerank", "--flann-rerank",
                                  "With --flann-pca: candidates re-ranked per query", R(knn.flann_rerank)),
                   IsKnn));
  // Protocol, seeds, resources.
  t.push_back(When(
      IntOption<int>("repeats", "--repeats",
                     "Seeded random splits of the pooled images (with --train-per-class): mean, std and t-interval",
                     R(repeats)),
      Repeated));
  t.push_back(IntOption<std::uint64_t>("seed", "--seed", "Seed for subsets, sampling and k-means", R(seed)));
  t.push_back(IntOption<int>("threads", "--threads", "Worker threads (0 = all cores)", R(threads)));
  t.push_back(NoEcho(TextOption("cache_dir", "--cache", "Cache folder (default: OUT/cache)", R(cache_dir))));
  {
    auto s = detail::Entry<ClassicConfig>("descriptor_memory_gb", "--descriptor-memory-gb",
                                          "Keep dense-SIFT descriptors in memory up to this estimate, else stream them",
                                          OptionKind::kScalar);
    s.echo = false;
    s.set = [](ClassicConfig* c, const json& v, const std::string& w) {
      const double gb = DoubleFromJson(v, w);
      if (!(gb >= 0 && gb <= 1e9)) throw Error(w + ": must be in [0, 1e9] GB, got " + ShowJson(v));
      c->max_descriptor_memory = static_cast<std::size_t>(gb * 1e9);
    };
    s.get = [](const ClassicConfig& c) { return json(static_cast<double>(c.max_descriptor_memory) / 1e9); };
    t.push_back(s);
  }
  t.push_back(NoEcho(FlagOption("clobber", "--clobber", "Recompute every stage, ignoring caches", R(clobber))));
  return t;
}
#undef R

struct Presets {
  json recipes, protocols;
  Presets() {
    // VLFeat's phow_caltech101: vl_phow (sizes 4-10, step 3), 1e5
    // descriptors sampled for k-means (50 iterations), 600 words, 2x2 + 4x4
    // grids, chi2 map (gamma 0.5, order 1), linear SVMs with C = 10.
    const json phow_sift = {{"sift.phow", true},        {"sift.step", 3},
                            {"vocabulary.images", 150}, {"vocabulary.descriptors_per_image", 667},
                            {"classifier", "svm"},      {"svm.c", 10}};
    recipes["phow"] = phow_sift;
    recipes["phow"].update({{"features", "bow"},
                            {"vocabulary.size", 600},
                            {"vocabulary.max_iterations", 50},
                            {"bow.grids", {2, 4}},
                            {"homkermap.kernel", "chi2"}});
    // Chatfield et al. 2011: PCA to 80, 256 Gaussians, improved Fisher vectors.
    recipes["fisher"] = phow_sift;
    recipes["fisher"].update(
        {{"features", "fisher"}, {"encoding.pca_dim", 80}, {"encoding.gmm_components", 256}, {"bow.grids", {1}}});
    // Lazebnik, Schmid & Ponce (2006): 100 training images per class, the
    // rest for testing, 10 random splits; mean and standard deviation.
    protocols["lazebnik"] = {{"repeats", 10}, {"data.train_per_class", 100}, {"data.test_per_class", 0}};
    protocols["standard"] = json::object();
  }
};

const Presets& ThePresets() {
  static const Presets p;
  return p;
}

}  // namespace

const OptionTable<DataConfig>& DataOptions() {
  static const OptionTable<DataConfig> table(BuildDataTable());
  return table;
}

const OptionTable<ClassicConfig>& ClassicOptions() {
  static const OptionTable<ClassicConfig> table(BuildTable());
  return table;
}

const std::vector<OptionSpec>& ClassicOptionTable() { return ClassicOptions().entries(); }

const OptionSpec* FindClassicOption(const std::string& key) { return ClassicOptions().Find(key); }

std::vector<GivenOption> OptionsFromJson(const json& j, const std::string& what, const std::vector<std::string>& skip,
                                         const std::string& prefix) {
  return ClassicOptions().FromJson(j, what, skip, prefix);
}

const json& Preset(const std::string& kind, const std::string& name) {
  const auto& p = ThePresets();
  const json& table = kind == "recipe" ? p.recipes : p.protocols;
  if (!table.contains(name)) throw Error(kind + ": unknown value '" + name + "'");
  return table.at(name);
}

void ApplyOptions(const std::vector<GivenOption>& given, ClassicConfig* cfg, bool validate) {
  ClassicOptions().Apply(given, cfg);
  if (validate) cfg->Validate();
}

nlohmann::ordered_json EchoClassic(const ClassicConfig& cfg) { return ClassicOptions().Echo(cfg); }

}  // namespace scenelab::pipelines

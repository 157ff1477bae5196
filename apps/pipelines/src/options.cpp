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

std::string Show(const json& v) { return v.dump(-1, ' ', false, json::error_handler_t::replace); }

// A whole-string number: "5abc", "" and "1,2" are errors.
template <typename T>
bool ParseWhole(const std::string& s, T* out) {
  if (s.empty()) return false;
  try {
    std::size_t used = 0;
    if constexpr (std::is_same_v<T, double>) {
      *out = std::stod(s, &used);
    } else if constexpr (std::is_unsigned_v<T>) {
      if (s[0] == '-') return false;
      const unsigned long long v = std::stoull(s, &used);
      if (v > std::numeric_limits<T>::max()) return false;
      *out = static_cast<T>(v);
    } else {
      const long long v = std::stoll(s, &used);
      if (v < static_cast<long long>(std::numeric_limits<T>::min()) ||
          v > static_cast<long long>(std::numeric_limits<T>::max())) {
        return false;
      }
      *out = static_cast<T>(v);
    }
    return used == s.size();
  } catch (const std::exception&) {
    return false;
  }
}

template <typename T>
T Integer(const json& v, const std::string& what) {
  T out{};
  if (v.is_number_unsigned()) {
    const auto x = v.get<unsigned long long>();
    if (x > static_cast<unsigned long long>(std::numeric_limits<T>::max()))
      throw Error(what + ": " + Show(v) + " is out of range");
    return static_cast<T>(x);
  }
  if (v.is_number_integer()) {
    const auto x = v.get<long long>();
    if (x >= 0) {
      if (static_cast<unsigned long long>(x) > static_cast<unsigned long long>(std::numeric_limits<T>::max())) {
        throw Error(what + ": " + Show(v) + " is out of range");
      }
      return static_cast<T>(x);
    }
    if constexpr (std::is_unsigned_v<T>) {
      throw Error(what + ": must be >= 0, got " + Show(v));
    } else {
      if (x < static_cast<long long>(std::numeric_limits<T>::min()))
        throw Error(what + ": " + Show(v) + " is out of range");
      return static_cast<T>(x);
    }
  }
  if (v.is_string() && ParseWhole(v.get<std::string>(), &out)) return out;
  throw Error(what + ": expected " + (std::is_unsigned_v<T> ? "a non-negative integer" : "an integer") + ", found " +
              Show(v));
}

bool Bool(const json& v, const std::string& what) {
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_string()) {
    const auto s = v.get<std::string>();
    if (s == "true" || s == "1") return true;
    if (s == "false" || s == "0") return false;
  }
  throw Error(what + ": expected true or false, found " + Show(v));
}

std::string String(const json& v, const std::string& what) {
  if (v.is_string()) return v.get<std::string>();
  throw Error(what + ": expected a string, found " + Show(v));
}

std::string Choice(const json& v, const std::string& what, const std::vector<std::string>& choices) {
  const std::string s = String(v, what);
  if (std::find(choices.begin(), choices.end(), s) != choices.end()) return s;
  std::string list;
  for (std::size_t i = 0; i < choices.size(); ++i)
    list += (i ? i + 1 == choices.size() ? " or " : ", " : "") + choices[i];
  throw Error(what + ": unknown value '" + s + "' (expected " + list + ")");
}

// Strings split on commas; arrays as they are; one value as a list of one.
std::vector<json> Items(const json& v) {
  std::vector<json> out;
  if (v.is_array()) {
    for (const auto& x : v) out.push_back(x);
  } else if (v.is_string()) {
    for (const auto& s : SplitList(v.get<std::string>())) out.emplace_back(s);
  } else {
    out.push_back(v);
  }
  return out;
}

// Rewrites an exception from a domain parser (ParseNorm, ParseMetric, ...)
// to name the option it came from.
template <typename F>
auto Named(const std::string& what, F&& f) {
  try {
    return f();
  } catch (const Error& e) {
    throw Error(what + ": " + e.what());
  }
}

template <typename T>
using Ref = T& (*)(ClassicConfig&);

template <typename T>
T& At(Ref<T> r, const ClassicConfig& c) {
  return r(const_cast<ClassicConfig&>(c));
}

// Entry builders. `R(field)` is the accessor of one ClassicConfig field.
#define R(field)                    \
  +[](ClassicConfig & c) -> auto& { \
    return c.field;                 \
  }

OptionSpec Base(std::string key, std::string flag, std::string help, OptionKind kind) {
  OptionSpec s;
  s.key = std::move(key);
  s.flag = std::move(flag);
  s.help = std::move(help);
  s.kind = kind;
  return s;
}

template <typename T>
OptionSpec Int(std::string key, std::string flag, std::string help, Ref<T> r) {
  auto s = Base(std::move(key), std::move(flag), std::move(help), OptionKind::kScalar);
  s.set = [r](ClassicConfig* c, const json& v, const std::string& w) { r(*c) = Integer<T>(v, w); };
  s.get = [r](const ClassicConfig& c) { return json(At(r, c)); };
  return s;
}

OptionSpec Double(std::string key, std::string flag, std::string help, Ref<double> r) {
  auto s = Base(std::move(key), std::move(flag), std::move(help), OptionKind::kScalar);
  s.set = [r](ClassicConfig* c, const json& v, const std::string& w) { r(*c) = DoubleFromJson(v, w); };
  s.get = [r](const ClassicConfig& c) { return json(At(r, c)); };
  return s;
}

OptionSpec Flag(std::string key, std::string flag, std::string help, Ref<bool> r) {
  auto s = Base(std::move(key), std::move(flag), std::move(help), OptionKind::kFlag);
  s.set = [r](ClassicConfig* c, const json& v, const std::string& w) { r(*c) = Bool(v, w); };
  s.get = [r](const ClassicConfig& c) { return json(At(r, c)); };
  return s;
}

OptionSpec Text(std::string key, std::string flag, std::string help, Ref<std::string> r) {
  auto s = Base(std::move(key), std::move(flag), std::move(help), OptionKind::kScalar);
  s.set = [r](ClassicConfig* c, const json& v, const std::string& w) { r(*c) = String(v, w); };
  s.get = [r](const ClassicConfig& c) { return json(At(r, c)); };
  return s;
}

OptionSpec OneOf(std::string key, std::string flag, std::string help, Ref<std::string> r,
                 std::vector<std::string> choices) {
  auto s = Base(std::move(key), std::move(flag), std::move(help), OptionKind::kChoice);
  s.choices = choices;
  s.set = [r, choices](ClassicConfig* c, const json& v, const std::string& w) { r(*c) = Choice(v, w, choices); };
  s.get = [r](const ClassicConfig& c) { return json(At(r, c)); };
  return s;
}

// An enum with its own to/from-string pair.
template <typename E>
OptionSpec Enum(std::string key, std::string flag, std::string help, Ref<E> r, E (*parse)(const std::string&),
                std::string (*show)(E), std::vector<std::string> choices) {
  auto s = Base(std::move(key), std::move(flag), std::move(help), OptionKind::kChoice);
  s.choices = std::move(choices);
  s.set = [r, parse](ClassicConfig* c, const json& v, const std::string& w) {
    const std::string text = String(v, w);
    r(*c) = Named(w, [&] { return parse(text); });
  };
  s.get = [r, show](const ClassicConfig& c) { return json(show(At(r, c))); };
  return s;
}

// Sorted, unique integers: "1-10,15", [1, 3, 5] or 5 (IntListFromJson, the
// one list parser).
OptionSpec IntSet(std::string key, std::string flag, std::string help, Ref<std::vector<int>> r,
                  bool allow_empty = false) {
  auto s = Base(std::move(key), std::move(flag), std::move(help), OptionKind::kList);
  s.set = [r, allow_empty](ClassicConfig* c, const json& v, const std::string& w) {
    if (allow_empty && ((v.is_array() && v.empty()) || (v.is_string() && v.get<std::string>().empty()))) {
      r(*c).clear();
      return;
    }
    r(*c) = IntListFromJson(v, w);
  };
  s.get = [r](const ClassicConfig& c) { return json(At(r, c)); };
  return s;
}

// One of the Applies predicates below.
using Pred = bool (*)(const ClassicConfig&);
bool IsTiny(const ClassicConfig& c) { return c.features == "tiny"; }
bool IsGist(const ClassicConfig& c) { return c.features == "gist"; }
bool IsSift(const ClassicConfig& c) { return c.features != "tiny" && c.features != "gist"; }
bool HasWords(const ClassicConfig& c) { return c.features == "bow" || c.features == "vlad"; }
bool IsBow(const ClassicConfig& c) { return c.features == "bow"; }
bool IsKdTree(const ClassicConfig& c) { return c.features == "bow" && c.bow.quantizer == "kdtree"; }
bool IsEncoded(const ClassicConfig& c) { return c.features == "fisher" || c.features == "vlad"; }
bool IsFisher(const ClassicConfig& c) { return c.features == "fisher"; }
bool HasMap(const ClassicConfig& c) { return c.homkermap != "none"; }
bool IsSvm(const ClassicConfig& c) { return c.classifier == "svm"; }
bool IsKnn(const ClassicConfig& c) { return c.classifier == "knn"; }
bool Repeated(const ClassicConfig& c) { return c.repeats > 1; }

OptionSpec When(OptionSpec s, Pred p) {
  s.applies = p;
  return s;
}
OptionSpec Aka(OptionSpec s, std::vector<std::string> aliases) {
  s.aliases = std::move(aliases);
  return s;
}
OptionSpec Sweepable(OptionSpec s) {
  s.sweepable = true;
  return s;
}
OptionSpec NoEcho(OptionSpec s) {
  s.echo = false;
  return s;
}

OptionSpec PresetEntry(std::string key, std::string flag, std::string help, std::vector<std::string> names) {
  auto s = Base(std::move(key), std::move(flag), std::move(help), OptionKind::kChoice);
  s.choices = std::move(names);
  s.preset = true;
  s.echo = false;
  const auto choices = s.choices;
  s.set = [choices](ClassicConfig*, const json& v, const std::string& w) { Choice(v, w, choices); };
  s.get = [](const ClassicConfig&) { return json(); };
  return s;
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
  t.push_back(Text("data.path", "--data", "Dataset root", R(data.path)));
  t.push_back(OneOf("data.format", "--format", "auto|folder|idx|cifar10|cifar100|tinyimagenet", R(data.open.format),
                    {"auto", "folder", "idx", "cifar10", "cifar100", "tinyimagenet"}));
  t.push_back(
      Double("data.test_fraction", "--split", "Test fraction for single-tree folders", R(data.open.test_fraction)));
  t.push_back(Int<std::size_t>("data.train_per_class", "--train-per-class", "Use N training images per class (0 = all)",
                               R(data.train_per_class)));
  t.push_back(Int<std::size_t>("data.test_per_class", "--test-per-class", "Use N test images per class (0 = all)",
                               R(data.test_per_class)));
  t.push_back(Flag("data.skip_bad", "--skip-bad", "Skip unreadable images (counted) instead of failing",
                   R(data.open.skip_bad)));
  t.push_back(Text("data.class_names", "--class-names", "IDX: a file with one class name per line, in label order",
                   R(data.open.class_names_file)));
  t.push_back(OneOf("features", "--features", "tiny|bow|fisher|vlad|gist", R(features),
                    {"tiny", "bow", "fisher", "vlad", "gist"}));
  // GIST.
  t.push_back(When(Int<int>("gist.image_size", "--gist-size", "gist: images resized and centre-cropped to this square",
                            R(gist.image_size)),
                   IsGist));
  {
    // Orientations per scale keep their order (finest scale first): a
    // sequence, not a set.
    auto s = Base("gist.orientations", "--gist-orientations", "gist: orientations per scale, finest first",
                  OptionKind::kList);
    s.set = [](ClassicConfig* c, const json& v, const std::string& w) {
      std::vector<int> out;
      for (const auto& x : Items(v)) {
        if (x.is_string() && x.get<std::string>().find('-', 1) != std::string::npos) {
          throw Error(w + ": one number per scale, found '" + x.get<std::string>() + "'");
        }
        out.push_back(Integer<int>(x, w));
      }
      if (out.empty()) throw Error(w + ": needs at least one scale");
      c->gist.orientations = out;
    };
    s.get = [](const ClassicConfig& c) { return json(c.gist.orientations); };
    t.push_back(When(s, IsGist));
  }
  t.push_back(
      When(Int<int>("gist.grid", "--gist-grid", "gist: cells per side over which responses are averaged", R(gist.grid)),
           IsGist));
  t.push_back(
      When(Double("gist.prefilter_fc", "", "gist: prefilter cut-off, cycles per image", R(gist.prefilter_fc)), IsGist));
  t.push_back(When(Int<int>("gist.boundary", "", "gist: symmetric padding in pixels", R(gist.boundary)), IsGist));
  // Tiny images.
  t.push_back(When(Sweepable(Int<int>("tiny.size", "--tiny-size", "Tiny image side", R(tiny.size))), IsTiny));
  t.push_back(
      When(Flag("tiny.crop_square", "--crop", "Centre-crop to a square before resizing", R(tiny.crop_square)), IsTiny));
  t.push_back(When(Enum("tiny.interpolation", "--interp", "Tiny image interpolation: area|linear|cubic|nearest",
                        R(tiny.interpolation), features::ParseInterpolation,
                        static_cast<std::string (*)(features::Interpolation)>(features::ToString),
                        {"area", "linear", "cubic", "nearest"}),
                   IsTiny));
  t.push_back(When(Flag("tiny.zero_mean", "", "Subtract the mean intensity", R(tiny.zero_mean)), IsTiny));
  t.push_back(When(
      Sweepable(Enum("tiny.norm", "--norm", "Tiny image normalisation: l1|l2|none", R(tiny.norm), features::ParseNorm,
                     static_cast<std::string (*)(features::Norm)>(features::ToString), {"l1", "l2", "none"})),
      IsTiny));
  // Dense SIFT. sift.phow first: it resets the SIFT options (keeping the
  // step), and explicit values after it win.
  {
    auto s = Base("sift.phow", "--phow", "vl_phow settings: bins 4,6,8,10, smoothing, window 1.5 (overrides --bin)",
                  OptionKind::kFlag);
    s.conflicts = {"sift.bin_sizes"};
    s.echo = false;  // its effect is in the other sift entries
    s.set = [](ClassicConfig* c, const json& v, const std::string& w) {
      if (!Bool(v, w)) return;
      const int step = c->sift.step;
      c->sift = features::DenseSiftOptions::Phow();
      c->sift.step = step;
    };
    s.get = [](const ClassicConfig&) { return json(); };
    t.push_back(s);
  }
  t.push_back(When(Sweepable(Int<int>("sift.step", "--step", "Dense SIFT step in pixels", R(sift.step))), IsSift));
  t.push_back(When(
      Sweepable(Aka(IntSet("sift.bin_sizes", "--bin", "Dense SIFT bin size(s), e.g. 8 or 4,6,8,10", R(sift.bin_sizes)),
                    {"sift.bins"})),
      IsSift));
  t.push_back(When(Flag("sift.fast", "", "Flat window (vl_dsift's fast)", R(sift.fast)), IsSift));
  t.push_back(When(Double("sift.window_size", "", "Window size in bins", R(sift.window_size)), IsSift));
  t.push_back(When(Flag("sift.smooth", "", "Gaussian pre-smoothing, as vl_phow", R(sift.smooth)), IsSift));
  t.push_back(When(Double("sift.magnif", "", "vl_phow's magnification factor", R(sift.magnif)), IsSift));
  t.push_back(When(Flag("sift.phow_bounds", "", "vl_phow's per-scale offset", R(sift.phow_bounds)), IsSift));
  t.push_back(When(
      Double("sift.contrast_threshold", "", "Descriptors with a smaller norm are zeroed", R(sift.contrast_threshold)),
      IsSift));
  t.push_back(When(Flag("sift.root_sift", "--root-sift", "RootSIFT descriptors", R(sift.root_sift)), IsSift));
  t.push_back(
      When(OneOf("sift.implementation", "--dsift", "Dense SIFT: native (vl_dsift's flat window, ~3x faster) | vlfeat",
                 R(sift.implementation), {"native", "vlfeat"}),
           IsSift));
  // Vocabulary (bow, vlad) and the descriptor sample (all SIFT features).
  t.push_back(
      When(Sweepable(Aka(Int<int>("vocabulary.size", "--vocab", "Vocabulary size", R(vocab.size)), {"vocab.size"})),
           HasWords));
  t.push_back(
      When(Aka(OneOf("vocabulary.algorithm", "--kmeans", "k-means: gemm (Lloyd on BLAS) | elkan | lloyd | ann (VLFeat)",
                     R(vocab.algorithm), {"gemm", "elkan", "lloyd", "ann"}),
               {"vocab.algorithm"}),
           HasWords));
  t.push_back(When(Aka(Int<int>("vocabulary.max_iterations", "--kmeans-iters", "k-means maximum iterations",
                                R(vocab.max_iterations)),
                       {"vocab.max_iterations"}),
                   HasWords));
  t.push_back(When(Aka(Double("vocabulary.min_energy_variation", "--kmeans-min-change",
                              "k-means stops when an iteration lowers the energy by less than this fraction "
                              "(vl_kmeans' MinEnergyVariation; 0 = run to no change)",
                              R(vocab.min_energy_variation)),
                       {"vocab.min_energy_variation"}),
                   HasWords));
  t.push_back(When(Aka(Int<int>("vocabulary.descriptors_per_image", "--samples-per-image",
                                "Descriptors sampled per training image", R(vocab.descriptors_per_image)),
                       {"vocab.descriptors_per_image"}),
                   IsSift));
  t.push_back(
      When(Aka(Int<int>("vocabulary.repetitions", "", "k-means restarts; the lowest energy wins", R(vocab.repetitions)),
               {"vocab.repetitions"}),
           HasWords));
  t.push_back(When(Aka(Int<int>("vocabulary.images", "--vocab-images",
                                "Training images the vocabulary sample comes from (0 = all)", R(vocab.images)),
                       {"vocab.images"}),
                   IsSift));
  // Histograms and spatial grids.
  t.push_back(
      When(Aka(Int<int>("bow.pyramid_levels", "--pyramid", "Spatial pyramid levels (0 = none)", R(bow.pyramid_levels)),
               {"pyramid"}),
           IsBow));
  t.push_back(When(
      Aka(IntSet("bow.grids", "--grids", "Explicit spatial grids, e.g. 2,4 (PHOW recipe) or 1,2; overrides --pyramid",
                 R(bow.grids), /*allow_empty=*/true),
          {"grids", "encoding.grids"}),
      IsSift));
  t.push_back(
      When(Aka(OneOf("bow.quantizer", "--quantizer", "Word assignment: exact (GEMM) | kdtree (VLFeat kd-forest)",
                     R(bow.quantizer), {"exact", "kdtree"}),
               {"quantizer"}),
           IsBow));
  t.push_back(When(Int<int>("bow.max_comparisons", "--max-comparisons", "kdtree quantizer: comparisons per descriptor",
                            R(bow.max_comparisons)),
                   IsKdTree));
  // Fisher vectors and VLAD.
  t.push_back(
      When(Aka(Int<int>("encoding.pca_dim", "--pca", "fisher|vlad: PCA dimension of the descriptors", R(pca_dim)),
               {"encoding.pca"}),
           IsEncoded));
  t.push_back(When(Aka(Int<int>("encoding.gmm_components", "--gmm", "fisher: Gaussian components", R(gmm.components)),
                       {"encoding.gmm"}),
                   IsFisher));
  t.push_back(When(Int<int>("encoding.gmm_iterations", "--gmm-iters", "fisher: EM iterations", R(gmm.max_iterations)),
                   IsFisher));
  t.push_back(When(Flag("encoding.improved", "", "fisher: signed square root + L2", R(fisher_improved)), IsFisher));
  // Explicit kernel map.
  t.push_back(Aka(
      OneOf("homkermap.kernel", "--homkermap", "Explicit kernel map before the classifier: none|chi2|intersection|js",
            R(homkermap), {"none", "chi2", "intersection", "js"}),
      {"homkermap"}));
  t.push_back(When(
      Int<int>("homkermap.order", "--homkermap-order", "Kernel map order n (2n+1 values per dimension)", R(hkm.order)),
      HasMap));
  t.push_back(
      When(Double("homkermap.gamma", "--homkermap-gamma", "Kernel map homogeneity gamma", R(hkm.gamma)), HasMap));
  {
    auto s = Base("homkermap.window", "", "Kernel map window: rectangular | uniform", OptionKind::kChoice);
    s.choices = {"rectangular", "uniform"};
    s.set = [](ClassicConfig* c, const json& v, const std::string& w) {
      c->hkm.rectangular_window = Choice(v, w, {"rectangular", "uniform"}) == "rectangular";
    };
    s.get = [](const ClassicConfig& c) { return json(c.hkm.rectangular_window ? "rectangular" : "uniform"); };
    t.push_back(When(s, HasMap));
  }
  // Classifiers.
  t.push_back(OneOf("classifier", "--classifier", "knn|svm", R(classifier), {"knn", "svm"}));
  t.push_back(When(OneOf("svm.solver", "--svm-solver", "sdca|sgd", R(svm.solver), {"sdca", "sgd"}), IsSvm));
  {
    // One C, or several chosen by cross-validation.
    auto s = Base("svm.c", "--svm-c", "SVM C; several values (e.g. 1,10,100) choose C by cross-validation",
                  OptionKind::kList);
    s.set = [](ClassicConfig* c, const json& v, const std::string& w) {
      std::vector<double> cs;
      for (const auto& x : Items(v)) cs.push_back(DoubleFromJson(x, w));
      if (cs.empty()) throw Error(w + ": needs at least one value");
      c->svm.c = cs.front();
      c->svm.c_grid = cs.size() > 1 ? cs : std::vector<double>{};
    };
    s.get = [](const ClassicConfig& c) { return c.svm.c_grid.empty() ? json(c.svm.c) : json(c.svm.c_grid); };
    t.push_back(When(s, IsSvm));
  }
  t.push_back(
      When(Aka(Int<int>("svm.cv_folds", "--svm-folds", "Cross-validation folds for choosing C", R(svm.cv_folds)),
               {"svm.folds"}),
           IsSvm));
  t.push_back(When(Double("svm.bias_multiplier", "", "The recipe's BiasMultiplier", R(svm.bias_multiplier)), IsSvm));
  t.push_back(When(Double("svm.epsilon", "", "Stopping threshold (duality gap for SDCA)", R(svm.epsilon)), IsSvm));
  t.push_back(When(Double("svm.max_iterations_times_lambda", "", "MaxNumIterations = this / lambda",
                          R(svm.max_iterations_times_lambda)),
                   IsSvm));
  {
    auto s = Base("knn.metrics", "--metric", "Distances, comma-separated: l1,l2,chi2", OptionKind::kList);
    s.choices = {"l1", "l2", "chi2"};
    s.set = [](ClassicConfig* c, const json& v, const std::string& w) {
      std::vector<classify::Metric> ms;
      for (const auto& x : Items(v)) {
        const std::string name = x.is_number() ? x.dump() : String(x, w);
        const auto m = Named(w, [&] { return classify::ParseMetric(name); });
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
  t.push_back(When(IntSet("knn.k", "--k", "k values: 1-10, 1,3,5, ...", R(ks)), IsKnn));
  t.push_back(
      When(Int<int>("knn.cv_folds", "--cv-folds",
                    "Stratified cross-validation folds on the training split that choose the reported k and metric",
                    R(cv_folds)),
           IsKnn));
  t.push_back(When(Aka(Flag("knn.distance_weighted", "--weighted", "Distance-weighted kNN vote", R(distance_weighted)),
                       {"knn.weighted"}),
                   IsKnn));
  t.push_back(When(
      Enum("knn.index", "--index", "Neighbour search: brute (exact) | kdtree | kmeans (FLANN)", R(knn.algorithm),
           classify::ParseSearchAlgorithm, static_cast<std::string (*)(classify::SearchAlgorithm)>(classify::ToString),
           {"brute", "kdtree", "kmeans"}),
      IsKnn));
  t.push_back(
      When(Int<int>("knn.flann_trees", "--flann-trees", "FLANN randomised kd-trees", R(knn.flann_trees)), IsKnn));
  t.push_back(When(
      Int<int>("knn.flann_checks", "--flann-checks", "FLANN leaves checked per query", R(knn.flann_checks)), IsKnn));
  t.push_back(
      When(Int<int>("knn.flann_branching", "--flann-branching", "FLANN k-means tree branching", R(knn.flann_branching)),
           IsKnn));
  t.push_back(
      When(Double("knn.flann_target_precision", "--flann-precision",
                  "FLANN autotuning: pick index and checks for this recall (0 = off)", R(knn.flann_target_precision)),
           IsKnn));
  t.push_back(When(Int<int>("knn.flann_pca_dims", "--flann-pca",
                            "L2: FLANN indexes this many principal components, candidates re-ranked exactly (0 = off)",
                            R(knn.flann_pca_dims)),
                   IsKnn));
  t.push_back(When(Int<int>("knn.flann_rerank", "--flann-rerank", "With --flann-pca: candidates re-ranked per query",
                            R(knn.flann_rerank)),
                   IsKnn));
  // Protocol, seeds, resources.
  t.push_back(
      When(Int<int>("repeats", "--repeats",
                    "Seeded random splits of the pooled images (with --train-per-class): mean, std and t-interval",
                    R(repeats)),
           Repeated));
  t.push_back(Int<std::uint64_t>("seed", "--seed", "Seed for subsets, sampling and k-means", R(seed)));
  t.push_back(Int<int>("threads", "--threads", "Worker threads (0 = all cores)", R(threads)));
  t.push_back(NoEcho(Text("cache_dir", "--cache", "Cache folder (default: OUT/cache)", R(cache_dir))));
  {
    auto s = Base("descriptor_memory_gb", "--descriptor-memory-gb",
                  "Keep dense-SIFT descriptors in memory up to this estimate, else stream them", OptionKind::kScalar);
    s.echo = false;
    s.set = [](ClassicConfig* c, const json& v, const std::string& w) {
      const double gb = DoubleFromJson(v, w);
      if (!(gb >= 0 && gb <= 1e9)) throw Error(w + ": must be in [0, 1e9] GB, got " + Show(v));
      c->max_descriptor_memory = static_cast<std::size_t>(gb * 1e9);
    };
    s.get = [](const ClassicConfig& c) { return json(static_cast<double>(c.max_descriptor_memory) / 1e9); };
    t.push_back(s);
  }
  t.push_back(NoEcho(Flag("clobber", "--clobber", "Recompute every stage, ignoring caches", R(clobber))));
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

// Sets `path` (dotted) in `j` to `v`, creating the objects on the way.
void SetPath(nlohmann::ordered_json* j, const std::string& path, const json& v) {
  nlohmann::ordered_json* at = j;
  std::size_t start = 0;
  for (;;) {
    const auto dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (dot == std::string::npos) {
      (*at)[part] = v;
      return;
    }
    at = &(*at)[part];
    start = dot + 1;
  }
}

// Keys (canonical and aliases) one level below `prefix` ("" = top level).
std::string KnownBelow(const std::string& prefix) {
  std::set<std::string> names;
  auto add = [&](const std::string& key) {
    if (!prefix.empty() && key.rfind(prefix + ".", 0) != 0) return;
    const std::string rest = prefix.empty() ? key : key.substr(prefix.size() + 1);
    names.insert(rest.substr(0, rest.find('.')));
  };
  for (const auto& s : ClassicOptionTable()) {
    add(s.key);
    for (const auto& a : s.aliases) add(a);
  }
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// `top`: the dotted key the mapping sits under ("" or "data"); `what`
// names it for messages ("t.yaml" or "t.yaml: data").
void Collect(const json& j, const std::string& prefix, const std::string& top, const std::string& what,
             std::vector<GivenOption>* out) {
  for (const auto& [k, v] : j.items()) {
    const std::string key = prefix.empty() ? k : prefix + "." + k;
    const std::string w = top.empty() ? what + ": " + key : what + key.substr(top.size());
    if (const OptionSpec* s = FindClassicOption(key); s && !v.is_object()) {
      out->push_back({s, v, w});
    } else if (v.is_object() && !KnownBelow(key).empty()) {
      Collect(v, key, top, what, out);
    } else {
      throw Error(w + ": unknown key (expected " + KnownBelow(prefix) + ")");
    }
  }
}
}  // namespace

int IntFromJson(const json& v, const std::string& what) { return Integer<int>(v, what); }

double DoubleFromJson(const json& v, const std::string& what) {
  if (v.is_number()) return v.get<double>();
  double out = 0;
  if (v.is_string() && ParseWhole(v.get<std::string>(), &out)) return out;
  throw Error(what + ": expected a number, found " + Show(v));
}

const std::vector<OptionSpec>& ClassicOptionTable() {
  static const std::vector<OptionSpec> table = BuildTable();
  return table;
}

const OptionSpec* FindClassicOption(const std::string& key) {
  static const std::map<std::string, const OptionSpec*> index = [] {
    std::map<std::string, const OptionSpec*> m;
    for (const auto& s : ClassicOptionTable()) {
      m[s.key] = &s;
      for (const auto& a : s.aliases) m[a] = &s;
    }
    return m;
  }();
  const auto it = index.find(key);
  return it == index.end() ? nullptr : it->second;
}

std::vector<GivenOption> OptionsFromJson(const json& j, const std::string& what, const std::vector<std::string>& skip,
                                         const std::string& prefix) {
  if (!j.is_object()) throw Error(what + ": expected a mapping");
  json rest = j;
  for (const auto& k : skip) rest.erase(k);
  std::vector<GivenOption> out;
  Collect(rest, prefix, prefix, what, &out);
  return out;
}

const json& Preset(const std::string& kind, const std::string& name) {
  const auto& p = ThePresets();
  const json& table = kind == "recipe" ? p.recipes : p.protocols;
  if (!table.contains(name)) throw Error(kind + ": unknown value '" + name + "'");
  return table.at(name);
}

void ApplyOptions(const std::vector<GivenOption>& given, ClassicConfig* cfg, bool validate) {
  std::set<std::string> explicit_keys;
  for (const auto& g : given) {
    if (!g.spec->preset) explicit_keys.insert(g.spec->key);
  }
  // Presets, each value unless that key (or one it conflicts with) is given.
  for (const auto& g : given) {
    if (!g.spec->preset) continue;
    g.spec->set(cfg, g.value, g.what);  // checks the name
    const json& values = Preset(g.spec->key, g.value.get<std::string>());
    std::vector<std::pair<const OptionSpec*, json>> ordered;
    for (const auto& [k, v] : values.items()) ordered.emplace_back(FindClassicOption(k), v);
    std::stable_sort(ordered.begin(), ordered.end(), [&](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [spec, v] : ordered) {
      bool given_here = explicit_keys.count(spec->key) > 0;
      for (const auto& c : spec->conflicts) given_here = given_here || explicit_keys.count(c) > 0;
      if (!given_here) spec->set(cfg, v, g.what + " " + g.value.get<std::string>() + ": " + spec->key);
    }
  }
  // Then the values themselves, in table order (the later source wins).
  std::vector<const GivenOption*> ordered;
  for (const auto& g : given) {
    if (!g.spec->preset) ordered.push_back(&g);
  }
  std::stable_sort(ordered.begin(), ordered.end(),
                   [&](const GivenOption* a, const GivenOption* b) { return a->spec < b->spec; });
  for (const GivenOption* g : ordered) g->spec->set(cfg, g->value, g->what);
  if (validate) cfg->Validate();
}

nlohmann::ordered_json EchoClassic(const ClassicConfig& cfg) {
  nlohmann::ordered_json j;
  for (const auto& s : ClassicOptionTable()) {
    if (!s.echo || (s.applies && !s.applies(cfg))) continue;
    SetPath(&j, s.key, s.get(cfg));
  }
  return j;
}

}  // namespace scenelab::pipelines

#include "scenelab/pipelines/config.h"

#include <yaml-cpp/yaml.h>

#include "scenelab/data/error.h"
#include "scenelab/data/io.h"
#include "scenelab/pipelines/sweep.h"

namespace scenelab::pipelines {

namespace {
nlohmann::json ToJson(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Sequence: {
      nlohmann::json a = nlohmann::json::array();
      for (const auto& x : n) a.push_back(ToJson(x));
      return a;
    }
    case YAML::NodeType::Map: {
      nlohmann::json o = nlohmann::json::object();
      for (const auto& kv : n) o[kv.first.as<std::string>()] = ToJson(kv.second);
      return o;
    }
    case YAML::NodeType::Scalar: {
      const std::string s = n.Scalar();
      if (n.Tag() == "!" ) return s;  // quoted: keep as a string
      if (s == "true" || s == "True") return true;
      if (s == "false" || s == "False") return false;
      if (s == "null" || s == "~") return nullptr;
      try {
        std::size_t used = 0;
        const long long v = std::stoll(s, &used);
        if (used == s.size()) return v;
      } catch (const std::exception&) {
      }
      try {
        std::size_t used = 0;
        const double v = std::stod(s, &used);
        if (used == s.size()) return v;
      } catch (const std::exception&) {
      }
      return s;
    }
  }
  return nullptr;
}

template <typename T>
T Get(const nlohmann::json& v, const std::string& what) {
  try {
    return v.get<T>();
  } catch (const nlohmann::json::exception&) {
    throw Error(what + ": wrong type, found " + v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
}
}  // namespace

nlohmann::json ParseConfigText(const std::string& text, const std::string& what) {
  try {
    return ToJson(YAML::Load(text));
  } catch (const YAML::Exception& e) {
    throw Error(what + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
}

nlohmann::json LoadConfigFile(const std::string& path) { return ParseConfigText(ReadFileText(path), path); }

void ApplyDataJson(const nlohmann::json& j, DataConfig* cfg, const std::string& what) {
  if (!j.is_object()) throw Error(what + ": expected a mapping");
  for (const auto& [k, v] : j.items()) {
    const std::string w = what + "." + k;
    if (k == "path") cfg->path = Get<std::string>(v, w);
    else if (k == "format") cfg->open.format = Get<std::string>(v, w);
    else if (k == "test_fraction") cfg->open.test_fraction = Get<double>(v, w);
    else if (k == "train_per_class") cfg->train_per_class = Get<std::size_t>(v, w);
    else if (k == "test_per_class") cfg->test_per_class = Get<std::size_t>(v, w);
    else if (k == "skip_bad") cfg->open.skip_bad = Get<bool>(v, w);
    else if (k == "class_names") cfg->open.class_names_file = Get<std::string>(v, w);
    else throw Error(w + ": unknown key (expected path, format, test_fraction, train_per_class, test_per_class, skip_bad, class_names)");
  }
}

void ApplyProtocol(const std::string& name, ClassicConfig* cfg) {
  if (name == "lazebnik") {
    // Lazebnik, Schmid & Ponce (2006): 100 training images per class, the
    // rest for testing, 10 random splits; mean and standard deviation.
    cfg->repeats = 10;
    cfg->data.train_per_class = 100;
    cfg->data.test_per_class = 0;
  } else if (name != "standard") {
    throw Error("protocol: unknown value '" + name + "' (expected lazebnik or standard)");
  }
}

void ApplyClassicJson(const nlohmann::json& j, ClassicConfig* cfg, const std::string& what) {
  for (const auto& [k, v] : j.items()) {
    const std::string w = what + "." + k;
    if (k == "type" || k == "name" || k == "sweep") continue;  // handled by the caller
    if (k == "protocol") {
      ApplyProtocol(Get<std::string>(v, w), cfg);
      continue;
    }
    if (k == "repeats") {
      cfg->repeats = Get<int>(v, w);
      continue;
    }
    if (k == "gist") {
      for (const auto& [gk, gv] : v.items()) {
        const std::string gw = w + "." + gk;
        if (gk == "image_size") cfg->gist.image_size = Get<int>(gv, gw);
        else if (gk == "orientations") cfg->gist.orientations = Get<std::vector<int>>(gv, gw);  // per scale, in order
        else if (gk == "grid") cfg->gist.grid = Get<int>(gv, gw);
        else if (gk == "prefilter_fc") cfg->gist.prefilter_fc = Get<double>(gv, gw);
        else if (gk == "boundary") cfg->gist.boundary = Get<int>(gv, gw);
        else throw Error(gw + ": unknown key (expected image_size, orientations, grid, prefilter_fc, boundary)");
      }
    } else if (k == "tiny") {
      for (const auto& [tk, tv] : v.items()) {
        const std::string tw = w + "." + tk;
        if (tk == "size") cfg->tiny.size = Get<int>(tv, tw);
        else if (tk == "norm") cfg->tiny.norm = features::ParseNorm(Get<std::string>(tv, tw));
        else if (tk == "interpolation") cfg->tiny.interpolation = features::ParseInterpolation(Get<std::string>(tv, tw));
        else if (tk == "crop_square") cfg->tiny.crop_square = Get<bool>(tv, tw);
        else if (tk == "zero_mean") cfg->tiny.zero_mean = Get<bool>(tv, tw);
        else throw Error(tw + ": unknown key (expected size, norm, interpolation, crop_square, zero_mean)");
      }
    } else if (k == "sift") {
      for (const auto& [sk, sv] : v.items()) {
        const std::string sw = w + "." + sk;
        if (sk == "step") cfg->sift.step = Get<int>(sv, sw);
        else if (sk == "bins") cfg->sift.bin_sizes = IntListFromJson(sv, sw);
        else if (sk == "fast") cfg->sift.fast = Get<bool>(sv, sw);
        else if (sk == "smooth") cfg->sift.smooth = Get<bool>(sv, sw);
        else if (sk == "root_sift") cfg->sift.root_sift = Get<bool>(sv, sw);
        else if (sk == "implementation") cfg->sift.implementation = Get<std::string>(sv, sw);
        else if (sk == "phow") {
          if (Get<bool>(sv, sw)) {
            const int step = cfg->sift.step;
            cfg->sift = features::DenseSiftOptions::Phow();
            cfg->sift.step = step;
          }
        } else throw Error(sw + ": unknown key (expected step, bins, fast, smooth, root_sift, implementation, phow)");
      }
    } else if (k == "vocab") {
      for (const auto& [vk, vv] : v.items()) {
        const std::string vw = w + "." + vk;
        if (vk == "size") cfg->vocab.size = Get<int>(vv, vw);
        else if (vk == "algorithm") cfg->vocab.algorithm = Get<std::string>(vv, vw);
        else if (vk == "max_iterations") cfg->vocab.max_iterations = Get<int>(vv, vw);
        else if (vk == "min_energy_variation") cfg->vocab.min_energy_variation = Get<double>(vv, vw);
        else if (vk == "descriptors_per_image") cfg->vocab.descriptors_per_image = Get<int>(vv, vw);
        else if (vk == "images") cfg->vocab.images = Get<int>(vv, vw);
        else throw Error(vw + ": unknown key (expected size, algorithm, max_iterations, min_energy_variation, descriptors_per_image, images)");
      }
    } else if (k == "pyramid") {
      cfg->bow.pyramid_levels = Get<int>(v, w);
    } else if (k == "grids") {
      cfg->bow.grids = IntListFromJson(v, w);
    } else if (k == "quantizer") {
      cfg->bow.quantizer = Get<std::string>(v, w);
    } else if (k == "encoding") {
      for (const auto& [ek, ev] : v.items()) {
        const std::string ew = w + "." + ek;
        if (ek == "pca") cfg->pca_dim = Get<int>(ev, ew);
        else if (ek == "gmm") cfg->gmm.components = Get<int>(ev, ew);
        else if (ek == "gmm_iterations") cfg->gmm.max_iterations = Get<int>(ev, ew);
        else if (ek == "improved") cfg->fisher_improved = Get<bool>(ev, ew);
        else throw Error(ew + ": unknown key (expected pca, gmm, gmm_iterations, improved)");
      }
    } else if (k == "homkermap") {
      if (v.is_string()) {
        cfg->homkermap = Get<std::string>(v, w);
      } else {
        for (const auto& [hk, hv] : v.items()) {
          const std::string hw = w + "." + hk;
          if (hk == "kernel") cfg->homkermap = Get<std::string>(hv, hw);
          else if (hk == "order") cfg->hkm.order = Get<int>(hv, hw);
          else if (hk == "gamma") cfg->hkm.gamma = Get<double>(hv, hw);
          else throw Error(hw + ": unknown key (expected kernel, order, gamma)");
        }
      }
    } else if (k == "classifier") {
      cfg->classifier = Get<std::string>(v, w);
    } else if (k == "svm") {
      for (const auto& [sk, sv] : v.items()) {
        const std::string sw = w + "." + sk;
        if (sk == "c") {
          if (sv.is_array()) {
            cfg->svm.c_grid = Get<std::vector<double>>(sv, sw);
            if (cfg->svm.c_grid.empty()) throw Error(sw + ": needs at least one value");
            cfg->svm.c = cfg->svm.c_grid.front();
            if (cfg->svm.c_grid.size() == 1) cfg->svm.c_grid.clear();
          } else {
            cfg->svm.c = Get<double>(sv, sw);
            cfg->svm.c_grid.clear();
          }
        } else if (sk == "folds") cfg->svm.cv_folds = Get<int>(sv, sw);
        else if (sk == "solver") cfg->svm.solver = Get<std::string>(sv, sw);
        else if (sk == "epsilon") cfg->svm.epsilon = Get<double>(sv, sw);
        else throw Error(sw + ": unknown key (expected c, folds, solver, epsilon)");
      }
    } else if (k == "knn") {
      for (const auto& [nk, nv] : v.items()) {
        const std::string nw = w + "." + nk;
        if (nk == "metrics") {
          cfg->metrics.clear();
          for (const auto& m : nv) cfg->metrics.push_back(classify::ParseMetric(Get<std::string>(m, nw)));
        } else if (nk == "k") {
          cfg->ks = IntListFromJson(nv, nw);
        } else if (nk == "weighted") cfg->distance_weighted = Get<bool>(nv, nw);
        else if (nk == "cv_folds") cfg->cv_folds = Get<int>(nv, nw);
        else if (nk == "index") cfg->knn.algorithm = classify::ParseSearchAlgorithm(Get<std::string>(nv, nw));
        else throw Error(nw + ": unknown key (expected metrics, k, weighted, cv_folds, index)");
      }
    } else {
      throw Error(w + ": unknown key (expected tiny, gist, sift, vocab, pyramid, grids, quantizer, encoding, homkermap, classifier, svm, knn)");
    }
  }
}

}  // namespace scenelab::pipelines

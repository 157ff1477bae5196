// The linear-SVM stage at the PHOW recipe's shape, on generated data:
// N bag-of-words histograms over 600 words in a 2x2 + 4x4 grid (20 cells),
// L1-normalised and chi2-mapped (order 1): 36,000 dimensions, as
// `--recipe phow` gives the SVM. Each image draws `draws` descriptors per
// 4x4 cell (a 150x150 image at step 3 and 4 scales gives about 625) from a
// mixture of shared topics and its class's words; the 2x2 cells are the sums
// of their 4x4 cells, as in a real pyramid.
//   svm_bench [--classes 10] [--train 10000] [--test 2000] [--c 10] [--signal 0.006]
//             [--solvers dcd,sdca,liblinear,reference] [--epsilon E] [--threads 2] [--seed 0]
// Prints, per solver: seconds, test accuracy, classes converged, the largest
// duality gap (vl_svm's objective) and sample visits. `reference` is dcd run
// to a projected-gradient spread of 1e-3: the "fully converged" model.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "scenelab/classify/svm.h"
#include "scenelab/data/parallel.h"
#include "scenelab/data/rng.h"
#include "scenelab/features/homkermap.h"

#if SCENELAB_HAVE_LIBLINEAR
#include <linear.h>
#endif

using namespace scenelab;
using Matrix = features::Matrix;

namespace {
constexpr int kWords = 600, kGrid = 4, kCells = 20;

struct Generator {
  int classes, draws;
  double signal;
  std::vector<std::vector<double>> topics, class_words;  // cumulative distributions over the words
};

std::vector<double> Cumulative(std::vector<double> p) {
  double s = 0;
  for (double& v : p) v = (s += v);
  for (double& v : p) v /= s;
  return p;
}

int Draw(const std::vector<double>& cum, Rng* r) {
  return static_cast<int>(std::upper_bound(cum.begin(), cum.end() - 1, r->Uniform()) - cum.begin());
}

Generator MakeGenerator(int classes, double signal, std::uint64_t seed) {
  Generator g{classes, 625, signal, {}, {}};
  Rng r(seed);
  for (int t = 0; t < 20; ++t) {  // shared topics: each favours about 100 words
    std::vector<double> p(kWords);
    for (double& v : p) v = r.Uniform() < 1.0 / 6 ? 1 + 9 * r.Uniform() : 0.05 * r.Uniform();
    g.topics.push_back(Cumulative(p));
  }
  for (int c = 0; c < classes; ++c) {  // each class: about 40 words of its own
    std::vector<double> p(kWords);
    for (double& v : p) v = r.Uniform() < 40.0 / kWords ? 1 + r.Uniform() : 0.0;
    g.class_words.push_back(Cumulative(p));
  }
  return g;
}

// One image's spatial histogram, before the map: 16 fine cells, then the
// 4 coarse ones as their sums, the whole L1-normalised.
void Image(const Generator& g, int cls, std::uint64_t seed, float* out) {
  Rng r(seed);
  std::vector<float> fine(static_cast<std::size_t>(kGrid * kGrid * kWords), 0.0f);
  const int t1 = static_cast<int>(r.Below(g.topics.size())), t2 = static_cast<int>(r.Below(g.topics.size()));
  const double own = g.signal * 2 * r.Uniform();  // how much of the image is its class's words
  for (int cell = 0; cell < kGrid * kGrid; ++cell) {
    const double mix = r.Uniform();  // topic balance varies over the image
    for (int k = 0; k < g.draws; ++k) {
      const double u = r.Uniform();
      const auto& cum = u < own ? g.class_words[static_cast<std::size_t>(cls)]
                                : (u < own + (1 - own) * mix ? g.topics[t1] : g.topics[t2]);
      fine[static_cast<std::size_t>(cell * kWords + Draw(cum, &r))] += 1;
    }
  }
  float* coarse = out;
  float* fine_out = out + 4 * kWords;
  std::fill(out, out + kCells * kWords, 0.0f);
  for (int cell = 0; cell < 16; ++cell) {
    const int cx = (cell % 4) / 2, cy = (cell / 4) / 2;
    for (int w = 0; w < kWords; ++w) {
      const float v = fine[static_cast<std::size_t>(cell * kWords + w)];
      fine_out[cell * kWords + w] = v;
      coarse[(cy * 2 + cx) * kWords + w] += v;
    }
  }
  float s = 0;
  for (int i = 0; i < kCells * kWords; ++i) s += out[i];
  for (int i = 0; i < kCells * kWords; ++i) out[i] /= s;
}

void Generate(const Generator& g, std::size_t n, std::uint64_t seed, int threads, Matrix* x, std::vector<int>* y) {
  features::HomogeneousKernelMap map{features::HomKerMapOptions{}};
  x->resize(static_cast<Eigen::Index>(n), kCells * kWords * map.expansion());
  y->resize(n);
  ParallelFor(n, threads, [&](std::size_t i) {
    const int cls = static_cast<int>(i % static_cast<std::size_t>(g.classes));
    std::vector<float> h(static_cast<std::size_t>(kCells * kWords));
    Image(g, cls, MixSeed(seed, i), h.data());
    map.Map(h.data(), h.size(), x->data() + i * static_cast<std::size_t>(x->cols()));
    (*y)[i] = cls;
  });
}

double Accuracy(const std::vector<int>& p, const std::vector<int>& y) {
  std::size_t ok = 0;
  for (std::size_t i = 0; i < y.size(); ++i) ok += p[i] == y[i];
  return static_cast<double>(ok) / static_cast<double>(y.size());
}

double Since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

#if SCENELAB_HAVE_LIBLINEAR
void Quiet(const char*) {}

// LIBLINEAR -s 3 (L2-regularised hinge loss, dual coordinate descent with
// shrinking), one binary problem per class, trained two at a time as
// scenelab trains them; bias feature 1 as vl_svm's bias multiplier.
std::vector<int> Liblinear(const Matrix& x, const std::vector<int>& y, const Matrix& xt, int classes, double c,
                           double eps, int threads, double* convert_secs) {
  set_print_string_function(Quiet);
  const auto t0 = std::chrono::steady_clock::now();
  const auto n = static_cast<std::size_t>(x.rows()), d = static_cast<std::size_t>(x.cols());
  std::vector<std::vector<feature_node>> rows(n);
  ParallelFor(n, threads, [&](std::size_t i) {
    for (std::size_t j = 0; j < d; ++j) {
      const float v = x(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j));
      if (v != 0) rows[i].push_back({static_cast<int>(j + 1), v});
    }
    rows[i].push_back({static_cast<int>(d + 1), 1.0});  // the bias feature
    rows[i].push_back({-1, 0});
  });
  std::vector<feature_node*> ptr(n);
  for (std::size_t i = 0; i < n; ++i) ptr[i] = rows[i].data();
  *convert_secs = Since(t0);
  Matrix scores(xt.rows(), classes);
  ParallelFor(static_cast<std::size_t>(classes), threads, [&](std::size_t cls) {
    std::vector<double> yy(n);
    for (std::size_t i = 0; i < n; ++i) yy[i] = y[i] == static_cast<int>(cls) ? 1 : -1;
    problem prob{};
    prob.l = static_cast<int>(n);
    prob.n = static_cast<int>(d + 1);
    prob.y = yy.data();
    prob.x = ptr.data();
    prob.bias = -1;  // the bias node is already in every row
    parameter param{};
    param.solver_type = L2R_L1LOSS_SVC_DUAL;
    param.C = c;
    param.eps = eps;
    model* m = train(&prob, &param);
    // LIBLINEAR orders its two labels as first seen; w scores label[0].
    const double sign = m->label[0] == 1 ? 1 : -1;
    for (Eigen::Index i = 0; i < xt.rows(); ++i) {
      double s = m->w[d];
      for (std::size_t j = 0; j < d; ++j) s += m->w[j] * xt(i, static_cast<Eigen::Index>(j));
      scores(i, static_cast<Eigen::Index>(cls)) = static_cast<float>(sign * s);
    }
    free_and_destroy_model(&m);
  });
  std::vector<int> pred(static_cast<std::size_t>(xt.rows()));
  for (Eigen::Index i = 0; i < xt.rows(); ++i) {
    Eigen::Index best = 0;
    scores.row(i).maxCoeff(&best);
    pred[static_cast<std::size_t>(i)] = static_cast<int>(best);
  }
  return pred;
}
#endif
}  // namespace

int main(int argc, char** argv) {
  int classes = 10, threads = 2;
  std::size_t ntrain = 10000, ntest = 2000;
  double c = 10, signal = 0.006, epsilon = 0;
  std::uint64_t seed = 0;
  std::string solvers = "dcd,liblinear,reference";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--classes")
      classes = std::stoi(v);
    else if (a == "--train")
      ntrain = std::stoul(v);
    else if (a == "--test")
      ntest = std::stoul(v);
    else if (a == "--c")
      c = std::stod(v);
    else if (a == "--signal")
      signal = std::stod(v);
    else if (a == "--epsilon")
      epsilon = std::stod(v);
    else if (a == "--threads")
      threads = std::stoi(v);
    else if (a == "--seed")
      seed = std::stoull(v);
    else if (a == "--solvers")
      solvers = v;
    else {
      std::fprintf(stderr, "svm_bench: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  const Generator g = MakeGenerator(classes, signal, seed);
  Matrix x, xt;
  std::vector<int> y, yt;
  auto t0 = std::chrono::steady_clock::now();
  Generate(g, ntrain, MixSeed(seed, 1), threads, &x, &y);
  Generate(g, ntest, MixSeed(seed, 2), threads, &xt, &yt);
  std::printf("data: %zu train + %zu test x %ld dims, %d classes, generated in %.1f s\n", ntrain, ntest,
              static_cast<long>(x.cols()), classes, Since(t0));
  std::stringstream list(solvers);
  for (std::string s; std::getline(list, s, ',');) {
    t0 = std::chrono::steady_clock::now();
    if (s == "liblinear") {
#if SCENELAB_HAVE_LIBLINEAR
      double convert = 0;
      const auto pred = Liblinear(x, y, xt, classes, c, epsilon > 0 ? epsilon : 0.1, threads, &convert);
      std::printf("%-10s %8.1f s  accuracy %.4f  (of which %.1f s building its sparse rows)\n", s.c_str(), Since(t0),
                  Accuracy(pred, yt), convert);
#else
      std::printf("liblinear: not built (install liblinear-dev and reconfigure)\n");
#endif
      std::fflush(stdout);
      continue;
    }
    classify::LinearSvmOptions o;
    o.solver = classify::SvmSolverNames().Parse(s == "reference" ? "dcd" : s);
    o.c = c;
    o.epsilon = s == "reference" ? 1e-3 : epsilon;
    o.threads = threads;
    o.seed = seed;
    classify::LinearSvm svm(o);
    svm.Fit(x, y, classes);
    const double secs = Since(t0);
    std::size_t conv = 0, visits = 0;
    double gap = 0;
    for (std::size_t k = 0; k < svm.iterations().size(); ++k) {
      conv += svm.converged()[k];
      visits = std::max(visits, svm.iterations()[k]);
      gap = std::max(gap, svm.duality_gaps()[k]);
    }
    std::printf("%-10s %8.1f s  accuracy %.4f  converged %zu/%d  max duality gap %.2e  max visits %zu (%.1f passes)\n",
                s.c_str(), secs, Accuracy(svm.Predict(xt), yt), conv, classes, gap, visits,
                static_cast<double>(visits) / static_cast<double>(ntrain));
    std::fflush(stdout);
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("peak RSS %.0f MB\n", ru.ru_maxrss / 1024.0);
  return 0;
}

#include "scenelab/eval/stats.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>

#include "scenelab/data/error.h"
#include "scenelab/data/rng.h"
#include "scenelab/eval/confusion.h"

namespace scenelab::eval {

namespace {
void CheckConfidence(double confidence) {
  if (!(confidence > 0 && confidence < 1)) {
    throw Error("confidence level must be in (0, 1), got " + std::to_string(confidence));
  }
}

// Continued fraction of the regularized incomplete beta function (modified
// Lentz), convergent for x < (a + 1) / (a + b + 2).
double BetaContinuedFraction(double a, double b, double x) {
  constexpr double kTiny = 1e-300;
  double c = 1, d = 1 - (a + b) * x / (a + 1);
  if (std::fabs(d) < kTiny) d = kTiny;
  d = 1 / d;
  double h = d;
  for (int m = 1; m <= 1000; ++m) {
    const double m2 = 2.0 * m;
    double aa = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1 + aa / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1 / d;
    h *= d * c;
    aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1 + aa / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1 / d;
    const double del = d * c;
    h *= del;
    if (std::fabs(del - 1) < 1e-15) break;
  }
  return h;
}

// I_x(a, b).
double RegularizedBeta(double a, double b, double x) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const double front =
      std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x));
  if (x < (a + 1) / (a + b + 2)) return front * BetaContinuedFraction(a, b, x) / a;
  return 1 - front * BetaContinuedFraction(b, a, 1 - x) / b;
}

// Inverts a monotone increasing cdf by bisection on an expanding bracket.
template <typename Cdf>
double InvertCdf(Cdf cdf, double p) {
  double lo = -1, hi = 1;
  while (cdf(lo) > p) lo *= 2;
  while (cdf(hi) < p) hi *= 2;
  for (int i = 0; i < 200 && hi - lo > 1e-13 * std::max(1.0, std::fabs(lo)); ++i) {
    const double mid = 0.5 * (lo + hi);
    (cdf(mid) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

// Percentile of sorted values with linear interpolation between order statistics.
double Percentile(const std::vector<double>& sorted, double q) {
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const auto i = static_cast<std::size_t>(std::floor(pos));
  const double f = pos - static_cast<double>(i);
  return i + 1 < sorted.size() ? sorted[i] * (1 - f) + sorted[i + 1] * f : sorted[i];
}
}  // namespace

double NormalQuantile(double p) {
  if (!(p > 0 && p < 1)) throw Error("NormalQuantile: p must be in (0, 1), got " + std::to_string(p));
  return InvertCdf([](double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }, p);
}

double StudentTCdf(double t, double df) {
  if (!(df > 0)) throw Error("StudentTCdf: degrees of freedom must be > 0, got " + std::to_string(df));
  const double tail = 0.5 * RegularizedBeta(df / 2, 0.5, df / (df + t * t));
  return t > 0 ? 1 - tail : tail;
}

double StudentTQuantile(double p, double df) {
  if (!(p > 0 && p < 1)) throw Error("StudentTQuantile: p must be in (0, 1), got " + std::to_string(p));
  return InvertCdf([df](double x) { return StudentTCdf(x, df); }, p);
}

double ChiSquared1Sf(double x) { return x <= 0 ? 1.0 : std::erfc(std::sqrt(x / 2)); }

Interval WilsonInterval(std::int64_t successes, std::int64_t n, double confidence) {
  CheckConfidence(confidence);
  if (n <= 0) throw Error("WilsonInterval: needs at least one trial, got n = " + std::to_string(n));
  if (successes < 0 || successes > n) {
    throw Error("WilsonInterval: successes must be in [0, n], got " + std::to_string(successes) + " of " +
                std::to_string(n));
  }
  const double z = NormalQuantile(1 - (1 - confidence) / 2);
  const double nn = static_cast<double>(n), p = static_cast<double>(successes) / nn, z2 = z * z;
  const double centre = (p + z2 / (2 * nn)) / (1 + z2 / nn);
  const double half = z / (1 + z2 / nn) * std::sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn));
  return {std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

double Mean(const std::vector<double>& v) {
  if (v.empty()) throw Error("Mean: no values");
  return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

double StdDev(const std::vector<double>& v) {
  if (v.size() < 2) return 0;
  const double m = Mean(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size() - 1));
}

Interval TInterval(const std::vector<double>& values, double confidence) {
  CheckConfidence(confidence);
  if (values.size() < 2) {
    throw Error("TInterval: needs at least 2 repeats, got " + std::to_string(values.size()));
  }
  const double n = static_cast<double>(values.size());
  const double half = StudentTQuantile(1 - (1 - confidence) / 2, n - 1) * StdDev(values) / std::sqrt(n);
  const double m = Mean(values);
  return {m - half, m + half};
}

McNemarResult McNemar(std::int64_t b, std::int64_t c) {
  if (b < 0 || c < 0) throw Error("McNemar: discordant counts must be >= 0");
  McNemarResult r;
  r.b = b;
  r.c = c;
  const std::int64_t n = b + c;
  if (n == 0) return r;  // the classifiers never disagree: p = 1
  if (n < kMcNemarExactBelow) {
    r.exact = true;
    // 2 P[X <= min(b, c)], X ~ Bin(n, 1/2), summed in log space.
    const std::int64_t m = std::min(b, c);
    double tail = 0;
    for (std::int64_t i = 0; i <= m; ++i) {
      tail += std::exp(std::lgamma(n + 1.0) - std::lgamma(i + 1.0) - std::lgamma(n - i + 1.0) - n * std::log(2.0));
    }
    r.p_value = std::min(1.0, 2 * tail);
  } else {
    const double d = std::fabs(static_cast<double>(b - c)) - 1;
    r.statistic = d > 0 ? d * d / static_cast<double>(n) : 0;
    r.p_value = ChiSquared1Sf(r.statistic);
  }
  return r;
}

std::vector<double> HolmAdjust(const std::vector<double>& p) {
  const std::size_t m = p.size();
  std::vector<std::size_t> order(m);
  std::iota(order.begin(), order.end(), 0);
  // Stable: equal p-values keep their input order.
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return p[a] < p[b]; });
  std::vector<double> adj(m, 1.0);
  double running = 0;
  for (std::size_t r = 0; r < m; ++r) {
    const double v = std::min(1.0, static_cast<double>(m - r) * p[order[r]]);
    running = std::max(running, v);
    adj[order[r]] = running;
  }
  return adj;
}

TTestResult PairedTTest(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) {
    throw Error("PairedTTest: " + std::to_string(a.size()) + " values against " + std::to_string(b.size()));
  }
  if (a.size() < 2) throw Error("PairedTTest: needs at least 2 pairs, got " + std::to_string(a.size()));
  std::vector<double> d(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) d[i] = a[i] - b[i];
  TTestResult r;
  r.df = static_cast<int>(d.size()) - 1;
  r.mean_difference = Mean(d);
  const double se = StdDev(d) / std::sqrt(static_cast<double>(d.size()));
  if (se == 0) {
    r.t = r.mean_difference == 0 ? 0 : std::copysign(std::numeric_limits<double>::infinity(), r.mean_difference);
    r.p_value = r.mean_difference == 0 ? 1 : 0;
    return r;
  }
  r.t = r.mean_difference / se;
  r.p_value = std::min(1.0, 2 * StudentTCdf(-std::fabs(r.t), r.df));
  return r;
}

BootstrapResult BootstrapClassMetrics(const std::vector<int>& truth, const std::vector<int>& predicted, int num_classes,
                                      int resamples, std::uint64_t seed, double confidence) {
  CheckConfidence(confidence);
  if (truth.size() != predicted.size() || truth.empty()) {
    throw Error("bootstrap: needs equal, non-empty truth and prediction lists, got " + std::to_string(truth.size()) +
                " and " + std::to_string(predicted.size()));
  }
  if (resamples < 2) throw Error("bootstrap: resamples must be >= 2, got " + std::to_string(resamples));
  std::vector<std::string> names(static_cast<std::size_t>(num_classes));
  Rng rng(MixSeed(seed, 0xb007));
  std::vector<double> mpca, f1;
  for (int b = 0; b < resamples; ++b) {
    ConfusionMatrix cm(names);
    for (std::size_t i = 0; i < truth.size(); ++i) {
      const std::size_t j = rng.Below(truth.size());
      cm.Add(truth[j], predicted[j]);
    }
    mpca.push_back(cm.MeanPerClassAccuracy());
    f1.push_back(cm.MacroF1());
  }
  std::sort(mpca.begin(), mpca.end());
  std::sort(f1.begin(), f1.end());
  const double a = (1 - confidence) / 2;
  BootstrapResult r;
  r.mean_per_class_accuracy = {Percentile(mpca, a), Percentile(mpca, 1 - a)};
  r.macro_f1 = {Percentile(f1, a), Percentile(f1, 1 - a)};
  r.resamples = resamples;
  return r;
}

std::int64_t TopKCorrect(const std::vector<int>& truth, const std::vector<std::vector<int>>& ranking, int k) {
  if (truth.size() != ranking.size()) throw Error("TopKCorrect: truth and ranking sizes differ");
  std::int64_t n = 0;
  for (std::size_t i = 0; i < truth.size(); ++i) {
    const auto end = ranking[i].begin() + std::min<std::ptrdiff_t>(k, static_cast<std::ptrdiff_t>(ranking[i].size()));
    n += std::find(ranking[i].begin(), end, truth[i]) != end;
  }
  return n;
}

}  // namespace scenelab::eval

namespace scenelab::eval {

std::string TestSetFingerprint(const Predictions& p) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a over "source\ttruth\n" lines
  for (const auto& r : p.rows()) {
    const std::string line = r.source + "\t" + std::to_string(r.truth) + "\n";
    for (unsigned char ch : line) {
      h ^= ch;
      h *= 1099511628211ull;
    }
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

SignificanceTable CompareOnSameImages(const std::vector<std::string>& names, const std::vector<Predictions>& preds,
                                      double alpha) {
  if (names.size() != preds.size()) throw Error("significance: names and prediction lists differ in number");
  const std::size_t m = preds.size();
  for (std::size_t i = 1; i < m; ++i) {
    const auto& a = preds[0].rows();
    const auto& b = preds[i].rows();
    if (a.size() != b.size()) {
      throw Error("significance: '" + names[0] + "' has " + std::to_string(a.size()) + " test images and '" + names[i] +
                  "' " + std::to_string(b.size()) + "; McNemar needs the same test set");
    }
    for (std::size_t j = 0; j < a.size(); ++j) {
      if (a[j].source != b[j].source || a[j].truth != b[j].truth) {
        throw Error("significance: '" + names[0] + "' and '" + names[i] + "' differ at test image " +
                    std::to_string(j) + " ('" + a[j].source + "' vs '" + b[j].source +
                    "'); McNemar needs the same test set");
      }
    }
  }
  SignificanceTable t;
  t.names = names;
  t.alpha = alpha;
  t.p.assign(m, std::vector<double>(m, 1.0));
  t.p_holm = t.p;
  for (const auto& p : preds) {
    std::int64_t ok = 0;
    for (const auto& r : p.rows()) ok += r.truth == r.predicted;
    t.accuracy.push_back(p.size() ? static_cast<double>(ok) / static_cast<double>(p.size()) : 0.0);
  }
  std::vector<double> raw;
  for (std::size_t a = 0; a < m; ++a) {
    for (std::size_t b = a + 1; b < m; ++b) {
      std::int64_t only_a = 0, only_b = 0;
      const auto& ra = preds[a].rows();
      const auto& rb = preds[b].rows();
      for (std::size_t j = 0; j < ra.size(); ++j) {
        const bool ca = ra[j].predicted == ra[j].truth, cb = rb[j].predicted == rb[j].truth;
        only_a += ca && !cb;
        only_b += cb && !ca;
      }
      SignificanceTable::Pair pr;
      pr.a = static_cast<int>(a);
      pr.b = static_cast<int>(b);
      pr.test = McNemar(only_a, only_b);
      t.p[a][b] = t.p[b][a] = pr.test.p_value;
      raw.push_back(pr.test.p_value);
      t.pairs.push_back(pr);
    }
  }
  const auto adj = HolmAdjust(raw);
  for (std::size_t i = 0; i < t.pairs.size(); ++i) {
    auto& pr = t.pairs[i];
    pr.p_holm = adj[i];
    pr.significant = adj[i] < alpha;
    t.p_holm[static_cast<std::size_t>(pr.a)][static_cast<std::size_t>(pr.b)] = adj[i];
    t.p_holm[static_cast<std::size_t>(pr.b)][static_cast<std::size_t>(pr.a)] = adj[i];
  }
  return t;
}

std::vector<std::string> SignificanceTable::Statements() const {
  std::vector<std::string> out;
  for (const auto& pr : pairs) {
    const auto a = static_cast<std::size_t>(pr.a), b = static_cast<std::size_t>(pr.b);
    const bool a_better = accuracy[a] >= accuracy[b];
    const std::string& hi = a_better ? names[a] : names[b];
    const std::string& lo = a_better ? names[b] : names[a];
    char buf[512];
    std::snprintf(
        buf, sizeof buf,
        "%s vs %s: %s (accuracy %.4f vs %.4f; McNemar %s, %lld vs %lld discordant, p = %.3g, Holm p = %.3g)",
        names[a].c_str(), names[b].c_str(),
        pr.significant
            ? (hi + " is significantly better than " + lo + " at " + std::to_string(alpha).substr(0, 4)).c_str()
            : ("no significant difference at " + std::to_string(alpha).substr(0, 4)).c_str(),
        accuracy[a], accuracy[b], pr.test.exact ? "exact" : "chi-squared", static_cast<long long>(pr.test.b),
        static_cast<long long>(pr.test.c), pr.test.p_value, pr.p_holm);
    out.push_back(buf);
  }
  return out;
}

}  // namespace scenelab::eval

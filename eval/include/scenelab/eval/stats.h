#pragma once
// The statistics a reviewer asks for beside an accuracy: intervals on one
// run and over repeats, McNemar's test between two classifiers scored on the
// same test images, Holm's correction across pairs, the paired t-test over
// repeats, and a seeded bootstrap. Formulas and references are in
// docs/EVALUATION.md; every function here is a plain function of counts.
#include <cstdint>
#include <string>
#include <vector>

namespace scenelab::eval {

struct Interval {
  double lo = 0;
  double hi = 0;
};

// Wilson score interval for `successes` out of `n` (Wilson 1927); n > 0.
// Unlike the normal approximation it stays inside [0, 1] and is accurate
// for small n and for accuracies near 0 or 1.
Interval WilsonInterval(std::int64_t successes, std::int64_t n, double confidence = 0.95);

// Mean +- t_{n-1} s / sqrt(n) over repeated runs (Student's t interval);
// needs at least 2 values.
Interval TInterval(const std::vector<double>& values, double confidence = 0.95);
double Mean(const std::vector<double>& v);
double StdDev(const std::vector<double>& v);  // sample standard deviation (n - 1)

// McNemar's test on the discordant pairs of two classifiers scored on the
// same images: b = only A right, c = only B right. With b + c < 25 the
// exact two-sided binomial test (p = min(1, 2 P[X <= min(b, c)]), X ~
// Bin(b + c, 1/2)); otherwise chi-squared with Edwards' continuity
// correction, (|b - c| - 1)^2 / (b + c), one degree of freedom.
struct McNemarResult {
  std::int64_t b = 0, c = 0;
  bool exact = false;
  double statistic = 0;  // chi-squared value (0 when exact)
  double p_value = 1;
};
McNemarResult McNemar(std::int64_t b, std::int64_t c);
inline constexpr std::int64_t kMcNemarExactBelow = 25;

// Holm's step-down adjustment (Holm 1979): adjusted p-values in the input
// order, each >= its raw value, monotone in the sorted order, capped at 1.
std::vector<double> HolmAdjust(const std::vector<double>& p);

// Paired two-sided t-test on a[i] - b[i] (n >= 2). A zero variance of the
// differences gives p = 1 when they are all 0 and p = 0 otherwise.
struct TTestResult {
  double mean_difference = 0;
  double t = 0;
  int df = 0;
  double p_value = 1;
};
TTestResult PairedTTest(const std::vector<double>& a, const std::vector<double>& b);

// Distribution functions, exposed for the tests.
double StudentTCdf(double t, double df);
double StudentTQuantile(double p, double df);
double NormalQuantile(double p);
double ChiSquared1Sf(double x);  // P[X > x] for one degree of freedom

// Seeded percentile bootstrap over test images (resampled with
// replacement, B times) of the mean per-class accuracy and macro-F1.
struct BootstrapResult {
  Interval mean_per_class_accuracy;
  Interval macro_f1;
  int resamples = 0;
};
BootstrapResult BootstrapClassMetrics(const std::vector<int>& truth, const std::vector<int>& predicted, int num_classes,
                                      int resamples = 1000, std::uint64_t seed = 0, double confidence = 0.95);

// Top-k correct count: ranking[i] lists query i's classes best first.
std::int64_t TopKCorrect(const std::vector<int>& truth, const std::vector<std::vector<int>>& ranking, int k);

}  // namespace scenelab::eval

#include "scenelab/eval/confusion.h"

namespace scenelab::eval {

// Pairwise McNemar tests between classifiers scored on the same test
// images (the same sources in the same order), Holm-corrected across the
// pairs. Matrices are symmetric with ones on the diagonal.
struct SignificanceTable {
  std::vector<std::string> names;
  std::vector<double> accuracy;
  std::vector<std::vector<double>> p;       // raw McNemar p-values
  std::vector<std::vector<double>> p_holm;  // Holm-adjusted
  struct Pair {
    int a = 0, b = 0;
    McNemarResult test;  // b = only `a` right, c = only `b` right
    double p_holm = 1;
    bool significant = false;  // p_holm < alpha
  };
  std::vector<Pair> pairs;
  double alpha = 0.05;
  // One plain sentence per pair: which is better and whether it is significant.
  std::vector<std::string> Statements() const;
};

// Throws Error when the prediction lists do not cover the same images in
// the same order, naming the two runs and the first difference.
SignificanceTable CompareOnSameImages(const std::vector<std::string>& names, const std::vector<Predictions>& preds,
                                      double alpha = 0.05);

// A fingerprint of the test image list (sources and true labels, in order):
// two runs are comparable image by image when these are equal.
std::string TestSetFingerprint(const Predictions& p);

}  // namespace scenelab::eval

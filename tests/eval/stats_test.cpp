// The statistics against values from published tables or closed forms, not
// against a second copy of the same formula.
#include <gtest/gtest.h>

#include <cmath>

#include "expect_error.h"
#include "scenelab/eval/stats.h"

using namespace scenelab::eval;

TEST(Eval_Stats, WilsonMatchesNewcombesTable) {
  // Newcombe (1998), Statistics in Medicine 17:857, table I, method 3.
  auto a = WilsonInterval(81, 263);
  EXPECT_NEAR(a.lo, 0.2553, 5e-5);
  EXPECT_NEAR(a.hi, 0.3662, 5e-5);
  auto b = WilsonInterval(15, 148);
  EXPECT_NEAR(b.lo, 0.0624, 5e-5);
  EXPECT_NEAR(b.hi, 0.1605, 5e-5);
  auto c = WilsonInterval(0, 20);
  EXPECT_EQ(c.lo, 0.0);
  EXPECT_NEAR(c.hi, 0.1611, 5e-5);
  auto d = WilsonInterval(10, 10);  // stays inside [0, 1]
  EXPECT_EQ(d.hi, 1.0);
  EXPECT_NEAR(d.lo, 0.7225, 5e-5);
  EXPECT_MESSAGE(WilsonInterval(3, 0), "n = 0");
  EXPECT_MESSAGE(WilsonInterval(11, 10), "11 of 10");
}

TEST(Eval_Stats, StudentTMatchesClosedFormsAndTables) {
  const double pi = std::acos(-1.0);
  for (double t : {-3.0, -0.5, 0.0, 1.2, 4.0}) {
    EXPECT_NEAR(StudentTCdf(t, 1), 0.5 + std::atan(t) / pi, 1e-12) << t;               // Cauchy
    EXPECT_NEAR(StudentTCdf(t, 2), 0.5 + t / (2 * std::sqrt(2 + t * t)), 1e-12) << t;  // closed form
  }
  EXPECT_NEAR(StudentTQuantile(0.975, 9), 2.262157, 1e-6);  // the usual table
  EXPECT_NEAR(StudentTQuantile(0.975, 4), 2.776445, 1e-6);
  EXPECT_NEAR(NormalQuantile(0.975), 1.959964, 1e-6);
  EXPECT_NEAR(ChiSquared1Sf(3.841459), 0.05, 1e-6);
}

TEST(Eval_Stats, McNemarExactAndChiSquaredRegimes) {
  // Exact: b + c = 10 < 25; 2 P[X <= 1], X ~ Bin(10, 1/2) = 2 * 11 / 1024.
  auto e = McNemar(1, 9);
  EXPECT_TRUE(e.exact);
  EXPECT_NEAR(e.p_value, 22.0 / 1024.0, 1e-12);
  EXPECT_NEAR(McNemar(9, 1).p_value, e.p_value, 1e-15);  // symmetric
  EXPECT_DOUBLE_EQ(McNemar(5, 5).p_value, 1.0);
  EXPECT_DOUBLE_EQ(McNemar(0, 0).p_value, 1.0);
  // Chi-squared with continuity correction: (|10 - 30| - 1)^2 / 40 = 9.025.
  auto x = McNemar(10, 30);
  EXPECT_FALSE(x.exact);
  EXPECT_NEAR(x.statistic, 9.025, 1e-12);
  EXPECT_NEAR(x.p_value, std::erfc(std::sqrt(9.025 / 2)), 1e-15);
  EXPECT_NEAR(x.p_value, 0.002663, 1e-6);
  EXPECT_TRUE(McNemar(12, 13).exact == false);  // 25 switches to chi-squared
  EXPECT_TRUE(McNemar(12, 12).exact);
}

TEST(Eval_Stats, HolmAdjustsInStepDownOrder) {
  // Sorted: 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 = 0.04 -> monotone 0.06.
  const auto adj = HolmAdjust({0.01, 0.04, 0.03, 0.005});
  ASSERT_EQ(adj.size(), 4u);
  EXPECT_NEAR(adj[0], 0.03, 1e-15);
  EXPECT_NEAR(adj[1], 0.06, 1e-15);
  EXPECT_NEAR(adj[2], 0.06, 1e-15);
  EXPECT_NEAR(adj[3], 0.02, 1e-15);
  const auto capped = HolmAdjust({0.5, 0.9});
  EXPECT_EQ(capped[0], 1.0);
  EXPECT_EQ(capped[1], 1.0);
  EXPECT_TRUE(HolmAdjust({}).empty());
}

TEST(Eval_Stats, PairedTTestMatchesTheClosedFormForFourDegrees) {
  const std::vector<double> a{0.80, 0.82, 0.79, 0.85, 0.81}, b{0.78, 0.80, 0.79, 0.80, 0.80};
  const auto r = PairedTTest(a, b);
  // d = .02 .02 0 .05 .01: mean 0.02, s = sqrt(3.5e-4), t = 0.02 / (s / sqrt 5).
  const double t = 0.02 / (std::sqrt(3.5e-4) / std::sqrt(5.0));
  EXPECT_EQ(r.df, 4);
  EXPECT_NEAR(r.mean_difference, 0.02, 1e-12);
  EXPECT_NEAR(r.t, t, 1e-9);
  // Student's t with 4 degrees of freedom in closed form.
  const double u = 1 + t * t / 4;
  const double cdf = 0.5 + 0.375 * t / std::sqrt(u) * (1 - t * t / (12 * u));
  EXPECT_NEAR(r.p_value, 2 * (1 - cdf), 1e-9);
  EXPECT_NEAR(r.p_value, 0.0751, 1e-4);
  EXPECT_EQ(PairedTTest({0.5, 0.6}, {0.5, 0.6}).p_value, 1.0);
  EXPECT_MESSAGE(PairedTTest({0.5}, {0.5}), "at least 2 pairs");
  EXPECT_MESSAGE(PairedTTest({0.5, 0.1}, {0.5}), "2 values against 1");
}

TEST(Eval_Stats, TIntervalOverRepeats) {
  const std::vector<double> v{0.80, 0.82, 0.79, 0.85, 0.81};
  const auto ci = TInterval(v);
  const double half = 2.776445 * StdDev(v) / std::sqrt(5.0);
  EXPECT_NEAR(ci.lo, 0.814 - half, 1e-6);
  EXPECT_NEAR(ci.hi, 0.814 + half, 1e-6);
  EXPECT_MESSAGE(TInterval({0.5}), "at least 2 repeats");
}

TEST(Eval_Stats, BootstrapRepeatsWithTheSeedAndCoversThePointEstimate) {
  std::vector<int> truth, pred;
  for (int i = 0; i < 300; ++i) {
    truth.push_back(i % 3);
    pred.push_back(i % 7 == 0 ? (i + 1) % 3 : i % 3);
  }
  const auto a = BootstrapClassMetrics(truth, pred, 3, 500, 7);
  const auto b = BootstrapClassMetrics(truth, pred, 3, 500, 7);
  const auto c = BootstrapClassMetrics(truth, pred, 3, 500, 8);
  EXPECT_EQ(a.mean_per_class_accuracy.lo, b.mean_per_class_accuracy.lo);
  EXPECT_EQ(a.macro_f1.hi, b.macro_f1.hi);
  EXPECT_NE(a.mean_per_class_accuracy.lo, c.mean_per_class_accuracy.lo);
  // The point estimate (1 - 1/7 of each class, about 0.857) lies inside, the interval is narrow.
  EXPECT_LT(a.mean_per_class_accuracy.lo, 0.857);
  EXPECT_GT(a.mean_per_class_accuracy.hi, 0.857);
  EXPECT_LT(a.mean_per_class_accuracy.hi - a.mean_per_class_accuracy.lo, 0.1);
  EXPECT_MESSAGE(BootstrapClassMetrics({}, {}, 3), "non-empty");
}

TEST(Eval_Stats, TopKCountsTheTruthAmongTheFirstK) {
  const std::vector<int> truth{0, 1, 2};
  const std::vector<std::vector<int>> rank{{0, 1, 2}, {2, 0, 1}, {1, 2, 0}};
  EXPECT_EQ(TopKCorrect(truth, rank, 1), 1);
  EXPECT_EQ(TopKCorrect(truth, rank, 2), 2);
  EXPECT_EQ(TopKCorrect(truth, rank, 3), 3);
}

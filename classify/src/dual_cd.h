#pragma once
// Dual coordinate descent for one binary linear SVM with the hinge loss
// (Hsieh, Chang, Lin, Keerthi & Sundararajan, ICML 2008; LIBLINEAR's
// solver for -s 3), on dense float rows:
//   min_w  1/2 (|w|^2 + w_b^2) + C sum_i max(0, 1 - y_i (w . x_i + w_b B))
// with the bias learnt on a constant feature B, as vl_svm's bias
// multiplier. With C = 1 / (lambda N) this is vl_svm's problem scaled by
// C N, so both solvers find the same model.
//
// Each pass visits the active samples in a seeded random order and ends
// with LIBLINEAR's check: the spread of the projected gradient over the
// pass (max - min) at most epsilon. Samples at a bound whose gradient pushes
// them further out are shrunk from the active set; when the active set
// meets epsilon, one more pass over every sample confirms it.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace scenelab::classify::detail {

struct DualCdProblem {
  const float* x = nullptr;  // n rows of d floats, row-major
  std::size_t n = 0, d = 0;
  const std::int8_t* y = nullptr;   // +1 / -1 per row
  const float* sq_norms = nullptr;  // |x_i|^2 per row
  double c = 1;                     // upper bound on each dual variable
  double bias_multiplier = 1;       // B; 0 = no bias
};

// The dual variables and the model they give; pass a previous solution to
// warm-start (its alpha may exceed a smaller C: it is then clipped and w
// rebuilt).
struct DualCdState {
  std::vector<double> alpha;
  std::vector<float> w;
  double w_bias = 0;  // weight of the constant feature; the bias is w_bias * B
};

struct DualCdStats {
  std::size_t passes = 0;
  std::size_t visits = 0;  // coordinate visits, vl_svm's "iterations"
  bool converged = false;
  double spread = 0;  // projected-gradient spread of the last pass
};

struct DualCdPass {
  std::size_t pass, active;
  double spread;
};

// Stops when a pass over every sample meets epsilon (converged) or after
// max_visits coordinate visits.
DualCdStats SolveDualCd(const DualCdProblem& p, double epsilon, std::size_t max_visits, std::uint64_t seed,
                        DualCdState* state, const std::function<void(const DualCdPass&)>& on_pass = {});

// vl_svm's duality gap for `state` (its objective lambda/2 |w|^2 + mean
// hinge loss, lambda = 1 / (C N)), so that it reads the same for every
// solver. One pass of dot products.
double DualityGap(const DualCdProblem& p, const DualCdState& state);

}  // namespace scenelab::classify::detail

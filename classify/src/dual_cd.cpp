#include "dual_cd.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "kernels.h"
#include "scenelab/data/rng.h"

namespace scenelab::classify::detail {

namespace {
const float* Row(const DualCdProblem& p, std::size_t i) { return p.x + i * p.d; }

double Margin(const DualCdProblem& p, const DualCdState& s, std::size_t i) {
  return static_cast<double>(kernels::Dot(s.w.data(), Row(p, i), p.d)) + s.w_bias * p.bias_multiplier;
}

// w = sum_i alpha_i y_i x_i, from scratch.
void Rebuild(const DualCdProblem& p, DualCdState* s) {
  s->w.assign(p.d, 0.0f);
  s->w_bias = 0;
  for (std::size_t i = 0; i < p.n; ++i) {
    if (s->alpha[i] == 0) continue;
    const double a = s->alpha[i] * p.y[i];
    kernels::Axpy(static_cast<float>(a), Row(p, i), s->w.data(), p.d);
    s->w_bias += a * p.bias_multiplier;
  }
}
}  // namespace

DualCdStats SolveDualCd(const DualCdProblem& p, double epsilon, std::size_t max_visits, std::uint64_t seed,
                        DualCdState* s, const std::function<void(const DualCdPass&)>& on_pass) {
  const double c = p.c;
  const double b2 = p.bias_multiplier * p.bias_multiplier;
  if (s->alpha.size() != p.n || s->w.size() != p.d) {
    s->alpha.assign(p.n, 0.0);
    s->w.assign(p.d, 0.0f);
    s->w_bias = 0;
  } else if (std::any_of(s->alpha.begin(), s->alpha.end(), [c](double a) { return a > c; })) {
    for (double& a : s->alpha) a = std::min(a, c);
    Rebuild(p, s);
  }
  std::vector<std::size_t> index(p.n);
  std::iota(index.begin(), index.end(), std::size_t{0});
  std::size_t active = p.n;
  constexpr double kInf = std::numeric_limits<double>::infinity();
  double pg_max_old = kInf, pg_min_old = -kInf;
  Rng rng(seed);
  DualCdStats st;
  while (st.visits < max_visits) {
    ++st.passes;
    double pg_max = -kInf, pg_min = kInf;
    for (std::size_t j = 0; j + 1 < active; ++j) std::swap(index[j], index[j + rng.Below(active - j)]);
    for (std::size_t k = 0; k < active && st.visits < max_visits; ++k) {
      const std::size_t i = index[k];
      const double qii = static_cast<double>(p.sq_norms[i]) + b2;
      if (!(qii > 0)) continue;  // an all-zero row without a bias carries no information
      ++st.visits;
      const double yi = p.y[i];
      const double g = yi * Margin(p, *s, i) - 1;
      double& ai = s->alpha[i];
      double pg = 0;
      if (ai == 0) {
        if (g > pg_max_old) {  // at the lower bound and pushed further: shrink
          std::swap(index[k--], index[--active]);
          continue;
        }
        pg = std::min(g, 0.0);
      } else if (ai == c) {
        if (g < pg_min_old) {
          std::swap(index[k--], index[--active]);
          continue;
        }
        pg = std::max(g, 0.0);
      } else {
        pg = g;
      }
      pg_max = std::max(pg_max, pg);
      pg_min = std::min(pg_min, pg);
      if (std::fabs(pg) > 1e-12) {
        const double old = ai;
        ai = std::min(std::max(ai - g / qii, 0.0), c);
        const double step = (ai - old) * yi;
        kernels::Axpy(static_cast<float>(step), Row(p, i), s->w.data(), p.d);
        s->w_bias += step * p.bias_multiplier;
      }
    }
    st.spread = active == 0 ? 0.0 : pg_max - pg_min;
    if (on_pass) on_pass({st.passes, active, st.spread});
    if (st.visits >= max_visits) break;  // the budget ran out, possibly within the pass: not converged
    if (st.spread <= epsilon) {
      if (active == p.n) {
        st.converged = true;
        break;
      }
      active = p.n;  // the shrunk set met epsilon: confirm on every sample
      pg_max_old = kInf;
      pg_min_old = -kInf;
      continue;
    }
    pg_max_old = pg_max > 0 ? pg_max : kInf;
    pg_min_old = pg_min < 0 ? pg_min : -kInf;
  }
  return st;
}

double DualityGap(const DualCdProblem& p, const DualCdState& s) {
  double loss = 0;
  for (std::size_t i = 0; i < p.n; ++i) loss += std::max(0.0, 1 - p.y[i] * Margin(p, s, i));
  double w2 = s.w_bias * s.w_bias;
  for (float v : s.w) w2 += static_cast<double>(v) * v;
  const double alpha_sum = std::accumulate(s.alpha.begin(), s.alpha.end(), 0.0);
  // LIBLINEAR's primal minus dual, 1/2 w2 + C loss - (sum alpha - 1/2 w2),
  // divided by C N to be vl_svm's.
  return (w2 + p.c * loss - alpha_sum) / (p.c * static_cast<double>(p.n));
}

}  // namespace scenelab::classify::detail

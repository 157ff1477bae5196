#include "scenelab/features/homkermap.h"

extern "C" {
#include <vl/homkermap.h>
}

#include "scenelab/data/error.h"
#include "scenelab/data/parallel.h"

namespace scenelab::features {

HomogeneousKernel ParseHomogeneousKernel(const std::string& s) {
  if (s == "chi2") return HomogeneousKernel::kChi2;
  if (s == "intersection") return HomogeneousKernel::kIntersection;
  if (s == "js") return HomogeneousKernel::kJs;
  throw Error("kernel map: unknown kernel '" + s + "' (expected chi2, intersection or js)");
}

std::string ToString(HomogeneousKernel k) {
  switch (k) {
    case HomogeneousKernel::kChi2:
      return "chi2";
    case HomogeneousKernel::kIntersection:
      return "intersection";
    case HomogeneousKernel::kJs:
      return "js";
  }
  return "?";
}

void HomKerMapOptions::Validate() const {
  if (order < 0 || order > 10)
    throw Error("HomKerMapOptions.order (--homkermap-order) must be in [0, 10], got " + std::to_string(order));
  if (!(gamma > 0 && gamma <= 2)) {
    throw Error("HomKerMapOptions.gamma (--homkermap-gamma) must be in (0, 2], got " + std::to_string(gamma));
  }
}

struct HomogeneousKernelMap::Impl {
  struct Deleter {
    void operator()(VlHomogeneousKernelMap* m) const { vl_homogeneouskernelmap_delete(m); }
  };
  std::unique_ptr<VlHomogeneousKernelMap, Deleter> map;
};

HomogeneousKernelMap::HomogeneousKernelMap(const HomKerMapOptions& opts)
    : opts_(opts), impl_(std::make_unique<Impl>()) {
  opts_.Validate();
  VlHomogeneousKernelType type = VlHomogeneousKernelChi2;
  if (opts_.kernel == HomogeneousKernel::kIntersection) type = VlHomogeneousKernelIntersection;
  if (opts_.kernel == HomogeneousKernel::kJs) type = VlHomogeneousKernelJS;
  VlHomogeneousKernelMap* m = vl_homogeneouskernelmap_new(
      type, opts_.gamma, static_cast<vl_size>(opts_.order), opts_.period > 0 ? opts_.period : -1,
      opts_.rectangular_window ? VlHomogeneousKernelMapWindowRectangular : VlHomogeneousKernelMapWindowUniform);
  if (!m) throw Error("vl_homogeneouskernelmap_new failed");
  impl_->map.reset(m);
}

HomogeneousKernelMap::~HomogeneousKernelMap() = default;

void HomogeneousKernelMap::Map(const float* in, std::size_t n, float* out) const {
  const vl_size e = static_cast<vl_size>(expansion());
  for (std::size_t i = 0; i < n; ++i) {
    vl_homogeneouskernelmap_evaluate_f(impl_->map.get(), out + i * e, 1, in[i]);
  }
}

Matrix HomogeneousKernelMap::Apply(const Matrix& x, int threads) const {
  Matrix out(x.rows(), x.cols() * expansion());
  ParallelFor(static_cast<std::size_t>(x.rows()), threads, [&](std::size_t r) {
    const auto i = static_cast<Eigen::Index>(r);
    Map(x.row(i).data(), static_cast<std::size_t>(x.cols()), out.row(i).data());
  });
  return out;
}

}  // namespace scenelab::features

#pragma once
// The collective operations a computation split across processes needs:
// k-means over a descriptor sample divided between the ranks of an MPI job.
// features/ does not depend on MPI; the MPI layer (mpi/) implements this
// interface, and SingleProcess is the one-process case. Every operation is
// called by every process in the same order.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "scenelab/features/types.h"

namespace scenelab::features {

class Collective {
 public:
  virtual ~Collective() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Element-wise sums over every process, in place; every process gets the
  // same values (implementations sum in rank order, so floating-point sums
  // do not depend on the transport).
  virtual void Sum(double* data, std::size_t n) const = 0;
  virtual void Sum(std::int64_t* data, std::size_t n) const = 0;
  // Every process's values (any number each), concatenated in rank order.
  virtual std::vector<double> AllGather(const std::vector<double>& local) const = 0;
  virtual Matrix AllGatherRows(const Matrix& local) const = 0;
};

class SingleProcess final : public Collective {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void Sum(double*, std::size_t) const override {}
  void Sum(std::int64_t*, std::size_t) const override {}
  std::vector<double> AllGather(const std::vector<double>& local) const override { return local; }
  Matrix AllGatherRows(const Matrix& local) const override { return local; }
};

}  // namespace scenelab::features

#pragma once
// The collective operations a computation split across processes needs:
// k-means over a descriptor sample divided between the ranks of an MPI job,
// sharded extraction gathered in image order, and sweep points handed out
// one at a time. features/ does not depend on MPI; the MPI layer (mpi/)
// implements this interface, and SingleProcess is the one-process case.
// Every operation is called by every process in the same order.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "scenelab/features/types.h"

namespace scenelab::features {

// Called on rank 0 only, one call at a time, as each task finishes:
// (task, the rank that ran it, the bytes its work returned).
using TaskDone = std::function<void(std::size_t task, int rank, const std::string& result)>;

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
  // Rank 0's bytes (or matrix) replace every other process's.
  virtual void Broadcast(std::string* bytes) const = 0;
  virtual void Broadcast(Matrix* m) const = 0;
  // Tasks 0..n-1 (n = group.size()) run once each, spread over the
  // processes dynamically: a process that finishes is given the next task,
  // preferring the group (e.g. the descriptor set) it worked on last, then a
  // group nobody has started, so that per-group caches are reused. `work`
  // runs on the process given the task and must not call this Collective;
  // its result reaches rank 0's `done`. Returns on every process when every
  // task has finished. A task that throws fails the job.
  virtual void HandOut(const std::vector<std::size_t>& group, const std::function<std::string(std::size_t)>& work,
                       const TaskDone& done) const = 0;
  // Returns when every process has called it. Waits asleep (a rank idling
  // while rank 0 trains a CNN must not take its cores).
  virtual void Barrier() const = 0;
  // Wall time this process has spent in Sum, AllGather and Broadcast
  // (waiting for the others included): the k-means allreduce cost.
  virtual double communication_seconds() const { return 0; }
};

// The hand-out policy shared by the implementations: the next task for a
// process that last worked on group `last` (or none: SIZE_MAX), given which
// tasks have started. Returns SIZE_MAX when none is left.
std::size_t NextTask(const std::vector<std::size_t>& group, const std::vector<bool>& started, std::size_t last);

class SingleProcess final : public Collective {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void Sum(double*, std::size_t) const override {}
  void Sum(std::int64_t*, std::size_t) const override {}
  std::vector<double> AllGather(const std::vector<double>& local) const override { return local; }
  Matrix AllGatherRows(const Matrix& local) const override { return local; }
  void Broadcast(std::string*) const override {}
  void Broadcast(Matrix*) const override {}
  void Barrier() const override {}
  // In task order.
  void HandOut(const std::vector<std::size_t>& group, const std::function<std::string(std::size_t)>& work,
               const TaskDone& done) const override;
};

}  // namespace scenelab::features

#pragma once
// features::Collective over MPI (MPI_COMM_WORLD), for computations split
// across the ranks of an `mpirun` / `srun` job. MPI itself stays out of this
// header.
#include <cstdint>
#include <vector>

#include "scenelab/features/collective.h"

namespace scenelab::mpi {

// True when the process was started by mpirun / srun as one of several
// (OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_SIZE... say more than one).
bool LaunchedAsSeveralProcesses();

// MPI_Init_thread on construction (the calling thread makes every MPI call),
// MPI_Finalize on destruction. One per process.
class World {
 public:
  World();
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;
  int rank() const { return rank_; }
  int size() const { return size_; }

 private:
  int rank_ = 0;
  int size_ = 1;
};

// The collectives over MPI_COMM_WORLD. Sums gather every rank's values and
// add them in rank order, so every rank gets the same bits.
class MpiCollective final : public features::Collective {
 public:
  explicit MpiCollective(const World& world) : rank_(world.rank()), size_(world.size()) {}
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void Sum(double* data, std::size_t n) const override;
  void Sum(std::int64_t* data, std::size_t n) const override;
  std::vector<double> AllGather(const std::vector<double>& local) const override;
  features::Matrix AllGatherRows(const features::Matrix& local) const override;

 private:
  int rank_;
  int size_;
};

}  // namespace scenelab::mpi

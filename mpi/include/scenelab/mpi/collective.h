#pragma once
// features::Collective over MPI (MPI_COMM_WORLD), for computations split
// across the ranks of an `mpirun` / `srun` job. MPI itself stays out of this
// header.
#include <cstdint>
#include <string>
#include <vector>

#include "scenelab/features/collective.h"

namespace scenelab::mpi {

// True when the process was started by mpirun / srun as one of several
// (OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_SIZE... say more than one).
bool LaunchedAsSeveralProcesses();

// MPI_Init_thread on construction, MPI_Finalize on destruction. One per
// process. Threads: rank 0's hand-out coordinator runs beside its own work
// (MPI_THREAD_MULTIPLE where the library offers it, at least SERIALIZED).
class World {
 public:
  World();
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;
  int rank() const { return rank_; }
  int size() const { return size_; }
  // Ranks on this node (MPI_COMM_TYPE_SHARED), for threads per rank.
  int local_size() const { return local_size_; }
  const std::string& node() const { return node_; }
  // Ends every rank of the job (MPI_Abort): after an error on one rank, the
  // others must not wait for it forever.
  [[noreturn]] static void Abort(int code);

 private:
  int rank_ = 0;
  int size_ = 1;
  int local_size_ = 1;
  std::string node_;
};

// The collectives over MPI_COMM_WORLD. Floating-point sums gather every
// rank's values and add them in rank order, so every rank gets the same bits
// whatever MPI's reduction tree; integer sums (exact in any order) are
// MPI_Allreduce.
class MpiCollective final : public features::Collective {
 public:
  explicit MpiCollective(const World& world) : rank_(world.rank()), size_(world.size()) {}
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void Sum(double* data, std::size_t n) const override;
  void Sum(std::int64_t* data, std::size_t n) const override;
  std::vector<double> AllGather(const std::vector<double>& local) const override;
  features::Matrix AllGatherRows(const features::Matrix& local) const override;
  void Broadcast(std::string* bytes) const override;
  void Broadcast(features::Matrix* m) const override;
  // MPI_Ibarrier polled with short sleeps.
  void Barrier() const override;
  // Rank 0 runs tasks and, on a second thread, answers the other ranks'
  // requests (polling with short sleeps: MPI's blocking receives spin a
  // core). Messages: a rank sends [finished task or -1][its result] and is
  // sent the next task, or -1 to stop.
  void HandOut(const std::vector<std::size_t>& group, const std::function<std::string(std::size_t)>& work,
               const features::TaskDone& done) const override;
  double communication_seconds() const override { return seconds_; }

 private:
  // Adds the time until it goes out of scope to seconds_.
  struct Timed {
    explicit Timed(const MpiCollective* c);
    ~Timed();
    const MpiCollective* c;
    double start;
  };
  int rank_;
  int size_;
  mutable double seconds_ = 0;  // only the thread making collective calls touches it
};

}  // namespace scenelab::mpi

#pragma once
// The launch model (issue 19). Started by `mpirun -np N` or `srun -n N`
// (MPI reports more than one process), `classic` and `sweep` run as one job
// over every rank: rank 0 writes the run folder and the terminal output,
// rank r > 0 logs to OUT/logs/rank-<r>.log. Started any other way, the
// process is the whole job, exactly as without MPI. MPI is initialised only
// in the first case.
#include <memory>
#include <string>

#include "scenelab/data/log.h"
#include "scenelab/features/collective.h"

namespace scenelab::app {

class Job {
 public:
  Job();
  ~Job();
  Job(const Job&) = delete;
  Job& operator=(const Job&) = delete;
  const features::Collective& comm() const;
  int rank() const { return comm().rank(); }
  int size() const { return comm().size(); }
  bool root() const { return rank() == 0; }
  // Threads for this rank: `requested`, or (0) the node's cores divided by
  // the ranks on the node. More than that share is allowed with a warning
  // in `log`, which also records the choice.
  int Threads(int requested, Logger* log) const;
  // Threads for work rank 0 does alone while the node's other ranks sleep
  // (a CNN in `compare`): `requested`, or every core of the node.
  int NodeThreads(int requested) const;
  // Rank 0: OUT/log.txt, echoed to the terminal. Rank r: OUT/logs/rank-<r>.log,
  // opened with a line naming the rank, node and pid.
  std::unique_ptr<Logger> OpenLog(const std::string& out) const;
  // After an error on this rank: with several ranks, ends every one of them
  // (MPI_Abort, so none waits forever for this one); otherwise returns `code`.
  int Fail(int code) const;

  struct Mpi;  // the MPI world, when launched as several processes

 private:
  std::unique_ptr<Mpi> mpi_;
  features::SingleProcess single_;
};

}  // namespace scenelab::app

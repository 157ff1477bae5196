#include "job.h"

#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <thread>

#include <fmt/format.h>

#ifdef SCENELAB_WITH_MPI
#include "scenelab/mpi/collective.h"
#endif

namespace scenelab::app {

#ifdef SCENELAB_WITH_MPI
struct Job::Mpi {
  mpi::World world;
  mpi::MpiCollective comm{world};
};
#else
struct Job::Mpi {};
#endif

Job::Job() {
#ifdef SCENELAB_WITH_MPI
  if (mpi::LaunchedAsSeveralProcesses()) mpi_ = std::make_unique<Mpi>();
#endif
}

Job::~Job() = default;

const features::Collective& Job::comm() const {
#ifdef SCENELAB_WITH_MPI
  if (mpi_) return mpi_->comm;
#endif
  return single_;
}

namespace {
int LocalRanks(const Job::Mpi* m) {
#ifdef SCENELAB_WITH_MPI
  if (m) return m->world.local_size();
#else
  (void)m;
#endif
  return 1;
}
}  // namespace

int Job::Threads(int requested, Logger* log) const {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int share = std::max(1, cores / LocalRanks(mpi_.get()));
  if (size() == 1) return requested;  // one process: 0 keeps "all cores"
  if (requested <= 0) {
    if (log)
      log->Info(fmt::format("rank {}: {} threads ({} cores, {} ranks on this node)", rank(), share, cores,
                            LocalRanks(mpi_.get())));
    return share;
  }
  if (requested > share && log) {
    log->Info(
        fmt::format("warning: --threads {} on rank {}: this node has {} cores for {} ranks ({} each); the "
                    "ranks will compete for cores",
                    requested, rank(), cores, LocalRanks(mpi_.get()), share));
  }
  return requested;
}

int Job::NodeThreads(int requested) const {
  if (requested > 0) return requested;
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

std::unique_ptr<Logger> Job::OpenLog(const std::string& out) const {
  namespace fs = std::filesystem;
  if (root()) {
    fs::create_directories(out);
    auto log = std::make_unique<Logger>(fs::path(out) / "log.txt");
    if (size() > 1) {
      log->Info(fmt::format("MPI job of {} ranks ({} on this node); rank 0 pid {}; ranks 1.. log to {}/logs", size(),
                            LocalRanks(mpi_.get()), ::getpid(), out));
    }
    return log;
  }
  auto log = std::make_unique<Logger>(fs::path(out) / "logs" / fmt::format("rank-{}.log", rank()), false);
  std::string node;
#ifdef SCENELAB_WITH_MPI
  node = mpi_->world.node();
#endif
  log->Info(fmt::format("rank {} of {} on {}, pid {}", rank(), size(), node, ::getpid()));
  return log;
}

int Job::Fail(int code) const {
#ifdef SCENELAB_WITH_MPI
  if (mpi_ && size() > 1) {
    std::cerr.flush();
    mpi::World::Abort(code);
  }
#endif
  return code;
}

}  // namespace scenelab::app

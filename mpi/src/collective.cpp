#include "scenelab/mpi/collective.h"

#include <mpi.h>

#include <cstdlib>
#include <string>

#include "scenelab/data/error.h"

namespace scenelab::mpi {

namespace {
void Check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw Error(std::string(what) + " failed: " + std::string(text, static_cast<std::size_t>(len)));
}

int AsInt(std::size_t n, const char* what) {
  if (n > static_cast<std::size_t>(2147483647))
    throw Error(std::string(what) + ": more than 2^31 values in one message");
  return static_cast<int>(n);
}

// Every rank's `n` values, rank after rank.
template <typename T>
std::vector<T> GatherAll(const T* data, std::size_t n, MPI_Datatype type, int size) {
  std::vector<T> all(n * static_cast<std::size_t>(size));
  Check(
      MPI_Allgather(data, AsInt(n, "MPI_Allgather"), type, all.data(), AsInt(n, "MPI_Allgather"), type, MPI_COMM_WORLD),
      "MPI_Allgather");
  return all;
}

template <typename T>
void SumInRankOrder(T* data, std::size_t n, MPI_Datatype type, int size) {
  const std::vector<T> all = GatherAll(data, n, type, size);
  for (std::size_t i = 0; i < n; ++i) {
    T s = 0;
    for (int r = 0; r < size; ++r) s += all[static_cast<std::size_t>(r) * n + i];
    data[i] = s;
  }
}
// Every rank's values (any number each), rank after rank, into the buffer
// `place(total)` returns.
template <typename T, typename Place>
void GatherVariable(const T* data, std::size_t n, MPI_Datatype type, int size, Place&& place) {
  const int mine = AsInt(n, "MPI_Allgatherv");
  std::vector<int> counts(static_cast<std::size_t>(size));
  Check(MPI_Allgather(&mine, 1, MPI_INT, counts.data(), 1, MPI_INT, MPI_COMM_WORLD), "MPI_Allgather");
  std::vector<int> displs(static_cast<std::size_t>(size), 0);
  std::size_t total = 0;
  for (int r = 0; r < size; ++r) {
    displs[static_cast<std::size_t>(r)] = AsInt(total, "MPI_Allgatherv");
    total += static_cast<std::size_t>(counts[static_cast<std::size_t>(r)]);
  }
  T* out = place(total);
  Check(MPI_Allgatherv(data, mine, type, out, counts.data(), displs.data(), type, MPI_COMM_WORLD), "MPI_Allgatherv");
}
}  // namespace

bool LaunchedAsSeveralProcesses() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_NTASKS"}) {
    if (const char* v = std::getenv(var)) {
      if (std::atoi(v) > 1) return true;
    }
  }
  return false;
}

World::World() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    Check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  }
  // Errors come back as codes (turned into exceptions), not as aborts.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
}

World::~World() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

void MpiCollective::Sum(double* data, std::size_t n) const { SumInRankOrder(data, n, MPI_DOUBLE, size_); }

void MpiCollective::Sum(std::int64_t* data, std::size_t n) const { SumInRankOrder(data, n, MPI_INT64_T, size_); }

std::vector<double> MpiCollective::AllGather(const std::vector<double>& local) const {
  std::vector<double> out;
  GatherVariable(local.data(), local.size(), MPI_DOUBLE, size_, [&](std::size_t total) {
    out.resize(total);
    return out.data();
  });
  return out;
}

features::Matrix MpiCollective::AllGatherRows(const features::Matrix& local) const {
  features::Matrix out;
  const auto cols = local.cols();
  GatherVariable(local.data(), static_cast<std::size_t>(local.size()), MPI_FLOAT, size_, [&](std::size_t total) {
    out.resize(cols > 0 ? static_cast<Eigen::Index>(total) / cols : 0, cols);
    return out.data();
  });
  return out;
}

}  // namespace scenelab::mpi

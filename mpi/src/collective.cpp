#include "scenelab/mpi/collective.h"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <string>
#include <thread>

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
    Check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided), "MPI_Init_thread");
    if (provided < MPI_THREAD_SERIALIZED) {
      MPI_Finalize();
      throw Error("MPI: the library offers no MPI_THREAD_SERIALIZED (needed by the sweep hand-out)");
    }
  }
  // Errors come back as codes (turned into exceptions), not as aborts.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  MPI_Comm local;
  if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local) == MPI_SUCCESS) {
    MPI_Comm_size(local, &local_size_);
    MPI_Comm_free(&local);
  }
  char name[MPI_MAX_PROCESSOR_NAME];
  int len = 0;
  if (MPI_Get_processor_name(name, &len) == MPI_SUCCESS) node_.assign(name, static_cast<std::size_t>(len));
}

void World::Abort(int code) {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);  // MPI_Abort does not return; this is for the compiler
}

World::~World() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

MpiCollective::Timed::Timed(const MpiCollective* collective) : c(collective), start(MPI_Wtime()) {}
MpiCollective::Timed::~Timed() { c->seconds_ += MPI_Wtime() - start; }

void MpiCollective::Sum(double* data, std::size_t n) const {
  const Timed timed(this);
  SumInRankOrder(data, n, MPI_DOUBLE, size_);
}

void MpiCollective::Sum(std::int64_t* data, std::size_t n) const {
  const Timed timed(this);
  // Integer addition is exact in any order: MPI's own reduction (n values
  // moved per rank, not n x ranks as the rank-ordered double sums).
  constexpr std::size_t kPiece = std::size_t{1} << 30;
  for (std::size_t at = 0; at < n; at += kPiece) {
    Check(MPI_Allreduce(MPI_IN_PLACE, data + at, static_cast<int>(std::min(kPiece, n - at)), MPI_INT64_T, MPI_SUM,
                        MPI_COMM_WORLD),
          "MPI_Allreduce");
  }
}

std::vector<double> MpiCollective::AllGather(const std::vector<double>& local) const {
  const Timed timed(this);
  std::vector<double> out;
  GatherVariable(local.data(), local.size(), MPI_DOUBLE, size_, [&](std::size_t total) {
    out.resize(total);
    return out.data();
  });
  return out;
}

features::Matrix MpiCollective::AllGatherRows(const features::Matrix& local) const {
  features::Matrix out;
  // A rank with no rows may not know the width: the widest rank's.
  Eigen::Index cols = 0;
  for (const double c : AllGather({static_cast<double>(local.cols())}))
    cols = std::max(cols, static_cast<Eigen::Index>(c));
  const Timed timed(this);  // after the AllGather above, which times itself
  GatherVariable(local.data(), static_cast<std::size_t>(local.size()), MPI_FLOAT, size_, [&](std::size_t total) {
    out.resize(cols > 0 ? static_cast<Eigen::Index>(total) / cols : 0, cols);
    return out.data();
  });
  return out;
}

void MpiCollective::Broadcast(std::string* bytes) const {
  const Timed timed(this);
  std::uint64_t n = rank_ == 0 ? bytes->size() : 0;
  Check(MPI_Bcast(&n, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD), "MPI_Bcast");
  if (rank_ != 0) bytes->assign(static_cast<std::size_t>(n), '\0');
  if (n > 0) Check(MPI_Bcast(bytes->data(), AsInt(n, "MPI_Bcast"), MPI_BYTE, 0, MPI_COMM_WORLD), "MPI_Bcast");
}

void MpiCollective::Broadcast(features::Matrix* m) const {
  const Timed timed(this);
  std::int64_t shape[2] = {m->rows(), m->cols()};
  Check(MPI_Bcast(shape, 2, MPI_INT64_T, 0, MPI_COMM_WORLD), "MPI_Bcast");
  if (rank_ != 0) m->resize(static_cast<Eigen::Index>(shape[0]), static_cast<Eigen::Index>(shape[1]));
  // In pieces: one message holds at most 2^31 - 1 values.
  constexpr std::size_t kPiece = std::size_t{1} << 30;
  const auto total = static_cast<std::size_t>(m->size());
  for (std::size_t at = 0; at < total; at += kPiece) {
    const std::size_t n = std::min(kPiece, total - at);
    Check(MPI_Bcast(m->data() + at, static_cast<int>(n), MPI_FLOAT, 0, MPI_COMM_WORLD), "MPI_Bcast");
  }
}

void MpiCollective::Barrier() const {
  MPI_Request request;
  Check(MPI_Ibarrier(MPI_COMM_WORLD, &request), "MPI_Ibarrier");
  auto nap = std::chrono::microseconds(100);
  for (;;) {
    int flag = 0;
    Check(MPI_Test(&request, &flag, MPI_STATUS_IGNORE), "MPI_Test");
    if (flag) return;
    std::this_thread::sleep_for(nap);
    nap = std::min(nap * 2, std::chrono::microseconds(20000));
  }
}

namespace {
constexpr int kTagAsk = 1901;   // rank -> 0: [int64 finished task or -1][result]
constexpr int kTagTask = 1902;  // 0 -> rank: int64 next task or -1 (stop)

// A message's arrival, without spinning a core (MPI's blocking calls poll,
// which would take the core the rank's own work needs).
MPI_Status WaitFor(int source, int tag) {
  MPI_Status st;
  auto nap = std::chrono::microseconds(50);
  for (;;) {
    int flag = 0;
    Check(MPI_Iprobe(source, tag, MPI_COMM_WORLD, &flag, &st), "MPI_Iprobe");
    if (flag) return st;
    std::this_thread::sleep_for(nap);
    nap = std::min(nap * 2, std::chrono::microseconds(5000));
  }
}

std::string ReceiveBytes(const MPI_Status& st) {
  int count = 0;
  Check(MPI_Get_count(&st, MPI_BYTE, &count), "MPI_Get_count");
  std::string bytes(static_cast<std::size_t>(count), '\0');
  Check(MPI_Recv(bytes.data(), count, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
        "MPI_Recv");
  return bytes;
}
}  // namespace

void MpiCollective::HandOut(const std::vector<std::size_t>& group, const std::function<std::string(std::size_t)>& work,
                            const features::TaskDone& done) const {
  constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();
  // Every rank must hand out the same task list (same config everywhere).
  const std::vector<double> counts = AllGather({static_cast<double>(group.size())});
  for (int r = 0; r < size_; ++r) {
    if (counts[static_cast<std::size_t>(r)] != counts[0]) {
      throw Error("MPI hand-out: rank " + std::to_string(r) + " has " +
                  std::to_string(static_cast<long long>(counts[static_cast<std::size_t>(r)])) + " tasks, rank 0 has " +
                  std::to_string(static_cast<long long>(counts[0])) + " (different configurations?)");
    }
  }
  if (rank_ != 0) {
    std::int64_t finished = -1;
    std::string result;
    for (;;) {
      std::string ask(sizeof finished, '\0');
      std::memcpy(ask.data(), &finished, sizeof finished);
      ask += result;
      Check(MPI_Send(ask.data(), AsInt(ask.size(), "MPI_Send"), MPI_BYTE, 0, kTagAsk, MPI_COMM_WORLD), "MPI_Send");
      std::int64_t next = -1;
      WaitFor(0, kTagTask);
      Check(MPI_Recv(&next, 1, MPI_INT64_T, 0, kTagTask, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "MPI_Recv");
      if (next < 0) return;
      result = work(static_cast<std::size_t>(next));
      finished = next;
    }
  }
  std::mutex mu;
  std::vector<bool> started(group.size(), false);
  std::vector<std::size_t> last(static_cast<std::size_t>(size_), kNone);
  auto take = [&](int r) {
    const std::size_t t = features::NextTask(group, started, last[static_cast<std::size_t>(r)]);
    if (t != kNone) {
      started[t] = true;
      last[static_cast<std::size_t>(r)] = group[t];
    }
    return t;
  };
  std::exception_ptr coordinator_error;
  std::thread coordinator([&] {
    try {
      int active = size_ - 1;
      while (active > 0) {
        const MPI_Status st = WaitFor(MPI_ANY_SOURCE, kTagAsk);
        const std::string msg = ReceiveBytes(st);
        std::int64_t finished = -1;
        if (msg.size() < sizeof finished)
          throw Error("MPI hand-out: a short message from rank " + std::to_string(st.MPI_SOURCE));
        std::memcpy(&finished, msg.data(), sizeof finished);
        std::int64_t next = -1;
        {
          std::lock_guard<std::mutex> lock(mu);
          if (finished >= 0) done(static_cast<std::size_t>(finished), st.MPI_SOURCE, msg.substr(sizeof finished));
          const std::size_t t = take(st.MPI_SOURCE);
          next = t == kNone ? -1 : static_cast<std::int64_t>(t);
        }
        Check(MPI_Send(&next, 1, MPI_INT64_T, st.MPI_SOURCE, kTagTask, MPI_COMM_WORLD), "MPI_Send");
        if (next < 0) --active;
      }
    } catch (...) {
      coordinator_error = std::current_exception();
    }
  });
  try {
    for (;;) {
      std::size_t t;
      {
        std::lock_guard<std::mutex> lock(mu);
        t = take(0);
      }
      if (t == kNone) break;
      const std::string result = work(t);
      std::lock_guard<std::mutex> lock(mu);
      done(t, 0, result);
    }
  } catch (...) {
    // The job ends (the caller aborts every rank); the coordinator is
    // blocked on the other ranks and goes with the process.
    coordinator.detach();
    throw;
  }
  coordinator.join();
  if (coordinator_error) std::rethrow_exception(coordinator_error);
}

}  // namespace scenelab::mpi

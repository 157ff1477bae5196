#pragma once
// N in-process "ranks" on N threads, their collectives done through shared
// memory: tests split computations (k-means, sharded extraction, sweep
// hand-out) without MPI. mpi/ has the MPI transport, tested under mpirun.
#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <limits>
#include <mutex>
#include <string>
#include <vector>

#include "scenelab/features/collective.h"

namespace scenelab::fixtures {

class ThreadGroup {
 public:
  explicit ThreadGroup(int n) : n_(n), slots_(static_cast<std::size_t>(n)) {}
  class Member final : public features::Collective {
   public:
    Member(ThreadGroup* g, int r) : g_(g), r_(r) {}
    int rank() const override { return r_; }
    int size() const override { return g_->n_; }
    void Sum(double* data, std::size_t n) const override { g_->SumImpl(r_, data, n); }
    void Sum(std::int64_t* data, std::size_t n) const override { g_->SumImpl(r_, data, n); }
    std::vector<double> AllGather(const std::vector<double>& local) const override {
      g_->slots_[static_cast<std::size_t>(r_)] = &local;
      g_->Wait();
      std::vector<double> out;
      for (const void* p : g_->slots_) {
        const auto& v = *static_cast<const std::vector<double>*>(p);
        out.insert(out.end(), v.begin(), v.end());
      }
      g_->Wait();
      return out;
    }
    features::Matrix AllGatherRows(const features::Matrix& local) const override {
      g_->slots_[static_cast<std::size_t>(r_)] = &local;
      g_->Wait();
      Eigen::Index rows = 0;
      for (const void* p : g_->slots_) rows += static_cast<const features::Matrix*>(p)->rows();
      features::Matrix out(rows, local.cols());
      Eigen::Index at = 0;
      for (const void* p : g_->slots_) {
        const auto& m = *static_cast<const features::Matrix*>(p);
        out.middleRows(at, m.rows()) = m;
        at += m.rows();
      }
      g_->Wait();
      return out;
    }
    void Broadcast(std::string* bytes) const override { g_->BroadcastImpl(r_, bytes); }
    void Broadcast(features::Matrix* m) const override { g_->BroadcastImpl(r_, m); }
    void Barrier() const override { g_->Wait(); }
    void HandOut(const std::vector<std::size_t>& group, const std::function<std::string(std::size_t)>& work,
                 const features::TaskDone& done) const override {
      g_->HandOutImpl(r_, group, work, done);
    }

   private:
    ThreadGroup* g_;
    int r_;
  };
  // Tasks each rank ran in the last hand-out, in order.
  std::vector<std::vector<std::size_t>> ran;

 private:
  template <typename T>
  void SumImpl(int r, T* data, std::size_t n) {
    slots_[static_cast<std::size_t>(r)] = data;
    Wait();
    std::vector<T> acc(n, T{0});
    for (const void* p : slots_) {
      for (std::size_t i = 0; i < n; ++i) acc[i] += static_cast<const T*>(p)[i];  // rank order
    }
    Wait();
    std::copy(acc.begin(), acc.end(), data);
  }
  template <typename T>
  void BroadcastImpl(int r, T* value) {
    slots_[static_cast<std::size_t>(r)] = value;
    Wait();
    if (r != 0) *value = *static_cast<const T*>(slots_[0]);
    Wait();
  }
  void HandOutImpl(int r, const std::vector<std::size_t>& group, const std::function<std::string(std::size_t)>& work,
                   const features::TaskDone& done) {
    constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();
    if (r == 0) {
      std::lock_guard<std::mutex> lock(task_mutex_);
      started_.assign(group.size(), false);
      ran.assign(static_cast<std::size_t>(n_), {});
      root_done_ = &done;  // results reach rank 0's callback, as over MPI
    }
    Wait();  // rank 0 has reset the shared state
    std::size_t last = kNone;
    for (;;) {
      std::size_t t;
      {
        std::lock_guard<std::mutex> lock(task_mutex_);
        t = features::NextTask(group, started_, last);
        if (t == kNone) break;
        started_[t] = true;
        last = group[t];
        ran[static_cast<std::size_t>(r)].push_back(t);
      }
      const std::string result = work(t);
      std::lock_guard<std::mutex> lock(task_mutex_);
      (*root_done_)(t, r, result);
    }
    Wait();
  }
  void Wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    const std::uint64_t gen = generation_;
    if (++arrived_ == n_) {
      arrived_ = 0;
      ++generation_;
      cv_.notify_all();
    } else {
      cv_.wait(lock, [&] { return generation_ != gen; });
    }
  }
  int n_;
  std::vector<const void*> slots_;
  std::mutex mutex_, task_mutex_;
  std::condition_variable cv_;
  int arrived_ = 0;
  std::uint64_t generation_ = 0;
  std::vector<bool> started_;
  const features::TaskDone* root_done_ = nullptr;
};

}  // namespace scenelab::fixtures

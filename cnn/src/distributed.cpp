#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1  // the Gloo process group is compiled in Debian's libtorch
#endif
#include "distributed.h"

#include <chrono>

#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "scenelab/data/error.h"

namespace scenelab::cnn::detail {

struct ProcessGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
};

namespace {
std::string Where(const DistributedOptions& o) {
  return "rank " + std::to_string(o.rank) + " of " + std::to_string(o.world_size) + " (rendezvous " + o.rendezvous +
         ")";
}

void Wait(const c10::intrusive_ptr<c10d::Work>& work, const char* what, const DistributedOptions& o) {
  try {
    work->wait();
  } catch (const std::exception& e) {
    throw Error(std::string("distributed ") + what + " failed on " + Where(o) + ": a worker stopped or timed out (" +
                e.what() + ")");
  }
}
}  // namespace

ProcessGroup::ProcessGroup(const DistributedOptions& opts) : opts_(opts), impl_(std::make_unique<Impl>()) {
  opts_.Validate();
  const auto timeout = std::chrono::milliseconds(static_cast<std::int64_t>(opts_.timeout_s * 1000));
  std::string host = "127.0.0.1";  // FileStore runs: loopback unless told otherwise
  try {
    if (opts_.rendezvous.rfind("file:", 0) == 0) {
      impl_->store = c10::make_intrusive<c10d::FileStore>(opts_.rendezvous.substr(5), opts_.world_size);
      impl_->store->setTimeout(timeout);
    } else {
      const auto colon = opts_.rendezvous.rfind(':');
      host = opts_.rendezvous.substr(0, colon);
      c10d::TCPStoreOptions so;
      so.port = static_cast<std::uint16_t>(std::stoi(opts_.rendezvous.substr(colon + 1)));
      so.isServer = opts_.rank == 0;
      so.numWorkers = static_cast<std::size_t>(opts_.world_size);
      so.waitWorkers = true;
      so.timeout = timeout;
      impl_->store = c10::make_intrusive<c10d::TCPStore>(host, so);
    }
    auto po = c10d::ProcessGroupGloo::Options::create(timeout);
    // Loopback runs bind Gloo to 127.0.0.1; otherwise each rank binds to the
    // address its own host name resolves to.
    const bool loopback = host == "localhost" || host.rfind("127.", 0) == 0;
    po->devices.push_back(loopback ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                   : c10d::ProcessGroupGloo::createDefaultDevice());
    po->threads = 1;
    impl_->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, opts_.rank, opts_.world_size, po);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error("distributed: cannot join the process group as " + Where(opts_) + ": " + e.what());
  }
}

ProcessGroup::~ProcessGroup() = default;

void ProcessGroup::AllreduceSum(at::Tensor& t) {
  std::vector<at::Tensor> v{t};
  Wait(impl_->pg->allreduce(v), "allreduce", opts_);
}

void ProcessGroup::Broadcast(at::Tensor& t, int root) {
  std::vector<at::Tensor> v{t};
  c10d::BroadcastOptions bo;
  bo.rootRank = root;
  Wait(impl_->pg->broadcast(v, bo), "broadcast", opts_);
}

void ProcessGroup::Barrier() { Wait(impl_->pg->barrier(), "barrier", opts_); }

void ProcessGroup::SumGradients(const std::vector<at::Tensor>& params) {
  const auto start = std::chrono::steady_clock::now();
  std::int64_t total = 0;
  std::vector<at::Tensor> bucket;
  std::int64_t bytes = 0;
  auto flush = [&]() {
    if (bucket.empty()) return;
    std::vector<at::Tensor> flat_parts;
    flat_parts.reserve(bucket.size());
    for (auto& p : bucket) flat_parts.push_back(p.grad().reshape({-1}));
    at::Tensor flat = at::cat(flat_parts);
    AllreduceSum(flat);
    std::int64_t off = 0;
    for (auto& p : bucket) {
      const std::int64_t n = p.numel();
      p.mutable_grad().copy_(flat.narrow(0, off, n).view(p.sizes()));
      off += n;
    }
    bucket.clear();
    bytes = 0;
  };
  for (const auto& p : params) {
    if (!p.requires_grad()) continue;
    if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);  // a rank with no sample this step
    bucket.push_back(p);
    bytes += p.numel() * static_cast<std::int64_t>(p.element_size());
    total += p.numel() * static_cast<std::int64_t>(p.element_size());
    if (bytes >= opts_.bucket_bytes) flush();
  }
  flush();
  gradient_bytes_ = total;
  gradient_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace scenelab::cnn::detail

#include "loader.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <thread>

#include <torch/torch.h>

#include "scenelab/data/error.h"

namespace scenelab::cnn {

void StreamOptions::Validate() const {
  if (workers < 1) throw Error("loader: decoding threads must be >= 1, got " + std::to_string(workers));
  if (prefetch < 1) throw Error("loader: prefetch must be >= 1 batch, got " + std::to_string(prefetch));
}

IndexBatches SequentialBatches(std::int64_t lo, std::int64_t hi, std::int64_t batch) {
  IndexBatches out;
  for (std::int64_t b = lo; b < hi; b += batch) {
    std::vector<std::int64_t> idx;
    for (std::int64_t i = b; i < std::min(hi, b + batch); ++i) idx.push_back(i);
    out.push_back(std::move(idx));
  }
  return out;
}

namespace {

class InMemory final : public BatchLoader {
 public:
  explicit InMemory(TensorSet set) : set_(std::move(set)) {}
  std::int64_t size() const override { return set_.labels.defined() ? set_.size() : 0; }
  const at::Tensor& labels() const override { return set_.labels; }
  void Start(IndexBatches batches) override {
    batches_ = std::move(batches);
    next_ = 0;
  }
  at::Tensor Next() override {
    if (next_ >= batches_.size()) throw Error("loader: Next() past the end of the pass");
    return GatherImages(set_, batches_[next_++]);
  }

 private:
  TensorSet set_;
  IndexBatches batches_;
  std::size_t next_ = 0;
};

// Workers claim whole batches in order, never more than `prefetch` ahead of
// the consumer; finished batches wait in a map until their turn. A decoding
// error travels with its batch and is rethrown by Next().
class Streaming final : public BatchLoader {
 public:
  Streaming(const data::Dataset& ds, const InputShape& shape, const StreamOptions& opt)
      : ds_(ds), shape_(shape), opt_(opt), labels_(LabelTensor(ds)) {
    opt.Validate();
  }
  ~Streaming() override { Stop(); }
  std::int64_t size() const override { return static_cast<std::int64_t>(ds_.size()); }
  const at::Tensor& labels() const override { return labels_; }

  void Start(IndexBatches batches) override {
    Stop();
    batches_ = std::move(batches);
    claimed_ = consumed_ = 0;
    ready_.clear();
    stop_ = false;
    const auto n = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(opt_.workers), batches_.size()));
    for (int w = 0; w < n; ++w) workers_.emplace_back([this] { Work(); });
  }

  at::Tensor Next() override {
    std::unique_lock<std::mutex> lock(mu_);
    if (consumed_ >= batches_.size()) throw Error("loader: Next() past the end of the pass");
    done_cv_.wait(lock, [&] { return ready_.count(consumed_) > 0; });
    auto node = ready_.extract(consumed_);
    ++consumed_;
    room_cv_.notify_all();
    if (node.mapped().error) std::rethrow_exception(node.mapped().error);
    return node.mapped().images;
  }

 private:
  struct Slot {
    at::Tensor images;
    std::exception_ptr error;
  };

  void Work() {
    const std::int64_t sample = static_cast<std::int64_t>(shape_.channels) * shape_.height * shape_.width;
    for (;;) {
      std::size_t b;
      {
        std::unique_lock<std::mutex> lock(mu_);
        room_cv_.wait(lock, [&] {
          return stop_ || claimed_ >= batches_.size() || claimed_ < consumed_ + static_cast<std::size_t>(opt_.prefetch);
        });
        if (stop_ || claimed_ >= batches_.size()) return;
        b = claimed_++;
      }
      Slot slot;
      try {
        const auto& idx = batches_[b];
        slot.images = torch::empty(
            {static_cast<std::int64_t>(idx.size()), shape_.channels, shape_.height, shape_.width}, torch::kUInt8);
        auto* dst = slot.images.data_ptr<std::uint8_t>();
        for (std::size_t j = 0; j < idx.size(); ++j) {
          DecodeInto(ds_, static_cast<std::size_t>(idx[j]), shape_, dst + static_cast<std::int64_t>(j) * sample);
        }
      } catch (...) {
        slot.error = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        ready_.emplace(b, std::move(slot));
      }
      done_cv_.notify_all();
    }
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    room_cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  const data::Dataset& ds_;
  const InputShape shape_;
  const StreamOptions opt_;
  const at::Tensor labels_;
  IndexBatches batches_;
  std::mutex mu_;
  std::condition_variable room_cv_, done_cv_;
  std::size_t claimed_ = 0, consumed_ = 0;
  std::map<std::size_t, Slot> ready_;
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace

std::unique_ptr<BatchLoader> MemoryLoader(TensorSet set) { return std::make_unique<InMemory>(std::move(set)); }

std::unique_ptr<BatchLoader> StreamingLoader(const data::Dataset& ds, const InputShape& shape,
                                             const StreamOptions& opt) {
  return std::make_unique<Streaming>(ds, shape, opt);
}

void ChannelStats(BatchLoader& loader, int channels, std::vector<float>* mean, std::vector<float>* std,
                  Progress* progress) {
  torch::NoGradGuard g;
  const std::int64_t n = loader.size();
  std::vector<std::int64_t> sum(static_cast<std::size_t>(channels), 0), sq(static_cast<std::size_t>(channels), 0);
  std::int64_t per_channel = 0;
  const auto batches = SequentialBatches(0, n, 256);
  loader.Start(batches);
  for (std::size_t b = 0; b < batches.size(); ++b) {
    const at::Tensor x = loader.Next().contiguous();
    const std::int64_t plane = x.size(2) * x.size(3);
    const auto* p = x.data_ptr<std::uint8_t>();
    for (std::int64_t i = 0; i < x.size(0); ++i) {
      for (int c = 0; c < channels; ++c) {
        const auto* q = p + (i * channels + c) * plane;
        std::int64_t s = 0, s2 = 0;
        for (std::int64_t k = 0; k < plane; ++k) {
          s += q[k];
          s2 += static_cast<std::int64_t>(q[k]) * q[k];
        }
        sum[static_cast<std::size_t>(c)] += s;
        sq[static_cast<std::size_t>(c)] += s2;
      }
    }
    per_channel += x.size(0) * plane;
    if (progress) progress->Add(static_cast<std::size_t>(x.size(0)));
  }
  mean->clear();
  std->clear();
  for (int c = 0; c < channels; ++c) {
    const double m = static_cast<double>(sum[static_cast<std::size_t>(c)]) / static_cast<double>(per_channel);
    const double var =
        per_channel > 1
            ? (static_cast<double>(sq[static_cast<std::size_t>(c)]) - static_cast<double>(per_channel) * m * m) /
                  static_cast<double>(per_channel - 1)
            : 0.0;
    mean->push_back(static_cast<float>(m / 255.0));
    std->push_back(std::max(1e-6f, static_cast<float>(std::sqrt(std::max(0.0, var)) / 255.0)));
  }
}

}  // namespace scenelab::cnn

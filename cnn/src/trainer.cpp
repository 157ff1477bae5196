#include "scenelab/cnn/trainer.h"

#include "distributed.h"
#include "heap.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include <fmt/format.h>
#include <torch/optim.h>
#include <torch/serialize.h>
#include <torch/torch.h>

#include "loader.h"
#include "models.h"
#include "precision.h"
#include "scenelab/data/error.h"
#include "scenelab/data/io.h"
#include "scenelab/data/parallel.h"
#include "scenelab/data/rng.h"
#include "tensor_data.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace scenelab::cnn {

namespace {

// Parameters then buffers (BatchNorm statistics), detached copies.
std::vector<at::Tensor> CloneState(ModelImpl& model) {
  std::vector<at::Tensor> out;
  for (const auto& p : model.parameters()) out.push_back(p.detach().clone());
  for (const auto& b : model.buffers()) out.push_back(b.detach().clone());
  return out;
}

void RestoreState(ModelImpl& model, const std::vector<at::Tensor>& state) {
  torch::NoGradGuard g;
  std::size_t i = 0;
  for (auto& p : model.parameters()) p.copy_(state.at(i++));
  for (auto& b : model.buffers()) b.copy_(state.at(i++));
}

std::unique_ptr<torch::optim::Optimizer> MakeOptimizer(const TrainConfig& c, ModelImpl& model) {
  namespace o = torch::optim;
  if (c.optimizer == Optimizer::kSgd) {
    return std::make_unique<o::SGD>(
        model.parameters(), o::SGDOptions(c.lr).momentum(c.momentum).nesterov(c.nesterov).weight_decay(c.weight_decay));
  }
  if (c.optimizer == Optimizer::kAdam)
    return std::make_unique<o::Adam>(model.parameters(), o::AdamOptions(c.lr).weight_decay(c.weight_decay));
  return std::make_unique<o::AdamW>(model.parameters(), o::AdamWOptions(c.lr).weight_decay(c.weight_decay));
}

// Learning rate at (epoch, step) for the stateless schedules; plateau is
// base * factor^reductions.
double ScheduledLr(const TrainConfig& c, int epoch, std::int64_t step, std::int64_t steps_per_epoch, int reductions) {
  const double total = static_cast<double>(c.epochs) * static_cast<double>(steps_per_epoch);
  const double t = static_cast<double>(epoch) * static_cast<double>(steps_per_epoch) + static_cast<double>(step);
  if (c.schedule == Schedule::kStep) return c.lr * std::pow(c.gamma, epoch / c.step_size);
  if (c.schedule == Schedule::kMultiStep) {
    int n = 0;
    for (int m : c.milestones) n += epoch >= m;
    return c.lr * std::pow(c.gamma, n);
  }
  if (c.schedule == Schedule::kCosine) return 0.5 * c.lr * (1 + std::cos(M_PI * t / total));
  if (c.schedule == Schedule::kOneCycle) {
    // As torch.optim.lr_scheduler.OneCycleLR: 30% warm-up, cosine both ways.
    const double initial = c.lr / 25.0, final_lr = initial / 1e4, up = 0.3 * total;
    if (t <= up) return initial + (c.lr - initial) * 0.5 * (1 - std::cos(M_PI * t / std::max(1.0, up)));
    return final_lr + (c.lr - final_lr) * 0.5 * (1 + std::cos(M_PI * (t - up) / std::max(1.0, total - up)));
  }
  if (c.schedule == Schedule::kPlateau) return c.lr * std::pow(c.plateau_factor, reductions);
  return c.lr;
}

void SetLr(torch::optim::Optimizer& opt, double lr) {
  for (auto& g : opt.param_groups()) g.options().set_lr(lr);
}

void ToChannelsLast(ModelImpl& m) {
  for (auto& p : m.parameters()) {
    if (p.dim() == 4) p.set_data(p.data().contiguous(at::MemoryFormat::ChannelsLast));
  }
}

struct EvalOut {
  double loss = 0, acc = 0;
  std::vector<int> pred;
  std::vector<float> score;
  std::vector<std::uint8_t> top5;  // 1 when the true class is among the 5 largest logits
};

// Predictions for samples [lo, hi) of `set`.
EvalOut Evaluate(ModelImpl& model, BatchLoader& set, std::int64_t lo, std::int64_t hi, const std::vector<float>& mean,
                 const std::vector<float>& std, int batch, bool channels_last, bool bf16) {
  torch::NoGradGuard g;
  model.eval();
  EvalOut out;
  const std::int64_t n = hi - lo;
  double loss = 0;
  std::int64_t correct = 0;
  const IndexBatches batches = SequentialBatches(lo, hi, batch);
  set.Start(batches);
  for (const auto& idx : batches) {
    at::Tensor x = AugmentBatch(set.Next(), Augment{}, 0, mean, std);
    if (channels_last) x = x.contiguous(at::MemoryFormat::ChannelsLast);
    const at::Tensor y = set.labels().narrow(0, idx.front(), static_cast<std::int64_t>(idx.size()));
    at::Tensor logits;
    {
      AutocastGuard autocast(bf16);
      logits = model.forward(x);
    }
    logits = logits.to(torch::kFloat32);  // the loss and the softmax in fp32
    loss += torch::nn::functional::cross_entropy(logits, y).item<double>() * static_cast<double>(idx.size());
    const auto prob = torch::softmax(logits, 1);
    const auto [p, c] = prob.max(1);
    correct += c.eq(y).sum().item<std::int64_t>();
    const at::Tensor top = std::get<1>(logits.topk(std::min<std::int64_t>(5, logits.size(1)), 1));
    const at::Tensor hit = top.eq(y.unsqueeze(1)).any(1).to(torch::kUInt8).contiguous();
    auto pa = p.accessor<float, 1>();
    auto ca = c.accessor<std::int64_t, 1>();
    auto ha = hit.accessor<std::uint8_t, 1>();
    for (std::int64_t i = 0; i < static_cast<std::int64_t>(idx.size()); ++i) {
      out.pred.push_back(static_cast<int>(ca[i]));
      out.score.push_back(pa[i]);
      out.top5.push_back(ha[i]);
    }
  }
  out.loss = n ? loss / static_cast<double>(n) : 0;
  out.acc = n ? static_cast<double>(correct) / static_cast<double>(n) : 0;
  return out;
}

Augment AugmentFrom(const TrainConfig& cfg) {
  Augment aug;
  for (const auto& a : cfg.augment) {
    aug.crop |= a == "crop";
    aug.flip |= a == "flip";
    aug.rotate |= a == "rotate";
  }
  aug.padding = cfg.crop_padding;
  aug.degrees = cfg.rotate_degrees;
  return aug;
}

InputShape ResolveInput(const TrainConfig& cfg, const data::Dataset& train) {
  InputShape s = cfg.input;
  if (s.channels > 0) return s;
  const InputShape def = DefaultInput(cfg.model);
  cv::Mat first = train.LoadImage(0, {data::ColorMode::kUnchanged});
  s.channels = first.channels() == 1 ? 1 : 3;
  // Small in-memory sets (IDX, CIFAR) train at their own size.
  if (!train[0].image.empty()) {
    s.height = first.rows;
    s.width = first.cols;
  } else {
    s.height = def.height;
    s.width = def.width;
  }
  return s;
}

// Whether to stream: asked for, or (auto) a folder dataset whose decoded
// images would not fit the in-memory budget. `extra` samples (the test set)
// count towards the budget.
bool Streams(const TrainConfig& cfg, const data::Dataset& ds, std::size_t extra) {
  if (cfg.loader != LoaderKind::kAuto) return cfg.loader == LoaderKind::kStream;
  if (ds.empty() || !ds[0].image.empty()) return false;  // IDX and CIFAR live in memory already
  const double bytes = static_cast<double>(ds.size() + extra) * cfg.input.channels * cfg.input.height * cfg.input.width;
  return bytes > cfg.loader_memory_gb * 1e9;
}

std::unique_ptr<BatchLoader> OpenLoader(const TrainConfig& cfg, const data::Dataset& ds, bool streaming,
                                        Progress* progress) {
  if (streaming) {
    StreamOptions so;
    so.workers = ResolveThreads(cfg.loader_threads);
    so.prefetch = cfg.prefetch;
    return StreamingLoader(ds, cfg.input, so);
  }
  if (ds.empty())
    return MemoryLoader(
        TensorSet{torch::empty({0, cfg.input.channels, cfg.input.height, cfg.input.width}, torch::kUInt8),
                  torch::empty({0}, torch::kInt64)});
  return MemoryLoader(ToTensors(ds, cfg.input, cfg.threads, progress));
}

}  // namespace

namespace {
// Predictions of a set evaluated in shards, one per rank, then gathered:
// every rank ends with all of them.
EvalOut EvaluateSharded(ModelImpl& model, BatchLoader& set, const std::vector<float>& mean,
                        const std::vector<float>& std, int batch, bool channels_last, bool bf16,
                        detail::ProcessGroup* pg) {
  const std::int64_t n = set.size();
  if (!pg) return Evaluate(model, set, 0, n, mean, std, batch, channels_last, bf16);
  const auto [lo, hi] = ShardOfBatch(n, pg->rank(), pg->size());
  const EvalOut local = Evaluate(model, set, lo, hi, mean, std, batch, channels_last, bf16);
  // Predictions + 1 (0 = not mine) and scores at this rank's positions; sums.
  at::Tensor pred = torch::zeros({n}, torch::kFloat64), score = torch::zeros({n}, torch::kFloat64);
  at::Tensor top5 = torch::zeros({n}, torch::kFloat64);
  at::Tensor loss = torch::tensor({local.loss * static_cast<double>(hi - lo)}, torch::kFloat64);
  for (std::int64_t i = lo; i < hi; ++i) {
    pred[i] = local.pred[static_cast<std::size_t>(i - lo)] + 1;
    score[i] = local.score[static_cast<std::size_t>(i - lo)];
    top5[i] = local.top5[static_cast<std::size_t>(i - lo)];
  }
  pg->AllreduceSum(pred);
  pg->AllreduceSum(score);
  pg->AllreduceSum(top5);
  pg->AllreduceSum(loss);
  EvalOut out;
  std::int64_t correct = 0;
  auto labels = set.labels().accessor<std::int64_t, 1>();
  for (std::int64_t i = 0; i < n; ++i) {
    out.pred.push_back(static_cast<int>(pred[i].item<double>()) - 1);
    out.score.push_back(static_cast<float>(score[i].item<double>()));
    out.top5.push_back(top5[i].item<double>() > 0.5 ? 1 : 0);
    correct += out.pred.back() == labels[i];
  }
  out.loss = n ? loss.item<double>() / static_cast<double>(n) : 0;
  out.acc = n ? static_cast<double>(correct) / static_cast<double>(n) : 0;
  return out;
}

// The test evaluation (sharded over the ranks when `pg`), into a TrainResult.
void EvaluateTest(ModelImpl& model, BatchLoader& te, const std::vector<float>& mean, const std::vector<float>& std,
                  const TrainConfig& cfg, detail::ProcessGroup* pg, TrainResult* r) {
  const auto t = Clock::now();
  auto ev = EvaluateSharded(model, te, mean, std, cfg.eval_batch, cfg.channels_last, r->precision == "bf16", pg);
  r->eval_seconds = SecondsSince(t);
  r->test_predicted = std::move(ev.pred);
  r->test_score = std::move(ev.score);
  r->test_top5 = std::move(ev.top5);
  r->test_accuracy = ev.acc;
}

// The three splits' loaders and the training split's channel statistics.
// Built in place (the loaders keep references to the splits it holds).
struct TrainingData {
  data::Dataset train_split, val_split;
  std::unique_ptr<BatchLoader> train, val, test;
  std::vector<float> mean, stdev;

  // Carves the seeded, stratified validation split out of `train_all`, opens
  // the loaders (in memory, or streamed) and measures the statistics.
  TrainingData(const TrainConfig& cfg, const data::Dataset& train_all, const data::Dataset& test_set, Logger* log,
               bool writer);
  TrainingData(const TrainingData&) = delete;
  TrainingData& operator=(const TrainingData&) = delete;
};

TrainingData::TrainingData(const TrainConfig& cfg, const data::Dataset& train_all, const data::Dataset& test_set,
                           Logger* log, bool writer)
    : train_split(train_all) {
  if (cfg.val_fraction > 0) {
    auto split = train_all.StratifiedSplit(cfg.val_fraction, MixSeed(cfg.seed, 77));
    train_split = std::move(split.first);
    val_split = std::move(split.second);
  }
  const auto t_data = Clock::now();
  const bool streaming = Streams(cfg, train_all, test_set.size());
  if (streaming) {
    train = OpenLoader(cfg, train_split, true, nullptr);
    val = OpenLoader(cfg, val_split, true, nullptr);
    test = OpenLoader(cfg, test_set, true, nullptr);
  } else {
    Progress p("decoding images", train_split.size() + val_split.size() + test_set.size(), log);
    train = OpenLoader(cfg, train_split, false, &p);
    val = OpenLoader(cfg, val_split, false, &p);
    test = OpenLoader(cfg, test_set, false, &p);
    p.Finish();
  }
  if (cfg.standardize && streaming) {
    // Streamed, this is a full decoding pass over the training split: show it.
    Progress p("channel statistics", train_split.size(), log, writer);
    ChannelStats(*train, cfg.input.channels, &mean, &stdev, &p);
    p.Finish();
  } else if (cfg.standardize) {
    ChannelStats(*train, cfg.input.channels, &mean, &stdev);
  }
  if (log) {
    log->Info(fmt::format("data: {} train / {} val / {} test images at {}, {} in {:.1f} s", train->size(), val->size(),
                          test->size(), cfg.input.ToString(),
                          streaming ? fmt::format("streamed by {} decoding threads, {} batches ahead",
                                                  ResolveThreads(cfg.loader_threads), cfg.prefetch)
                                    : std::string("decoded into memory"),
                          SecondsSince(t_data)));
  }
}

// What a run carries from epoch to epoch besides the tensors.
struct TrainingState {
  int epoch = 0;  // epochs done
  int plateau_reductions = 0, bad_epochs = 0;
  double best_val_loss = INFINITY;
  // Model selection on the validation split: the epoch with the highest
  // validation accuracy (the first of equals) is the model reported and
  // tested; 0 = none yet (or --val 0: the last epoch is tested).
  int selected_epoch = 0;
  double selected_val_acc = -1;
  bool early_stopped = false;
  double lr = 0;  // the last step's; torch::save keeps momentum buffers, not the learning rate
  std::vector<EpochMetrics> history;
};

// A run's checkpoint/ folder: model-<e>.pt, optimizer-<e>.pt,
// selected-<e>.pt (the weights selected on validation) and meta.json. Every
// file is serialised in memory, then written, fsync'd and renamed
// (WriteFileAtomic); the tensors first, then meta.json, which commits the
// epoch; older tensors are removed after the commit. A crash leaves the
// previous commit or the new one (docs/RELIABILITY.md).
class Checkpoint {
 public:
  struct Meta {
    TrainingState state;
    TrainConfig config;
    std::vector<float> mean, stdev;  // the training split's channel statistics
    std::vector<std::string> classes;
    std::int64_t params = 0;
    std::string model_file, optimizer_file, selected_model_file;  // set by Commit and Read
  };

  explicit Checkpoint(fs::path dir) : dir_(std::move(dir)) {}
  fs::path meta_path() const { return dir_ / "meta.json"; }
  bool exists() const { return fs::exists(meta_path()); }

  // meta.json, parsed and type-checked in one place.
  Meta Read() const {
    const fs::path path = meta_path();
    Meta m;
    TrainingState& st = m.state;
    try {
      const auto j = nlohmann::json::parse(ReadFileText(path));
      st.epoch = j.at("epoch").get<int>();
      m.model_file = j.at("model_file").get<std::string>();
      m.optimizer_file = j.at("optimizer_file").get<std::string>();
      m.config = TrainConfig::FromJson(j.at("config"));
      st.plateau_reductions = j.at("plateau_reductions").get<int>();
      st.bad_epochs = j.at("bad_epochs").get<int>();
      st.best_val_loss = j.at("best_val_loss").is_null() ? INFINITY : j.at("best_val_loss").get<double>();
      st.history = ParseMetricsCsv(j.at("metrics_csv").get<std::string>(), path.string());
      if (j.contains("selected_epoch")) {  // absent in checkpoints written before selection on validation
        st.selected_epoch = j.at("selected_epoch").get<int>();
        st.selected_val_acc = j.at("selected_val_acc").get<double>();
        m.selected_model_file = j.at("selected_model_file").get<std::string>();
      }
      st.early_stopped = j.value("early_stopped", false);
      st.lr = j.value("lr", 0.0);
      m.params = j.value("params", std::int64_t{0});
      m.mean = j.at("mean").get<std::vector<float>>();
      m.stdev = j.at("std").get<std::vector<float>>();
      m.classes = j.at("classes").get<std::vector<std::string>>();
    } catch (const nlohmann::json::exception& e) {
      throw Error(path.string() + ": corrupt checkpoint metadata: " + e.what());
    }
    for (const auto* f : {&m.model_file, &m.optimizer_file, &m.selected_model_file}) {
      if (f->find('/') != std::string::npos || f->find("..") != std::string::npos) {
        throw Error(path.string() + ": checkpoint file name '" + *f + "' must be a plain file name");
      }
    }
    return m;
  }

  // Commits epoch meta.state.epoch: its model and optimizer, the selected
  // weights when `selected_now` (else selected-<e>.pt of the earlier epoch
  // stays), then meta.json.
  void Commit(Meta meta, ModelPtr& model, torch::optim::Optimizer& opt, bool selected_now) const {
    const TrainingState& st = meta.state;
    meta.model_file = fmt::format("model-{}.pt", st.epoch);
    meta.optimizer_file = fmt::format("optimizer-{}.pt", st.epoch);
    meta.selected_model_file = st.selected_epoch > 0 ? fmt::format("selected-{}.pt", st.selected_epoch) : "";
    Save(model, meta.model_file);
    Save(opt, meta.optimizer_file);
    if (selected_now) Save(model, meta.selected_model_file);
    nlohmann::ordered_json j;
    j["epoch"] = st.epoch;
    j["model_file"] = meta.model_file;
    j["optimizer_file"] = meta.optimizer_file;
    j["config"] = meta.config.ToJson();
    j["lr"] = st.lr;
    j["plateau_reductions"] = st.plateau_reductions;
    j["bad_epochs"] = st.bad_epochs;
    j["best_val_loss"] = st.best_val_loss;
    j["selected_epoch"] = st.selected_epoch;
    j["selected_val_acc"] = st.selected_val_acc;
    j["selected_model_file"] = meta.selected_model_file;
    j["early_stopped"] = st.early_stopped;
    j["mean"] = meta.mean;
    j["std"] = meta.stdev;
    j["classes"] = meta.classes;
    j["params"] = meta.params;
    j["metrics_csv"] = MetricsCsv(st.history);
    WriteFileAtomic(meta_path(), j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace));
    for (const auto& e : fs::directory_iterator(dir_)) {
      const std::string name = e.path().filename().string();
      if ((name.rfind("model-", 0) == 0 && name != meta.model_file) ||
          (name.rfind("optimizer-", 0) == 0 && name != meta.optimizer_file) ||
          (name.rfind("selected-", 0) == 0 && name != meta.selected_model_file)) {
        std::error_code ec;
        fs::remove(e.path(), ec);
      }
    }
  }

  // A model or optimizer file of this checkpoint into `obj`.
  template <typename T>
  void Load(const std::string& file, T& obj) const {
    torch::load(obj, (dir_ / file).string());
  }

 private:
  template <typename T>
  void Save(const T& obj, const std::string& file) const {
    std::ostringstream bytes;
    torch::save(obj, bytes);
    WriteFileAtomic(dir_ / file, bytes.str());
  }

  fs::path dir_;
};

// Loads the last commit into `model` and `opt` (and the selected epoch's
// weights into `selected`); refuses a checkpoint of another model or shape.
TrainingState ResumeFrom(const Checkpoint& checkpoint, const TrainConfig& cfg, ModelPtr& model,
                         torch::optim::Optimizer& opt, std::vector<at::Tensor>* selected) {
  const Checkpoint::Meta meta = checkpoint.Read();
  const TrainConfig& saved = meta.config;
  if (saved.model != cfg.model || saved.input.ToString() != cfg.input.ToString() ||
      saved.num_classes != cfg.num_classes) {
    throw Error(checkpoint.meta_path().string() + ": checkpoint is for model " + saved.model + " " +
                saved.input.ToString() + " with " + std::to_string(saved.num_classes) + " classes, not " + cfg.model +
                " " + cfg.input.ToString());
  }
  checkpoint.Load(meta.model_file, model);
  if (cfg.channels_last) ToChannelsLast(*model);
  checkpoint.Load(meta.optimizer_file, opt);
  if (meta.state.selected_epoch > 0) {
    // The selected epoch's weights, as every rank evaluated them.
    ModelOptions mo;
    mo.num_classes = cfg.num_classes;
    mo.input = cfg.input;
    ModelPtr kept = CreateModel(cfg.model, mo);
    checkpoint.Load(meta.selected_model_file, kept);
    *selected = CloneState(*kept);
  }
  return meta.state;
}

// What every training step uses.
struct Stepper {
  const TrainConfig& cfg;
  ModelImpl& model;
  torch::optim::Optimizer& opt;
  BatchLoader& train;
  std::vector<at::Tensor> params;
  Augment aug;
  const std::vector<float>& mean;
  const std::vector<float>& stdev;
  bool bf16 = false;
  bool writer = true;  // shows the progress line
  detail::ProcessGroup* pg = nullptr;
  std::int64_t steps_run = 0;
};

// One epoch over the training split: shuffled (seeded by the epoch), each
// global batch split over the ranks, the learning rate set per step. Returns
// the training loss and accuracy summed over the ranks; no validation yet.
EpochMetrics RunEpoch(Stepper& run, int epoch, int plateau_reductions) {
  namespace F = torch::nn::functional;
  const TrainConfig& cfg = run.cfg;
  const std::int64_t n = run.train.size();
  const std::int64_t steps = (n + cfg.batch_size - 1) / cfg.batch_size;
  run.model.train();
  torch::manual_seed(MixSeed(cfg.seed, 1000 + static_cast<std::uint64_t>(epoch)));  // dropout
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
  Rng rng(MixSeed(cfg.seed, 2000 + static_cast<std::uint64_t>(epoch)));
  rng.Shuffle(order);
  const auto t0 = Clock::now();
  double loss_sum = 0;
  std::int64_t correct = 0;
  Progress progress(fmt::format("epoch {}/{}", epoch + 1, cfg.epochs), static_cast<std::size_t>(n), nullptr,
                    run.writer);
  double lr = cfg.lr;  // the last step's, reported
  // This rank's share of every global batch, in order, handed to the loader up front.
  IndexBatches mine(static_cast<std::size_t>(steps));
  for (std::int64_t s = 0; s < steps; ++s) {
    const std::int64_t b0 = s * cfg.batch_size, bn = std::min<std::int64_t>(cfg.batch_size, n - b0);
    const auto [lo, hi] =
        run.pg ? ShardOfBatch(bn, run.pg->rank(), run.pg->size()) : std::pair<std::int64_t, std::int64_t>{0, bn};
    mine[static_cast<std::size_t>(s)].assign(order.begin() + b0 + lo, order.begin() + b0 + hi);
  }
  run.train.Start(mine);
  for (std::int64_t s = 0; s < steps; ++s) {
    const std::int64_t b0 = s * cfg.batch_size, bn = std::min<std::int64_t>(cfg.batch_size, n - b0);
    const auto& idx = mine[static_cast<std::size_t>(s)];
    const at::Tensor images = run.train.Next();  // empty when this rank has no share of a tiny last batch
    lr = ScheduledLr(cfg, epoch, s, steps, plateau_reductions);
    SetLr(run.opt, lr);
    run.opt.zero_grad();
    if (!idx.empty()) {
      at::Tensor x = AugmentBatch(images, run.aug, MixSeed(cfg.seed, static_cast<std::uint64_t>(epoch) * 1000003 + s),
                                  run.mean, run.stdev);
      if (cfg.channels_last) x = x.contiguous(at::MemoryFormat::ChannelsLast);
      const at::Tensor y = run.train.labels().index_select(0, torch::tensor(idx, torch::kInt64));
      at::Tensor logits;
      {
        // bf16: the forward pass under autocast; the loss, the backward
        // pass's parameter gradients and the optimizer stay fp32.
        AutocastGuard autocast(run.bf16);
        logits = run.model.forward(x);
      }
      logits = logits.to(torch::kFloat32);
      const at::Tensor loss =
          F::cross_entropy(logits, y, F::CrossEntropyFuncOptions().label_smoothing(cfg.label_smoothing));
      const auto share = static_cast<double>(idx.size());
      // Scaled by this rank's share: summed over ranks, the gradient of the global batch's mean loss.
      (run.pg ? loss * (share / static_cast<double>(bn)) : loss).backward();
      loss_sum += loss.item<double>() * share;
      correct += logits.argmax(1).eq(y).sum().item<std::int64_t>();
    }
    if (run.pg) run.pg->SumGradients(run.params);
    run.opt.step();
    ++run.steps_run;
    progress.Add(static_cast<std::size_t>(bn));
  }
  progress.Finish();
  if (run.pg) {
    at::Tensor sums = torch::tensor({loss_sum, static_cast<double>(correct)}, torch::kFloat64);
    run.pg->AllreduceSum(sums);
    loss_sum = sums[0].item<double>();
    correct = std::llround(sums[1].item<double>());
  }
  EpochMetrics m;
  m.epoch = epoch + 1;
  m.seconds = SecondsSince(t0);
  m.train_loss = loss_sum / static_cast<double>(n);
  m.train_acc = static_cast<double>(correct) / static_cast<double>(n);
  m.images_per_s = static_cast<double>(n) / m.seconds;
  m.lr = lr;
  return m;
}

// After an epoch: plateau decay and early stopping watch the validation
// loss (the training loss without a validation split); selection watches
// the validation accuracy. True when `m` is the new selected epoch.
bool Watch(const TrainConfig& cfg, const EpochMetrics& m, TrainingState* st, Logger* log) {
  const double monitored = m.has_val ? m.val_loss : m.train_loss;
  if (monitored < st->best_val_loss - 1e-6) {
    st->best_val_loss = monitored;
    st->bad_epochs = 0;
  } else {
    ++st->bad_epochs;
    if (cfg.schedule == Schedule::kPlateau && st->bad_epochs % std::max(1, cfg.plateau_patience) == 0)
      ++st->plateau_reductions;
    if (cfg.early_stopping > 0 && st->bad_epochs >= cfg.early_stopping) {
      st->early_stopped = true;
      if (log) log->Info(fmt::format("early stopping: no val-loss gain for {} epochs", st->bad_epochs));
    }
  }
  if (!(m.has_val && m.val_acc > st->selected_val_acc)) return false;
  st->selected_epoch = m.epoch;
  st->selected_val_acc = m.val_acc;
  return true;
}
}  // namespace

TrainResult Train(const TrainConfig& cfg_in, const data::Dataset& train_all, const data::Dataset& test,
                  const std::string& out_dir, bool resume, Logger* log, const DistributedOptions& dist) {
  TrainConfig cfg = cfg_in;
  cfg.Validate();
  dist.Validate();
  std::unique_ptr<detail::ProcessGroup> pg;
  if (dist.active()) pg = std::make_unique<detail::ProcessGroup>(dist);
  const bool writer = !pg || pg->rank() == 0;  // only rank 0 writes checkpoints and metrics
  if (train_all.empty()) throw Error("training set is empty");
  const detail::TrainingHeap heap;
  torch::set_num_threads(ResolveThreads(cfg.threads));
  if (cfg.num_classes == 0) cfg.num_classes = train_all.num_classes();
  cfg.input = ResolveInput(cfg, train_all);
  fs::create_directories(fs::path(out_dir) / "checkpoint");
  auto info = [&](const std::string& s) {
    if (log) log->Info(s);
  };

  const TrainingData d(cfg, train_all, test, log, writer);
  BatchLoader* tr = d.train.get();
  BatchLoader* va = d.val.get();
  BatchLoader* te = d.test.get();
  const std::vector<float>& mean = d.mean;
  const std::vector<float>& stdv = d.stdev;

  const PrecisionChoice prec = ResolvePrecision(cfg.precision);
  const bool bf16 = prec.precision == Precision::kBf16;
  info(fmt::format("precision: {} ({})", prec.name, prec.reason));
  if (prec.emulated && writer) {
    // Once per run: it works, but without bf16 units it is slower than fp32.
    const std::string w =
        "warning: --precision bf16 on a CPU without bf16 units (no amx_bf16, no avx512_bf16): "
        "emulated, expect it to be slower than fp32";
    if (log) log->Info(w);
    std::fprintf(stderr, "%s\n", w.c_str());
  }
  torch::manual_seed(cfg.seed);
  ModelOptions mo;
  mo.num_classes = cfg.num_classes;
  mo.input = cfg.input;
  ModelPtr model = CreateModel(cfg.model, mo);
  if (cfg.channels_last) ToChannelsLast(*model);
  auto opt = MakeOptimizer(cfg, *model);

  TrainResult result;
  result.input = cfg.input;
  result.params = CountParams(*model);
  result.precision = prec.name;
  result.precision_reason = prec.reason;
  TrainingState st;
  std::vector<at::Tensor> selected_state;  // the selected epoch's weights
  const Checkpoint checkpoint(fs::path(out_dir) / "checkpoint");
  if (resume && checkpoint.exists()) {
    st = ResumeFrom(checkpoint, cfg, model, *opt, &selected_state);
    result.resumed_from_epoch = st.epoch;
    info(fmt::format("resumed from {} after epoch {}", checkpoint.meta_path().parent_path().string(), st.epoch));
  }

  if (pg) {
    // Every replica starts from rank 0's weights and buffers.
    torch::NoGradGuard g;
    for (auto& p : model->parameters()) pg->Broadcast(p, 0);
    for (auto& b : model->buffers()) pg->Broadcast(b, 0);
    info(fmt::format("distributed: rank {} of {}, {} samples of each global batch of {}", pg->rank(), pg->size(),
                     ShardOfBatch(cfg.batch_size, pg->rank(), pg->size()).second -
                         ShardOfBatch(cfg.batch_size, pg->rank(), pg->size()).first,
                     cfg.batch_size));
  }

  Stepper run{cfg, *model, *opt, *tr, model->parameters(), AugmentFrom(cfg), mean, stdv, bf16, writer, pg.get()};
  const auto t_train = Clock::now();
  for (int epoch = st.epoch; epoch < cfg.epochs && !st.early_stopped; ++epoch) {
    EpochMetrics m = RunEpoch(run, epoch, st.plateau_reductions);
    st.lr = m.lr;
    if (va->size() > 0) {
      const auto ev = EvaluateSharded(*model, *va, mean, stdv, cfg.eval_batch, cfg.channels_last, bf16, pg.get());
      m.val_loss = ev.loss;
      m.val_acc = ev.acc;
    } else {
      m.has_val = false;
    }
    st.epoch = m.epoch;
    st.history.push_back(m);
    info(fmt::format("epoch {}/{}: train loss {:.4f} acc {:.4f}, {}, lr {:.4g}, {:.0f} img/s{}", m.epoch, cfg.epochs,
                     m.train_loss, m.train_acc,
                     m.has_val ? fmt::format("val loss {:.4f} acc {:.4f}", m.val_loss, m.val_acc)
                               : std::string("no validation split (--val 0)"),
                     m.lr, m.images_per_s,
                     pg ? fmt::format(", allreduce {:.1f} ms/step ({:.1f} MB)",
                                      1000 * pg->gradient_seconds() / std::max<std::int64_t>(1, run.steps_run),
                                      pg->gradient_bytes() / 1e6)
                        : std::string()));
    const bool selected_now = Watch(cfg, m, &st, log);
    if (selected_now) selected_state = CloneState(*model);
    if (!writer) continue;
    Checkpoint::Meta meta;
    meta.state = st;
    meta.config = cfg;
    meta.mean = mean;
    meta.stdev = stdv;
    meta.classes = train_all.class_names();
    meta.params = result.params;
    checkpoint.Commit(std::move(meta), model, *opt, selected_now);
    WriteFileAtomic(fs::path(out_dir) / "metrics.csv", MetricsCsv(st.history));
  }
  result.train_seconds = SecondsSince(t_train);
  result.history = st.history;
  result.early_stopped = st.early_stopped;
  const int last_epoch = st.history.empty() ? 0 : st.history.back().epoch;
  if (st.selected_epoch > 0 && st.selected_epoch != last_epoch) {
    RestoreState(*model, selected_state);
    info(fmt::format("model selection: epoch {} has the highest validation accuracy ({:.4f}); it is the model tested",
                     st.selected_epoch, st.selected_val_acc));
  }
  result.selected_epoch = st.selected_epoch > 0 ? st.selected_epoch : last_epoch;
  result.selected_on_validation = st.selected_epoch > 0;
  if (run.steps_run > 0) result.step_ms = 1000 * result.train_seconds / static_cast<double>(run.steps_run);
  if (pg && run.steps_run > 0) {
    result.allreduce_ms_per_step = 1000 * pg->gradient_seconds() / static_cast<double>(run.steps_run);
    result.gradient_bytes = pg->gradient_bytes();
  }
  EvaluateTest(*model, *te, mean, stdv, cfg, pg.get(), &result);
  if (pg) pg->Barrier();  // rank 0's last checkpoint is committed before anyone leaves
  info(fmt::format("test accuracy {:.4f} on {} images", result.test_accuracy, te->size()));
  return result;
}

std::vector<float> CheckpointParameters(const std::string& run_dir) {
  const Checkpoint checkpoint(fs::path(run_dir) / "checkpoint");
  const Checkpoint::Meta meta = checkpoint.Read();
  ModelOptions mo;
  mo.num_classes = meta.config.num_classes;
  mo.input = meta.config.input;
  ModelPtr model = CreateModel(meta.config.model, mo);
  checkpoint.Load(meta.model_file, model);
  std::vector<float> out;
  for (const auto& p : model->parameters()) {
    const at::Tensor c = p.detach().contiguous().to(torch::kFloat32).reshape({-1});
    out.insert(out.end(), c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  }
  return out;
}

double LoaderImagesPerSecond(const TrainConfig& cfg_in, const data::Dataset& train, std::size_t max_images) {
  TrainConfig cfg = cfg_in;
  cfg.Validate();
  if (train.empty()) throw Error("loader benchmark: the dataset is empty");
  torch::set_num_threads(ResolveThreads(cfg.threads));
  cfg.input = ResolveInput(cfg, train);
  const bool streaming = Streams(cfg, train, 0);
  auto set = OpenLoader(cfg, train, streaming, nullptr);
  std::vector<float> mean, stdv;
  if (cfg.standardize) ChannelStats(*set, cfg.input.channels, &mean, &stdv);
  const Augment aug = AugmentFrom(cfg);
  const std::int64_t n = std::min<std::int64_t>(set->size(), static_cast<std::int64_t>(max_images));
  // In memory, the one-off decoding is not part of a step and is not timed;
  // streamed, the workers start decoding at Start(), inside the timing.
  const auto t0 = Clock::now();
  std::vector<std::int64_t> order(static_cast<std::size_t>(set->size()));
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::int64_t>(i);
  Rng rng(MixSeed(cfg.seed, 2000));
  rng.Shuffle(order);
  IndexBatches batches;
  for (std::int64_t b = 0; b < n; b += cfg.batch_size) {
    batches.emplace_back(order.begin() + b, order.begin() + std::min(n, b + cfg.batch_size));
  }
  set->Start(batches);
  for (std::size_t b = 0; b < batches.size(); ++b) {
    at::Tensor x = AugmentBatch(set->Next(), aug, MixSeed(cfg.seed, static_cast<std::uint64_t>(b)), mean, stdv);
    if (cfg.channels_last) x = x.contiguous(at::MemoryFormat::ChannelsLast);
    const at::Tensor y = set->labels().index_select(0, torch::tensor(batches[b], torch::kInt64));
  }
  return static_cast<double>(n) / SecondsSince(t0);
}

TrainResult EvaluateCheckpoint(const std::string& run_dir, const data::Dataset& test, Logger* log,
                               std::optional<PrecisionMode> precision) {
  const detail::TrainingHeap heap;
  const Checkpoint checkpoint(fs::path(run_dir) / "checkpoint");
  if (!checkpoint.exists())
    throw Error(checkpoint.meta_path().string() + ": no checkpoint found (expected a training run folder)");
  const Checkpoint::Meta meta = checkpoint.Read();
  const TrainConfig& cfg = meta.config;
  if (meta.classes != test.class_names()) {
    throw Error(checkpoint.meta_path().string() + ": the checkpoint's classes differ from the dataset's (" +
                std::to_string(meta.classes.size()) + " vs " + std::to_string(test.num_classes()) + ")");
  }
  torch::set_num_threads(ResolveThreads(cfg.threads));
  ModelOptions mo;
  mo.num_classes = cfg.num_classes;
  mo.input = cfg.input;
  ModelPtr model = CreateModel(cfg.model, mo);
  // The model the run reported: the epoch selected on validation, else the last.
  checkpoint.Load(meta.state.selected_epoch > 0 ? meta.selected_model_file : meta.model_file, model);
  if (cfg.channels_last) ToChannelsLast(*model);
  const auto& mean = meta.mean;
  const auto& stdv = meta.stdev;
  std::unique_ptr<BatchLoader> te;
  if (Streams(cfg, test, 0)) {
    te = OpenLoader(cfg, test, true, nullptr);
  } else {
    Progress p("decoding images", test.size(), log);
    te = OpenLoader(cfg, test, false, &p);
  }
  TrainResult r;
  r.input = cfg.input;
  r.params = CountParams(*model);
  r.history = meta.state.history;
  // Checkpoints are fp32: any precision evaluates them.
  const PrecisionChoice prec = ResolvePrecision(precision.value_or(cfg.precision));
  r.precision = prec.name;
  r.precision_reason = prec.reason;
  if (log) log->Info(fmt::format("precision: {} ({})", prec.name, prec.reason));
  r.selected_epoch = meta.state.selected_epoch > 0 ? meta.state.selected_epoch : meta.state.epoch;
  r.selected_on_validation = meta.state.selected_epoch > 0;
  EvaluateTest(*model, *te, mean, stdv, cfg, nullptr, &r);
  return r;
}

}  // namespace scenelab::cnn

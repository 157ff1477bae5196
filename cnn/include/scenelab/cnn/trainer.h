#pragma once
// CNN training and evaluation. Torch-free interface: the CLI and pipelines
// pass datasets and a config, and get predictions back for the shared
// evaluation layer.
//
// A run folder holds:
//   metrics.csv           one row per epoch (rewritten atomically each epoch)
//   checkpoint/meta.json  epoch, config, history, scheduler and early-stopping
//                         state, written last: it commits the checkpoint
//   checkpoint/model-<e>.pt, optimizer-<e>.pt
// A run killed mid-epoch loses at most that epoch; --resume continues from
// the last committed checkpoint.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "scenelab/cnn/zoo.h"
#include "scenelab/data/dataset.h"
#include "scenelab/data/log.h"
#include "scenelab/data/option_table.h"

namespace scenelab::cnn {

enum class Optimizer { kSgd, kAdam, kAdamW };
enum class Schedule { kNone, kStep, kMultiStep, kCosine, kOneCycle, kPlateau };
// The data path. kMemory: decode every image once, up front; kStream: worker
// threads decode and resize batches ahead of training through a bounded
// queue (for folder datasets too large to hold); kAuto: stream folder
// datasets whose decoded train+val+test images exceed loader_memory_gb.
enum class LoaderKind { kAuto, kMemory, kStream };
// Their names (sgd | adam | adamw; none | step | multistep | cosine |
// onecycle | plateau; auto | memory | stream), one table each.
const EnumTable<Optimizer>& OptimizerNames();
const EnumTable<Schedule>& ScheduleNames();
const EnumTable<LoaderKind>& LoaderNames();
enum class PrecisionMode { kFp32, kBf16, kAuto };
const EnumTable<PrecisionMode>& PrecisionModeNames();  // fp32 | bf16 | auto

struct TrainConfig {
  std::string model = "resnet-lite";
  InputShape input{0, 0, 0};  // 0x0x0: channels from the data, size from the model's default
  int num_classes = 0;        // 0: from the dataset
  int epochs = 5;
  int batch_size = 128;
  Optimizer optimizer = Optimizer::kSgd;
  double lr = 0.05;       // peak learning rate
  double momentum = 0.9;  // SGD
  bool nesterov = false;  // SGD
  double weight_decay = 5e-4;
  Schedule schedule = Schedule::kCosine;
  int step_size = 10;           // step: epochs between decays
  double gamma = 0.1;           // step, multistep: decay factor
  std::vector<int> milestones;  // multistep: epochs at which to decay
  int plateau_patience = 2;     // plateau: epochs without val-loss gain before decaying
  double plateau_factor = 0.1;  // plateau: decay factor
  double label_smoothing = 0.0;
  std::vector<std::string> augment = {"crop", "flip"};  // crop | flip | rotate
  int crop_padding = 4;                                 // pixels of zero padding for random crops
  double rotate_degrees = 10;                           // max |angle| for "rotate"
  bool standardize = true;                              // subtract the training mean, divide by std (per channel)
  double val_fraction = 0.1;                            // held out of the training split, stratified and seeded
  int early_stopping = 0;                               // patience in epochs on val loss; 0 = off
  std::uint64_t seed = 0;
  int threads = 0;            // torch intra-op threads; 0 = all cores
  bool channels_last = true;  // oneDNN runs NHWC convolutions faster here
  // fp32 | bf16 | auto. bf16: forward passes under CPU autocast (bfloat16
  // convolutions and matrix products), fp32 weights, gradients, optimizer
  // state, loss and BatchNorm statistics; auto: bf16 when the CPU has
  // amx_bf16 or avx512_bf16 (decided at run time), else fp32.
  PrecisionMode precision = PrecisionMode::kFp32;
  int eval_batch = 500;
  LoaderKind loader = LoaderKind::kAuto;
  double loader_memory_gb = 4;  // auto: the in-memory budget
  int loader_threads = 0;       // stream: decoding threads; 0 = all cores
  int prefetch = 8;             // stream: batches decoded ahead, at most
  void Validate() const;
  nlohmann::ordered_json ToJson() const;
  static TrainConfig FromJson(const nlohmann::json& j);
};

struct EpochMetrics {
  int epoch = 0;  // 1-based
  double train_loss = 0, train_acc = 0, val_loss = 0, val_acc = 0, lr = 0, images_per_s = 0, seconds = 0;
  // False with --val 0: there is no validation split, and val_* are not
  // reported (empty cells in metrics.csv), never a copy of the training numbers.
  bool has_val = true;
};

struct TrainResult {
  std::vector<EpochMetrics> history;
  std::vector<int> test_predicted;
  std::vector<float> test_score;        // softmax probability of the predicted class
  std::vector<std::uint8_t> test_top5;  // 1 when the true class is among the 5 largest logits
  double test_accuracy = 0;
  std::int64_t params = 0;
  double train_seconds = 0;  // this process only
  double eval_seconds = 0;
  int resumed_from_epoch = 0;  // 0 when started fresh
  // The epoch whose model was tested: the highest validation accuracy when
  // there is a validation split (selected_on_validation), else the last.
  int selected_epoch = 0;
  bool selected_on_validation = false;
  std::string precision = "fp32";  // what ran: fp32 | bf16
  std::string precision_reason;    // the request and the CPU flags that decided it
  bool early_stopped = false;
  InputShape input;
  // Distributed runs: gradient allreduce cost and size (0 otherwise).
  double allreduce_ms_per_step = 0;
  std::int64_t gradient_bytes = 0;
  double step_ms = 0;  // mean wall time of one training step, allreduce included
};

// Data-parallel training over LibTorch's c10d process groups with Gloo, one
// process per rank, as PyTorch's DistributedDataParallel: every rank holds a
// replica (rank 0's initial weights are broadcast), each global batch of
// `batch_size` samples is split across ranks, gradients are averaged with
// bucketed allreduce after backward, and every rank steps the same optimizer
// on the same averaged gradient. BatchNorm statistics are local to each rank
// (not synchronised). Only rank 0 writes checkpoints, metrics.csv and
// results; training metrics and the test evaluation are reduced across ranks.
struct DistributedOptions {
  int world_size = 1;      // processes in the run; 1 = not distributed
  int rank = 0;            // this process, in [0, world_size)
  std::string rendezvous;  // HOST:PORT (c10d TCPStore, rank 0 listens there) or file:PATH (FileStore on a shared path)
  double timeout_s = 60;   // every collective fails after this long instead of hanging
  std::int64_t bucket_bytes = std::int64_t{25} << 20;  // allreduce bucket size (DDP's default, 25 MB)
  void Validate() const;
  bool active() const { return world_size > 1; }
};

// Rank `rank`'s share [first, second) of a global batch of n samples:
// contiguous and as even as possible; the shards of all ranks cover the
// batch exactly once.
std::pair<std::int64_t, std::int64_t> ShardOfBatch(std::int64_t n, int rank, int world_size);

// The option tables (data/option_table.h) of the two configs: the CLI flags
// of `cnn train`, the keys of a CNN pipeline in a compare config (with the
// short aliases batch, opt and val), the echo in results.json and
// checkpoint/meta.json (TrainConfig::ToJson/FromJson).
const OptionTable<TrainConfig>& TrainOptions();
const OptionTable<DistributedOptions>& DistributedOptionTable();

// Trains on `train` (a validation split is carved out of it), evaluates on
// `test`. With `resume`, continues from out_dir/checkpoint when present.
TrainResult Train(const TrainConfig& cfg, const data::Dataset& train, const data::Dataset& test,
                  const std::string& out_dir, bool resume, Logger* log, const DistributedOptions& dist = {});

// The parameters of the model in run_dir/checkpoint, flattened in order
// (for comparing runs).
std::vector<float> CheckpointParameters(const std::string& run_dir);

// Loads out_dir/checkpoint and predicts `test`.
// `precision` unset: the precision the run was trained with.
TrainResult EvaluateCheckpoint(const std::string& run_dir, const data::Dataset& test, Logger* log,
                               std::optional<PrecisionMode> precision = std::nullopt);

// Loader-only throughput: images/s of producing training batches exactly as
// training does (gather or stream-decode, augment, standardise), over up to
// `max_images` images of one shuffled pass. In memory the one-off decoding is
// not timed; streamed it is, as it is part of every epoch. Compare with the
// training images/s to see whether the loader could be the bottleneck.
double LoaderImagesPerSecond(const TrainConfig& cfg, const data::Dataset& train, std::size_t max_images);

// metrics.csv header and rows.
std::string MetricsCsv(const std::vector<EpochMetrics>& history);
std::vector<EpochMetrics> ParseMetricsCsv(const std::string& text, const std::string& what);

}  // namespace scenelab::cnn

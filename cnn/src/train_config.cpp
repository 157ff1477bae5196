// TrainConfig and metrics.csv: Torch-free, so the fuzzers and tools can
// parse checkpoint metadata without LibTorch.
#include <algorithm>
#include <limits>
#include <sstream>
#include <string>

#include <fmt/format.h>

#include "scenelab/cnn/trainer.h"
#include "scenelab/data/error.h"

namespace scenelab::cnn {

InputShape InputShape::Parse(const std::string& text, const std::string& what) {
  InputShape s;
  char x1 = 0, x2 = 0;
  std::istringstream in(text);
  in >> s.channels >> x1 >> s.height >> x2 >> s.width;
  std::string rest;
  if (!in || (x1 != 'x' && x1 != 'X') || (x2 != 'x' && x2 != 'X') || (in >> rest)) {
    throw Error(what + ": expected CxHxW such as 3x32x32, got '" + text + "'");
  }
  if (s.channels < 1 || s.channels > 64 || s.height < 1 || s.width < 1 || s.height > 4096 || s.width > 4096) {
    throw Error(what + ": sizes out of range in '" + text + "'");
  }
  return s;
}

std::string InputShape::ToString() const {
  return std::to_string(channels) + "x" + std::to_string(height) + "x" + std::to_string(width);
}

const EnumTable<Optimizer>& OptimizerNames() {
  static const EnumTable<Optimizer> t = {
      {Optimizer::kSgd, "sgd"}, {Optimizer::kAdam, "adam"}, {Optimizer::kAdamW, "adamw"}};
  return t;
}

const EnumTable<Schedule>& ScheduleNames() {
  static const EnumTable<Schedule> t = {{Schedule::kNone, "none"},           {Schedule::kStep, "step"},
                                        {Schedule::kMultiStep, "multistep"}, {Schedule::kCosine, "cosine"},
                                        {Schedule::kOneCycle, "onecycle"},   {Schedule::kPlateau, "plateau"}};
  return t;
}

const EnumTable<LoaderKind>& LoaderNames() {
  static const EnumTable<LoaderKind> t = {
      {LoaderKind::kAuto, "auto"}, {LoaderKind::kMemory, "memory"}, {LoaderKind::kStream, "stream"}};
  return t;
}
const EnumTable<PrecisionMode>& PrecisionModeNames() {
  static const EnumTable<PrecisionMode> t = {
      {PrecisionMode::kFp32, "fp32"}, {PrecisionMode::kBf16, "bf16"}, {PrecisionMode::kAuto, "auto"}};
  return t;
}

void ModelOptions::Validate() const {
  if (num_classes < 1) throw Error("--classes must be >= 1, got " + std::to_string(num_classes));
}

void TrainConfig::Validate() const {
  if (epochs < 1) throw Error("--epochs must be >= 1, got " + std::to_string(epochs));
  if (batch_size < 1) throw Error("--batch must be >= 1, got " + std::to_string(batch_size));
  if (!(lr > 0)) throw Error("--lr must be > 0, got " + std::to_string(lr));
  if (momentum < 0 || momentum >= 1) throw Error("--momentum must be in [0, 1), got " + std::to_string(momentum));
  if (weight_decay < 0) throw Error("--weight-decay must be >= 0, got " + std::to_string(weight_decay));
  if (schedule == Schedule::kStep && step_size < 1)
    throw Error("--step-size must be >= 1, got " + std::to_string(step_size));
  if (!(gamma > 0 && gamma <= 1)) throw Error("--gamma must be in (0, 1], got " + fmt::format("{}", gamma));
  for (int m : milestones) {
    if (m < 1) throw Error("--milestones must be >= 1 (epochs count from 1), got " + std::to_string(m));
  }
  if (schedule == Schedule::kMultiStep && milestones.empty())
    throw Error("--schedule multistep needs --milestones, e.g. 20,30");
  if (plateau_patience < 0) throw Error("--plateau-patience must be >= 0, got " + std::to_string(plateau_patience));
  if (!(plateau_factor > 0 && plateau_factor < 1))
    throw Error("--plateau-factor must be in (0, 1), got " + fmt::format("{}", plateau_factor));
  if (label_smoothing < 0 || label_smoothing >= 1) {
    throw Error("--label-smoothing must be in [0, 1), got " + std::to_string(label_smoothing));
  }
  for (const auto& a : augment) {
    if (a != "crop" && a != "flip" && a != "rotate" && a != "none") {
      throw Error("--augment: unknown augmentation '" + a + "' (expected crop, flip, rotate or none)");
    }
  }
  if (crop_padding < 0) throw Error("--crop-padding must be >= 0, got " + std::to_string(crop_padding));
  if (!(rotate_degrees >= 0 && rotate_degrees <= 180))
    throw Error("--rotate-degrees must be in [0, 180], got " + fmt::format("{}", rotate_degrees));
  if (val_fraction < 0 || val_fraction >= 1)
    throw Error("--val must be in [0, 1), got " + std::to_string(val_fraction));
  if (early_stopping < 0) throw Error("--early-stopping must be >= 0, got " + std::to_string(early_stopping));
  if (eval_batch < 1) throw Error("eval_batch must be >= 1");
  if (!(loader_memory_gb > 0)) throw Error("--loader-memory-gb must be > 0, got " + std::to_string(loader_memory_gb));
  if (loader_threads < 0) throw Error("--loader-threads must be >= 0, got " + std::to_string(loader_threads));
  if (prefetch < 1) throw Error("--prefetch must be >= 1 batch, got " + std::to_string(prefetch));
}

nlohmann::ordered_json TrainConfig::ToJson() const { return TrainOptions().Echo(*this); }

TrainConfig TrainConfig::FromJson(const nlohmann::json& j) {
  TrainConfig c;
  TrainOptions().ApplyStored(j, "training config", &c);
  c.Validate();
  return c;
}

namespace {
using T = TrainConfig;

std::vector<BasicOptionSpec<T>> BuildTrainTable() {
  std::vector<BasicOptionSpec<T>> t;
  // Keys as checkpoint/meta.json has always stored them; aliases are the
  // short spellings of compare configs.
  t.push_back(Required(TextOption(
      "model", "--model", "Model name (scenelab cnn summary --list)", +[](T & c) -> auto& { return c.model; })));
  {
    auto s = detail::Entry<T>("input", "--input",
                              "Input CxHxW (default 0x0x0: channels from the data, size from the data or model)",
                              OptionKind::kScalar);
    s.set = [](T* c, const nlohmann::json& v, const std::string& w) {
      const std::string text = StringFromJson(v, w);
      c->input = text.empty() || text == "0x0x0" ? InputShape{0, 0, 0} : InputShape::Parse(text, w);
    };
    s.get = [](const T& c) { return nlohmann::json(c.input.ToString()); };
    t.push_back(Required(s));
  }
  t.push_back(Required(IntOption<int>(
      "num_classes", "", "Classes (0 = from the dataset)", +[](T & c) -> auto& { return c.num_classes; })));
  t.push_back(Required(IntOption<int>(
      "epochs", "--epochs", "Epochs", +[](T & c) -> auto& { return c.epochs; })));
  t.push_back(Required(Aka(
      IntOption<int>(
          "batch_size", "--batch", "Batch size (global, over all ranks)", +[](T & c) -> auto& { return c.batch_size; }),
      {"batch"})));
  t.push_back(Required(
      Aka(EnumTableOption(
              "optimizer", "--opt", "sgd|adam|adamw", +[](T & c) -> auto& { return c.optimizer; }, OptimizerNames()),
          {"opt"})));
  t.push_back(Required(DoubleOption(
      "lr", "--lr", "Peak learning rate", +[](T & c) -> auto& { return c.lr; })));
  t.push_back(Required(DoubleOption(
      "momentum", "--momentum", "SGD momentum", +[](T & c) -> auto& { return c.momentum; })));
  t.push_back(Required(FlagOption(
      "nesterov", "--nesterov", "Nesterov momentum", +[](T & c) -> auto& { return c.nesterov; })));
  t.push_back(Required(DoubleOption(
      "weight_decay", "--weight-decay", "Weight decay", +[](T & c) -> auto& { return c.weight_decay; })));
  t.push_back(Required(EnumTableOption(
      "schedule", "--schedule", "none|step|multistep|cosine|onecycle|plateau",
      +[](T & c) -> auto& { return c.schedule; }, ScheduleNames())));
  t.push_back(Required(IntOption<int>(
      "step_size", "--step-size", "step schedule: epochs per decay", +[](T & c) -> auto& { return c.step_size; })));
  t.push_back(Required(DoubleOption(
      "gamma", "--gamma", "step/multistep decay factor", +[](T & c) -> auto& { return c.gamma; })));
  t.push_back(Required(IntSetOption(
      "milestones", "--milestones", "multistep: epochs at which to decay, e.g. 20,30",
      +[](T & c) -> auto& { return c.milestones; }, /*allow_empty=*/true)));
  t.push_back(Required(IntOption<int>(
      "plateau_patience", "--plateau-patience", "plateau: epochs without a val-loss gain before decaying",
      +[](T & c) -> auto& { return c.plateau_patience; })));
  t.push_back(Required(DoubleOption(
      "plateau_factor", "--plateau-factor", "plateau: decay factor",
      +[](T & c) -> auto& { return c.plateau_factor; })));
  t.push_back(Required(DoubleOption(
      "label_smoothing", "--label-smoothing", "Label smoothing", +[](T & c) -> auto& { return c.label_smoothing; })));
  t.push_back(
      Required(ChoiceListOption("augment", "--augment", "crop,flip,rotate or none",
                                +[](T & c) -> auto& { return c.augment; }, {"crop", "flip", "rotate", "none"})));
  t.push_back(Required(IntOption<int>(
      "crop_padding", "--crop-padding", "Random-crop padding in pixels",
      +[](T & c) -> auto& { return c.crop_padding; })));
  t.push_back(Required(DoubleOption(
      "rotate_degrees", "--rotate-degrees", "rotate: largest |angle| in degrees",
      +[](T & c) -> auto& { return c.rotate_degrees; })));
  t.push_back(Required(FlagOption(
      "standardize", "", "Subtract the training mean, divide by the std, per channel",
      +[](T & c) -> auto& { return c.standardize; })));
  t.push_back(Required(Aka(DoubleOption(
                               "val_fraction", "--val", "Validation fraction of the training split",
                               +[](T & c) -> auto& { return c.val_fraction; }),
                           {"val"})));
  t.push_back(Required(IntOption<int>(
      "early_stopping", "--early-stopping", "Patience in epochs (0 = off)",
      +[](T & c) -> auto& { return c.early_stopping; })));
  t.push_back(Required(IntOption<std::uint64_t>(
      "seed", "--seed", "Seed", +[](T & c) -> auto& { return c.seed; })));
  t.push_back(Required(IntOption<int>(
      "threads", "--threads", "Torch threads (0 = all cores)", +[](T & c) -> auto& { return c.threads; })));
  {
    // A value, not a switch: the default is true.
    auto s = FlagOption(
        "channels_last", "--channels-last", "NHWC tensors for oneDNN's convolutions (true|false)",
        +[](T & c) -> auto& { return c.channels_last; });
    s.kind = OptionKind::kScalar;
    t.push_back(Required(s));
  }
  t.push_back(EnumTableOption(
      "precision", "--precision",
      "fp32 | bf16 (autocast matrix products and convolutions) | auto (bf16 when the CPU has "
      "amx_bf16 or avx512_bf16)",
      +[](T & c) -> auto& { return c.precision; }, PrecisionModeNames()));
  t.push_back(Required(IntOption<int>(
      "eval_batch", "", "Images per evaluation batch", +[](T & c) -> auto& { return c.eval_batch; })));
  // Absent from checkpoints written before the streaming loader.
  t.push_back(EnumTableOption(
      "loader", "--loader",
      "auto | memory (decode everything up front) | stream (worker threads decode batches "
      "ahead)",
      +[](T & c) -> auto& { return c.loader; }, LoaderNames()));
  t.push_back(DoubleOption(
      "loader_memory_gb", "--loader-memory-gb", "auto: in-memory budget for decoded images (GB)",
      +[](T & c) -> auto& { return c.loader_memory_gb; }));
  t.push_back(IntOption<int>(
      "loader_threads", "--loader-threads", "stream: decoding threads (0 = all cores)",
      +[](T & c) -> auto& { return c.loader_threads; }));
  t.push_back(IntOption<int>(
      "prefetch", "--prefetch", "stream: batches decoded ahead, at most", +[](T & c) -> auto& { return c.prefetch; }));
  return t;
}

std::vector<BasicOptionSpec<DistributedOptions>> BuildDistributedTable() {
  using D = DistributedOptions;
  std::vector<BasicOptionSpec<D>> t;
  t.push_back(IntOption<int>(
      "world_size", "--world-size", "Data-parallel: processes in a multi-machine run",
      +[](D & d) -> auto& { return d.world_size; }));
  t.push_back(IntOption<int>(
      "rank", "--rank", "Data-parallel: this process's rank", +[](D & d) -> auto& { return d.rank; }));
  t.push_back(TextOption(
      "rendezvous", "--rendezvous", "Data-parallel: HOST:PORT of rank 0's TCPStore, or file:PATH on a shared disk",
      +[](D & d) -> auto& { return d.rendezvous; }));
  t.push_back(DoubleOption(
      "timeout_s", "--dist-timeout", "Data-parallel: seconds before a collective fails",
      +[](D & d) -> auto& { return d.timeout_s; }));
  t.push_back(IntOption<std::int64_t>(
      "bucket_bytes", "", "Gradient allreduce bucket size in bytes", +[](D & d) -> auto& { return d.bucket_bytes; }));
  return t;
}
}  // namespace

const OptionTable<TrainConfig>& TrainOptions() {
  static const OptionTable<TrainConfig> table(BuildTrainTable());
  return table;
}

const OptionTable<DistributedOptions>& DistributedOptionTable() {
  static const OptionTable<DistributedOptions> table(BuildDistributedTable());
  return table;
}

std::string MetricsCsv(const std::vector<EpochMetrics>& history) {
  std::ostringstream out;
  out << "epoch,train_loss,train_acc,val_loss,val_acc,lr,images_per_s,seconds\n";
  for (const auto& m : history) {
    out << fmt::format("{},{:.6f},{:.6f},{},{},{:.8g},{:.1f},{:.3f}\n", m.epoch, m.train_loss, m.train_acc,
                       m.has_val ? fmt::format("{:.6f}", m.val_loss) : std::string(),
                       m.has_val ? fmt::format("{:.6f}", m.val_acc) : std::string(), m.lr, m.images_per_s, m.seconds);
  }
  return out.str();
}

std::vector<EpochMetrics> ParseMetricsCsv(const std::string& text, const std::string& what) {
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);
  if (line.rfind("epoch,train_loss", 0) != 0)
    throw Error(what + ": expected a metrics.csv header 'epoch,train_loss,...'");
  std::vector<EpochMetrics> out;
  int row = 1;
  while (std::getline(in, line)) {
    ++row;
    if (line.empty()) continue;
    EpochMetrics m;
    std::vector<std::string> cells;
    std::string cell;
    std::istringstream f(line);
    while (std::getline(f, cell, ',')) cells.push_back(cell);
    if (!line.empty() && line.back() == ',') cells.push_back("");
    auto num = [&](std::size_t i, double* v) {
      try {
        std::size_t used = 0;
        *v = std::stod(cells[i], &used);
        return used == cells[i].size();
      } catch (const std::exception&) {
        return false;
      }
    };
    double epoch = 0;
    bool ok = cells.size() == 8 && num(0, &epoch) && num(1, &m.train_loss) && num(2, &m.train_acc) && num(5, &m.lr) &&
              num(6, &m.images_per_s) && num(7, &m.seconds);
    if (ok && cells[3].empty() && cells[4].empty()) {
      m.has_val = false;  // no validation split
    } else {
      ok = ok && num(3, &m.val_loss) && num(4, &m.val_acc);
    }
    if (!ok)
      throw Error(what + ": row " + std::to_string(row) + " is not 8 numbers (val cells may be empty): '" + line + "'");
    m.epoch = static_cast<int>(epoch);
    out.push_back(m);
  }
  return out;
}

void DistributedOptions::Validate() const {
  if (world_size < 1) throw Error("--world-size must be >= 1, got " + std::to_string(world_size));
  if (rank < 0 || rank >= world_size) {
    throw Error("--rank must be in [0, " + std::to_string(world_size) + "), got " + std::to_string(rank));
  }
  if (world_size > 1 && rendezvous.empty())
    throw Error("--rendezvous HOST:PORT or file:PATH is needed when --world-size > 1");
  if (world_size > 1 && rendezvous.rfind("file:", 0) != 0) {
    const auto colon = rendezvous.rfind(':');
    bool ok = colon != std::string::npos && colon > 0 && colon + 1 < rendezvous.size();
    int port = 0;
    if (ok) {
      try {
        std::size_t used = 0;
        port = std::stoi(rendezvous.substr(colon + 1), &used);
        ok = used == rendezvous.size() - colon - 1 && port > 0 && port < 65536;
      } catch (const std::exception&) {
        ok = false;
      }
    }
    if (!ok) throw Error("--rendezvous: expected HOST:PORT (port 1-65535) or file:PATH, got '" + rendezvous + "'");
  }
  if (!(timeout_s > 0)) throw Error("--dist-timeout must be > 0 seconds, got " + std::to_string(timeout_s));
  if (bucket_bytes < 1024)
    throw Error("DistributedOptions.bucket_bytes must be >= 1024, got " + std::to_string(bucket_bytes));
}

std::pair<std::int64_t, std::int64_t> ShardOfBatch(std::int64_t n, int rank, int world_size) {
  return {n * rank / world_size, n * (rank + 1) / world_size};
}

}  // namespace scenelab::cnn

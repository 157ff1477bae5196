// TrainConfig and metrics.csv: Torch-free, so the fuzzers and tools can
// parse checkpoint metadata without LibTorch.
#include <algorithm>
#include <limits>
#include <sstream>
#include <string>
#include <type_traits>

#include <fmt/format.h>

#include "scenelab/cnn/trainer.h"
#include "scenelab/data/error.h"

namespace scenelab::cnn {

InputShape InputShape::Parse(const std::string& text) {
  InputShape s;
  char x1 = 0, x2 = 0;
  std::istringstream in(text);
  in >> s.channels >> x1 >> s.height >> x2 >> s.width;
  std::string rest;
  if (!in || (x1 != 'x' && x1 != 'X') || (x2 != 'x' && x2 != 'X') || (in >> rest)) {
    throw Error("--input: expected CxHxW such as 3x32x32, got '" + text + "'");
  }
  if (s.channels < 1 || s.channels > 64 || s.height < 1 || s.width < 1 || s.height > 4096 || s.width > 4096) {
    throw Error("--input: sizes out of range in '" + text + "'");
  }
  return s;
}

std::string InputShape::ToString() const {
  return std::to_string(channels) + "x" + std::to_string(height) + "x" + std::to_string(width);
}

void ModelOptions::Validate() const {
  if (num_classes < 1) throw Error("--classes must be >= 1, got " + std::to_string(num_classes));
}

void TrainConfig::Validate() const {
  if (precision != "fp32" && precision != "bf16" && precision != "auto") {
    throw Error("--precision: unknown value '" + precision + "' (expected fp32, bf16 or auto)");
  }
  if (epochs < 1) throw Error("--epochs must be >= 1, got " + std::to_string(epochs));
  if (batch_size < 1) throw Error("--batch must be >= 1, got " + std::to_string(batch_size));
  if (optimizer != "sgd" && optimizer != "adam" && optimizer != "adamw") {
    throw Error("--opt: unknown optimizer '" + optimizer + "' (expected sgd, adam or adamw)");
  }
  if (!(lr > 0)) throw Error("--lr must be > 0, got " + std::to_string(lr));
  if (momentum < 0 || momentum >= 1) throw Error("--momentum must be in [0, 1), got " + std::to_string(momentum));
  if (weight_decay < 0) throw Error("--weight-decay must be >= 0, got " + std::to_string(weight_decay));
  static const std::vector<std::string> kSchedules = {"none", "step", "multistep", "cosine", "onecycle", "plateau"};
  if (std::find(kSchedules.begin(), kSchedules.end(), schedule) == kSchedules.end()) {
    throw Error("--schedule: unknown schedule '" + schedule +
                "' (expected none, step, multistep, cosine, onecycle or plateau)");
  }
  if (schedule == "step" && step_size < 1) throw Error("--step-size must be >= 1, got " + std::to_string(step_size));
  if (label_smoothing < 0 || label_smoothing >= 1) {
    throw Error("--label-smoothing must be in [0, 1), got " + std::to_string(label_smoothing));
  }
  for (const auto& a : augment) {
    if (a != "crop" && a != "flip" && a != "rotate" && a != "none") {
      throw Error("--augment: unknown augmentation '" + a + "' (expected crop, flip, rotate or none)");
    }
  }
  if (crop_padding < 0) throw Error("--crop-padding must be >= 0, got " + std::to_string(crop_padding));
  if (val_fraction < 0 || val_fraction >= 1)
    throw Error("--val must be in [0, 1), got " + std::to_string(val_fraction));
  if (early_stopping < 0) throw Error("--early-stopping must be >= 0, got " + std::to_string(early_stopping));
  if (eval_batch < 1) throw Error("eval_batch must be >= 1");
  if (loader != "auto" && loader != "memory" && loader != "stream") {
    throw Error("--loader: unknown loader '" + loader + "' (expected auto, memory or stream)");
  }
  if (!(loader_memory_gb > 0)) throw Error("--loader-memory-gb must be > 0, got " + std::to_string(loader_memory_gb));
  if (loader_threads < 0) throw Error("--loader-threads must be >= 0, got " + std::to_string(loader_threads));
  if (prefetch < 1) throw Error("--prefetch must be >= 1 batch, got " + std::to_string(prefetch));
}

nlohmann::ordered_json TrainConfig::ToJson() const {
  return {{"model", model},
          {"input", input.ToString()},
          {"num_classes", num_classes},
          {"epochs", epochs},
          {"batch_size", batch_size},
          {"optimizer", optimizer},
          {"lr", lr},
          {"momentum", momentum},
          {"nesterov", nesterov},
          {"weight_decay", weight_decay},
          {"schedule", schedule},
          {"step_size", step_size},
          {"gamma", gamma},
          {"milestones", milestones},
          {"plateau_patience", plateau_patience},
          {"plateau_factor", plateau_factor},
          {"label_smoothing", label_smoothing},
          {"augment", augment},
          {"crop_padding", crop_padding},
          {"rotate_degrees", rotate_degrees},
          {"standardize", standardize},
          {"val_fraction", val_fraction},
          {"early_stopping", early_stopping},
          {"seed", seed},
          {"threads", threads},
          {"channels_last", channels_last},
          {"precision", precision},
          {"eval_batch", eval_batch},
          {"loader", loader},
          {"loader_memory_gb", loader_memory_gb},
          {"loader_threads", loader_threads},
          {"prefetch", prefetch}};
}

namespace {
// An integer field, range-checked: nlohmann's get<int>() converts a float
// such as 1e127 with undefined behaviour (found by fuzz_config).
template <typename T>
T AsInteger(const nlohmann::json& v, const std::string& what) {
  if (v.is_number_unsigned()) {
    const auto x = v.get<unsigned long long>();
    if (x > static_cast<unsigned long long>(std::numeric_limits<T>::max()))
      throw Error(what + ": " + v.dump() + " is out of range");
    return static_cast<T>(x);
  }
  if (v.is_number_integer()) {
    const auto x = v.get<long long>();
    if ((std::is_unsigned_v<T> && x < 0) ||
        (!std::is_unsigned_v<T> && x < static_cast<long long>(std::numeric_limits<T>::min())) ||
        (x > 0 &&
         static_cast<unsigned long long>(x) > static_cast<unsigned long long>(std::numeric_limits<T>::max()))) {
      throw Error(what + ": " + v.dump() + " is out of range");
    }
    return static_cast<T>(x);
  }
  throw Error(what + ": expected an integer, found " +
              v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

template <typename T>
T IntegerField(const nlohmann::json& j, const char* key) {
  return AsInteger<T>(j.at(key), std::string("training config: ") + key);
}

template <typename T>
T IntegerField(const nlohmann::json& j, const char* key, T fallback) {
  return j.contains(key) ? IntegerField<T>(j, key) : fallback;
}

std::vector<int> IntegerList(const nlohmann::json& j, const char* key) {
  const nlohmann::json& v = j.at(key);
  if (!v.is_array()) throw Error(std::string("training config: ") + key + ": expected a list of integers");
  std::vector<int> out;
  for (const auto& x : v) out.push_back(AsInteger<int>(x, std::string("training config: ") + key));
  return out;
}
}  // namespace

TrainConfig TrainConfig::FromJson(const nlohmann::json& j) {
  TrainConfig c;
  try {
    c.model = j.at("model").get<std::string>();
    const std::string in = j.at("input").get<std::string>();
    c.input = in == "0x0x0" ? InputShape{0, 0, 0} : InputShape::Parse(in);
    c.num_classes = IntegerField<int>(j, "num_classes");
    c.epochs = IntegerField<int>(j, "epochs");
    c.batch_size = IntegerField<int>(j, "batch_size");
    c.optimizer = j.at("optimizer").get<std::string>();
    c.lr = j.at("lr").get<double>();
    c.momentum = j.at("momentum").get<double>();
    c.nesterov = j.at("nesterov").get<bool>();
    c.weight_decay = j.at("weight_decay").get<double>();
    c.schedule = j.at("schedule").get<std::string>();
    c.step_size = IntegerField<int>(j, "step_size");
    c.gamma = j.at("gamma").get<double>();
    c.milestones = IntegerList(j, "milestones");
    c.plateau_patience = IntegerField<int>(j, "plateau_patience");
    c.plateau_factor = j.at("plateau_factor").get<double>();
    c.label_smoothing = j.at("label_smoothing").get<double>();
    c.augment = j.at("augment").get<std::vector<std::string>>();
    c.crop_padding = IntegerField<int>(j, "crop_padding");
    c.rotate_degrees = j.at("rotate_degrees").get<double>();
    c.standardize = j.at("standardize").get<bool>();
    c.val_fraction = j.at("val_fraction").get<double>();
    c.early_stopping = IntegerField<int>(j, "early_stopping");
    c.seed = IntegerField<std::uint64_t>(j, "seed");
    c.threads = IntegerField<int>(j, "threads");
    c.channels_last = j.at("channels_last").get<bool>();
    c.eval_batch = IntegerField<int>(j, "eval_batch");
    // Absent from checkpoints written before the streaming loader.
    c.loader = j.value("loader", c.loader);
    c.loader_memory_gb = j.value("loader_memory_gb", c.loader_memory_gb);
    c.loader_threads = IntegerField<int>(j, "loader_threads", c.loader_threads);
    c.prefetch = IntegerField<int>(j, "prefetch", c.prefetch);
    c.precision = j.value("precision", c.precision);  // absent before mixed precision
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("training config: ") + e.what());
  }
  c.Validate();
  return c;
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

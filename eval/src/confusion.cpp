#include "scenelab/eval/confusion.h"

#include <cmath>
#include <sstream>

#include <nlohmann/json.hpp>

#include "scenelab/data/error.h"

namespace scenelab::eval {

Normalization ParseNormalization(const std::string& s) {
  if (s == "none") return Normalization::kNone;
  if (s == "true") return Normalization::kTrue;
  if (s == "pred") return Normalization::kPred;
  if (s == "all") return Normalization::kAll;
  throw Error("normalization: unknown value '" + s + "' (expected none, true, pred or all)");
}

std::string ToString(Normalization n) {
  switch (n) {
    case Normalization::kNone:
      return "none";
    case Normalization::kTrue:
      return "true";
    case Normalization::kPred:
      return "pred";
    case Normalization::kAll:
      return "all";
  }
  return "?";
}

ConfusionMatrix::ConfusionMatrix(std::vector<std::string> class_names)
    : names_(std::move(class_names)), counts_(names_.size() * names_.size(), 0) {}

ConfusionMatrix ConfusionMatrix::FromLabels(std::vector<std::string> class_names, const std::vector<int>& truth,
                                            const std::vector<int>& predicted) {
  if (truth.size() != predicted.size()) {
    throw Error("confusion matrix: " + std::to_string(truth.size()) + " true labels but " +
                std::to_string(predicted.size()) + " predictions");
  }
  ConfusionMatrix m(std::move(class_names));
  for (std::size_t i = 0; i < truth.size(); ++i) m.Add(truth[i], predicted[i]);
  return m;
}

void ConfusionMatrix::Add(int t, int p, std::int64_t count) {
  const int n = num_classes();
  if (t < 0 || t >= n || p < 0 || p >= n) {
    throw Error("confusion matrix: label pair (" + std::to_string(t) + ", " + std::to_string(p) + ") outside [0, " +
                std::to_string(n) + ")");
  }
  counts_[static_cast<std::size_t>(t) * static_cast<std::size_t>(n) + static_cast<std::size_t>(p)] += count;
}

std::int64_t ConfusionMatrix::count(int t, int p) const {
  return counts_[static_cast<std::size_t>(t) * static_cast<std::size_t>(num_classes()) + static_cast<std::size_t>(p)];
}

std::int64_t ConfusionMatrix::total() const {
  std::int64_t s = 0;
  for (auto c : counts_) s += c;
  return s;
}
std::int64_t ConfusionMatrix::row_total(int t) const {
  std::int64_t s = 0;
  for (int p = 0; p < num_classes(); ++p) s += count(t, p);
  return s;
}
std::int64_t ConfusionMatrix::col_total(int p) const {
  std::int64_t s = 0;
  for (int t = 0; t < num_classes(); ++t) s += count(t, p);
  return s;
}

std::vector<std::vector<double>> ConfusionMatrix::Normalized(Normalization norm) const {
  const int n = num_classes();
  std::vector<std::vector<double>> out(static_cast<std::size_t>(n),
                                       std::vector<double>(static_cast<std::size_t>(n), 0.0));
  const double all = static_cast<double>(total());
  for (int t = 0; t < n; ++t) {
    for (int p = 0; p < n; ++p) {
      double denom = 1.0;
      if (norm == Normalization::kTrue) denom = static_cast<double>(row_total(t));
      if (norm == Normalization::kPred) denom = static_cast<double>(col_total(p));
      if (norm == Normalization::kAll) denom = all;
      out[static_cast<std::size_t>(t)][static_cast<std::size_t>(p)] = denom > 0 ? count(t, p) / denom : 0.0;
    }
  }
  return out;
}

double ConfusionMatrix::Accuracy() const {
  const auto t = total();
  if (t == 0) return 0.0;
  std::int64_t d = 0;
  for (int c = 0; c < num_classes(); ++c) d += count(c, c);
  return static_cast<double>(d) / static_cast<double>(t);
}

double ConfusionMatrix::Recall(int c) const {
  const auto r = row_total(c);
  return r > 0 ? static_cast<double>(count(c, c)) / static_cast<double>(r) : 0.0;
}
double ConfusionMatrix::Precision(int c) const {
  const auto p = col_total(c);
  return p > 0 ? static_cast<double>(count(c, c)) / static_cast<double>(p) : 0.0;
}
double ConfusionMatrix::F1(int c) const {
  const double p = Precision(c), r = Recall(c);
  return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
}
double ConfusionMatrix::MeanPerClassAccuracy() const {
  double s = 0;
  int n = 0;
  for (int c = 0; c < num_classes(); ++c) {
    if (row_total(c) > 0) {
      s += Recall(c);
      ++n;
    }
  }
  return n ? s / n : 0.0;
}
double ConfusionMatrix::MacroF1() const {
  if (num_classes() == 0) return 0.0;
  double s = 0;
  for (int c = 0; c < num_classes(); ++c) s += F1(c);
  return s / num_classes();
}

std::string ConfusionMatrix::ToJson() const {
  nlohmann::ordered_json j;
  j["classes"] = names_;
  nlohmann::json rows = nlohmann::json::array();
  for (int t = 0; t < num_classes(); ++t) {
    std::vector<std::int64_t> row;
    row.reserve(static_cast<std::size_t>(num_classes()));
    for (int p = 0; p < num_classes(); ++p) row.push_back(count(t, p));
    rows.push_back(row);
  }
  j["counts"] = rows;
  j["total"] = total();
  j["accuracy"] = Accuracy();
  j["mean_per_class_accuracy"] = MeanPerClassAccuracy();
  j["macro_f1"] = MacroF1();
  nlohmann::json per = nlohmann::json::array();
  for (int c = 0; c < num_classes(); ++c) {
    per.push_back({{"class", names_[static_cast<std::size_t>(c)]},
                   {"precision", Precision(c)},
                   {"recall", Recall(c)},
                   {"f1", F1(c)},
                   {"support", row_total(c)}});
  }
  j["per_class"] = per;
  return j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace);
}

ConfusionMatrix ConfusionMatrix::FromJson(const std::string& text, const std::string& what) {
  try {
    const auto j = nlohmann::json::parse(text);
    ConfusionMatrix m(j.at("classes").get<std::vector<std::string>>());
    const auto& rows = j.at("counts");
    if (!rows.is_array() || static_cast<int>(rows.size()) != m.num_classes()) {
      throw Error(what + ": field 'counts' must have one row per class (" + std::to_string(m.num_classes()) + ")");
    }
    for (int t = 0; t < m.num_classes(); ++t) {
      const auto& row = rows[static_cast<std::size_t>(t)];
      if (!row.is_array() || static_cast<int>(row.size()) != m.num_classes()) {
        throw Error(what + ": field 'counts' row " + std::to_string(t) + " must have " +
                    std::to_string(m.num_classes()) + " entries");
      }
      for (int p = 0; p < m.num_classes(); ++p) {
        const auto v = row[static_cast<std::size_t>(p)].get<std::int64_t>();
        if (v < 0)
          throw Error(what + ": negative count " + std::to_string(v) + " at (" + std::to_string(t) + ", " +
                      std::to_string(p) + ")");
        m.Add(t, p, v);
      }
    }
    return m;
  } catch (const nlohmann::json::exception& e) {
    throw Error(what + ": " + e.what());
  }
}

std::string CsvEscape(const std::string& f) {
  if (f.find_first_of(",\"\n\r") == std::string::npos) return f;
  std::string out = "\"";
  for (char c : f) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::vector<std::vector<std::string>> ParseCsv(const std::string& text, const std::string& what) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false, any = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        field += c;
      }
      continue;
    }
    if (c == '"') {
      quoted = true;
      any = true;
    } else if (c == ',') {
      row.push_back(std::move(field));
      field.clear();
      any = true;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      if (any || !field.empty()) {
        row.push_back(std::move(field));
        rows.push_back(std::move(row));
      }
      row.clear();
      field.clear();
      any = false;
    } else {
      field += c;
      any = true;
    }
  }
  if (quoted) throw Error(what + ": unterminated quoted field");
  if (any || !field.empty()) {
    row.push_back(std::move(field));
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string ConfusionMatrix::ToCsv() const {
  std::ostringstream out;
  out << "true\\pred";
  for (const auto& n : names_) out << ',' << CsvEscape(n);
  out << '\n';
  for (int t = 0; t < num_classes(); ++t) {
    out << CsvEscape(names_[static_cast<std::size_t>(t)]);
    for (int p = 0; p < num_classes(); ++p) out << ',' << count(t, p);
    out << '\n';
  }
  return out.str();
}

namespace {
std::int64_t ParseCount(const std::string& s, const std::string& what, std::size_t row, std::size_t col) {
  try {
    std::size_t used = 0;
    const long long v = std::stoll(s, &used);
    if (used != s.size() || v < 0) throw std::invalid_argument("x");
    return v;
  } catch (const std::exception&) {
    throw Error(what + ": row " + std::to_string(row) + ", column " + std::to_string(col) +
                ": expected a non-negative count, found '" + s + "'");
  }
}
}  // namespace

ConfusionMatrix ConfusionMatrix::FromCsv(const std::string& text, const std::string& what) {
  const auto rows = ParseCsv(text, what);
  if (rows.empty()) throw Error(what + ": empty");
  std::vector<std::string> names(rows[0].begin() + 1, rows[0].end());
  if (rows.size() != names.size() + 1) {
    throw Error(what + ": " + std::to_string(names.size()) + " classes in the header but " +
                std::to_string(rows.size() - 1) + " rows");
  }
  ConfusionMatrix m(names);
  for (std::size_t t = 0; t < names.size(); ++t) {
    const auto& r = rows[t + 1];
    if (r.size() != names.size() + 1) {
      throw Error(what + ": row " + std::to_string(t + 2) + " has " + std::to_string(r.size()) + " fields, expected " +
                  std::to_string(names.size() + 1));
    }
    if (r[0] != names[t])
      throw Error(what + ": row " + std::to_string(t + 2) + " is labelled '" + r[0] + "', expected '" + names[t] + "'");
    for (std::size_t p = 0; p < names.size(); ++p) {
      m.Add(static_cast<int>(t), static_cast<int>(p), ParseCount(r[p + 1], what, t + 2, p + 2));
    }
  }
  return m;
}

void Predictions::Add(Prediction p) {
  const int n = static_cast<int>(names_.size());
  if (p.truth < 0 || p.truth >= n || p.predicted < 0 || p.predicted >= n) {
    throw Error("prediction for '" + p.source + "': labels (" + std::to_string(p.truth) + ", " +
                std::to_string(p.predicted) + ") outside [0, " + std::to_string(n) + ")");
  }
  rows_.push_back(std::move(p));
}

ConfusionMatrix Predictions::Confusion() const {
  ConfusionMatrix m(names_);
  for (const auto& r : rows_) m.Add(r.truth, r.predicted);
  return m;
}

std::string Predictions::ToCsv() const {
  std::ostringstream out;
  out << "source,true,true_name,predicted,predicted_name,score\n";
  char score[32];
  for (const auto& r : rows_) {
    std::snprintf(score, sizeof score, "%.9g", static_cast<double>(r.score));
    out << CsvEscape(r.source) << ',' << r.truth << ',' << CsvEscape(names_[static_cast<std::size_t>(r.truth)]) << ','
        << r.predicted << ',' << CsvEscape(names_[static_cast<std::size_t>(r.predicted)]) << ',' << score << '\n';
  }
  return out.str();
}

Predictions Predictions::FromCsv(const std::string& text, std::vector<std::string> class_names,
                                 const std::string& what) {
  const auto rows = ParseCsv(text, what);
  if (rows.empty() || rows[0].size() != 6 || rows[0][0] != "source") {
    throw Error(what + ": expected header 'source,true,true_name,predicted,predicted_name,score'");
  }
  Predictions p(std::move(class_names));
  for (std::size_t i = 1; i < rows.size(); ++i) {
    const auto& r = rows[i];
    if (r.size() != 6)
      throw Error(what + ": row " + std::to_string(i + 1) + " has " + std::to_string(r.size()) + " fields, expected 6");
    Prediction pr;
    pr.source = r[0];
    pr.truth = static_cast<int>(ParseCount(r[1], what, i + 1, 2));
    pr.predicted = static_cast<int>(ParseCount(r[3], what, i + 1, 4));
    try {
      pr.score = std::stof(r[5]);
    } catch (const std::exception&) {
      throw Error(what + ": row " + std::to_string(i + 1) + ": field 'score' is not a number: '" + r[5] + "'");
    }
    p.Add(std::move(pr));
  }
  return p;
}

std::string Predictions::ToJson() const {
  nlohmann::ordered_json j;
  j["classes"] = names_;
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& r : rows_) {
    rows.push_back({{"source", r.source}, {"true", r.truth}, {"predicted", r.predicted}, {"score", r.score}});
  }
  j["predictions"] = rows;
  return j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Predictions Predictions::FromJson(const std::string& text, const std::string& what) {
  try {
    const auto j = nlohmann::json::parse(text);
    Predictions p(j.at("classes").get<std::vector<std::string>>());
    for (const auto& r : j.at("predictions")) {
      p.Add(Prediction{r.at("source").get<std::string>(), r.at("true").get<int>(), r.at("predicted").get<int>(),
                       r.at("score").get<float>()});
    }
    return p;
  } catch (const nlohmann::json::exception& e) {
    throw Error(what + ": " + e.what());
  }
}

}  // namespace scenelab::eval

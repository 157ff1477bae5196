#pragma once
// Confusion matrices and per-sample predictions: the one evaluation layer
// every pipeline, classical or CNN, ends in. Rows are true classes, columns
// predicted classes, both in the dataset's class order.
#include <cstdint>
#include <string>
#include <vector>

namespace scenelab::eval {

enum class Normalization { kNone, kTrue, kPred, kAll };
Normalization ParseNormalization(const std::string& s);  // none | true | pred | all
std::string ToString(Normalization n);

class ConfusionMatrix {
 public:
  ConfusionMatrix() = default;
  explicit ConfusionMatrix(std::vector<std::string> class_names);
  static ConfusionMatrix FromLabels(std::vector<std::string> class_names, const std::vector<int>& truth,
                                    const std::vector<int>& predicted);

  void Add(int truth, int predicted, std::int64_t count = 1);
  const std::vector<std::string>& class_names() const { return names_; }
  int num_classes() const { return static_cast<int>(names_.size()); }
  std::int64_t count(int truth, int predicted) const;
  std::int64_t total() const;
  std::int64_t row_total(int truth) const;
  std::int64_t col_total(int predicted) const;

  // none: counts; true: rows sum to 1 (recall on the diagonal); pred:
  // columns sum to 1 (precision on the diagonal); all: everything sums to 1.
  // An empty row or column normalises to zeros.
  std::vector<std::vector<double>> Normalized(Normalization n) const;

  double Accuracy() const;              // trace / total
  double MeanPerClassAccuracy() const;  // mean recall over classes with samples
  double Precision(int c) const;        // 0 when nothing was predicted as c
  double Recall(int c) const;           // 0 when c has no samples
  double F1(int c) const;
  double MacroF1() const;

  std::string ToJson() const;  // {"classes": [...], "counts": [[...]], metrics...}
  static ConfusionMatrix FromJson(const std::string& text, const std::string& what = "confusion JSON");
  std::string ToCsv() const;  // header "true\pred,<classes...>", one row per true class
  static ConfusionMatrix FromCsv(const std::string& text, const std::string& what = "confusion CSV");

 private:
  std::vector<std::string> names_;
  std::vector<std::int64_t> counts_;  // row-major, num_classes^2
};

struct Prediction {
  std::string source;  // image path or "<file>#<index>"
  int truth = -1;
  int predicted = -1;
  float score = 0;  // vote share (kNN), softmax probability (CNN), margin (SVM)
};

class Predictions {
 public:
  Predictions() = default;
  explicit Predictions(std::vector<std::string> class_names) : names_(std::move(class_names)) {}
  void Add(Prediction p);
  const std::vector<Prediction>& rows() const { return rows_; }
  const std::vector<std::string>& class_names() const { return names_; }
  std::size_t size() const { return rows_.size(); }
  ConfusionMatrix Confusion() const;

  std::string ToCsv() const;  // source,true,true_name,predicted,predicted_name,score
  static Predictions FromCsv(const std::string& text, std::vector<std::string> class_names,
                             const std::string& what = "predictions CSV");
  std::string ToJson() const;
  static Predictions FromJson(const std::string& text, const std::string& what = "predictions JSON");

 private:
  std::vector<std::string> names_;
  std::vector<Prediction> rows_;
};

// CSV field quoting per RFC 4180.
std::string CsvEscape(const std::string& field);
std::vector<std::vector<std::string>> ParseCsv(const std::string& text, const std::string& what);

}  // namespace scenelab::eval

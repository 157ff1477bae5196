#include <gtest/gtest.h>

#include "scenelab/data/error.h"
#include "scenelab/eval/confusion.h"

using namespace scenelab;
using namespace scenelab::eval;

namespace {
// rows = true:      pred a  b  c
//               a       5  1  0
//               b       2  3  1
//               c       0  0  4
ConfusionMatrix Example() {
  ConfusionMatrix m({"a", "b", "c"});
  m.Add(0, 0, 5);
  m.Add(0, 1, 1);
  m.Add(1, 0, 2);
  m.Add(1, 1, 3);
  m.Add(1, 2, 1);
  m.Add(2, 2, 4);
  return m;
}
}  // namespace

TEST(Eval_ConfusionMatrix, MetricsMatchHandComputedValues) {
  const auto m = Example();
  EXPECT_EQ(m.total(), 16);
  EXPECT_DOUBLE_EQ(m.Accuracy(), 12.0 / 16.0);
  EXPECT_DOUBLE_EQ(m.Recall(0), 5.0 / 6.0);
  EXPECT_DOUBLE_EQ(m.Recall(1), 3.0 / 6.0);
  EXPECT_DOUBLE_EQ(m.Recall(2), 1.0);
  EXPECT_DOUBLE_EQ(m.Precision(0), 5.0 / 7.0);
  EXPECT_DOUBLE_EQ(m.Precision(1), 3.0 / 4.0);
  EXPECT_DOUBLE_EQ(m.Precision(2), 4.0 / 5.0);
  EXPECT_DOUBLE_EQ(m.F1(1), 2 * 0.75 * 0.5 / 1.25);
  EXPECT_DOUBLE_EQ(m.MeanPerClassAccuracy(), (5.0 / 6 + 0.5 + 1.0) / 3);
}

TEST(Eval_ConfusionMatrix, NormalisationModes) {
  const auto m = Example();
  const auto t = m.Normalized(Normalization::kTrue);
  EXPECT_DOUBLE_EQ(t[1][0], 2.0 / 6);
  for (const auto& row : t) EXPECT_NEAR(row[0] + row[1] + row[2], 1.0, 1e-12);
  const auto p = m.Normalized(Normalization::kPred);
  EXPECT_DOUBLE_EQ(p[1][0], 2.0 / 7);
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(p[0][c] + p[1][c] + p[2][c], 1.0, 1e-12);
  const auto a = m.Normalized(Normalization::kAll);
  EXPECT_DOUBLE_EQ(a[2][2], 4.0 / 16);
  const auto n = m.Normalized(Normalization::kNone);
  EXPECT_DOUBLE_EQ(n[0][1], 1.0);
  ConfusionMatrix empty({"x", "y"});
  EXPECT_DOUBLE_EQ(empty.Normalized(Normalization::kTrue)[0][0], 0.0);
  EXPECT_DOUBLE_EQ(empty.Accuracy(), 0.0);
}

TEST(Eval_ConfusionMatrix, GoldenCsvAndRoundTrips) {
  ConfusionMatrix m({"a", "b,c", "d"});
  m.Add(0, 0, 2);
  m.Add(1, 2, 1);
  const std::string csv = m.ToCsv();
  EXPECT_EQ(csv, "true\\pred,a,\"b,c\",d\na,2,0,0\n\"b,c\",0,0,1\nd,0,0,0\n");
  const auto back = ConfusionMatrix::FromCsv(csv);
  EXPECT_EQ(back.class_names(), m.class_names());
  EXPECT_EQ(back.count(1, 2), 1);
  const auto j = ConfusionMatrix::FromJson(m.ToJson());
  EXPECT_EQ(j.count(0, 0), 2);
  EXPECT_NE(m.ToJson().find("\"counts\": [\n  [\n   2,"), std::string::npos) << m.ToJson();
}

TEST(Eval_ConfusionMatrix, BadFilesNameTheFieldAndValue) {
  try {
    ConfusionMatrix::FromCsv("true\\pred,a,b\na,1,x\nb,0,0\n", "conf.csv");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("conf.csv: row 2, column 3: expected a non-negative count, found 'x'"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(ConfusionMatrix::FromJson("{\"classes\":[\"a\"],\"counts\":[[1,2]]}", "c.json"), Error);
  EXPECT_THROW(ConfusionMatrix::FromJson("not json", "c.json"), Error);
  EXPECT_THROW(Example().Add(3, 0), Error);
}

TEST(Eval_Predictions, CsvJsonRoundTripAndConfusion) {
  Predictions p({"cat", "dog"});
  p.Add({"img 1.jpg", 0, 0, 0.75f});
  p.Add({"dir/\"quoted\".jpg", 1, 0, 0.5f});
  const std::string csv = p.ToCsv();
  EXPECT_EQ(csv,
            "source,true,true_name,predicted,predicted_name,score\n"
            "img 1.jpg,0,cat,0,cat,0.75\n"
            "\"dir/\"\"quoted\"\".jpg\",1,dog,0,cat,0.5\n");
  const auto back = Predictions::FromCsv(csv, {"cat", "dog"});
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back.rows()[1].source, "dir/\"quoted\".jpg");
  EXPECT_FLOAT_EQ(back.rows()[0].score, 0.75f);
  const auto j = Predictions::FromJson(p.ToJson());
  EXPECT_EQ(j.rows()[1].truth, 1);
  EXPECT_EQ(p.Confusion().count(1, 0), 1);
  EXPECT_THROW(p.Add({"x", 0, 2, 0}), Error);
}

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>

#include <filesystem>
#include <fstream>

#include <opencv2/imgcodecs.hpp>

#include "expect_error.h"
#include "fixtures.h"
#include "scenelab/data/error.h"
#include "scenelab/data/io.h"
#include "scenelab/data/parallel.h"
#include "scenelab/data/readers.h"
#include "scenelab/data/rng.h"

namespace fs = std::filesystem;
using namespace scenelab;
using scenelab::fixtures::TempDir;

// Asserts that `fn` throws scenelab::Error whose message contains every needle.
template <typename Fn>
void ExpectError(Fn&& fn, const std::vector<std::string>& needles) {
  try {
    fn();
    FAIL() << "expected scenelab::Error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const auto& n : needles) EXPECT_NE(msg.find(n), std::string::npos) << "message: " << msg << "\nmissing: " << n;
  }
}

TEST(Data_IdxReader, ReadsPlainAndGzip) {
  for (bool gz : {false, true}) {
    TempDir dir;
    fixtures::WriteIdxDataset(dir.path(), 30, 20, gz);
    auto info = data::OpenDataset(dir.path().string());
    EXPECT_EQ(info.format, data::DatasetFormat::kIdx);
    EXPECT_EQ(info.class_names.size(), 10u);
    EXPECT_EQ(info.train().size(), 30u);
    EXPECT_EQ(info.test().size(), 20u);
    EXPECT_EQ(info.train()[13].label, 3);
    cv::Mat img = info.train().LoadImage(13);
    ASSERT_EQ(img.rows, 28);
    cv::Mat expected = fixtures::ClassImage(3, 13, 28, 28);
    EXPECT_EQ(cv::norm(img, expected, cv::NORM_INF), 0.0);
  }
}

TEST(Data_IdxReader, RejectsWrongMagic) {
  auto bytes = fixtures::IdxBytes({2, 28, 28}, std::vector<unsigned char>(2 * 784));
  bytes[0] = 0x12;
  ExpectError([&] { data::ParseIdx(bytes, "x-images-idx3-ubyte"); }, {"x-images-idx3-ubyte", "magic", "expected 0,0"});
  bytes = fixtures::IdxBytes({2, 28, 28}, std::vector<unsigned char>(2 * 784));
  bytes[2] = 0x0D;
  ExpectError([&] { data::ParseIdx(bytes, "f"); }, {"f:", "data type", "expected 0x08"});
}

TEST(Data_IdxReader, RejectsHeaderClaimingMoreItemsThanFileHolds) {
  auto bytes = fixtures::IdxBytes({5, 28, 28}, std::vector<unsigned char>(3 * 784));
  ExpectError([&] { data::ParseIdx(bytes, "t.idx"); }, {"t.idx", "truncated", "5 items", "holds 2352 bytes"});
  ExpectError([&] { data::ParseIdx({0, 0, 8}, "h.idx"); }, {"h.idx", "truncated IDX header"});
}

TEST(Data_IdxReader, RejectsTruncatedGzipAndLabelMismatch) {
  TempDir dir;
  fixtures::WriteIdxDataset(dir.path(), 20, 10, true);
  auto p = dir / "train-labels-idx1-ubyte.gz";
  auto bytes = ReadFileBytes(p);
  bytes.resize(bytes.size() / 2);
  fixtures::WriteBytes(p, bytes);
  ExpectError([&] { data::OpenDataset(dir.path().string()); }, {"train-labels-idx1-ubyte.gz", "truncated gzip"});

  TempDir dir2;
  fixtures::WriteIdxDataset(dir2.path(), 20, 10, false);
  fixtures::WriteBytes(dir2 / "t10k-labels-idx1-ubyte", fixtures::IdxBytes({9}, std::vector<unsigned char>(9, 1)));
  ExpectError([&] { data::OpenDataset(dir2.path().string()); }, {"t10k-labels-idx1-ubyte", "9 labels", "10 images"});
}

TEST(Data_IdxReader, RejectsLabelOutOfRangeForTheGivenClassNames) {
  TempDir dir;
  const fs::path root = dir / "some-idx";
  fixtures::WriteIdxDataset(root, 10, 10, false);
  std::vector<unsigned char> lb(10, 1);
  lb[4] = 12;
  fixtures::WriteBytes(root / "train-labels-idx1-ubyte", fixtures::IdxBytes({10}, lb));
  fixtures::WriteText(dir / "names.txt", "zero\none\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\n");
  data::OpenOptions o;
  o.class_names_file = (dir / "names.txt").string();
  ExpectError([&] { data::OpenDataset(root.string(), o); },
              {"train-labels-idx1-ubyte", "label 12", "item 4", "[0, 9]", "names.txt"});
  // Without names the labels define the classes: 0..12.
  EXPECT_EQ(data::OpenDataset(root.string()).class_names.size(), 13u);
  fixtures::WriteText(dir / "dup.txt", "a\nb\na\n");
  o.class_names_file = (dir / "dup.txt").string();
  ExpectError([&] { data::OpenDataset(root.string(), o); }, {"dup.txt", "line 3", "'a'"});
}

TEST(Data_IdxReader, RecognisesFashionMnistByContentNotByPath) {
  TempDir dir;
  // The published first training labels of Fashion-MNIST, 60000 28x28 images, under a path without "fashion".
  const std::vector<unsigned char> head = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5, 0, 9, 5, 5, 7, 9,
                                           1, 0, 6, 4, 3, 1, 4, 8, 4, 3, 0, 2, 4, 4, 5, 3};
  std::vector<unsigned char> labels(60000, 1);
  std::copy(head.begin(), head.end(), labels.begin());
  const fs::path root = dir / "copy";
  fixtures::WriteIdxDataset(root, 10, 10, false);
  fixtures::WriteBytes(root / "train-images-idx3-ubyte",
                       fixtures::IdxBytes({60000, 28, 28}, std::vector<unsigned char>(60000 * 784, 0)));
  fixtures::WriteBytes(root / "train-labels-idx1-ubyte", fixtures::IdxBytes({60000}, labels));
  const auto info = data::OpenDataset(root.string());
  EXPECT_EQ(info.recognised_as, "fashion-mnist");
  EXPECT_EQ(info.class_names.front(), "T-shirt/top");
  // A label out of range in such a file is refused.
  labels[100] = 10;
  fixtures::WriteBytes(root / "train-labels-idx1-ubyte", fixtures::IdxBytes({60000}, labels));
  ExpectError([&] { data::OpenDataset(root.string()); }, {"label 10", "item 100", "[0, 9]"});
  // A folder named "fashion" holding other data is not Fashion-MNIST.
  const fs::path other = dir / "fashion-mnist";
  fixtures::WriteIdxDataset(other, 10, 10, false);
  const auto o = data::OpenDataset(other.string());
  EXPECT_EQ(o.recognised_as, "");
  EXPECT_EQ(o.class_names.front(), "0");
}

TEST(Data_CifarReader, ReadsCifar10Layout) {
  TempDir dir;
  const fs::path root = dir / "cifar-10-batches-bin";
  fixtures::WriteCifar10(root, 12, 10);
  auto info = data::OpenDataset(dir.path().string());
  EXPECT_EQ(info.format, data::DatasetFormat::kCifar10);
  EXPECT_EQ(info.class_names.size(), 10u);
  EXPECT_EQ(info.class_names[9], "truck");
  EXPECT_EQ(info.train().size(), 60u);
  EXPECT_EQ(info.test().size(), 10u);
  // Record 0 of batch 1 has label (0+1)%10 and the ClassImage pixels in BGR.
  EXPECT_EQ(info.train()[0].label, 1);
  cv::Mat img = info.train().LoadImage(0, {data::ColorMode::kColor});
  EXPECT_EQ(cv::norm(img, fixtures::ClassImage(1, 0, 32, 32, 3), cv::NORM_INF), 0.0);
}

TEST(Data_CifarReader, RejectsStrayByteAndBadLabel) {
  TempDir dir;
  fixtures::WriteCifar10(dir.path(), 3, 4);
  auto bytes = ReadFileBytes(dir / "test_batch.bin");
  bytes.push_back(7);
  fixtures::WriteBytes(dir / "test_batch.bin", bytes);
  ExpectError([&] { data::OpenDataset(dir.path().string()); }, {"test_batch.bin", "not a multiple", "3073", "1 stray"});
  bytes.pop_back();
  bytes[3073] = 10;  // label of record 1
  fixtures::WriteBytes(dir / "test_batch.bin", bytes);
  ExpectError([&] { data::OpenDataset(dir.path().string()); }, {"test_batch.bin", "record 1", "label 10", "0..9"});
}

TEST(Data_CifarReader, ReadsCifar100FineLabels) {
  TempDir dir;
  std::string names;
  for (int i = 0; i < 100; ++i) names += "c" + std::to_string(i) + "\n";
  fixtures::WriteText(dir / "fine_label_names.txt", names);
  fixtures::WriteBytes(dir / "train.bin", fixtures::CifarBytes({5, 77, 99}, 2, 1));
  fixtures::WriteBytes(dir / "test.bin", fixtures::CifarBytes({42}, 2, 2));
  auto info = data::OpenDataset(dir.path().string());
  EXPECT_EQ(info.format, data::DatasetFormat::kCifar100);
  ASSERT_EQ(info.train().size(), 3u);
  EXPECT_EQ(info.train()[1].label, 77);
  EXPECT_EQ(info.test()[0].label, 42);
}

TEST(Data_TinyImageNet, ReadsTreeWithStrayFilesAndNoFinalNewline) {
  TempDir dir;
  fixtures::WriteTinyImageNet(dir.path(), 3, 4, 2);
  auto info = data::OpenDataset(dir.path().string());
  EXPECT_EQ(info.format, data::DatasetFormat::kTinyImageNet);
  ASSERT_EQ(info.class_names.size(), 3u);
  EXPECT_EQ(info.class_names[2], "n01440002");  // the last line had no newline
  EXPECT_EQ(info.class_descriptions[1], "thing 1, object");
  EXPECT_EQ(info.train().size(), 12u);
  EXPECT_TRUE(info.has_split("val"));
  EXPECT_EQ(info.test().size(), 6u);
  EXPECT_EQ(info.skipped_non_images, 3u);  // one .DS_Store per class folder
  EXPECT_EQ(info.test()[3].label, 1);
}

TEST(Data_TinyImageNet, RejectsUnknownWnidInValAnnotations) {
  TempDir dir;
  fixtures::WriteTinyImageNet(dir.path(), 2, 2, 1);
  fixtures::WriteText(dir / "val" / "val_annotations.txt",
                      "val_0.JPEG\tn01440000\t0\t0\t1\t1\nval_1.JPEG\tn7\t0\t0\t1\t1\n");
  ExpectError([&] { data::OpenDataset(dir.path().string()); },
              {"val_annotations.txt", "entry 2", "'n7'", "not in wnids.txt"});
  ExpectError([&] { data::ParseValAnnotations("justonefield\n", "va.txt"); }, {"va.txt:1", "2 tab-separated"});
  ExpectError([&] { data::ParseValAnnotations("../../etc/passwd\tn1\n", "va.txt"); },
              {"va.txt:1", "invalid image file name"});
}

TEST(Data_FolderReader, ReadsSplitTreeInSortedOrder) {
  TempDir dir;
  fixtures::WriteFolderDataset(dir.path(), {"b", "a", "c"}, 3, 2);
  fixtures::WriteText(dir / "train" / "a" / ".DS_Store", "junk");
  auto info = data::OpenDataset(dir.path().string());
  EXPECT_EQ(info.format, data::DatasetFormat::kFolder);
  EXPECT_EQ(info.class_names, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(info.train().size(), 9u);
  EXPECT_EQ(info.test().size(), 6u);
  EXPECT_EQ(info.skipped_non_images, 1u);
  EXPECT_EQ(info.train()[0].label, 0);
  EXPECT_NE(info.train()[0].source.find("img_000.png"), std::string::npos);
  EXPECT_EQ(info.train().LoadImage(0).rows, 64);
}

TEST(Data_FolderReader, SingleTreeIsSplitBySeed) {
  TempDir dir;
  for (const char* c : {"x", "y"}) {
    for (int i = 0; i < 10; ++i) {
      fs::create_directories(dir / c);
      cv::imwrite((dir / c / ("i" + std::to_string(i) + ".png")).string(), fixtures::ClassImage(0, i, 16, 16));
    }
  }
  data::OpenOptions o;
  o.test_fraction = 0.3;
  o.seed = 5;
  auto a = data::OpenDataset(dir.path().string(), o);
  auto b = data::OpenDataset(dir.path().string(), o);
  EXPECT_EQ(a.train().size(), 14u);
  EXPECT_EQ(a.test().size(), 6u);
  for (std::size_t i = 0; i < a.test().size(); ++i) EXPECT_EQ(a.test()[i].source, b.test()[i].source);
  o.seed = 6;
  auto c = data::OpenDataset(dir.path().string(), o);
  bool differs = false;
  for (std::size_t i = 0; i < a.test().size(); ++i) differs |= a.test()[i].source != c.test()[i].source;
  EXPECT_TRUE(differs);
}

TEST(Data_FolderReader, BadInputsNameTheFile) {
  {
    TempDir dir;
    fixtures::WriteFolderDataset(dir.path(), {"a", "b"}, 2, 1);
    fs::create_directories(dir / "train" / "empty");
    ExpectError([&] { data::OpenDataset(dir.path().string()); }, {"empty", "empty class folder", "found 0"});
  }
  {
    TempDir dir;
    fixtures::WriteFolderDataset(dir.path(), {"a"}, 2, 1);
    fs::create_directories(dir / "test" / "zebra");
    ExpectError([&] { data::OpenDataset(dir.path().string()); }, {"zebra", "no folder in train/"});
  }
  {
    TempDir dir;
    fixtures::WriteFolderDataset(dir.path(), {"a"}, 2, 1);
    fixtures::WriteText(dir / "train" / "a" / "notes.jpg", "this is text");
    ExpectError([&] { data::OpenDataset(dir.path().string()); }, {"notes.jpg", "not an image"});
    data::OpenOptions skip;
    skip.skip_bad = true;
    auto info = data::OpenDataset(dir.path().string(), skip);
    EXPECT_EQ(info.skipped_bad_images, 1u);
    EXPECT_EQ(info.train().size(), 2u);
  }
  {
    TempDir dir;
    fixtures::WriteFolderDataset(dir.path(), {"a"}, 1, 1, 32, ".jpg");
    auto p = dir / "train" / "a" / "img_000.jpg";
    auto bytes = ReadFileBytes(p);
    bytes.resize(20);  // headers only: the decoder must fail, cleanly
    fixtures::WriteBytes(p, bytes);
    auto info = data::OpenDataset(dir.path().string());
    ExpectError([&] { info.train().LoadImage(0); }, {"img_000.jpg"});
  }
  ExpectError([&] { data::OpenDataset("/definitely/not/here"); }, {"/definitely/not/here", "no such"});
  ExpectError([&] { data::DatasetFormatNames().Parse("zip"); }, {"unknown value 'zip'", "tinyimagenet"});
}

TEST(Data_Dataset, SubsetIsStratifiedSeededAndOrdered) {
  std::vector<data::Sample> s;
  for (int i = 0; i < 40; ++i) s.push_back({i % 4, "s" + std::to_string(i), {}});
  data::Dataset d({"a", "b", "c", "d"}, s);
  auto sub = d.Subset(3, 7);
  EXPECT_EQ(sub.size(), 12u);
  for (auto n : sub.CountPerClass()) EXPECT_EQ(n, 3u);
  auto again = d.Subset(3, 7);
  for (std::size_t i = 0; i < sub.size(); ++i) EXPECT_EQ(sub[i].source, again[i].source);
  EXPECT_THROW(d.Subset(11, 7, false), Error);
  auto split = d.StratifiedSplit(0.2, 1);
  EXPECT_EQ(split.second.size(), 8u);
  for (auto n : split.second.CountPerClass()) EXPECT_EQ(n, 2u);
  EXPECT_THROW(data::Dataset({"a"}, {{3, "x", {}}}), Error);
}

TEST(Data_Dataset, SelectKeepsTheGivenSamplesInOrder) {
  std::vector<data::Sample> s;
  for (int i = 0; i < 10; ++i) s.push_back({i % 2, "s" + std::to_string(i), {}});
  const data::Dataset d({"a", "b"}, s);
  const auto sel = d.Select({7, 2, 5});
  ASSERT_EQ(sel.size(), 3u);
  EXPECT_EQ(sel[0].source, "s7");
  EXPECT_EQ(sel[1].source, "s2");
  EXPECT_EQ(sel[2].source, "s5");
  EXPECT_EQ(sel.class_names(), d.class_names());
  ExpectError([&] { d.Select({3, 10}); }, {"index 10", "10"});
}

TEST(Data_Io, WriteFileAtomicLeavesNoTemporary) {
  TempDir dir;
  WriteFileAtomic(dir / "sub" / "r.json", "{\"a\":1}");
  EXPECT_EQ(ReadFileText(dir / "sub" / "r.json"), "{\"a\":1}");
  int files = 0;
  for (auto& e : fs::directory_iterator(dir / "sub")) files += e.is_regular_file();
  EXPECT_EQ(files, 1);
}

TEST(Data_Io, SafeFileNameAndJoinInside) {
  EXPECT_EQ(SafeFileName("Bedroom"), "Bedroom");
  const std::string s = SafeFileName("../etc/passwd");
  EXPECT_EQ(s.find('/'), std::string::npos);
  EXPECT_NE(s.substr(0, 2), "..");
  EXPECT_NE(SafeFileName("a b"), SafeFileName("a_b"));
  EXPECT_NE(SafeFileName(".."), "..");
  EXPECT_THROW(JoinInside("/out", "../x"), Error);
  EXPECT_THROW(JoinInside("/out", "/etc/x"), Error);
  EXPECT_EQ(JoinInside("/out", "a/b").string(), "/out/a/b");
}

TEST(Data_ParallelFor, EveryIndexOnceWhateverTheThreadsAndFirstErrorRethrown) {
  for (int threads : {1, 2, 3, 8}) {
    for (std::size_t n : {0u, 1u, 7u, 1000u}) {
      std::vector<int> hits(n, 0);
      ParallelFor(n, threads, [&](std::size_t i) { ++hits[i]; });  // own slot per index: no race
      for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(hits[i], 1) << "n " << n << " threads " << threads;
      std::vector<int> ranges(n, 0);
      ParallelForRange(n, threads, 64, [&](std::size_t b, std::size_t e) {
        if (threads > 1) {
          EXPECT_LE(e - b, 64u);  // one worker takes the whole range at once
        }
        for (std::size_t i = b; i < e; ++i) ++ranges[i];
      });
      for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(ranges[i], 1);
    }
  }
  std::atomic<int> calls{0};
  EXPECT_THROW(ParallelFor(200, 4,
                           [&](std::size_t i) {
                             ++calls;
                             if (i == 17) throw Error("image 17 is bad");
                           }),
               Error);
  EXPECT_MESSAGE(ParallelFor(50, 2,
                             [&](std::size_t i) {
                               if (i == 3) throw Error("image 3 is bad");
                             }),
                 "image 3 is bad");
}

// The one seeded sampling helper: a partial Fisher-Yates shuffle, the same
// draws as the loops it replaced (vocabulary samples, image subsets).
TEST(Data_Rng, ChooseIsASeededSortedSubset) {
  Rng a(5), b(5);
  const auto x = a.Choose(100, 10), y = b.Choose(100, 10);
  EXPECT_EQ(x, y);
  ASSERT_EQ(x.size(), 10u);
  EXPECT_TRUE(std::is_sorted(x.begin(), x.end()));
  EXPECT_EQ(std::adjacent_find(x.begin(), x.end()), x.end());
  EXPECT_LT(x.back(), 100u);
  // The loop it replaced, draw for draw.
  Rng c(5);
  std::vector<std::size_t> idx(100);
  for (std::size_t i = 0; i < 100; ++i) idx[i] = i;
  for (std::size_t j = 0; j < 10; ++j) std::swap(idx[j], idx[j + c.Below(100 - j)]);
  idx.resize(10);
  std::sort(idx.begin(), idx.end());
  EXPECT_EQ(x, idx);
  EXPECT_EQ(Rng(1).Choose(4, 9), (std::vector<std::size_t>{0, 1, 2, 3}));  // more than there are: all
  EXPECT_TRUE(Rng(1).Choose(0, 3).empty());
}

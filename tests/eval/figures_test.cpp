// Figures decode to the pixels that were drawn: the PNG writer un-premultiplies
// cairo's ARGB and keeps the colours exact.
#include <gtest/gtest.h>

#include <filesystem>

#include <opencv2/imgcodecs.hpp>

#include "fixtures.h"
#include "scenelab/eval/figures.h"

using namespace scenelab;
using scenelab::fixtures::TempDir;

TEST(Eval_Figures, GalleryPngHoldsTheThumbnailsColoursExactly) {
  TempDir dir;
  const cv::Scalar colours[] = {{255, 0, 0}, {0, 200, 0}, {10, 20, 250}};  // BGR
  std::vector<eval::Thumb> thumbs;
  for (const auto& c : colours) thumbs.push_back({cv::Mat(96, 96, CV_8UC3, c), "x"});
  const auto png = (dir / "g" / "gallery.png").string();
  eval::DrawGallery(thumbs, "three squares", png, 96, 3);
  const cv::Mat img = cv::imread(png, cv::IMREAD_UNCHANGED);
  ASSERT_FALSE(img.empty());
  ASSERT_EQ(img.channels(), 4);
  EXPECT_EQ(img.cols, 3 * (96 + 12) + 12);
  // Each thumbnail's centre has its colour, fully opaque; the margin is white.
  for (int i = 0; i < 3; ++i) {
    const cv::Vec4b px = img.at<cv::Vec4b>(40 + 48, 6 + i * (96 + 12) + 48);
    for (int c = 0; c < 3; ++c) EXPECT_EQ(px[c], colours[i][c]) << i << " " << c;
    EXPECT_EQ(px[3], 255);
  }
  const cv::Vec4b margin = img.at<cv::Vec4b>(img.rows - 2, img.cols - 2);
  EXPECT_EQ(margin, cv::Vec4b(255, 255, 255, 255));
  // Written atomically: no temporary file is left beside it.
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir / "g")) files += e.is_regular_file();
  EXPECT_EQ(files, 1);
}

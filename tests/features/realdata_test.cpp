// Real images, in the "realdata" ctest group: the native dense SIFT equals
// VLFeat's vl_dsift on 20 15-scene images of several sizes, over the steps
// and bin sizes people use, not only on one synthetic picture.
//
// The claim, as measured: every descriptor whose window has any contrast is
// within 1 of VLFeat's, byte for byte. A window of one constant grey level
// (JPEG's flat white walls) has a gradient of exactly zero inside; its
// descriptor is the normalised form of a few rounding-sized values at the
// window's edge (the integral-image filters leave residues of about 1e-7
// where vl_dsift's direct sums leave 0), so there the two may differ by up
// to 90. Such windows are counted and must stay rare (< 0.1%).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <set>

#include <opencv2/core.hpp>

#include "fixtures.h"
#include "scenelab/data/readers.h"
#include "scenelab/features/dense_sift.h"

using namespace scenelab;
using namespace scenelab::features;

TEST(Features_DenseSiftRealData, NativeEqualsVlfeatOnTwentyScene15Images) {
  const std::string dir = fixtures::Scene15Dir();
  if (dir.empty())
    SCENELAB_SKIP_OR_FAIL("15-scene not found at " << fixtures::Scene15Path() << " (set SCENELAB_SCENE15)");
  const auto info = data::OpenDataset(dir);
  const auto& train = info.train();
  std::set<std::pair<int, int>> sizes;
  long flat_total = 0, descriptors_total = 0;
  int images = 0;
  for (std::size_t i = 0; i < train.size() && images < 20; i += 75, ++images) {
    const cv::Mat im = train.LoadImage(i);
    sizes.insert({im.cols, im.rows});
    for (int step : {3, 5, 8}) {
      for (int bin : {4, 6, 8, 10}) {
        DenseSiftOptions o;
        o.step = step;
        o.bin_sizes = {bin};
        DenseSiftOptions v = o;
        v.implementation = SiftImplementation::kVlfeat;
        const SiftFeatures a = DenseSift(o).Compute(im), b = DenseSift(v).Compute(im);
        const std::string where = train[i].source + " step " + std::to_string(step) + " bin " + std::to_string(bin);
        ASSERT_EQ(a.descriptors.rows(), b.descriptors.rows()) << where;
        EXPECT_EQ(a.frames, b.frames) << where;
        long equal = 0, worst = 0, flat = 0;
        for (Eigen::Index r = 0; r < a.descriptors.rows(); ++r) {
          long row_worst = 0;
          for (int j = 0; j < 128; ++j) {
            const long d = std::labs(long(a.descriptors(r, j)) - long(b.descriptors(r, j)));
            equal += d == 0;
            row_worst = std::max(row_worst, d);
          }
          if (row_worst <= 1) continue;
          // The descriptor's window: 4 x 4 bins around the frame centre.
          const int cx = static_cast<int>(a.frames(r, 0)), cy = static_cast<int>(a.frames(r, 1)), h = 2 * bin;
          const cv::Rect win = cv::Rect(cx - h, cy - h, 2 * h + 1, 2 * h + 1) & cv::Rect(0, 0, im.cols, im.rows);
          double lo = 0, hi = 0;
          cv::minMaxLoc(im(win), &lo, &hi);
          if (hi - lo <= 1) {
            ++flat;  // a constant window: see the file comment
          } else {
            worst = std::max(worst, row_worst);
          }
        }
        // Float rounding may move a byte by one, never more, where there is contrast.
        EXPECT_LE(worst, 1) << where;
        flat_total += flat;
        descriptors_total += a.descriptors.rows();
        EXPECT_GT(static_cast<double>(equal) / static_cast<double>(a.descriptors.size()), 0.999) << where;
      }
    }
  }
  std::printf("%ld of %ld descriptors come from constant windows and differ by more than 1\n", flat_total,
              descriptors_total);
  EXPECT_LT(static_cast<double>(flat_total), 1e-4 * static_cast<double>(descriptors_total));
  EXPECT_EQ(images, 20);
  EXPECT_GE(sizes.size(), 3u) << "the sample should cover several image sizes";
}

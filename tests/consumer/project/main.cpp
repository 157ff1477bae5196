// A program outside the scenelab tree, built against the installed package.
#include <iostream>

#include "scenelab/features/dense_sift.h"

int main() {
  cv::Mat img(64, 64, CV_8U);
  cv::randu(img, 0, 255);
  scenelab::features::DenseSiftOptions opts;
  opts.step = 8;
  scenelab::features::DenseSift sift(opts);
  auto d = sift.Compute(img);
  std::cout << "descriptors=" << d.descriptors.rows() << "\n";
  return d.descriptors.rows() > 0 ? 0 : 1;
}

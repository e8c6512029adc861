#include "storage/quantile_sketch.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace metricsgate::storage {
namespace {

TEST(QuantileSketchTest, EmptyIsNaN) {
  QuantileSketch sketch;
  EXPECT_TRUE(std::isnan(sketch.Quantile(0.5)));
  EXPECT_EQ(sketch.count(), 0);
}

TEST(QuantileSketchTest, QuantilesAreWithinOnePercentOfTheExactOnes) {
  std::mt19937_64 random(42);
  std::lognormal_distribution<double> distribution(0, 2);
  std::vector<double> values;
  QuantileSketch sketch;
  for (int i = 0; i < 100000; ++i) {
    const double v = distribution(random) * (i % 10 == 0 ? -1 : 1);
    values.push_back(v);
    sketch.Add(v);
  }
  std::sort(values.begin(), values.end());
  for (double q : {0.0, 0.01, 0.05, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0}) {
    const size_t rank = std::max<size_t>(1, static_cast<size_t>(std::ceil(q * values.size())));
    const double exact = values[rank - 1];
    EXPECT_NEAR(sketch.Quantile(q), exact, std::abs(exact) * 0.01 + 1e-12) << "q=" << q;
  }
  EXPECT_EQ(sketch.count(), 100000);
}

TEST(QuantileSketchTest, WeightsZeroAndMergeCount) {
  QuantileSketch a;
  a.Add(0, 3);
  a.Add(10, 1);
  EXPECT_EQ(a.Quantile(0.5), 0);
  EXPECT_NEAR(a.Quantile(1), 10, 0.1);
  QuantileSketch b;
  b.Add(10, 6);
  a.Merge(b);
  EXPECT_EQ(a.count(), 10);
  EXPECT_NEAR(a.Quantile(0.5), 10, 0.1);
  a.Clear();
  EXPECT_EQ(a.count(), 0);
  EXPECT_TRUE(std::isnan(a.Quantile(0.5)));
}

}  // namespace
}  // namespace metricsgate::storage

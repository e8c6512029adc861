#include "storage/timer_samples.h"

#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace metricsgate::storage {
namespace {

TEST(TimerSamplesTest, KeepsEveryValueUpToTheCapAndRanksExactly) {
  TimerSamples samples(100);
  for (double v : {5.0, 1.0, 4.0, 2.0, 3.0}) samples.Add(v, 2);  // rate 0.5
  EXPECT_TRUE(samples.exact());
  EXPECT_EQ(samples.Sorted(), (std::vector<double>{1, 2, 3, 4, 5}));
  EXPECT_EQ(samples.values(), 5u);
  EXPECT_EQ(samples.count(), 10);  // weighted, as Etsy's count
  EXPECT_EQ(samples.sum(), 15);
  EXPECT_EQ(samples.sum_of_squares(), 55);
  EXPECT_EQ(samples.min(), 1);
  EXPECT_EQ(samples.max(), 5);
  EXPECT_EQ(samples.Quantile(0.9), 5);  // nearest rank: ceil(4.5) = 5th
  EXPECT_EQ(samples.Quantile(0.5), 3);
  EXPECT_EQ(samples.Quantile(0.2), 1);
  EXPECT_EQ(samples.Quantile(0), 1);
  EXPECT_EQ(samples.Quantile(1), 5);
}

TEST(TimerSamplesTest, EmptyHasNoQuantile) {
  TimerSamples samples;
  EXPECT_TRUE(std::isnan(samples.Quantile(0.5)));
  EXPECT_EQ(samples.values(), 0u);
}

TEST(TimerSamplesTest, PastTheCapASketchKeepsQuantilesWithinOnePercent) {
  constexpr size_t kCap = 1000;
  TimerSamples samples(kCap);
  std::vector<double> all;
  std::mt19937 random(7);
  std::lognormal_distribution<double> latency(3, 1);
  for (int i = 0; i < 50000; ++i) {
    const double v = latency(random);
    all.push_back(v);
    samples.Add(v);
    EXPECT_EQ(samples.exact(), all.size() <= kCap) << i;
  }
  std::sort(all.begin(), all.end());
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    const double exact = all[static_cast<size_t>(std::ceil(q * all.size())) - 1];
    EXPECT_NEAR(samples.Quantile(q), exact, exact * 0.01) << q;
  }
  EXPECT_EQ(samples.values(), 50000u);
  EXPECT_EQ(samples.min(), all.front());
  EXPECT_EQ(samples.max(), all.back());
}

TEST(TimerSamplesTest, ClearStartsAnExactIntervalAgain) {
  TimerSamples samples(2);
  for (double v : {1.0, 2.0, 3.0}) samples.Add(v);
  EXPECT_FALSE(samples.exact());
  samples.Clear();
  EXPECT_TRUE(samples.exact());
  samples.Add(-4);
  EXPECT_EQ(samples.Sorted(), std::vector<double>{-4});
  EXPECT_EQ(samples.min(), -4);
  EXPECT_EQ(samples.max(), -4);
  EXPECT_EQ(samples.sum(), -4);
}

}  // namespace
}  // namespace metricsgate::storage

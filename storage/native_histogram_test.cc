#include "storage/native_histogram.h"

#include <cmath>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace metricsgate::storage {
namespace {

using ::testing::ElementsAre;

// The bucket's bounds contain the value: base^(i-1) < v <= base^i.
TEST(NativeHistogramTest, BucketIndexPutsEachValueBetweenItsBucketsBounds) {
  for (int schema = -4; schema <= 8; ++schema) {
    for (double v : {1e-9, 0.001, 0.0123, 0.1, 0.5, 0.999, 1.0, 1.0001, 2.0, 3.0, 4.0, 100.0,
                     12345.678, 1e12}) {
      const int32_t i = NativeHistogram::BucketIndex(v, schema);
      const double upper = std::exp2(std::ldexp(static_cast<double>(i), -schema));
      const double lower = std::exp2(std::ldexp(static_cast<double>(i - 1), -schema));
      EXPECT_LE(v, upper * (1 + 1e-12)) << "schema " << schema << " v " << v;
      EXPECT_GT(v, lower * (1 + 1e-12)) << "schema " << schema << " v " << v;
    }
  }
  // Powers of two are upper bounds: 1 is the top of bucket 0, 2 of bucket 2^schema.
  EXPECT_EQ(NativeHistogram::BucketIndex(1.0, 3), 0);
  EXPECT_EQ(NativeHistogram::BucketIndex(2.0, 3), 8);
  EXPECT_EQ(NativeHistogram::BucketIndex(0.5, 3), -8);
  EXPECT_EQ(NativeHistogram::BucketIndex(2.0, -1), 1);  // (1, 4]
}

TEST(NativeHistogramTest, CountsByBucketOnBothSidesAndInTheZeroBucket) {
  NativeHistogram h;
  h.Observe(1.0, 1);
  h.Observe(1.05, 2);  // bucket 1 at schema 3: (1, 1.0905]
  h.Observe(2.0, 1);
  h.Observe(0, 3);
  h.Observe(-1.0, 0.5);
  EXPECT_EQ(h.schema(), 3);
  EXPECT_EQ(h.zero_count(), 3);
  std::vector<double> positive, negative;
  h.AppendBuckets(true, &positive);
  h.AppendBuckets(false, &negative);
  EXPECT_THAT(positive, ElementsAre(0, 1, 1, 2, 8, 1));
  EXPECT_THAT(negative, ElementsAre(0, 0.5));
}

// Values over a range too wide for 160 buckets at schema 3 lower the schema until they fit;
// no weight is lost and every bucket still holds its values.
TEST(NativeHistogramTest, WideRangesLowerTheSchemaAndKeepEveryObservation) {
  NativeHistogram h;
  double total = 0;
  std::vector<double> values;
  for (double v = 1e-6; v < 1e6; v *= 1.37) values.push_back(v);
  for (double v : values) {
    h.Observe(v, 1);
    total += 1;
  }
  EXPECT_LT(h.schema(), 3);
  std::vector<double> positive;
  h.AppendBuckets(true, &positive);
  ASSERT_FALSE(positive.empty());
  EXPECT_LE(positive[positive.size() - 2] - positive[0] + 1, 160);
  double counted = 0;
  for (size_t k = 1; k < positive.size(); k += 2) counted += positive[k];
  EXPECT_EQ(counted, total);
  // Each value's bucket at the final schema holds at least that one observation.
  for (double v : values) {
    const int32_t i = NativeHistogram::BucketIndex(v, h.schema());
    bool found = false;
    for (size_t k = 0; k < positive.size(); k += 2) found |= positive[k] == i;
    EXPECT_TRUE(found) << v;
  }
}

}  // namespace
}  // namespace metricsgate::storage

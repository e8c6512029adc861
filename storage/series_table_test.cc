#include "storage/series_table.h"

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace metricsgate::storage {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// Name -> value of every series, sorted by name, so tests can compare exactly.
std::vector<std::pair<std::string, double>> Values(const SeriesTable& table) {
  std::vector<MetricFamily> families;
  table.Collect(&families);
  std::vector<std::pair<std::string, double>> out;
  for (const MetricFamily& family : families) {
    EXPECT_EQ(family.samples.size(), 1u) << family.name;
    EXPECT_EQ(family.help, kStatsdHelp);
    out.emplace_back(family.name, family.samples.at(0).value);
  }
  std::sort(out.begin(), out.end());
  return out;
}

using Values_t = std::vector<std::pair<std::string, double>>;

TEST(SeriesTableTest, EmptyTableCollectsNothing) {
  SeriesTable table;
  EXPECT_EQ(table.size(), 0u);
  EXPECT_THAT(Values(table), IsEmpty());
}

TEST(SeriesTableTest, CounterAccumulatesIncrements) {
  SeriesTable table;
  ASSERT_TRUE(table.AddToCounter("requests", 1).ok());
  ASSERT_TRUE(table.AddToCounter("requests", 2.5).ok());
  ASSERT_TRUE(table.AddToCounter("errors", 0).ok());
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(Values(table), (Values_t{{"errors", 0}, {"requests", 3.5}}));
}

TEST(SeriesTableTest, GaugeSetsAndAddsAsEtsyStatsd) {
  SeriesTable table;
  // Etsy: a delta on a missing gauge sets it (numerically 0 + delta).
  ASSERT_TRUE(table.AddToGauge("a", -5).ok());
  ASSERT_TRUE(table.SetGauge("b", 10).ok());
  ASSERT_TRUE(table.AddToGauge("b", 4).ok());
  ASSERT_TRUE(table.AddToGauge("b", -20).ok());
  ASSERT_TRUE(table.SetGauge("c", 3).ok());
  ASSERT_TRUE(table.SetGauge("c", 1).ok());
  EXPECT_EQ(Values(table), (Values_t{{"a", -5}, {"b", -6}, {"c", 1}}));
}

TEST(SeriesTableTest, CollectReportsTypes) {
  SeriesTable table;
  ASSERT_TRUE(table.AddToCounter("c", 1).ok());
  ASSERT_TRUE(table.SetGauge("g", 1).ok());
  std::vector<MetricFamily> families;
  table.Collect(&families);
  std::sort(families.begin(), families.end(),
            [](const MetricFamily& a, const MetricFamily& b) { return a.name < b.name; });
  ASSERT_EQ(families.size(), 2u);
  EXPECT_EQ(families[0].type, MetricType::kCounter);
  EXPECT_EQ(families[1].type, MetricType::kGauge);
}

TEST(SeriesTableTest, TypeConflictIsRejectedAndChangesNothing) {
  SeriesTable table;
  ASSERT_TRUE(table.AddToCounter("x", 1).ok());
  EXPECT_EQ(
      table.SetGauge("x", 5),
      absl::FailedPreconditionError("metric \"x\" is a counter; a gauge sample cannot update it"));
  EXPECT_EQ(table.AddToGauge("x", 5).code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(table.SetGauge("y", 2).ok());
  EXPECT_EQ(
      table.AddToCounter("y", 1),
      absl::FailedPreconditionError("metric \"y\" is a gauge; a counter sample cannot update it"));
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(Values(table), (Values_t{{"x", 1}, {"y", 2}}));
}

TEST(SeriesTableTest, OwnMetricsCountSeries) {
  SeriesTable table;
  ASSERT_TRUE(table.AddToCounter("a", 1).ok());
  ASSERT_TRUE(table.AddToCounter("a", 1).ok());
  ASSERT_TRUE(table.SetGauge("b", 1).ok());
  std::vector<MetricFamily> families;
  table.CollectOwnMetrics(&families);
  ASSERT_EQ(families.size(), 1u);
  EXPECT_EQ(families[0].name, "metricsgate_series");
  EXPECT_EQ(families[0].type, MetricType::kGauge);
  ASSERT_EQ(families[0].samples.size(), 1u);
  EXPECT_EQ(families[0].samples[0].value, 2);
}

TEST(SeriesTableTest, ConcurrentIncrementsAreNotLost) {
  SeriesTable table;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&table, t] {
      for (int i = 0; i < kPerThread; ++i) {
        ASSERT_TRUE(table.AddToCounter("shared", 1).ok());
        ASSERT_TRUE(table.AddToCounter("own_" + std::to_string(t), 2).ok());
        ASSERT_TRUE(table.AddToGauge("gauge", 1).ok());
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(Values(table), (Values_t{{"gauge", kThreads * kPerThread},
                                     {"own_0", 2 * kPerThread},
                                     {"own_1", 2 * kPerThread},
                                     {"own_2", 2 * kPerThread},
                                     {"own_3", 2 * kPerThread},
                                     {"shared", kThreads * kPerThread}}));
}

}  // namespace
}  // namespace metricsgate::storage

#include "storage/rollup_table.h"

#include <map>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace metricsgate::storage {
namespace {

template <typename V>
std::map<std::string, V> ByKey(const RollupInterval& interval,
                               const std::vector<std::pair<RollupInterval::Key, V>>& entries) {
  std::map<std::string, V> out;
  for (const auto& [key, value] : entries) out[std::string(interval.key(key))] = value;
  return out;
}

TEST(RollupTableTest, AppliesEtsyRulesForEachType) {
  RollupTable table;
  table.AddCounter("c", 1);
  table.AddCounter("c", -3);  // decrements count, as in Etsy
  table.AddCounter("c;env=prod", 10);
  table.SetGauge("g", 5, false);
  table.SetGauge("g", -2, true);  // a delta on a non-zero gauge adds
  table.SetGauge("z", 7, true);   // a delta on a missing gauge sets
  table.SetGauge("zero", 0, false);
  table.SetGauge("zero", -4, true);  // ... and on a zero one
  table.AddSetMember("s", "a");
  table.AddSetMember("s", "b");
  table.AddSetMember("s", "a");
  table.AddTimer("t", 3, 1);
  table.AddTimer("t", 1, 10);
  table.AddTimer("c", 9, 1);  // the same key in another map is another series
  table.CountReceived(2, 5, 1);
  EXPECT_EQ(table.size(), 8u);

  RollupInterval interval;
  table.EndInterval(&interval);
  EXPECT_EQ(ByKey(interval, interval.counters),
            (std::map<std::string, double>{{"c", -2}, {"c;env=prod", 10}}));
  EXPECT_EQ(ByKey(interval, interval.gauges),
            (std::map<std::string, double>{{"g", 3}, {"z", 7}, {"zero", -4}}));
  EXPECT_EQ(ByKey(interval, interval.sets), (std::map<std::string, size_t>{{"s", 2}}));
  ASSERT_EQ(interval.timers.size(), 2u);
  for (auto& [key, samples] : interval.timers) {
    if (interval.key(key) == "t") {
      EXPECT_EQ(samples.Sorted(), (std::vector<double>{1, 3}));
      EXPECT_EQ(samples.count(), 11);
    } else {
      EXPECT_EQ(interval.key(key), "c");
      EXPECT_EQ(samples.Sorted(), (std::vector<double>{9}));
    }
  }
  EXPECT_EQ(interval.packets_received, 2u);
  EXPECT_EQ(interval.metrics_received, 5u);
  EXPECT_EQ(interval.bad_lines_seen, 1u);

  // Without deletes, every series stays: counters at 0, timers and sets empty, gauges as
  // they were.
  table.EndInterval(&interval);
  EXPECT_EQ(ByKey(interval, interval.counters),
            (std::map<std::string, double>{{"c", 0}, {"c;env=prod", 0}}));
  EXPECT_EQ(ByKey(interval, interval.gauges),
            (std::map<std::string, double>{{"g", 3}, {"z", 7}, {"zero", -4}}));
  EXPECT_EQ(ByKey(interval, interval.sets), (std::map<std::string, size_t>{{"s", 0}}));
  ASSERT_EQ(interval.timers.size(), 2u);
  EXPECT_EQ(interval.timers[0].second.values(), 0u);
  EXPECT_EQ(interval.timers[0].second.count(), 0);
  EXPECT_EQ(interval.packets_received, 0u);
}

TEST(RollupTableTest, DeletesIdleSeriesAsConfigured) {
  RollupTable table({.delete_counters = true,
                     .delete_timers = true,
                     .delete_sets = true,
                     .delete_gauges = true,
                     .gauges_max_ttl = 2});
  table.AddCounter("c", 1);
  table.AddCounter("my.packets_received", 1);  // Etsy zeroes these instead
  table.AddTimer("t", 1, 1);
  table.AddSetMember("s", "x");
  table.SetGauge("g", 1, false);
  RollupInterval interval;
  table.EndInterval(&interval);
  EXPECT_EQ(interval.counters.size(), 2u);
  EXPECT_EQ(interval.timers.size(), 1u);
  EXPECT_EQ(interval.sets.size(), 1u);
  EXPECT_EQ(interval.gauges.size(), 1u);
  // Flush 1: only the zeroed counter and the gauge (its TTL is 2 flushes) are left.
  table.EndInterval(&interval);
  EXPECT_EQ(ByKey(interval, interval.counters),
            (std::map<std::string, double>{{"my.packets_received", 0}}));
  EXPECT_TRUE(interval.timers.empty());
  EXPECT_TRUE(interval.sets.empty());
  EXPECT_EQ(ByKey(interval, interval.gauges), (std::map<std::string, double>{{"g", 1}}));
  // Flush 2: the gauge is gone.
  table.EndInterval(&interval);
  EXPECT_TRUE(interval.gauges.empty());
  // An update brings it back with a fresh TTL.
  table.SetGauge("g", 4, true);  // missing again: a delta sets
  table.EndInterval(&interval);
  EXPECT_EQ(ByKey(interval, interval.gauges), (std::map<std::string, double>{{"g", 4}}));
}

TEST(RollupTableTest, GaugeTtlBelowTwoMeansOneFlush) {
  for (int ttl : {0, 1, -5}) {
    RollupTable table({.delete_gauges = true, .gauges_max_ttl = ttl});
    table.SetGauge("g", 1, false);
    RollupInterval interval;
    table.EndInterval(&interval);
    EXPECT_EQ(interval.gauges.size(), 1u) << ttl;
    table.EndInterval(&interval);
    EXPECT_TRUE(interval.gauges.empty()) << ttl;
  }
}

TEST(RollupTableTest, NoUpdateIsLostAcrossConcurrentFlushes) {
  RollupTable table;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20000;
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&table, t] {
      for (int i = 0; i < kPerThread; ++i) {
        table.AddCounter("c" + std::to_string(i % 50), 1);
        table.AddTimer("t" + std::to_string(t), i, 1);
      }
    });
  }
  double counted = 0;
  double timed = 0;
  RollupInterval interval;
  for (int flush = 0; flush < 50; ++flush) {
    table.EndInterval(&interval);
    for (const auto& [key, value] : interval.counters) counted += value;
    for (const auto& [key, samples] : interval.timers) timed += samples.count();
  }
  for (std::thread& writer : writers) writer.join();
  table.EndInterval(&interval);
  for (const auto& [key, value] : interval.counters) counted += value;
  for (const auto& [key, samples] : interval.timers) timed += samples.count();
  EXPECT_EQ(counted, kThreads * kPerThread);
  EXPECT_EQ(timed, kThreads * kPerThread);
}

}  // namespace
}  // namespace metricsgate::storage

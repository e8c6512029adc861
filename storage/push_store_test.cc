#include "storage/push_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <thread>

namespace metricsgate::storage {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

MetricFamily Gauge(std::string name, double value, std::vector<Label> labels = {}) {
  return MetricFamily{
      std::move(name), "help", MetricType::kGauge, {Sample{std::move(labels), value}}};
}

MetricFamily Counter(std::string name, double value, std::vector<Label> labels = {}) {
  return MetricFamily{
      std::move(name), "help", MetricType::kCounter, {Sample{std::move(labels), value}}};
}

PushStore::Push MakePush(std::vector<Label> grouping, std::vector<MetricFamily> families,
                         bool replace = true) {
  PushStore::Push push;
  push.grouping = std::move(grouping);
  push.families = std::move(families);
  push.replace = replace;
  return push;
}

class PushStoreTest : public ::testing::Test {
 protected:
  // Every exported sample as "name{labels} value", sorted.
  std::vector<std::string> Exported(const PushStore& store) {
    std::vector<MetricFamily> families;
    store.Collect(&families);
    std::vector<std::string> out;
    for (const MetricFamily& family : families) {
      for (const Sample& sample : family.samples) {
        std::string line = family.name + "{";
        for (const auto& [k, v] : sample.labels) line += k + "=" + v + ",";
        out.push_back(line + "} " + std::to_string(sample.value));
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  absl::Time now_ = absl::FromUnixSeconds(1000);
  SeriesTable table_{1000, [this] { return now_; }};
};

TEST_F(PushStoreTest, PutReplacesTheGroupAndPostOnlyTheFamiliesItNames) {
  PushStore store(&table_, {}, [this] { return now_; });
  ASSERT_TRUE(store.Apply(MakePush({{"job", "j"}}, {Gauge("a", 1), Gauge("b", 2)})).ok());
  now_ += absl::Seconds(5);
  ASSERT_TRUE(store.Apply(MakePush({{"job", "j"}}, {Gauge("b", 3), Gauge("c", 4)}, false)).ok());
  EXPECT_THAT(Exported(store),
              ElementsAre("a{instance=,job=j,} 1.000000", "b{instance=,job=j,} 3.000000",
                          "c{instance=,job=j,} 4.000000",
                          "push_failure_time_seconds{instance=,job=j,} 0.000000",
                          "push_time_seconds{instance=,job=j,} 1005.000000"));
  ASSERT_TRUE(store.Apply(MakePush({{"job", "j"}}, {Gauge("c", 5)})).ok());
  EXPECT_THAT(Exported(store), ElementsAre("c{instance=,job=j,} 5.000000",
                                           "push_failure_time_seconds{instance=,job=j,} 0.000000",
                                           "push_time_seconds{instance=,job=j,} 1005.000000"));
  // An empty PUT empties the group but keeps it, with a new push time.
  now_ += absl::Seconds(1);
  ASSERT_TRUE(store.Apply(MakePush({{"job", "j"}}, {})).ok());
  EXPECT_THAT(Exported(store), ElementsAre("push_failure_time_seconds{instance=,job=j,} 0.000000",
                                           "push_time_seconds{instance=,job=j,} 1006.000000"));
}

TEST_F(PushStoreTest, PrefetchIsOnlyAHint) {
  PushStore store(&table_, {}, [this] { return now_; });
  store.Prefetch({{"job", "none"}});  // no such group: nothing happens
  EXPECT_EQ(store.size(), 0u);
  ASSERT_TRUE(store.Apply(MakePush({{"job", "j"}}, {Gauge("a", 1, {{"x", "y"}})})).ok());
  const uint64_t changes = store.changes();
  store.Prefetch({{"job", "j"}});
  EXPECT_EQ(store.changes(), changes);
  ASSERT_TRUE(store.Apply(MakePush({{"job", "j"}}, {Gauge("a", 2, {{"x", "z"}})})).ok());
  EXPECT_THAT(Exported(store), ElementsAre("a{instance=,job=j,x=z,} 2.000000",
                                           "push_failure_time_seconds{instance=,job=j,} 0.000000",
                                           "push_time_seconds{instance=,job=j,} 1000.000000"));
}

TEST_F(PushStoreTest, GroupingLabelsOverrideBodyLabelsAndInstanceIsAdded) {
  PushStore store(&table_, {}, [this] { return now_; });
  ASSERT_TRUE(store
                  .Apply(MakePush({{"instance", "i1"}, {"job", "j"}},
                                  {Gauge("a", 1, {{"job", "other"}, {"x", "y"}})}))
                  .ok());
  EXPECT_THAT(Exported(store)[0], "a{instance=i1,job=j,x=y,} 1.000000");
}

TEST_F(PushStoreTest, RefusesATypeClashWithAnotherGroupAndRecordsTheFailure) {
  PushStore store(&table_, {}, [this] { return now_; });
  ASSERT_TRUE(store.Apply(MakePush({{"job", "a"}}, {Gauge("m", 1)})).ok());
  now_ += absl::Seconds(1);
  const absl::Status refused = store.Apply(MakePush({{"job", "b"}}, {Counter("m", 1)}));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.message(),
              HasSubstr("pushed metrics are invalid or inconsistent with existing metrics: "));
  // The failed push to a new group creates it with push time 0 and the failure time.
  EXPECT_THAT(Exported(store),
              ElementsAre("m{instance=,job=a,} 1.000000",
                          "push_failure_time_seconds{instance=,job=a,} 0.000000",
                          "push_failure_time_seconds{instance=,job=b,} 1001.000000",
                          "push_time_seconds{instance=,job=a,} 1000.000000",
                          "push_time_seconds{instance=,job=b,} 0.000000"));
  // The group itself may change a family's type when it is the only holder.
  EXPECT_TRUE(store.Apply(MakePush({{"job", "a"}}, {Counter("m", 2)})).ok());
  // And once it no longer holds it, another type may take the name.
  EXPECT_TRUE(store.Apply(MakePush({{"job", "a"}}, {})).ok());
  EXPECT_TRUE(store.Apply(MakePush({{"job", "b"}}, {Gauge("m", 3)})).ok());
}

TEST_F(PushStoreTest, RefusesATypeClashWithStatsdSeriesBothWays) {
  PushStore store(&table_, {}, [this] { return now_; });
  ASSERT_TRUE(table_.AddToCounter("hits", 1).ok());
  EXPECT_FALSE(store.Apply(MakePush({{"job", "j"}}, {Gauge("hits", 1)})).ok());
  ASSERT_TRUE(store.Apply(MakePush({{"job", "j"}}, {Gauge("temp", 1)})).ok());
  EXPECT_FALSE(table_.AddToCounter("temp", 1).ok());
  MetricFamily histogram{"lat", "", MetricType::kHistogram, {Sample{}}};
  histogram.samples[0].histogram = HistogramValue{{{1, 1}, {INFINITY, 2}}, 3};
  ASSERT_TRUE(store.Apply(MakePush({{"job", "j"}}, {histogram})).ok());
  EXPECT_FALSE(table_.AddToCounter("lat_sum", 1).ok());  // a histogram's derived name
  ASSERT_TRUE(store.Delete({{"job", "j"}}));
  EXPECT_TRUE(table_.AddToCounter("temp", 1).ok());  // free again
}

TEST_F(PushStoreTest, RefusesMetricsgatesOwnNamespace) {
  PushStore store(&table_, {}, [this] { return now_; });
  const absl::Status refused =
      store.Apply(MakePush({{"job", "j"}}, {Gauge("metricsgate_series", 1)}));
  EXPECT_EQ(refused.message(),
            "pushed metrics are invalid or inconsistent with existing metrics: family "
            "\"metricsgate_series\" pushed as GAUGE: the name is in metricsgate's own namespace "
            "(metricsgate_)");
  SeriesTable other;
  PushStore unchecked(&other, {.consistency_check = false}, [this] { return now_; });
  ASSERT_TRUE(unchecked.Apply(MakePush({{"job", "j"}}, {Gauge("metricsgate_series", 1)})).ok());
  std::vector<MetricFamily> families;
  unchecked.Collect(&families);
  for (const MetricFamily& family : families) EXPECT_NE(family.name, "metricsgate_series");
}

TEST_F(PushStoreTest, RefusesASeriesAnotherGroupExportsAndDuplicatesWithinAPush) {
  PushStore store(&table_, {}, [this] { return now_; });
  ASSERT_TRUE(store.Apply(MakePush({{"instance", "x"}, {"job", "j"}}, {Gauge("m", 1)})).ok());
  const absl::Status duplicate =
      store.Apply(MakePush({{"job", "j"}}, {Gauge("m", 2, {{"instance", "x"}})}));
  ASSERT_FALSE(duplicate.ok());
  EXPECT_THAT(duplicate.message(),
              HasSubstr("was collected before with the same name and label values"));
  MetricFamily twice = Gauge("n", 1);
  twice.samples.push_back(twice.samples[0]);
  EXPECT_FALSE(store.Apply(MakePush({{"job", "k"}}, {twice})).ok());
  MetricFamily bad_label = Gauge("n", 1, {{"a-b", "x"}});
  EXPECT_FALSE(store.Apply(MakePush({{"job", "k"}}, {bad_label})).ok());
  MetricFamily bad_utf8 = Gauge("n", 1, {{"a", "\xff"}});
  EXPECT_FALSE(store.Apply(MakePush({{"job", "k"}}, {bad_utf8})).ok());
  // Re-pushing its own series to the same group is fine.
  EXPECT_TRUE(store.Apply(MakePush({{"instance", "x"}, {"job", "j"}}, {Gauge("m", 3)})).ok());
}

TEST_F(PushStoreTest, TimestampsAreRefusedOrSilentlyDroppedWithTheCheckOff) {
  PushStore store(&table_, {}, [this] { return now_; });
  PushStore::Push push = MakePush({{"job", "j"}}, {Gauge("m", 1)});
  push.has_timestamp = true;
  const absl::Status refused = store.Apply(push);
  EXPECT_EQ(refused.message(),
            "pushed metrics are invalid or inconsistent with existing metrics: pushed metrics "
            "must not have timestamps");
  SeriesTable other;
  PushStore unchecked(&other, {.consistency_check = false}, [this] { return now_; });
  EXPECT_TRUE(unchecked.Apply(push).ok());
  EXPECT_THAT(Exported(unchecked),
              ElementsAre("push_failure_time_seconds{instance=,job=j,} 1000.000000",
                          "push_time_seconds{instance=,job=j,} 0.000000"));
}

TEST_F(PushStoreTest, WithTheCheckOffAClashingFamilyIsStoredButNotExported) {
  PushStore store(&table_, {.consistency_check = false}, [this] { return now_; });
  ASSERT_TRUE(store.Apply(MakePush({{"job", "a"}}, {Gauge("m", 1)})).ok());
  ASSERT_TRUE(store.Apply(MakePush({{"job", "b"}}, {Counter("m", 1)})).ok());
  std::vector<MetricFamily> families;
  store.Collect(&families);
  EXPECT_EQ(std::count_if(families.begin(), families.end(),
                          [](const MetricFamily& f) { return f.name == "m"; }),
            1);
  EXPECT_EQ(store.Groups().size(), 2u);
  ASSERT_TRUE(store.Delete({{"job", "a"}}));
  ASSERT_TRUE(store.Delete({{"job", "b"}}));
  EXPECT_TRUE(table_.AddToCounter("m", 1).ok());  // every claim given back
}

TEST_F(PushStoreTest, GroupsExpireAfterTheirTtlAndDeleteIfMatches) {
  PushStore store(&table_, {.default_ttl = std::chrono::seconds(60)}, [this] { return now_; });
  ASSERT_TRUE(store.Apply(MakePush({{"job", "a"}}, {Gauge("m", 1)})).ok());
  PushStore::Push forever = MakePush({{"job", "b"}}, {Gauge("n", 1)});
  forever.ttl = std::chrono::milliseconds(0);
  ASSERT_TRUE(store.Apply(forever).ok());
  PushStore::Push short_lived = MakePush({{"job", "c"}}, {Gauge("o", 1)});
  short_lived.ttl = std::chrono::seconds(10);
  ASSERT_TRUE(store.Apply(short_lived).ok());
  now_ += absl::Seconds(30);
  EXPECT_EQ(store.Expire(), 1u);  // c
  now_ += absl::Seconds(31);
  EXPECT_EQ(store.Expire(), 1u);  // a
  EXPECT_EQ(store.size(), 1u);
  ASSERT_TRUE(store.Apply(MakePush({{"job", "batch"}, {"x", "1"}}, {})).ok());
  ASSERT_TRUE(store.Apply(MakePush({{"job", "batch"}, {"x", "2"}}, {})).ok());
  EXPECT_EQ(store.DeleteIf([](const std::vector<Label>& labels) {
    return std::find(labels.begin(), labels.end(), Label{"job", "batch"}) != labels.end();
  }),
            2u);
  EXPECT_EQ(store.size(), 1u);
  EXPECT_TRUE(table_.AddToCounter("m", 1).ok());  // the expired group's name is free
}

TEST_F(PushStoreTest, SerializeRestoreRoundTripsAndRefusesDamage) {
  PushStore store(&table_, {}, [this] { return now_; });
  MetricFamily histogram{"lat", "latency", MetricType::kHistogram, {Sample{}}};
  histogram.samples[0].histogram = HistogramValue{{{1, 1}, {INFINITY, 2}}, 3};
  MetricFamily summary{"rpc", "", MetricType::kSummary, {Sample{}}};
  summary.samples[0].summary = SummaryValue{{{0.5, 0.25}}, 9, 40};
  ASSERT_TRUE(
      store.Apply(MakePush({{"job", "j"}, {"x", "/a b"}}, {Gauge("g", 1.5), histogram, summary}))
          .ok());
  ASSERT_FALSE(store.Apply(MakePush({{"job", "k"}}, {Counter("g", 1)})).ok());
  const std::string image = store.Serialize();
  SeriesTable other;
  PushStore restored(&other, {}, [this] { return now_; });
  ASSERT_TRUE(restored.Restore(image).ok());
  EXPECT_EQ(Exported(restored), Exported(store));
  EXPECT_EQ(restored.Serialize(), image);
  for (size_t cut : {size_t{0}, size_t{10}, image.size() / 2, image.size() - 1}) {
    SeriesTable t;
    PushStore damaged(&t, {}, [this] { return now_; });
    const absl::Status status = damaged.Restore(image.substr(0, cut));
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << cut;
    EXPECT_EQ(damaged.size(), 0u);
  }
  std::string flipped = image;
  flipped[image.size() / 2] ^= 1;
  SeriesTable t;
  PushStore damaged(&t, {}, [this] { return now_; });
  EXPECT_EQ(damaged.Restore(flipped).code(), absl::StatusCode::kDataLoss);
}

TEST_F(PushStoreTest, ConcurrentPushesDeletesCollectsAndStatsdKeepNamesConsistent) {
  // Run under ThreadSanitizer by scripts/tsan.sh. Four pushers (two share a group), a reader
  // (Collect, Groups, Serialize), an expirer and a StatsD writer, each bounded in iterations.
  SeriesTable table;
  PushStore store(&table, {.default_ttl = std::chrono::hours(1)});
  constexpr int kRounds = 300;
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const std::string job = "job" + std::to_string(t % 3);  // jobs 0 and 3 share a group
      for (int i = 0; i < kRounds; ++i) {
        std::vector<MetricFamily> families = {Gauge("shared_gauge", i),
                                              Counter("c" + std::to_string(t), i)};
        if (i % 10 == 0) families.push_back(Counter("shared_gauge_total", 1));
        (void)store.Apply(MakePush({{"job", job}}, families, /*replace=*/i % 2 == 0));
        if (i % 50 == 49) store.Delete({{"job", job}});
      }
    });
  }
  threads.emplace_back([&] {
    while (!stop.load()) {
      std::vector<MetricFamily> families;
      store.Collect(&families);
      for (const auto& group : store.Groups()) ASSERT_FALSE(group->labels.empty());
      (void)store.Serialize();
    }
  });
  threads.emplace_back([&] {
    while (!stop.load()) (void)store.Expire();
  });
  threads.emplace_back([&] {
    for (int i = 0; i < kRounds; ++i) {
      (void)table.AddToCounter("statsd_only", 1);
      (void)table.SetGauge("shared_gauge", 1);  // a gauge, as pushed: may share the name
    }
  });
  for (int i = 0; i < 4; ++i) threads[i].join();
  threads.back().join();
  stop.store(true);
  for (size_t i = 4; i + 1 < threads.size(); ++i) threads[i].join();
  // Each group holds what its last successful push left; then delete all and every claim is
  // given back: the names are free for any type.
  for (const auto& group : store.Groups()) {
    for (const auto& family : group->families) {
      EXPECT_TRUE(family.exported) << family.family.name;
    }
  }
  store.DeleteIf([](const std::vector<Label>&) { return true; });
  EXPECT_EQ(store.size(), 0u);
  for (int t = 0; t < 4; ++t) {
    EXPECT_TRUE(table.SetGauge("c" + std::to_string(t), 1).ok()) << t;  // were counters
  }
  EXPECT_TRUE(table.AddToCounter("shared_gauge_total", 1).ok());
}

}  // namespace
}  // namespace metricsgate::storage

#include "storage/series_table.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/series_key.h"

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
    EXPECT_EQ(family.help, kStatsdHelp);
    for (const Sample& sample : family.samples) out.emplace_back(family.name, sample.value);
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
  ASSERT_EQ(families.size(), 6u);
  EXPECT_EQ(families[4].name, "metricsgate_series_unsorted");
  EXPECT_EQ(families[4].type, MetricType::kGauge);
  EXPECT_EQ(families[4].samples.at(0).value, 2);  // not scraped yet
  EXPECT_EQ(families[5].name, "metricsgate_series_sorts_ahead_total");
  EXPECT_EQ(families[5].type, MetricType::kCounter);
  EXPECT_EQ(families[5].samples.at(0).value, 0);
  EXPECT_EQ(families[1].name, "metricsgate_series_limit");
  EXPECT_EQ(families[1].samples.at(0).value, SeriesTable::kDefaultMaxSeries);
  EXPECT_EQ(families[2].name, "metricsgate_series_rejected_total");
  EXPECT_EQ(families[3].name, "metricsgate_series_expired_total");
  EXPECT_EQ(families[3].samples.at(0).value, 0);
  EXPECT_EQ(families[0].name, "metricsgate_series");
  EXPECT_EQ(families[0].type, MetricType::kGauge);
  ASSERT_EQ(families[0].samples.size(), 1u);
  EXPECT_EQ(families[0].samples[0].value, 2);
}

std::string Key(std::string_view name, std::vector<LabelView> labels) {
  std::string key;
  EncodeSeriesKey(name, labels.data(), labels.size(), &key);
  return key;
}

TEST(SeriesTableTest, SeriesOfOneNameFormOneFamilyWithTheirLabels) {
  SeriesTable table;
  ASSERT_TRUE(table.AddToCounter(Key("hits", {{"env", "prod"}}), 2).ok());
  ASSERT_TRUE(table.AddToCounter(Key("hits", {{"env", "dev"}}), 1).ok());
  ASSERT_TRUE(table.AddToCounter(Key("hits", {}), 5).ok());
  ASSERT_TRUE(table.AddToCounter(Key("hits", {{"env", "prod"}}), 1).ok());
  EXPECT_EQ(table.size(), 3u);
  std::vector<MetricFamily> families;
  table.Collect(&families);
  ASSERT_EQ(families.size(), 1u);
  EXPECT_EQ(families[0].name, "hits");
  std::vector<std::pair<std::vector<Label>, double>> samples;
  for (const Sample& s : families[0].samples) samples.emplace_back(s.labels, s.value);
  std::sort(samples.begin(), samples.end());
  EXPECT_EQ(samples, (std::vector<std::pair<std::vector<Label>, double>>{
                         {{}, 5}, {{{"env", "dev"}}, 1}, {{{"env", "prod"}}, 3}}));
}

TEST(SeriesTableTest, OneNameHasOneKindWhateverItsLabels) {
  SeriesTable table;
  ASSERT_TRUE(table.AddToCounter(Key("x", {{"a", "1"}}), 1).ok());
  EXPECT_EQ(
      table.SetGauge(Key("x", {{"a", "2"}}), 1),
      absl::FailedPreconditionError("metric \"x\" is a counter; a gauge sample cannot update it"));
  EXPECT_EQ(table.size(), 1u);
}

TEST(SeriesTableTest, HistogramCountsWeightsIntoCumulativeBuckets) {
  SeriesTable table;
  auto buckets = std::make_shared<const std::vector<double>>(std::vector<double>{1, 5});
  ASSERT_TRUE(table.Observe("t", 0.5, 1, {.help = "", .buckets = buckets}).ok());
  ASSERT_TRUE(table.Observe("t", 1, 1).ok());  // le is inclusive; buckets fixed at creation
  ASSERT_TRUE(table.Observe("t", 3, 4).ok());  // sampled at 1/4
  ASSERT_TRUE(table.Observe("t", 100, 1).ok());
  std::vector<MetricFamily> families;
  table.Collect(&families);
  ASSERT_EQ(families.size(), 1u);
  EXPECT_EQ(families[0].type, MetricType::kHistogram);
  ASSERT_EQ(families[0].samples.size(), 1u);
  const HistogramValue& h = families[0].samples[0].histogram.value();
  EXPECT_EQ(h.buckets, (std::vector<std::pair<double, double>>{
                           {1, 2}, {5, 6}, {std::numeric_limits<double>::infinity(), 7}}));
  EXPECT_EQ(h.sum, 0.5 + 1 + 12 + 100);
}

// Histograms carry native buckets next to the classic ones, from the same observations.
TEST(SeriesTableTest, HistogramsCarryNativeBucketsInTheSnapshot) {
  SeriesTable table;
  ASSERT_TRUE(table.Observe("t", 1.0, 1).ok());
  ASSERT_TRUE(table.Observe("t", 1.05, 4).ok());  // sampled at 1/4; (1, 1.0905] at schema 3
  ASSERT_TRUE(table.Observe("t", 0, 2).ok());
  ASSERT_TRUE(table.Observe("t", -3, 1).ok());
  Snapshot snapshot;
  table.AddTo(&snapshot);
  ASSERT_EQ(snapshot.entries().size(), 1u);
  const HistogramView h = snapshot.Histogram(snapshot.entries()[0]);
  EXPECT_EQ(h.count, 8);
  EXPECT_EQ(h.sum, 1 + 4.2 - 3);
  ASSERT_TRUE(h.has_native);
  EXPECT_EQ(h.native.schema, 3);
  EXPECT_EQ(h.native.zero_threshold, NativeHistogram::kZeroThreshold);
  EXPECT_EQ(h.native.zero_count, 2);
  EXPECT_THAT(h.native.positive, ElementsAre(0, 1, 1, 4));
  // -3 = -(2^1.585): bucket ceil(1.585 * 8) = 13 on the negative side.
  EXPECT_THAT(h.native.negative, ElementsAre(13, 1));
}

// A scrape reads one moment of a histogram: classic count, native buckets and sum agree even
// while two threads observe into it.
TEST(SeriesTableTest, HistogramSnapshotsAgreeWithThemselvesUnderConcurrentObservations) {
  SeriesTable table;
  ASSERT_TRUE(table.Observe("t", 0.5, 1).ok());
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int t = 0; t < 2; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < 20000; ++i) {
        ASSERT_TRUE(table.Observe("t", (i % 50) * 0.01 + t, 1).ok());
      }
    });
  }
  int snapshots = 0, disagreements = 0;
  while (snapshots < 200) {
    Snapshot snapshot;
    table.AddTo(&snapshot);
    const HistogramView h = snapshot.Histogram(snapshot.entries()[0]);
    double native = h.native.zero_count;
    for (size_t k = 1; k < h.native.positive.size(); k += 2) native += h.native.positive[k];
    if (native != h.count || h.cumulative.back() != h.count) ++disagreements;
    ++snapshots;
  }
  for (std::thread& writer : writers) writer.join();
  EXPECT_EQ(disagreements, 0);
  Snapshot last;
  table.AddTo(&last);
  EXPECT_EQ(last.Histogram(last.entries()[0]).count, 40001);
}

// The text of a snapshot of `table`, and of the same series sorted from scratch.
std::pair<std::string, std::string> ScrapeAndReference(const SeriesTable& table) {
  const auto text = [](const Snapshot& s) {
    std::string out;
    for (const auto& e : s.entries())
      out += std::string(e.Key()) + "=" + std::to_string(e.value) + "\n";
    return out;
  };
  Snapshot scraped;
  table.AddTo(&scraped);
  scraped.Sort();
  std::vector<MetricFamily> families;
  table.Collect(&families);
  Snapshot reference;
  reference.AddFamilies(families);
  reference.Sort();
  return {text(scraped), text(reference)};
}

// A table scraped again without changes adds its series in the order the last scrape learnt;
// new series, removed ones and new values all show as a scrape from scratch shows them.
TEST(SeriesTableTest, ScrapesReuseTheLearntOrderOnlyWhileNoSeriesCameOrWent) {
  std::atomic<int64_t> now_ms{1'000'000'000};
  SeriesTable table(SeriesTable::kDefaultMaxSeries,
                    [&] { return absl::FromUnixMillis(now_ms.load()); });
  std::vector<int> order(3000);
  for (int i = 0; i < 3000; ++i) order[i] = (i * 7919) % 3000;  // not in key order
  const SeriesOptions ttl{
      .help = "", .buckets = nullptr, .summary = nullptr, .ttl = std::chrono::milliseconds(10)};
  for (int i : order) {
    ASSERT_TRUE(table
                    .AddToCounter("c_" + std::to_string(i % 40) + "\xffk\xfev" + std::to_string(i),
                                  i, i % 100 == 0 ? ttl : SeriesOptions{})
                    .ok());
  }
  auto [first, reference] = ScrapeAndReference(table);
  EXPECT_EQ(first, reference);
  EXPECT_EQ(std::count(first.begin(), first.end(), '\n'), 3000);
  // Unchanged: the learnt order, new values.
  ASSERT_TRUE(table.AddToCounter("c_1\xffk\xfev1", 1000).ok());
  auto [second, reference2] = ScrapeAndReference(table);
  EXPECT_EQ(second, reference2);
  EXPECT_NE(second, first);
  // A new series comes in its place.
  ASSERT_TRUE(table.AddToCounter("c_1\xffk\xfev1a", 5).ok());
  auto [third, reference3] = ScrapeAndReference(table);
  EXPECT_EQ(third, reference3);
  EXPECT_NE(third.find("c_1\xffk\xfev1a=5"), std::string::npos);
  auto [again, reference4] = ScrapeAndReference(table);
  EXPECT_EQ(again, reference4);
  // Series whose TTL passed are gone, from the learnt order too.
  now_ms.fetch_add(1000);
  ASSERT_TRUE(table.AddToCounter("c_1\xffk\xfev1", 1).ok());
  EXPECT_EQ(table.Expire(), 30u);  // i % 100 == 0
  auto [fourth, reference5] = ScrapeAndReference(table);
  EXPECT_EQ(fourth, reference5);
  EXPECT_EQ(std::count(fourth.begin(), fourth.end(), '\n'), 3001 - 30);
  auto [fifth, reference6] = ScrapeAndReference(table);
  EXPECT_EQ(fifth, reference6);
  // Series come after an expiry, and more expire: each scrape still equals a whole sort.
  ASSERT_TRUE(table.AddToCounter("c_2\xffk\xfev2a", 3, ttl).ok());
  ASSERT_TRUE(table.AddToCounter("c_0\xffk\xfev0a", 4).ok());
  auto [sixth, reference7] = ScrapeAndReference(table);
  EXPECT_EQ(sixth, reference7);
  EXPECT_EQ(std::count(sixth.begin(), sixth.end(), '\n'), 3001 - 30 + 2);
  now_ms.fetch_add(1000);
  EXPECT_EQ(table.Expire(), 1u);  // c_2...v2a
  ASSERT_TRUE(table.AddToCounter("c_3\xffk\xfev3a", 5).ok());
  auto [seventh, reference8] = ScrapeAndReference(table);
  EXPECT_EQ(seventh, reference8);
  EXPECT_EQ(std::count(seventh.begin(), seventh.end(), '\n'), 3001 - 30 + 2);
  EXPECT_EQ(seventh.find("v2a"), std::string::npos);
}

// After new series came (none went), a scrape sorts only them and merges them into the learnt
// order; after more than the table lists between scrapes, it sorts everything again. Either
// way the scrape equals one sorted from scratch.
TEST(SeriesTableTest, ScrapesAfterNewSeriesSortOnlyThemAndAgreeWithAWholeSort) {
  SeriesTable table;
  for (int i = 0; i < 2000; ++i) {
    ASSERT_TRUE(table.AddToCounter("m_" + std::to_string((i * 7919) % 2000), i).ok());
  }
  auto [first, reference] = ScrapeAndReference(table);
  ASSERT_EQ(first, reference);
  // A few: before all, after all, between two, and a label set of an existing name.
  for (const std::string key : {"a_first", "z_last", "m_1000a", "m_5\xffk\xfev"}) {
    ASSERT_TRUE(table.AddToCounter(key, 7).ok());
  }
  auto [second, reference2] = ScrapeAndReference(table);
  EXPECT_EQ(second, reference2);
  EXPECT_EQ(std::count(second.begin(), second.end(), '\n'), 2004);
  EXPECT_TRUE(second.starts_with("a_first=7"));
  // New ones again, twice in a row, with a scrape between them.
  ASSERT_TRUE(table.AddToCounter("m_1000b", 1).ok());
  auto [third, reference3] = ScrapeAndReference(table);
  EXPECT_EQ(third, reference3);
  ASSERT_TRUE(table.AddToCounter("m_1000c", 1).ok());
  auto [fourth, reference4] = ScrapeAndReference(table);
  EXPECT_EQ(fourth, reference4);
  EXPECT_EQ(std::count(fourth.begin(), fourth.end(), '\n'), 2006);
  // More new series than the table held, between two scrapes.
  for (int i = 0; i < 70000; ++i) ASSERT_TRUE(table.AddToCounter("n_" + std::to_string(i), 1).ok());
  auto [fifth, reference5] = ScrapeAndReference(table);
  EXPECT_EQ(fifth, reference5);
  EXPECT_EQ(std::count(fifth.begin(), fifth.end(), '\n'), 72006);
  ASSERT_TRUE(table.AddToCounter("n_35000a", 1).ok());
  auto [sixth, reference6] = ScrapeAndReference(table);
  EXPECT_EQ(sixth, reference6);
}

// Scrapes while a writer keeps creating series: each is sorted, holds no key twice, and holds
// every series created before it began.
TEST(SeriesTableTest, ScrapesDuringCreationHoldEverySeriesOnce) {
  SeriesTable table;
  std::atomic<int> created{0};
  std::thread writer([&] {
    for (int i = 0; i < 20000; ++i) {
      ASSERT_TRUE(table.AddToCounter("s_" + std::to_string((i * 7919) % 20000), 1).ok());
      created.store(i + 1, std::memory_order_release);
    }
  });
  int bad = 0, missing = 0, scrapes = 0;
  for (bool done = false; !done;) {
    done = created.load(std::memory_order_acquire) == 20000;
    const int before = created.load(std::memory_order_acquire);
    Snapshot snapshot;
    table.AddTo(&snapshot);
    snapshot.Sort();
    const auto& entries = snapshot.entries();
    for (size_t i = 1; i < entries.size(); ++i) {
      if (!(entries[i - 1].Key() < entries[i].Key())) ++bad;
    }
    if (static_cast<int>(entries.size()) < before) ++missing;
    ++scrapes;
  }
  writer.join();
  EXPECT_EQ(bad, 0);
  EXPECT_EQ(missing, 0);
  EXPECT_GT(scrapes, 1);
}

// Scrapes (learning and reusing the order) while a writer makes `writes` updates over `names`
// series, two of three with a 3 ms TTL, the sweeper removes them and, with `sort_ahead`, the
// sorter runs: every scrape must be sorted and hold no series twice. Returns the scrapes that
// were not, and the sorts done ahead.
struct ChurnResult {
  int bad = 0;
  int sorts = 0;
};
ChurnResult ScrapeUnderChurn(SeriesTable& table, std::atomic<int64_t>& now_ms, int writes,
                             int names, bool sort_ahead) {
  const SeriesOptions ttl{
      .help = "", .buckets = nullptr, .summary = nullptr, .ttl = std::chrono::milliseconds(3)};
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; i < writes; ++i) {
      ASSERT_TRUE(
          table.AddToCounter("w_" + std::to_string(i % names), 1, i % 3 ? ttl : SeriesOptions{})
              .ok());
    }
    stop.store(true);
  });
  std::thread sweeper([&] {
    while (!stop.load()) {
      now_ms.fetch_add(1);
      table.Expire();
    }
  });
  std::atomic<int> sorts{0};
  std::thread sorter([&] {
    while (sort_ahead && !stop.load()) sorts += table.SortAheadIfDue() ? 1 : 0;
  });
  ChurnResult result;
  for (int scrapes = 0; !stop.load() || scrapes < 5; ++scrapes) {
    Snapshot snapshot;
    table.AddTo(&snapshot);
    snapshot.Sort();
    const auto& entries = snapshot.entries();
    for (size_t i = 1; i < entries.size(); ++i) {
      if (!(entries[i - 1].Key() < entries[i].Key())) ++result.bad;
    }
  }
  writer.join();
  sweeper.join();
  sorter.join();
  result.sorts = sorts.load();
  return result;
}

TEST(SeriesTableTest, LearntOrderStaysSafeUnderCreationAndExpiry) {
  std::atomic<int64_t> now_ms{1'000'000'000};
  SeriesTable table(SeriesTable::kDefaultMaxSeries,
                    [&] { return absl::FromUnixMillis(now_ms.load()); });
  EXPECT_EQ(ScrapeUnderChurn(table, now_ms, 30000, 2000, false).bad, 0);
}

double OwnMetric(const SeriesTable& table, std::string_view name) {
  std::vector<MetricFamily> families;
  table.CollectOwnMetrics(&families);
  for (const MetricFamily& family : families) {
    if (family.name == name) return family.samples.at(0).value;
  }
  ADD_FAILURE() << "no " << name;
  return -1;
}

// Unsorted() is what the next scrape sorts: every series before the first, then only the new
// ones, all again after more than the store lists between scrapes; an expiry keeps the order.
TEST(SeriesTableTest, UnsortedCountsWhatTheNextScrapeSorts) {
  std::atomic<int64_t> now_ms{1'000'000'000};
  SeriesTable table(SeriesTable::kDefaultMaxSeries,
                    [&] { return absl::FromUnixMillis(now_ms.load()); });
  EXPECT_EQ(table.Unsorted(), 0u);
  const SeriesOptions ttl{
      .help = "", .buckets = nullptr, .summary = nullptr, .ttl = std::chrono::milliseconds(10)};
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(
        table.AddToCounter("u_" + std::to_string(i), 1, i < 10 ? ttl : SeriesOptions{}).ok());
  }
  EXPECT_EQ(table.Unsorted(), 100u);
  EXPECT_EQ(OwnMetric(table, "metricsgate_series_unsorted"), 100);
  auto [first, reference] = ScrapeAndReference(table);
  EXPECT_EQ(first, reference);
  EXPECT_EQ(table.Unsorted(), 0u);
  ASSERT_TRUE(table.AddToCounter("u_1", 1).ok());  // an update: no new series
  EXPECT_EQ(table.Unsorted(), 0u);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(table.AddToCounter("v_" + std::to_string(i), 1).ok());
  EXPECT_EQ(table.Unsorted(), 5u);
  now_ms.fetch_add(1000);
  EXPECT_EQ(table.Expire(), 10u);
  EXPECT_EQ(table.Unsorted(), 5u);  // the order, less the ten, still holds
  auto [second, reference2] = ScrapeAndReference(table);
  EXPECT_EQ(second, reference2);
  EXPECT_EQ(table.Unsorted(), 0u);
  // More new series than the store held: listed still (as many as the store holds), so
  // only they are sorted.
  for (int i = 0; i < 70000; ++i) ASSERT_TRUE(table.AddToCounter("w_" + std::to_string(i), 1).ok());
  EXPECT_EQ(table.Unsorted(), 70000u);
  auto [third, reference3] = ScrapeAndReference(table);
  EXPECT_EQ(third, reference3);
  EXPECT_EQ(table.Unsorted(), 0u);
  // Churn unscraped: 80,000 series come and expire, filling the list (as long as the store,
  // 70,095, holds) with removed ones, so the list is dropped and the next scrape sorts all.
  for (int i = 0; i < 80000; ++i)
    ASSERT_TRUE(table.AddToCounter("x_" + std::to_string(i), 1, ttl).ok());
  EXPECT_EQ(table.Unsorted(), 80000u);
  now_ms.fetch_add(1000);
  EXPECT_EQ(table.Expire(), 80000u);
  EXPECT_EQ(table.Unsorted(), 80000u);  // listed, though gone
  ASSERT_TRUE(table.AddToCounter("y", 1).ok());
  EXPECT_EQ(table.size(), 70096u);
  EXPECT_EQ(table.Unsorted(), 70096u);  // the list was full: all of them
  auto [fourth, reference4] = ScrapeAndReference(table);
  EXPECT_EQ(fourth, reference4);
  EXPECT_EQ(std::count(fourth.begin(), fourth.end(), '\n'), 70096);
  EXPECT_EQ(table.Unsorted(), 0u);
}

// SortAheadIfDue() sorts once kSortAheadMin series, and 1/16 of the store, are out of order;
// the scrape after it only merges, and equals a whole sort.
TEST(SeriesTableTest, SortAheadSortsOnceManySeriesAreOutOfOrder) {
  SeriesTable table;
  EXPECT_FALSE(table.SortAheadIfDue());  // empty
  for (size_t i = 0; i + 1 < SeriesTable::kSortAheadMin; ++i) {
    ASSERT_TRUE(table.AddToCounter("a_" + std::to_string((i * 7919) % 5000), 1).ok());
  }
  EXPECT_FALSE(table.SortAheadIfDue());
  EXPECT_EQ(table.Unsorted(), SeriesTable::kSortAheadMin - 1);
  ASSERT_TRUE(table.AddToCounter("a_last", 1).ok());
  EXPECT_TRUE(table.SortAheadIfDue());
  EXPECT_EQ(table.Unsorted(), 0u);
  EXPECT_EQ(OwnMetric(table, "metricsgate_series_sorts_ahead_total"), 1);
  EXPECT_FALSE(table.SortAheadIfDue());  // nothing new
  // 80,000 series, sorted ahead: then 1/16 of them must come before the next (5,256).
  for (int i = 0; i < 80000 - 4096; ++i) {
    ASSERT_TRUE(table.AddToCounter("b_" + std::to_string(i), 1).ok());
  }
  EXPECT_TRUE(table.SortAheadIfDue());
  for (int i = 0; i < 5000; ++i) ASSERT_TRUE(table.AddToCounter("c_" + std::to_string(i), 1).ok());
  EXPECT_FALSE(table.SortAheadIfDue());  // 5,000 < 85,000 / 16
  EXPECT_EQ(OwnMetric(table, "metricsgate_series_unsorted"), 5000);
  for (int i = 0; i < 400; ++i) ASSERT_TRUE(table.AddToCounter("d_" + std::to_string(i), 1).ok());
  EXPECT_TRUE(table.SortAheadIfDue());  // 5,400 >= 85,400 / 16
  EXPECT_EQ(OwnMetric(table, "metricsgate_series_sorts_ahead_total"), 3);
  auto [scraped, reference] = ScrapeAndReference(table);
  EXPECT_EQ(scraped, reference);
  EXPECT_EQ(std::count(scraped.begin(), scraped.end(), '\n'), 85400);
}

// The sorter in the background while writers create series, the sweeper removes them and
// scrapes run: every scrape is sorted, holds no series twice, and the last equals a whole sort.
TEST(SeriesTableTest, SortAheadRunsSafelyBesideCreationExpiryAndScrapes) {
  std::atomic<int64_t> now_ms{1'000'000'000};
  SeriesTable table(SeriesTable::kDefaultMaxSeries,
                    [&] { return absl::FromUnixMillis(now_ms.load()); });
  const ChurnResult result = ScrapeUnderChurn(table, now_ms, 40000, 12000, true);
  EXPECT_EQ(result.bad, 0);
  EXPECT_EQ(OwnMetric(table, "metricsgate_series_sorts_ahead_total"), result.sorts);
  auto [scraped, reference] = ScrapeAndReference(table);
  EXPECT_EQ(scraped, reference);
}

// A scrape that comes while the sorter sorts waits for it and then only merges: its snapshot
// holds no series out of the learnt order. Without the wait it would sort all 200,000.
TEST(SeriesTableTest, AScrapeDuringASortAheadWaitsForIt) {
  SeriesTable table;
  for (int i = 0; i < 200000; ++i) {
    ASSERT_TRUE(table.AddToCounter("w_" + std::to_string((i * 7919) % 200000), 1).ok());
  }
  std::atomic<bool> done{false};
  std::thread sorter([&] {
    EXPECT_TRUE(table.SortAheadIfDue());
    done.store(true);
  });
  while (!table.SortingAhead() && !done.load()) std::this_thread::yield();
  ASSERT_FALSE(done.load()) << "the sort ended before it was seen; the test needs more series";
  Snapshot snapshot;
  table.AddTo(&snapshot);
  EXPECT_EQ(OwnMetric(table, "metricsgate_series_sorts_ahead_total"), 1);
  EXPECT_EQ(OwnMetric(table, "metricsgate_series_unsorted"), 0);
  snapshot.Sort();
  sorter.join();
  auto [scraped, reference] = ScrapeAndReference(table);
  EXPECT_EQ(scraped, reference);
  EXPECT_EQ(std::count(scraped.begin(), scraped.end(), '\n'), 200000);
}

TEST(SeriesTableTest, DefaultBucketsAreClientGolangs) {
  EXPECT_EQ(*DefaultBuckets(),
            (std::vector<double>{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}));
  SeriesTable table;
  ASSERT_TRUE(table.Observe("t", 0.2, 1).ok());
  std::vector<MetricFamily> families;
  table.Collect(&families);
  EXPECT_EQ(families.at(0).samples.at(0).histogram->buckets.size(), 12u);
}

TEST(SeriesTableTest, HistogramOwnsItsDerivedNames) {
  SeriesTable table;
  ASSERT_TRUE(table.Observe("t", 1, 1).ok());
  EXPECT_EQ(table.AddToCounter("t_count", 1),
            absl::FailedPreconditionError("metric \"t_count\" is written by a timer's "
                                          "histogram; a counter sample cannot take the name"));
  EXPECT_EQ(table.SetGauge("t_sum", 1).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(table.SetGauge("t_bucket", 1).code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(table.AddToCounter("u_sum", 1).ok());
  EXPECT_EQ(
      table.Observe("u", 1, 1),
      absl::FailedPreconditionError("metric \"u_sum\" exists; a timer \"u\" would write it too"));
  EXPECT_EQ(table.size(), 2u);
}

TEST(SeriesTableTest, SetsCountDistinctMembersOfTheLastInterval) {
  SeriesTable table;
  for (std::string_view member : {"alice", "bob", "alice", "carol"}) {
    ASSERT_TRUE(table.AddToSet("users", member).ok());
  }
  EXPECT_EQ(Values(table), (Values_t{{"users", 0}}));  // no interval has ended yet
  table.EndInterval();
  EXPECT_EQ(Values(table), (Values_t{{"users", 3}}));
  ASSERT_TRUE(table.AddToSet("users", "alice").ok());
  EXPECT_EQ(Values(table), (Values_t{{"users", 3}}));  // still the last complete interval
  table.EndInterval();
  EXPECT_EQ(Values(table), (Values_t{{"users", 1}}));
  table.EndInterval();
  EXPECT_EQ(Values(table), (Values_t{{"users", 0}}));
  EXPECT_EQ(table.AddToCounter("users", 1).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(
      table.SetGauge("users", 1),
      absl::FailedPreconditionError("metric \"users\" is a set; a gauge sample cannot update it"));
}

TEST(SeriesTableTest, TheFirstSeriesOfANameSetsItsHelp) {
  SeriesTable table;
  ASSERT_TRUE(table.AddToCounter(Key("m", {{"a", "1"}}), 1, {.help = "Mapped help."}).ok());
  ASSERT_TRUE(table.AddToCounter(Key("m", {{"a", "2"}}), 1, {.help = "Ignored."}).ok());
  ASSERT_TRUE(table.SetGauge("plain", 1).ok());
  std::vector<MetricFamily> families;
  table.Collect(&families);
  std::sort(families.begin(), families.end(),
            [](const MetricFamily& a, const MetricFamily& b) { return a.name < b.name; });
  ASSERT_EQ(families.size(), 2u);
  EXPECT_EQ(families[0].help, "Mapped help.");
  EXPECT_EQ(families[1].help, kStatsdHelp);
}

TEST(SeriesTableTest, SummariesKeepQuantilesOfTheLastMaxAge) {
  absl::Time now = absl::FromUnixSeconds(1000);
  SeriesTable table(SeriesTable::kDefaultMaxSeries, [&now] { return now; });
  auto spec = std::make_shared<SummarySpec>();
  spec->quantiles = {0.5, 1};
  spec->max_age = std::chrono::seconds(10);
  spec->age_buckets = 2;
  const SeriesOptions options{.help = "", .buckets = nullptr, .summary = spec};
  const auto collect = [&] {
    std::vector<MetricFamily> families;
    table.Collect(&families);
    EXPECT_EQ(families.at(0).type, MetricType::kSummary);
    return families.at(0).samples.at(0).summary.value();
  };
  for (double v : {1.0, 2.0, 3.0}) ASSERT_TRUE(table.Observe("s", v, 1, options).ok());
  SummaryValue value = collect();
  EXPECT_NEAR(value.quantiles[0].second, 2, 0.02);
  EXPECT_NEAR(value.quantiles[1].second, 3, 0.03);
  EXPECT_EQ(value.sum, 6);
  EXPECT_EQ(value.count, 3);
  now += absl::Seconds(6);  // the first part (0-5 s) is still in the window
  ASSERT_TRUE(table.Observe("s", 100, 2, options).ok());
  EXPECT_NEAR(collect().quantiles[1].second, 100, 1);
  now += absl::Seconds(5);  // 11 s: the first part has left the window
  value = collect();
  EXPECT_NEAR(value.quantiles[0].second, 100, 1);
  EXPECT_EQ(value.sum, 206);  // sum and count stay cumulative
  EXPECT_EQ(value.count, 5);
  now += absl::Seconds(60);
  EXPECT_TRUE(std::isnan(collect().quantiles[0].second));
  EXPECT_EQ(table.AddToCounter("s_count", 1).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(table.Observe("s", 1, 1).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(SeriesTableTest, SeriesExpireAfterTheirTtlWithoutUpdates) {
  absl::Time now = absl::FromUnixSeconds(1000);
  SeriesTable table(SeriesTable::kDefaultMaxSeries, [&now] { return now; });
  const SeriesOptions ttl{
      .help = "", .buckets = nullptr, .summary = nullptr, .ttl = std::chrono::seconds(10)};
  ASSERT_TRUE(table.AddToCounter(Key("c", {{"a", "1"}}), 1, ttl).ok());
  ASSERT_TRUE(table.AddToCounter(Key("c", {{"a", "2"}}), 1, ttl).ok());
  ASSERT_TRUE(table.Observe("t", 1, 1, ttl).ok());
  ASSERT_TRUE(table.SetGauge("forever", 1).ok());
  EXPECT_EQ(table.Expire(), 0u);
  now += absl::Seconds(6);
  ASSERT_TRUE(table.AddToCounter(Key("c", {{"a", "1"}}), 1, ttl).ok());  // keeps a=1 alive
  now += absl::Seconds(5);  // 11 s after the first updates, 5 s after a=1's last
  EXPECT_EQ(table.Expire(), 2u);
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(Values(table), (Values_t{{"c", 2}, {"forever", 1}}));
  // A name whose last series expired is free for another type; `t_count` too.
  ASSERT_TRUE(table.SetGauge("t", 5).ok());
  ASSERT_TRUE(table.AddToCounter("t_count", 1).ok());
  now += absl::Seconds(60);
  EXPECT_EQ(table.Expire(), 1u);
  ASSERT_TRUE(table.SetGauge("c", 3).ok());  // c's last series is gone
  std::vector<MetricFamily> own;
  table.CollectOwnMetrics(&own);
  EXPECT_EQ(own[3].samples.at(0).value, 3);
}

TEST(SeriesTableTest, ExpireRacesUpdatesSafely) {
  SeriesTable table;
  const SeriesOptions ttl{
      .help = "", .buckets = nullptr, .summary = nullptr, .ttl = std::chrono::milliseconds(1)};
  std::atomic<bool> stop{false};
  std::thread sweeper([&] {
    while (!stop.load()) table.Expire();
  });
  for (int i = 0; i < 20000; ++i) {
    ASSERT_TRUE(table.AddToCounter("k" + std::to_string(i % 50), 1, ttl).ok());
  }
  stop.store(true);
  sweeper.join();
  EXPECT_LE(table.size(), 50u);
}

TEST(SeriesTableTest, CapRefusesNewSeriesAndKeepsTheOld) {
  SeriesTable table(2);
  ASSERT_TRUE(table.AddToCounter("a", 1).ok());
  ASSERT_TRUE(table.SetGauge(Key("b", {{"k", "1"}}), 1).ok());
  EXPECT_EQ(table.AddToCounter("c", 1),
            absl::ResourceExhaustedError("the store holds its maximum of 2 series "
                                         "(--storage.max-series); new series are refused"));
  EXPECT_EQ(table.SetGauge(Key("b", {{"k", "2"}}), 1).code(), absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(table.AddToCounter("a", 2).ok());  // existing series are unaffected
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(Values(table), (Values_t{{"a", 3}, {"b", 1}}));
  std::vector<MetricFamily> own;
  table.CollectOwnMetrics(&own);
  EXPECT_EQ(own[2].name, "metricsgate_series_rejected_total");
  EXPECT_EQ(own[2].samples.at(0).value, 2);
  // A refused type conflict does not use up a place.
  SeriesTable small(3);
  ASSERT_TRUE(small.AddToCounter("x", 1).ok());
  EXPECT_EQ(small.SetGauge(Key("x", {{"k", "v"}}), 1).code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(small.SetGauge("y", 1).ok());
  ASSERT_TRUE(small.SetGauge("z", 1).ok());
  EXPECT_EQ(small.size(), 3u);
}

TEST(SeriesTableTest, CapHoldsUnderConcurrentCreation) {
  SeriesTable table(100);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&table, t] {
      for (int i = 0; i < 1000; ++i) (void)table.AddToCounter(std::to_string(t * 1000 + i), 1);
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(table.size(), 100u);
  std::vector<MetricFamily> families;
  table.Collect(&families);
  EXPECT_EQ(families.size(), 100u);
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

// Writers create series (growing every shard's index several times) and update them while a
// reader collects and a sweeper expires: every series a scrape sees is whole, and at the end
// the table holds exactly the series last written. Run under TSan and ASan in CI.
TEST(SeriesTableTest, CreationCollectionAndExpiryRunTogether) {
  std::atomic<int64_t> now_ms{1'000'000'000};
  SeriesTable table(SeriesTable::kDefaultMaxSeries,
                    [&] { return absl::FromUnixMillis(now_ms.load()); });
  const SeriesOptions short_ttl{
      .help = "", .buckets = nullptr, .summary = nullptr, .ttl = std::chrono::milliseconds(5)};
  std::atomic<bool> stop{false};
  std::atomic<int> bad_values{0};
  std::thread reader([&] {
    while (!stop.load()) {
      std::vector<MetricFamily> families;
      table.Collect(&families);
      for (const MetricFamily& f : families) {
        for (const Sample& s : f.samples) {
          if (!(s.value >= 1) && f.type == MetricType::kCounter) bad_values.fetch_add(1);
        }
      }
    }
  });
  std::thread sweeper([&] {
    while (!stop.load()) {
      now_ms.fetch_add(1);
      table.Expire();
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < 2; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < 20000; ++i) {
        const std::string key = "w" + std::to_string(t) + "_" + std::to_string(i % 3000);
        ASSERT_TRUE(table.AddToCounter(key, 1, i % 2 ? short_ttl : SeriesOptions{}).ok());
      }
    });
  }
  for (std::thread& writer : writers) writer.join();
  stop.store(true);
  reader.join();
  sweeper.join();
  EXPECT_EQ(bad_values.load(), 0);
  now_ms.fetch_add(1000);
  table.Expire();
  // Only the series written without a TTL remain: even i, so 1500 names per writer.
  EXPECT_EQ(table.size(), 3000u);
  std::vector<MetricFamily> families;
  table.Collect(&families);
  EXPECT_EQ(families.size(), 3000u);
}

}  // namespace
}  // namespace metricsgate::storage

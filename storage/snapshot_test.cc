#include "storage/snapshot.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/series_key.h"

namespace metricsgate::storage {
namespace {

using ::testing::ElementsAre;

std::vector<std::string> Keys(const Snapshot& snapshot) {
  std::vector<std::string> keys;
  for (const auto& entry : snapshot.entries()) {
    std::string key(entry.Key());
    std::replace(key.begin(), key.end(), '\xff', '{');
    std::replace(key.begin(), key.end(), '\xfe', '=');
    keys.push_back(key);
  }
  return keys;
}

TEST(SnapshotTest, SortsByNameThenLabelsAndKeepsTheFirstOfEqualKeys) {
  Snapshot snapshot;
  const uint32_t help = snapshot.AddHelp("h");
  const auto add = [&](std::string_view name, std::vector<Label> labels, double value) {
    snapshot.AddScalar(snapshot.EncodeKey(name, labels), MetricType::kGauge, help, value);
  };
  add("a_b", {}, 1);
  add("a", {{"x", "2"}}, 2);
  add("a", {}, 3);
  add("a", {{"x", "10"}}, 4);
  add("a", {{"xy", "1"}}, 5);
  add("a", {{"x", "1"}, {"y", "1"}}, 6);
  add("a", {{"x", "1"}}, 7);
  add("a", {{"x", "2"}}, 8);  // a duplicate of the second: dropped
  add("B", {}, 9);
  snapshot.Sort();
  EXPECT_THAT(Keys(snapshot),
              ElementsAre("B", "a", "a{x=1", "a{x=1{y=1", "a{x=10", "a{x=2", "a{xy=1", "a_b"));
  std::vector<double> values;
  for (const auto& entry : snapshot.entries()) values.push_back(entry.value);
  EXPECT_THAT(values, ElementsAre(9, 3, 7, 6, 4, 2, 5, 1));
}

// The radix sort agrees with a comparison sort on (name, labels) for many random keys with
// long shared prefixes, short ones and labels.
TEST(SnapshotTest, RadixOrderEqualsTheOrderOfNameThenLabels) {
  std::mt19937 rng(7);
  Snapshot snapshot;
  std::vector<std::pair<std::string, std::vector<Label>>> expected;
  for (int i = 0; i < 20000; ++i) {
    std::string name = (rng() % 2 ? "app_requests_endpoint_" : "a") + std::to_string(rng() % 500);
    std::vector<Label> labels;
    const int label_count = static_cast<int>(rng() % 3);
    for (int l = 0; l < label_count; ++l) {
      labels.emplace_back(std::string(1, static_cast<char>('a' + l)) + (rng() % 2 ? "x" : ""),
                          std::to_string(rng() % 30));
    }
    std::sort(labels.begin(), labels.end());
    expected.emplace_back(name, labels);
    snapshot.AddScalar(snapshot.EncodeKey(name, labels), MetricType::kGauge, 0, i);
  }
  std::stable_sort(expected.begin(), expected.end());
  expected.erase(std::unique(expected.begin(), expected.end()), expected.end());
  snapshot.Sort();
  ASSERT_EQ(snapshot.entries().size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    const auto& entry = snapshot.entries()[i];
    ASSERT_EQ(entry.Name(), expected[i].first) << i;
    ASSERT_EQ(SeriesKeyLabels(entry.Key()), expected[i].second) << i;
  }
}

// Keys of any bytes but the separators (0xfc and 0xfd too, which the sort's windows clamp),
// long shared prefixes (deeper than the recursion goes) and duplicates: the order is
// std::sort's over (name, labels), and only the first of equal keys is kept.
TEST(SnapshotTest, AnyBytesAndLongPrefixesSortAsByNameThenLabels) {
  std::mt19937 rng(11);
  const std::string long_prefix(700, 'p');
  const auto random_bytes = [&](size_t max) {
    std::string out(rng() % max, '\0');
    for (char& c : out) {
      const unsigned pick = rng() % 8;
      c = static_cast<char>(pick == 0 ? 0xfc : pick == 1 ? 0xfd : pick == 2 ? 0 : 'a' + rng() % 3);
    }
    return out;
  };
  for (int round = 0; round < 4; ++round) {
    Snapshot snapshot;
    std::vector<std::pair<std::pair<std::string, std::vector<Label>>, int>> expected;
    for (int i = 0; i < 3000; ++i) {
      std::string name = (rng() % 3 == 0 ? long_prefix : "") + "n" + std::to_string(rng() % 4);
      std::vector<Label> labels;
      if (rng() % 2) labels.emplace_back("a", random_bytes(6));
      if (rng() % 2) labels.emplace_back("b", (rng() % 2 ? long_prefix : "") + random_bytes(4));
      expected.push_back({{name, labels}, i});
      snapshot.AddScalar(snapshot.EncodeKey(name, labels), MetricType::kGauge, 0, i);
    }
    // (name, labels) order with the added index as the tie-break, then keep the first of each.
    std::sort(expected.begin(), expected.end());
    expected.erase(std::unique(expected.begin(), expected.end(),
                               [](const auto& a, const auto& b) { return a.first == b.first; }),
                   expected.end());
    snapshot.Sort();
    ASSERT_EQ(snapshot.entries().size(), expected.size()) << round;
    for (size_t i = 0; i < expected.size(); ++i) {
      const auto& entry = snapshot.entries()[i];
      ASSERT_EQ(entry.Name(), expected[i].first.first) << round << " " << i;
      ASSERT_EQ(SeriesKeyLabels(entry.Key()), expected[i].first.second) << round << " " << i;
      ASSERT_EQ(entry.value, expected[i].second) << round << " " << i;
    }
  }
}

// A run declared sorted (as the store adds its series in a learnt order) is merged with the
// rest; on equal keys the one added first stays.
TEST(SnapshotTest, MergesARunDeclaredSortedWithTheRest) {
  Snapshot snapshot;
  int marker = 0;
  snapshot.AddScalar(snapshot.CopyKey("z"), MetricType::kGauge, 0, 1);
  snapshot.BeginSorted();
  snapshot.SetSource(&marker);
  for (const char* key : {"a", "c", "e", "g"}) {
    snapshot.AddScalar(snapshot.CopyKey(key), MetricType::kGauge, 0, 2);
  }
  snapshot.SetSource(nullptr);
  snapshot.EndSorted();
  for (const char* key : {"f", "c", "b", "a0"}) {
    snapshot.AddScalar(snapshot.CopyKey(key), MetricType::kGauge, 0, 3);
  }
  std::vector<const void*> sources;
  snapshot.OnSorted([&](std::span<const void* const> s) { sources.assign(s.begin(), s.end()); });
  snapshot.Sort();
  std::vector<std::string> keys;
  std::vector<double> values;
  for (const auto& e : snapshot.entries()) {
    keys.emplace_back(e.Key());
    values.push_back(e.value);
  }
  EXPECT_THAT(keys, ElementsAre("a", "a0", "b", "c", "e", "f", "g", "z"));
  EXPECT_THAT(values, ElementsAre(2, 3, 3, 2, 2, 3, 2, 1));
  EXPECT_THAT(sources,
              ElementsAre(&marker, nullptr, nullptr, &marker, &marker, nullptr, &marker, nullptr));
}

// The same at scale: 80,000 entries besides the run, many of them equal to keys of the run or
// to each other, some added before the run: the order and the first added of equal keys.
TEST(SnapshotTest, MergesARunDeclaredSortedWithManyOthers) {
  std::mt19937 rng(5);
  const auto key = [](int i) {
    char text[32];
    snprintf(text, sizeof text, "k%06d", i);
    return std::string(text);
  };
  Snapshot snapshot;
  std::map<std::string, double> expected;  // key -> value of the first added
  const auto add = [&](int i, double value) {
    const std::string k = key(i);
    snapshot.AddScalar(snapshot.CopyKey(k), MetricType::kGauge, 0, value);
    expected.emplace(k, value);
  };
  for (int i = 0; i < 500; ++i) add(static_cast<int>(rng() % 200000), 1);  // before the run
  snapshot.BeginSorted();
  std::vector<int> run;
  for (int i = 0; i < 5000; ++i) run.push_back(static_cast<int>(rng() % 200000));
  std::sort(run.begin(), run.end());
  run.erase(std::unique(run.begin(), run.end()), run.end());
  for (int i : run) add(i, 2);
  snapshot.EndSorted();
  for (int i = 0; i < 80000; ++i) add(static_cast<int>(rng() % 200000), 3);
  snapshot.Sort();
  ASSERT_EQ(snapshot.entries().size(), expected.size());
  size_t i = 0;
  for (const auto& [k, value] : expected) {
    const auto& entry = snapshot.entries()[i];
    ASSERT_EQ(entry.Key(), k) << i;
    ASSERT_EQ(entry.value, value) << k;
    ++i;
  }
}

TEST(SnapshotTest, HistogramsAndSummariesReadBackAsAdded) {
  Snapshot snapshot;
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<double> bounds = {0.5, 1, inf}, cumulative = {1, 3, 4};
  const std::vector<double> positive = {-2, 1, 3, 2}, negative = {0, 1};
  NativeHistogramView native{3, 1e-9, 1, positive, negative};
  snapshot.AddHistogram(snapshot.EncodeKey("t", std::vector<Label>{}), snapshot.AddHelp("T."),
                        bounds, cumulative, 5.5, &native);
  const std::vector<double> quantiles = {0.5, 2, 0.9, 3};
  snapshot.AddSummary(snapshot.EncodeKey("s", std::vector<Label>{{"k", "v"}}), 0, quantiles, 7, 9);
  snapshot.Sort();
  ASSERT_EQ(snapshot.entries().size(), 2u);
  const SummaryView summary = snapshot.Summary(snapshot.entries()[0]);
  EXPECT_THAT(summary.quantiles, ElementsAre(0.5, 2, 0.9, 3));
  EXPECT_EQ(summary.sum, 7);
  EXPECT_EQ(summary.count, 9);
  const HistogramView histogram = snapshot.Histogram(snapshot.entries()[1]);
  EXPECT_EQ(snapshot.help(snapshot.entries()[1].help), "T.");
  EXPECT_THAT(histogram.bounds, ElementsAre(0.5, 1, inf));
  EXPECT_THAT(histogram.cumulative, ElementsAre(1, 3, 4));
  EXPECT_EQ(histogram.sum, 5.5);
  EXPECT_EQ(histogram.count, 4);
  ASSERT_TRUE(histogram.has_native);
  EXPECT_EQ(histogram.native.schema, 3);
  EXPECT_EQ(histogram.native.zero_threshold, 1e-9);
  EXPECT_EQ(histogram.native.zero_count, 1);
  EXPECT_THAT(histogram.native.positive, ElementsAre(-2, 1, 3, 2));
  EXPECT_THAT(histogram.native.negative, ElementsAre(0, 1));

  const auto& summary_entry = snapshot.entries()[0];
  EXPECT_EQ(summary_entry.Name(), "s");
  EXPECT_EQ(summary_entry.type, MetricType::kSummary);
  EXPECT_EQ(SeriesKeyLabels(summary_entry.Key()), (std::vector<Label>{{"k", "v"}}));
  EXPECT_EQ(snapshot.entries()[1].type, MetricType::kHistogram);
}

TEST(SnapshotTest, KeysOutliveTheirSourceAndManyBlocks) {
  Snapshot snapshot;
  for (int i = 0; i < 100000; ++i) {
    std::string key = "series_with_a_fairly_long_name_" + std::to_string(i);
    snapshot.AddScalar(snapshot.CopyKey(key), MetricType::kCounter, 0, i);
  }
  snapshot.Sort();
  EXPECT_EQ(snapshot.entries().size(), 100000u);
  EXPECT_EQ(snapshot.entries().front().Key(), "series_with_a_fairly_long_name_0");
  EXPECT_EQ(snapshot.entries().back().Key(), "series_with_a_fairly_long_name_99999");
  EXPECT_EQ(snapshot.AddHelp(""), 0u);
}

// Fills a snapshot with n counters, added in reverse order, and sorts it.
void FillReversed(Snapshot* snapshot, int n) {
  for (int i = n - 1; i >= 0; --i) {
    char key[32];
    snprintf(key, sizeof key, "s_%07d", i);
    snapshot->AddScalar(snapshot->CopyKey(key), MetricType::kCounter, 0, i);
  }
  snapshot->Sort();
}

TEST(SnapshotTest, ANewSnapshotReusesTheLastOnesMemoryAndNoneOfItsEntries) {
  constexpr int kSeries = 200000;  // entries and keys of several megabytes: huge-page blocks
  const Snapshot::Entry* first_entries = nullptr;
  {
    Snapshot snapshot;
    FillReversed(&snapshot, kSeries);
    first_entries = snapshot.entries().data();
    ASSERT_EQ(snapshot.entries().size(), size_t{kSeries});
    EXPECT_EQ(snapshot.entries()[12345].Key(), "s_0012345");
  }
  {
    Snapshot snapshot;
    EXPECT_TRUE(snapshot.entries().empty());
    snapshot.AddScalar(snapshot.CopyKey("b"), MetricType::kGauge, 0, 2);
    snapshot.AddScalar(snapshot.CopyKey("a"), MetricType::kGauge, 0, 1);
    EXPECT_EQ(snapshot.entries().data(), first_entries);  // the same array, cleared
    snapshot.Sort();
    ASSERT_EQ(snapshot.entries().size(), 2u);
    EXPECT_EQ(snapshot.entries()[0].Key(), "a");
    EXPECT_EQ(snapshot.entries()[0].value, 1);
    EXPECT_EQ(snapshot.entries()[1].Key(), "b");
  }
  // After the kept memory is freed, a snapshot starts from nothing and works the same.
  Snapshot::ReleasePooledBuffers();
  Snapshot::ReleasePooledBuffers();  // nothing kept: a no-op
  Snapshot snapshot;
  EXPECT_TRUE(snapshot.entries().empty());
  FillReversed(&snapshot, kSeries);
  ASSERT_EQ(snapshot.entries().size(), size_t{kSeries});
  EXPECT_EQ(snapshot.entries().front().Key(), "s_0000000");
  EXPECT_EQ(snapshot.entries().back().Key(), "s_0199999");
  EXPECT_EQ(snapshot.entries()[777].value, 777);
}

TEST(SnapshotTest, ReserveMakesRoomSoThatAddingMovesNoEntry) {
  Snapshot::ReleasePooledBuffers();  // start from nothing, not a kept array with room already
  Snapshot snapshot;
  snapshot.AddScalar(snapshot.CopyKey("first"), MetricType::kGauge, 0, -1);
  constexpr int kMore = 100000;
  snapshot.Reserve(kMore);
  const Snapshot::Entry* const reserved = snapshot.entries().data();
  for (int i = 0; i < kMore; ++i) {
    snapshot.AddScalar(snapshot.CopyKey("s_" + std::to_string(i)), MetricType::kGauge, 0, i);
  }
  EXPECT_EQ(snapshot.entries().data(), reserved);  // grown into the reserved room, not moved
  ASSERT_EQ(snapshot.entries().size(), size_t{kMore + 1});
  EXPECT_EQ(snapshot.entries()[0].Key(), "first");
  EXPECT_EQ(snapshot.entries()[0].value, -1);
  EXPECT_EQ(snapshot.entries()[kMore].Key(), "s_99999");
  snapshot.Reserve(10);  // room enough already: nothing moves
  EXPECT_EQ(snapshot.entries().data(), reserved);
  snapshot.Sort();
  ASSERT_EQ(snapshot.entries().size(), size_t{kMore + 1});
  EXPECT_EQ(snapshot.entries()[0].Key(), "first");
  EXPECT_EQ(snapshot.entries()[1].Key(), "s_0");
  EXPECT_EQ(snapshot.entries()[1].value, 0);
  EXPECT_EQ(snapshot.entries()[kMore].Key(), "s_99999");
}

}  // namespace
}  // namespace metricsgate::storage

#include "export/graphite_rollup.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "storage/rollup_table.h"

namespace metricsgate::exporter {
namespace {

std::string Js(double value) {
  std::string out;
  AppendJsNumber(value, &out);
  return out;
}

TEST(AppendJsNumberTest, WritesWhatJavaScriptWrites) {
  // Expected strings are what node prints for String(x).
  const std::vector<std::pair<double, std::string>> cases = {
      {0, "0"},
      {-0.0, "0"},
      {1, "1"},
      {-1, "-1"},
      {0.1, "0.1"},
      {0.1 + 0.2, "0.30000000000000004"},
      {81.64965809277261, "81.64965809277261"},
      {1e21, "1e+21"},
      {1e20, "100000000000000000000"},
      {123456789012345680000.0, "123456789012345680000"},
      {1.5e21, "1.5e+21"},
      {1e-6, "0.000001"},
      {1.5e-6, "0.0000015"},
      {1e-7, "1e-7"},
      {-1.25e-7, "-1.25e-7"},
      {5e-324, "5e-324"},
      {1.7976931348623157e308, "1.7976931348623157e+308"},
      {100, "100"},
      {2.5, "2.5"},
      {std::numeric_limits<double>::infinity(), "Infinity"},
      {-std::numeric_limits<double>::infinity(), "-Infinity"},
      {std::numeric_limits<double>::quiet_NaN(), "NaN"},
  };
  for (const auto& [value, text] : cases) EXPECT_EQ(Js(value), text) << text;
}

// The rollups of one interval, by name, values as JavaScript writes them.
std::map<std::string, std::string> Rollups(storage::RollupTable& table,
                                           const GraphiteRollupOptions& options,
                                           const FlushSelfMetrics& self = {}) {
  storage::RollupInterval interval;
  table.EndInterval(&interval);
  GraphiteBatch batch;
  ComputeGraphiteRollups(interval, self, options, &batch);
  std::map<std::string, std::string> out;
  for (const GraphiteBatch::Point& point : batch.points) {
    EXPECT_TRUE(out.emplace(std::string(batch.name(point)), Js(point.value)).second)
        << "duplicate " << batch.name(point);
  }
  return out;
}

TEST(GraphiteRollupTest, LegacyNamesAndSelfMetricsOfAnIdleFirstFlush) {
  storage::RollupTable table;
  GraphiteRollupOptions options;
  FlushSelfMetrics self;
  self.last_flush = 1700000000;
  auto rollups = Rollups(table, options, self);
  // Etsy 0.9.0, default config, no traffic: exactly these (calculationtime and
  // processing_time are Etsy's own milliseconds).
  rollups.erase("stats.statsd.graphiteStats.calculationtime");
  rollups.erase("stats.statsd.processing_time");
  EXPECT_EQ(rollups, (std::map<std::string, std::string>{
                         {"stats.statsd.bad_lines_seen", "0"},
                         {"stats_counts.statsd.bad_lines_seen", "0"},
                         {"stats.statsd.packets_received", "0"},
                         {"stats_counts.statsd.packets_received", "0"},
                         {"stats.statsd.metrics_received", "0"},
                         {"stats_counts.statsd.metrics_received", "0"},
                         {"statsd.numStats", "3"},
                         {"stats.statsd.graphiteStats.last_exception", "0"},
                         {"stats.statsd.graphiteStats.last_flush", "1700000000"},
                         {"stats.statsd.graphiteStats.flush_time", "0"},
                         {"stats.statsd.graphiteStats.flush_length", "0"},
                     }));
}

TEST(GraphiteRollupTest, CountersGaugesSetsAndTagsInLegacyNamespace) {
  storage::RollupTable table;
  table.AddCounter("a.b", 2);
  table.AddCounter("tagged;env=prod;role=web", 1);
  table.SetGauge("g", 1.5, false);
  table.AddSetMember("s", "x");
  table.AddSetMember("s", "y");
  table.CountReceived(1, 4, 0);
  GraphiteRollupOptions options;
  options.flush_interval = std::chrono::milliseconds(1000);
  FlushSelfMetrics self;
  self.has_timestamp_lag = true;
  self.timestamp_lag = 0;
  const auto rollups = Rollups(table, options, self);
  EXPECT_EQ(rollups.at("stats.a.b"), "2");
  EXPECT_EQ(rollups.at("stats_counts.a.b"), "2");
  EXPECT_EQ(rollups.at("stats.tagged;env=prod;role=web"), "1");
  EXPECT_EQ(rollups.at("stats_counts.tagged;env=prod;role=web"), "1");
  EXPECT_EQ(rollups.at("stats.gauges.g"), "1.5");
  EXPECT_EQ(rollups.at("stats.gauges.statsd.timestamp_lag"), "0");
  EXPECT_EQ(rollups.at("stats.sets.s.count"), "2");
  EXPECT_EQ(rollups.at("stats_counts.statsd.packets_received"), "1");
  EXPECT_EQ(rollups.at("stats_counts.statsd.metrics_received"), "4");
  // 3 own counters, 2 counters, 2 gauges (with timestamp_lag), 1 set.
  EXPECT_EQ(rollups.at("statsd.numStats"), "8");
}

TEST(GraphiteRollupTest, NewNamespacePrefixesSuffixAndTags) {
  storage::RollupTable table;
  table.AddCounter("a;k=v", 5);
  table.AddTimer("t", 7, 1);
  table.SetGauge("g", 2, false);
  table.AddSetMember("s", "x");
  GraphiteRollupOptions options;
  options.legacy_namespace = false;
  options.global_prefix = "gp";
  options.prefix_counter = "";
  options.prefix_gauge = "gg";
  options.global_suffix = "sfx";
  options.prefix_stats = "me";
  options.flush_interval = std::chrono::milliseconds(2000);
  const auto rollups = Rollups(table, options);
  EXPECT_EQ(rollups.at("gp.a.rate.sfx;k=v"), "2.5");
  EXPECT_EQ(rollups.at("gp.a.count.sfx;k=v"), "5");
  EXPECT_EQ(rollups.at("gp.timers.t.upper.sfx"), "7");
  EXPECT_EQ(rollups.at("gp.gg.g.sfx"), "2");
  EXPECT_EQ(rollups.at("gp.sets.s.count.sfx"), "1");
  EXPECT_EQ(rollups.at("gp.me.numStats.sfx"), "7");
  EXPECT_EQ(rollups.at("gp.me.bad_lines_seen.count.sfx"), "0");
  EXPECT_EQ(rollups.at("gp.me.graphiteStats.last_flush.sfx"), "0");
  EXPECT_EQ(rollups.count("gp.me.processing_time.sfx"), 1u);
  // Without flush_counts, a counter sends its rate only.
  options.flush_counts = false;
  table.AddCounter("a;k=v", 1);
  const auto again = Rollups(table, options);
  EXPECT_EQ(again.count("gp.a.count.sfx;k=v"), 0u);
  EXPECT_EQ(again.at("gp.a.rate.sfx;k=v"), "0.5");
}

TEST(GraphiteRollupTest, TimerMathMatchesEtsyProcessMetricsTests) {
  GraphiteRollupOptions options;
  options.flush_interval = std::chrono::milliseconds(100);
  options.percent_thresholds = {90, 80};
  storage::RollupTable table;
  for (double v : {100, 200, 300}) table.AddTimer("a", v, 1);
  const auto rollups = Rollups(table, options);
  const std::map<std::string, std::string> expected = {
      {"count_90", "3"},
      {"mean_90", "200"},
      {"upper_90", "300"},
      {"sum_90", "600"},
      {"sum_squares_90", "140000"},
      {"count_80", "2"},
      {"mean_80", "150"},
      {"upper_80", "200"},
      {"sum_80", "300"},
      {"sum_squares_80", "50000"},
      {"std", "81.64965809277261"},
      {"upper", "300"},
      {"lower", "100"},
      {"count", "3"},
      {"count_ps", "30"},
      {"sum", "600"},
      {"sum_squares", "140000"},
      {"mean", "200"},
      {"median", "200"},
  };
  for (const auto& [name, value] : expected) {
    EXPECT_EQ(rollups.at("stats.timers.a." + name), value) << name;
  }
  EXPECT_EQ(rollups.count("stats.timers.a.histogram.bin_1"), 0u);
}

TEST(GraphiteRollupTest, TimerTopPercentileEvenMedianAndSampledCount) {
  GraphiteRollupOptions options;
  options.flush_interval = std::chrono::milliseconds(100);
  options.percent_thresholds = {-20};
  storage::RollupTable table;
  for (int i = 0; i < 8; ++i) table.AddTimer("a", 10, 1);
  table.AddTimer("a", 100, 1);
  table.AddTimer("a", 200, 1);
  table.AddTimer("b", 1, 10);  // @0.1
  table.AddTimer("b", 2, 10);
  auto rollups = Rollups(table, options);
  EXPECT_EQ(rollups.at("stats.timers.a.mean_top20"), "150");
  EXPECT_EQ(rollups.at("stats.timers.a.lower_top20"), "100");
  EXPECT_EQ(rollups.at("stats.timers.a.sum_top20"), "300");
  EXPECT_EQ(rollups.at("stats.timers.a.count_top20"), "2");
  EXPECT_EQ(rollups.at("stats.timers.a.median"), "10");
  EXPECT_EQ(rollups.at("stats.timers.b.median"), "1.5");
  EXPECT_EQ(rollups.at("stats.timers.b.count"), "20");
  EXPECT_EQ(rollups.at("stats.timers.b.count_ps"), "200");
  // The top 90% of two values is both: Etsy reads before its array's start, NaN.
  options.percent_thresholds = {-90};
  table.AddTimer("c", 1, 1);
  table.AddTimer("c", 2, 1);
  rollups = Rollups(table, options);
  EXPECT_EQ(rollups.at("stats.timers.c.sum_top90"), "NaN");
  EXPECT_EQ(rollups.at("stats.timers.c.mean_top90"), "NaN");
  EXPECT_EQ(rollups.at("stats.timers.c.lower_top90"), "1");
  // An idle timer sends its count and rate only.
  EXPECT_EQ(rollups.at("stats.timers.a.count"), "0");
  EXPECT_EQ(rollups.at("stats.timers.a.count_ps"), "0");
  EXPECT_EQ(rollups.count("stats.timers.a.upper"), 0u);
}

TEST(GraphiteRollupTest, PercentileRoundingAndSingleValue) {
  GraphiteRollupOptions options;
  options.percent_thresholds = {5, 99.9, 0.5};
  storage::RollupTable table;
  for (int i = 1; i <= 10; ++i) table.AddTimer("ten", i, 1);
  table.AddTimer("one", 4, 1);
  const auto rollups = Rollups(table, options);
  // 5% of 10 is 0.5: Math.round makes it 1.
  EXPECT_EQ(rollups.at("stats.timers.ten.count_5"), "1");
  EXPECT_EQ(rollups.at("stats.timers.ten.upper_5"), "1");
  EXPECT_EQ(rollups.at("stats.timers.ten.count_99_9"), "10");
  // 0.5% of 10 rounds to 0: skipped.
  EXPECT_EQ(rollups.count("stats.timers.ten.count_0_5"), 0u);
  // One value: every threshold holds it, even one that rounds to 0.
  EXPECT_EQ(rollups.at("stats.timers.one.count_0_5"), "1");
  EXPECT_EQ(rollups.at("stats.timers.one.upper_0_5"), "4");
  EXPECT_EQ(rollups.at("stats.timers.one.std"), "0");
}

TEST(GraphiteRollupTest, HistogramBinsAsEtsyCountsThem) {
  GraphiteRollupOptions options;
  options.histograms = {{"a", {1, 2}},
                        {"abc", {1, 2.21, std::numeric_limits<double>::infinity()}},
                        {"r", {150, 350, std::numeric_limits<double>::infinity()}}};
  storage::RollupTable table;
  for (int i = 1; i <= 10; ++i) table.AddTimer("a", i, 1);
  for (double v : {0.5, 3.0, 4.0, 5.0, 6.0}) table.AddTimer("xbc", v, 1);
  for (double v : {100, 200, 300, 400, 500}) table.AddTimer("r", v, 1);
  const auto rollups = Rollups(table, options);
  EXPECT_EQ(rollups.at("stats.timers.a.histogram.bin_1"), "0");
  EXPECT_EQ(rollups.at("stats.timers.a.histogram.bin_2"), "1");
  EXPECT_EQ(rollups.count("stats.timers.xbc.histogram.bin_1"), 0u);  // no rule matches
  EXPECT_EQ(rollups.at("stats.timers.r.histogram.bin_150"), "1");
  EXPECT_EQ(rollups.at("stats.timers.r.histogram.bin_350"), "2");
  EXPECT_EQ(rollups.at("stats.timers.r.histogram.bin_inf"), "2");
  storage::RollupTable first_match;
  for (double v : {0.5, 3.0, 4.0, 5.0, 6.0}) first_match.AddTimer("abc", v, 1);
  options.histograms.erase(options.histograms.begin());  // "a" would match "abc" first
  const auto abc = Rollups(first_match, options);
  EXPECT_EQ(abc.at("stats.timers.abc.histogram.bin_1"), "1");
  EXPECT_EQ(abc.at("stats.timers.abc.histogram.bin_2_21"), "0");
  EXPECT_EQ(abc.at("stats.timers.abc.histogram.bin_inf"), "4");
}

TEST(GraphiteRollupTest, CalculatedTimerMetricsFilter) {
  GraphiteRollupOptions options;
  options.percent_thresholds = {90, -10};
  options.histograms = {{"t", {5}}};
  options.calculated_timer_metrics = {"count", "upper_percent", "lower_percent", "histogram"};
  storage::RollupTable table;
  for (int i = 1; i <= 10; ++i) table.AddTimer("t", i, 1);
  auto rollups = Rollups(table, options);
  std::map<std::string, std::string> timers;
  for (const auto& [name, value] : rollups) {
    if (name.starts_with("stats.timers.")) timers[name] = value;
  }
  EXPECT_EQ(timers, (std::map<std::string, std::string>{
                        {"stats.timers.t.count", "10"},
                        {"stats.timers.t.upper_90", "9"},
                        {"stats.timers.t.lower_top10", "10"},
                        {"stats.timers.t.histogram.bin_5", "4"},
                    }));
}

TEST(GraphiteRollupTest, TimerPastTheSampleCapStaysWithinOnePercent) {
  storage::RollupTable table({.max_timer_samples = 100});
  for (int i = 1; i <= 10000; ++i) table.AddTimer("big", i, 1);
  GraphiteRollupOptions options;
  const auto rollups = Rollups(table, options);
  const auto value = [&](const std::string& name) {
    return std::stod(rollups.at("stats.timers.big." + name));
  };
  EXPECT_EQ(value("count"), 10000);
  EXPECT_EQ(value("sum"), 50005000);
  EXPECT_EQ(value("upper"), 10000);
  EXPECT_EQ(value("lower"), 1);
  EXPECT_EQ(value("mean"), 5000.5);
  EXPECT_NEAR(value("std"), 2886.751, 0.01);
  EXPECT_EQ(value("count_90"), 9000);
  EXPECT_NEAR(value("upper_90"), 9000, 90);
  EXPECT_NEAR(value("median"), 5000.5, 50);
  EXPECT_NEAR(value("sum_90"), 40504500, 405045);
  EXPECT_NEAR(value("mean_90"), 4500.5, 45);
}

TEST(GraphiteBatchTest, ADrainingBatchHandsOverEveryPointInChunks) {
  // One interval rolled up whole and in chunks of 7 points: the same points in the same
  // order, no chunk over 7.
  storage::RollupTable table;
  for (int i = 0; i < 20; ++i) table.AddCounter("c" + std::to_string(i), i);
  for (int i = 0; i < 5; ++i) table.AddTimer("t" + std::to_string(i), i, 1);
  table.SetGauge("g", 3, false);
  table.AddSetMember("s", "x");
  storage::RollupInterval interval;
  table.EndInterval(&interval);
  GraphiteBatch whole;
  ComputeGraphiteRollups(interval, {}, {}, &whole);
  std::vector<std::pair<std::string, double>> expected;
  for (const auto& point : whole.points) expected.emplace_back(whole.name(point), point.value);

  GraphiteBatch chunked;
  chunked.drain_points = 7;
  std::vector<std::pair<std::string, double>> got;
  size_t chunks = 0, largest = 0;
  chunked.drain = [&](const GraphiteBatch& chunk) {
    ++chunks;
    largest = std::max(largest, chunk.points.size());
    for (const auto& point : chunk.points) got.emplace_back(chunk.name(point), point.value);
  };
  ComputeGraphiteRollups(interval, {}, {}, &chunked);
  chunked.End();
  EXPECT_EQ(got, expected);
  EXPECT_GT(expected.size(), 100u);
  EXPECT_EQ(chunks, (expected.size() + 6) / 7);
  EXPECT_EQ(largest, 7u);
  EXPECT_TRUE(chunked.points.empty());
}

std::map<std::string, std::string> TaggedLines(const std::vector<storage::MetricFamily>& families) {
  GraphiteBatch batch;
  AppendTaggedFamilies(families, &batch);
  std::map<std::string, std::string> lines;
  for (const auto& point : batch.points) {
    std::string value;
    AppendJsNumber(point.value, &value);
    EXPECT_TRUE(lines.emplace(std::string(batch.name(point)), value).second) << batch.name(point);
  }
  return lines;
}

TEST(AppendTaggedFamiliesTest, CountersAndGaugesWithSortedTagsAndNoEmptyValues) {
  storage::MetricFamily counter{"jobs_done",
                                "",
                                storage::MetricType::kCounter,
                                {{{{"instance", ""}, {"job", "backup"}, {"zone", "eu"}}, 42}}};
  storage::MetricFamily gauge{
      "last_run", "", storage::MetricType::kGauge, {{{{"job", "backup"}}, 1.5e-7}, {{}, 3}}};
  const std::map<std::string, std::string> expected = {
      {"jobs_done;job=backup;zone=eu", "42"},
      {"last_run;job=backup", "1.5e-7"},
      {"last_run", "3"},
  };
  EXPECT_EQ(TaggedLines({counter, gauge}), expected);
}

TEST(AppendTaggedFamiliesTest, HistogramsAndSummariesAsPrometheusSeries) {
  storage::MetricFamily histogram{"latency_seconds", "", storage::MetricType::kHistogram, {}};
  storage::Sample h{{{"job", "api"}}};
  h.histogram = storage::HistogramValue{
      {{0.5, 2}, {1e6, 5}, {std::numeric_limits<double>::infinity(), 7}}, 12.25};
  histogram.samples.push_back(h);
  storage::MetricFamily summary{"size_bytes", "", storage::MetricType::kSummary, {}};
  storage::Sample q{{{"job", "api"}}};
  q.summary =
      storage::SummaryValue{{{0.5, 10}, {0.99, std::numeric_limits<double>::quiet_NaN()}}, 30, 3};
  summary.samples.push_back(q);
  const std::map<std::string, std::string> expected = {
      {"latency_seconds_bucket;job=api;le=0.5", "2"},
      {"latency_seconds_bucket;job=api;le=1e+06", "5"},
      {"latency_seconds_bucket;job=api;le=+Inf", "7"},
      {"latency_seconds_sum;job=api", "12.25"},
      {"latency_seconds_count;job=api", "7"},
      {"size_bytes;job=api;quantile=0.5", "10"},
      {"size_bytes;job=api;quantile=0.99", "NaN"},
      {"size_bytes_sum;job=api", "30"},
      {"size_bytes_count;job=api", "3"},
  };
  EXPECT_EQ(TaggedLines({histogram, summary}), expected);
}

TEST(AppendTaggedFamiliesTest, ValuesGraphiteWouldRefuseAreMadeSafe) {
  // Graphite refuses ';' in a value and a leading '~'; plaintext splits on whitespace; `name`
  // is Graphite's own tag.
  storage::MetricFamily gauge{
      "g",
      "",
      storage::MetricType::kGauge,
      {{{{"a", "x;y z\n\t"}, {"b", "~tilde~"}, {"name", "mine"}, {"c", "\x01\x7f=ok"}}, 1}}};
  const std::map<std::string, std::string> expected = {
      {"g;a=x_y_z__;b=_tilde~;c=__=ok;exported_name=mine", "1"},
  };
  EXPECT_EQ(TaggedLines({gauge}), expected);
}

}  // namespace
}  // namespace metricsgate::exporter

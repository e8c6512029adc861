#include "ingest/statsd_ingester.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <string>
#include <thread>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace metricsgate::ingest {
namespace {

using storage::MetricFamily;
using storage::MetricType;

// "name{k=v,...}" for a sample; histograms as "name_sum" and "name_count".
std::string SeriesName(std::string_view name, const storage::Sample& s, std::string_view suffix) {
  std::string out = std::string(name) + std::string(suffix);
  if (!s.labels.empty()) {
    out += "{";
    for (size_t i = 0; i < s.labels.size(); ++i) {
      out += (i ? "," : "") + s.labels[i].first + "=" + s.labels[i].second;
    }
    out += "}";
  }
  return out;
}

class StatsdIngesterTest : public ::testing::Test {
 protected:
  // Every user series as "name{labels}" -> value; histograms as _sum and _count.
  std::map<std::string, double> Series() const {
    std::vector<MetricFamily> families;
    table_.Collect(&families);
    std::map<std::string, double> out;
    for (const MetricFamily& f : families) {
      for (const storage::Sample& s : f.samples) {
        if (f.type == MetricType::kHistogram) {
          out[SeriesName(f.name, s, "_sum")] = s.histogram->sum;
          out[SeriesName(f.name, s, "_count")] = s.histogram->buckets.back().second;
        } else {
          out[SeriesName(f.name, s, "")] = s.value;
        }
      }
    }
    return out;
  }

  MetricType TypeOf(std::string_view name) const {
    std::vector<MetricFamily> families;
    table_.Collect(&families);
    for (const MetricFamily& f : families) {
      if (f.name == name) return f.type;
    }
    ADD_FAILURE() << "no family " << name;
    return MetricType::kUntyped;
  }

  // The ingester's own metrics as "name{label=value}" -> value.
  std::map<std::string, double> Own() const {
    std::vector<MetricFamily> families;
    ingester_.Collect(&families);
    std::map<std::string, double> out;
    for (const MetricFamily& f : families) {
      EXPECT_EQ(f.type, MetricType::kCounter) << f.name;
      for (const storage::Sample& s : f.samples) out[SeriesName(f.name, s, "")] = s.value;
    }
    return out;
  }

  double Bad(std::string_view reason) const {
    return Own().at("metricsgate_statsd_bad_lines_total{reason=" + std::string(reason) + "}");
  }

  double TotalBad() const {
    double total = 0;
    for (const auto& [key, value] : Own()) {
      if (key.starts_with("metricsgate_statsd_bad_lines_total")) total += value;
    }
    return total;
  }

  void Send(std::string_view packet) { ingester_.HandlePacket(packet, StatsdTransport::kUdp); }

  storage::SeriesTable table_;
  StatsdIngester ingester_{&table_};
};

using Values = std::map<std::string, double>;

TEST_F(StatsdIngesterTest, CounterIsEscapedAndCounted) {
  Send("deploys.web:1|c");
  EXPECT_EQ(Series(), (Values{{"deploys_web", 1}}));
  EXPECT_EQ(TypeOf("deploys_web"), MetricType::kCounter);
  EXPECT_EQ(Own().at("metricsgate_statsd_packets_total{transport=udp}"), 1);
  EXPECT_EQ(Own().at("metricsgate_statsd_packets_total{transport=tcp}"), 0);
  EXPECT_EQ(Own().at("metricsgate_statsd_lines_total"), 1);
  EXPECT_EQ(Own().at("metricsgate_statsd_samples_total"), 1);
  EXPECT_EQ(TotalBad(), 0);
}

TEST_F(StatsdIngesterTest, CounterIsScaledBySampleRate) {
  Send("c1:1|c|@0.1\nc2:3|c|@0.5\nc2:1|c");
  EXPECT_EQ(Series(), (Values{{"c1", 10}, {"c2", 7}}));
}

TEST_F(StatsdIngesterTest, GaugesFollowEtsyDeltaRules) {
  // In one packet, as Etsy's docs advise for a negative absolute value: 0 then -7.
  Send("neg:0|g\nneg:-7|g");
  Send("g:10|g\ng:+5|g\ng:-3|g|@0.5");  // the rate is ignored for gauges
  Send("fresh:+5|g\nfresh2:-5|g");
  Send("abs:4|g\nabs:2|g");
  EXPECT_EQ(Series(), (Values{{"abs", 2}, {"fresh", 5}, {"fresh2", -5}, {"g", 12}, {"neg", -7}}));
  EXPECT_EQ(TypeOf("g"), MetricType::kGauge);
}

TEST_F(StatsdIngesterTest, TimersBecomeHistogramsInSeconds) {
  Send("t:250|ms\nt:1000|ms|@0.5\nh:3|h\nd:0.2|d\nd:-1|d");
  EXPECT_EQ(Series(), (Values{{"d_count", 2},
                              {"d_sum", -0.8},
                              {"h_count", 1},
                              {"h_sum", 3},
                              {"t_count", 3},
                              {"t_sum", 0.25 + 2 * 1.0}}));
  EXPECT_EQ(TypeOf("t"), MetricType::kHistogram);
  std::vector<MetricFamily> families;
  table_.Collect(&families);
  for (const MetricFamily& f : families) {
    if (f.name != "t") continue;
    // 0.25 s lands in le=0.25; the two weighted 1 s observations in le=1.
    const auto& buckets = f.samples.at(0).histogram->buckets;
    EXPECT_EQ(buckets[4], (std::pair<double, double>{0.1, 0}));
    EXPECT_EQ(buckets[5], (std::pair<double, double>{0.25, 1}));
    EXPECT_EQ(buckets[7], (std::pair<double, double>{1, 3}));
  }
}

TEST_F(StatsdIngesterTest, SetsCountDistinctMembersPerInterval) {
  Send("users:alice|s\nusers:bob|s\nusers:alice|s");
  table_.EndInterval();
  EXPECT_EQ(Series(), (Values{{"users", 2}}));
  EXPECT_EQ(TypeOf("users"), MetricType::kGauge);
}

TEST_F(StatsdIngesterTest, SeveralValuesPerLineAndPacking) {
  Send("multi:1|c:2|c\npacked:1:2:3|ms\ngp:+1:+2|g");
  EXPECT_EQ(Series(),
            (Values{{"gp", 3}, {"multi", 3}, {"packed_count", 3}, {"packed_sum", 0.006}}));
  EXPECT_EQ(Own().at("metricsgate_statsd_samples_total"), 7);
  EXPECT_EQ(Own().at("metricsgate_statsd_lines_total"), 3);
}

TEST_F(StatsdIngesterTest, TagsOfEveryStyleBecomeLabels) {
  Send(
      "req:1|c|#env:prod,code:200\n"
      "req,env=prod,code=200:1|c\n"
      "req#env=prod,code=200:1|c\n"
      "req[env=prod,code=200]:1|c\n"
      "req;env=prod;code=200:1|c\n"
      "req:1|c|#code:500,env:prod\n"
      "req:1|c\n");
  EXPECT_EQ(Series(),
            (Values{{"req", 1}, {"req{code=200,env=prod}", 5}, {"req{code=500,env=prod}", 1}}));
}

TEST_F(StatsdIngesterTest, TagKeysAreEscapedAndTheLastRepeatWins) {
  Send(
      "m:1|c|#dc.name:eu-1,5xx:yes,dc_name:us-1\n"
      "m:1|c|#__reserved:x,ok:1,bare\n");
  EXPECT_EQ(Series(), (Values{{"m{_5xx=yes,dc_name=us-1}", 1}, {"m{ok=1}", 1}}));
  EXPECT_EQ(Own().at("metricsgate_statsd_tag_errors_total"), 2);
}

TEST_F(StatsdIngesterTest, BadLineIsCountedAndTheRestOfThePacketKept) {
  Send("good.one:1|c\nbroken\ngood.two:2|g\nx:abc|c\r\n\ngood.one:4|c");
  EXPECT_EQ(Series(), (Values{{"good_one", 5}, {"good_two", 2}}));
  EXPECT_EQ(Own().at("metricsgate_statsd_lines_total"), 5);
  EXPECT_EQ(Bad("malformed_line"), 1);
  EXPECT_EQ(Bad("malformed_value"), 1);
  EXPECT_EQ(TotalBad(), 2);
}

TEST_F(StatsdIngesterTest, RejectsWhatPrometheusCannotHold) {
  Send(
      "dec:-1|c\n"                 // counters never go down
      "huge:1e308|c|@1e-10\n"      // overflows once scaled
      "metricsgate.series:1|g\n"   // our own namespace
      "bad\xff:1|c\n"              // not UTF-8
      "x:1|c\nx:1|g\n"             // x is a counter now
      "x:1|c|#k:v\nx:1|ms|#k:w\n"  // whatever the labels
      "t:1|ms\nt_count:1|c\n");    // the histogram writes t_count
  EXPECT_EQ(Series(), (Values{{"t_count", 1}, {"t_sum", 0.001}, {"x", 1}, {"x{k=v}", 1}}));
  EXPECT_EQ(Bad("illegal_negative_counter"), 1);
  EXPECT_EQ(Bad("value_out_of_range"), 1);
  EXPECT_EQ(Bad("reserved_name"), 1);
  EXPECT_EQ(Bad("invalid_utf8"), 1);
  EXPECT_EQ(Bad("type_conflict"), 3);
  EXPECT_EQ(TotalBad(), 7);
  EXPECT_EQ(Own().at("metricsgate_statsd_lines_total"), 10);
}

TEST_F(StatsdIngesterTest, ReportNamesTheFirstErrorsWithLineNumbers) {
  IngestReport report;
  report.max_errors = 2;
  ingester_.HandlePacket("ok:1|c\n\nbad\nmulti:1|c:x|c\nworse:|c\nok:2|c", StatsdTransport::kHttp,
                         &report);
  EXPECT_EQ(report.lines, 5u);
  EXPECT_EQ(report.samples, 3u);
  EXPECT_EQ(report.rejected_lines, 3u);
  ASSERT_EQ(report.first_errors.size(), 2u);
  EXPECT_EQ(report.first_errors[0].line_number, 3u);
  EXPECT_EQ(report.first_errors[0].reason, BadLineReason::kMalformedLine);
  EXPECT_EQ(report.first_errors[0].line, "bad");
  EXPECT_EQ(report.first_errors[1].line_number, 4u);
  EXPECT_EQ(report.first_errors[1].reason, BadLineReason::kMalformedValue);  // the `x`
  EXPECT_EQ(report.first_errors[1].line, "multi:1|c:x|c");
  EXPECT_EQ(Own().at("metricsgate_statsd_packets_total{transport=http}"), 1);
}

TEST_F(StatsdIngesterTest, PacketsHandledTogetherKeepOrderAcrossBatchesAndCountEach) {
  // 20 + 20 + 5 lines: the ingester's batches of 32 lines span the packets.
  std::vector<std::string> texts(3);
  for (int i = 0; i < 20; ++i) texts[0] += "hits.n" + std::to_string(i) + ":1|c\nlevel:1|g\n";
  for (int i = 0; i < 19; ++i) texts[1] += "hits.n" + std::to_string(i) + ":2|c\n";
  texts[1] += "broken\nlevel:2|g";
  texts[2] = "level:3|g\nhits.n0:4|c\n\nlevel:+1|g\nbad:1|q\nhits.n19:8|c";
  const std::vector<std::string_view> packets(texts.begin(), texts.end());
  IngestReport report;
  ingester_.HandlePackets(packets, StatsdTransport::kUdp, &report);
  const Values series = Series();
  EXPECT_EQ(series.at("hits_n0"), 1 + 2 + 4);
  EXPECT_EQ(series.at("hits_n18"), 1 + 2);
  EXPECT_EQ(series.at("hits_n19"), 1 + 8);
  EXPECT_EQ(series.at("level"), 4);  // set to 1 (x20), 2, 3, then +1: in the order sent
  EXPECT_EQ(report.lines, 40u + 21u + 5u);
  EXPECT_EQ(report.samples, 40u + 20u + 4u);
  ASSERT_EQ(report.first_errors.size(), 2u);
  EXPECT_EQ(report.first_errors[0].line_number, 20u);  // numbers start again in each packet
  EXPECT_EQ(report.first_errors[0].line, "broken");
  EXPECT_EQ(report.first_errors[1].line_number, 5u);
  EXPECT_EQ(report.first_errors[1].reason, BadLineReason::kUnknownType);
  EXPECT_EQ(Own().at("metricsgate_statsd_packets_total{transport=udp}"), 3);
  EXPECT_EQ(Own().at("metricsgate_statsd_lines_total"), 66);
  EXPECT_EQ(TotalBad(), 2);
  ingester_.HandlePackets({}, StatsdTransport::kUdp);  // nothing: nothing counted
  EXPECT_EQ(Own().at("metricsgate_statsd_packets_total{transport=udp}"), 3);
}

TEST_F(StatsdIngesterTest, MappingRenamesLabelsDropsAndSetsBuckets) {
  auto mapping = MappingConfig::Parse(R"(
mappings:
- match: "api.*.requests"
  name: "api_requests_total"
  help: "API requests."
  labels: {endpoint: "$1", env: "mapped"}
- match: "honor.*"
  name: "honored"
  honor_labels: true
  labels: {env: "mapped"}
- match: "lat.*"
  name: "latency_$1_seconds"
  scale: 2
  histogram_options: {buckets: [0.5, 1]}
- match: "debug.*"
  action: drop
)");
  ASSERT_TRUE(mapping.ok()) << mapping.status();
  ingester_.SetMapping(*mapping);
  Send(
      "api.users.requests:2|c|#env:prod,code:200\n"
      "honor.x:1|c|#env:prod\n"
      "lat.db:300|ms\n"
      "debug.noise:1|c\n"
      "other.name:1|c\n");
  EXPECT_EQ(Series(), (Values{{"api_requests_total{code=200,endpoint=users,env=mapped}", 2},
                              {"honored{env=prod}", 1},
                              {"latency_db_seconds_count", 1},
                              {"latency_db_seconds_sum", 0.6},
                              {"other_name", 1}}));
  EXPECT_EQ(Own().at("metricsgate_statsd_mapping_dropped_samples_total"), 1);
  EXPECT_EQ(TotalBad(), 0);
  std::vector<MetricFamily> families;
  table_.Collect(&families);
  for (const MetricFamily& f : families) {
    if (f.name == "api_requests_total") {
      EXPECT_EQ(f.help, "API requests.");
    }
    if (f.name == "latency_db_seconds") {
      EXPECT_EQ(f.samples.at(0).histogram->buckets.size(), 3u);
      EXPECT_EQ(f.samples.at(0).histogram->buckets[1], (std::pair<double, double>{1, 1}));
    }
  }
  ingester_.SetMapping(nullptr);
  Send("debug.noise:1|c");
  EXPECT_EQ(Series().at("debug_noise"), 1);
}

TEST(StatsdIngesterCapTest, NewSeriesBeyondTheCapAreCountedAndTheRestKept) {
  storage::SeriesTable table(2);
  StatsdIngester ingester(&table);
  ingester.HandlePacket("a:1|c\nb:1|c\nc:1|c\na:1|c|#k:v\na:2|c", StatsdTransport::kUdp);
  std::vector<MetricFamily> families;
  ingester.Collect(&families);
  for (const MetricFamily& f : families) {
    if (f.name != "metricsgate_statsd_bad_lines_total") continue;
    for (const storage::Sample& s : f.samples) {
      EXPECT_EQ(s.value, s.labels[0].second == "series_limit" ? 2 : 0) << s.labels[0].second;
    }
  }
  families.clear();
  table.Collect(&families);
  ASSERT_EQ(families.size(), 2u);
  EXPECT_EQ(table.size(), 2u);
}

TEST_F(StatsdIngesterTest, EmptyPacketCountsAPacketAndNoLines) {
  Send("");
  Send("\n\r\n");
  EXPECT_EQ(Own().at("metricsgate_statsd_packets_total{transport=udp}"), 2);
  EXPECT_EQ(Own().at("metricsgate_statsd_lines_total"), 0);
  EXPECT_TRUE(Series().empty());
}

TEST_F(StatsdIngesterTest, EveryBadLineReasonIsExportedFromTheStart) {
  std::map<std::string, double> own = Own();
  for (size_t i = 0; i < kBadLineReasonCount; ++i) {
    std::string key = "metricsgate_statsd_bad_lines_total{reason=" +
                      std::string(BadLineReasonName(static_cast<BadLineReason>(i))) + "}";
    ASSERT_TRUE(own.contains(key)) << key;
    EXPECT_EQ(own[key], 0) << key;
  }
}

// The per-thread series cache must give exactly what the full path gives: repeated lines,
// several samples and types per line, tags with reserved keys, drops, a mapping reload.
TEST_F(StatsdIngesterTest, RepeatedLinesThroughTheSeriesCacheMatchTheFirst) {
  for (int i = 0; i < 3; ++i) {
    Send(
        "hits:1|c|#__bad:x,env:prod\n"
        "hits:2|c|#env:prod\n"
        "mixed:1|c:5|g\n"
        "hits,env=dev:4|c\n"
        "neg:-1|c\n"
        "lat:250|ms|@0.5\n");
  }
  EXPECT_EQ(Series(), (Values{{"hits{env=dev}", 12},
                              {"hits{env=prod}", 9},
                              {"lat_count", 6},
                              {"lat_sum", 1.5},
                              {"mixed", 3}}));
  EXPECT_EQ(TypeOf("mixed"), MetricType::kCounter);
  // `mixed:…|g` conflicts with the counter each time; `-1|c` is refused each time; the
  // `__bad` tag is dropped and counted on every line, hit or miss.
  EXPECT_EQ(Bad("type_conflict"), 3);
  EXPECT_EQ(Bad("illegal_negative_counter"), 3);
  EXPECT_EQ(Own().at("metricsgate_statsd_tag_errors_total"), 3);
  EXPECT_EQ(Own().at("metricsgate_statsd_samples_total"), 15);
}

TEST_F(StatsdIngesterTest, MappingReloadRenamesSeriesTheCacheHeld) {
  Send("api.users:1|c");
  auto mapping = MappingConfig::Parse(R"(
mappings:
- match: "api.*"
  name: "api_total"
  labels: {endpoint: "$1"}
)");
  ASSERT_TRUE(mapping.ok()) << mapping.status();
  ingester_.SetMapping(*mapping);
  Send("api.users:2|c");
  EXPECT_EQ(Series(), (Values{{"api_total{endpoint=users}", 2}, {"api_users", 1}}));
}

TEST(StatsdIngesterCacheTest, EachIngesterUpdatesItsOwnTableFromOneThread) {
  storage::SeriesTable first;
  storage::SeriesTable second;
  StatsdIngester a(&first);
  StatsdIngester b(&second);
  for (int i = 0; i < 3; ++i) {
    a.HandlePacket("x:1|c", StatsdTransport::kUdp);
    b.HandlePacket("x:10|c", StatsdTransport::kUdp);
  }
  std::vector<MetricFamily> families;
  first.Collect(&families);
  second.Collect(&families);
  ASSERT_EQ(families.size(), 2u);
  EXPECT_EQ(families[0].samples.at(0).value, 3);
  EXPECT_EQ(families[1].samples.at(0).value, 30);
}

// TTLs: the global default (--statsd.ttl) for unmapped series and rules without a ttl; a
// rule's own ttl, even 0, wins. An expired series that comes back starts again from 0, which
// also proves the cached handle was dropped with it.
TEST(StatsdIngesterTtlTest, DefaultTtlAppliesUnlessTheRuleSetsOne) {
  absl::Time now = absl::FromUnixSeconds(1'000'000);
  storage::SeriesTable table(1000, [&] { return now; });
  StatsdIngester ingester(&table, std::chrono::seconds(10));
  auto mapping = MappingConfig::Parse(R"(
mappings:
- match: "keep.*"
  name: "kept"
  ttl: 0s
- match: "short.*"
  name: "short"
  ttl: 2s
- match: "plain.*"
  name: "plain"
)");
  ASSERT_TRUE(mapping.ok()) << mapping.status();
  ingester.SetMapping(*mapping);
  const auto send = [&] {
    ingester.HandlePacket("free:1|c\nkeep.a:1|c\nshort.a:1|c\nplain.a:1|c", StatsdTransport::kUdp);
  };
  const auto names = [&] {
    std::vector<MetricFamily> families;
    table.Collect(&families);
    std::map<std::string, double> out;
    for (const MetricFamily& f : families) out[f.name] = f.samples.at(0).value;
    return out;
  };
  send();
  send();
  now += absl::Seconds(3);
  EXPECT_EQ(table.Expire(), 1u);
  EXPECT_EQ(names(), (std::map<std::string, double>{{"free", 2}, {"kept", 2}, {"plain", 2}}));
  now += absl::Seconds(7);
  EXPECT_EQ(table.Expire(), 2u);
  EXPECT_EQ(names(), (std::map<std::string, double>{{"kept", 2}}));
  send();
  EXPECT_EQ(names(),
            (std::map<std::string, double>{{"free", 1}, {"kept", 3}, {"plain", 1}, {"short", 1}}));
}

// Receive threads share names while the sweeper expires them: cached handles must be dropped
// before their series are freed (run under TSan and ASan in CI). Every sample is counted.
TEST(StatsdIngesterConcurrencyTest, CachedSeriesSurviveConcurrentExpiry) {
  std::atomic<int64_t> now_ms{1'000'000'000};
  storage::SeriesTable table(storage::SeriesTable::kDefaultMaxSeries,
                             [&] { return absl::FromUnixMillis(now_ms.load()); });
  StatsdIngester ingester(&table, std::chrono::milliseconds(3));
  std::atomic<bool> stop{false};
  std::thread sweeper([&] {
    while (!stop.load()) {
      now_ms.fetch_add(2);
      table.Expire();
    }
  });
  constexpr int kPackets = 3000;
  std::vector<std::thread> receivers;
  for (int t = 0; t < 2; ++t) {
    receivers.emplace_back([&, t] {
      for (int i = 0; i < kPackets; ++i) {
        std::string packet;
        for (int j = 0; j < 10; ++j) {
          packet += "shared." + std::to_string((i + j) % 40) + ":1|c\n";
          packet += "own" + std::to_string(t) + ".t:" + std::to_string(j) + "|ms|#k:v\n";
        }
        ingester.HandlePacket(packet, StatsdTransport::kUdp);
      }
    });
  }
  for (std::thread& receiver : receivers) receiver.join();
  stop.store(true);
  sweeper.join();
  std::vector<MetricFamily> own;
  ingester.Collect(&own);
  for (const MetricFamily& f : own) {
    if (f.name == "metricsgate_statsd_samples_total") {
      EXPECT_EQ(f.samples.at(0).value, 2 * kPackets * 20);
    }
  }
  EXPECT_LE(table.size(), 42u);
}

}  // namespace
}  // namespace metricsgate::ingest

namespace metricsgate::ingest {
namespace {

TEST(StatsdIngesterRollupsTest, EverySampleReachesTheRollupsUnderItsEtsyKey) {
  storage::SeriesTable table;
  storage::RollupTable rollups;
  StatsdIngester ingester(&table, std::chrono::milliseconds(0), &rollups);
  auto mapping = MappingConfig::Parse("mappings:\n- match: dropped.*\n  action: drop\n  name: x\n");
  ASSERT_TRUE(mapping.ok()) << mapping.status();
  ingester.SetMapping(*mapping);
  ingester.HandlePacket(
      "a.b:1|c\n"
      "a.b:-3|c\n"                   // a decrement: dropped for Prometheus, kept for Graphite
      "t:250|ms|@0.5\n"              // in ms, as sent
      "tagged:2|c|#env:prod,role\n"  // DogStatsD tags become Graphite tags
      "influx,k=v:1|c\n"             // Etsy does not read these: the name keeps them
      "g:5|g\ng:-2|g\n"
      "s:x|s\ns:y|s\n"
      "dropped.one:1|c\n"  // an `action: drop` rule drops it for Prometheus only
      "sp ace/x:1|c\n"
      "bad:1|q\n"
      "\n",
      StatsdTransport::kUdp);
  storage::RollupInterval interval;
  rollups.EndInterval(&interval);
  std::map<std::string, double> counters;
  for (const auto& [key, value] : interval.counters)
    counters[std::string(interval.key(key))] = value;
  EXPECT_EQ(counters, (std::map<std::string, double>{{"a.b", -2},
                                                     {"tagged;env=prod;role", 2},
                                                     {"influxk=v", 1},
                                                     {"dropped.one", 1},
                                                     {"sp_ace-x", 1}}));
  ASSERT_EQ(interval.timers.size(), 1u);
  EXPECT_EQ(interval.key(interval.timers[0].first), "t");
  EXPECT_EQ(interval.timers[0].second.Sorted(), std::vector<double>{250});
  EXPECT_EQ(interval.timers[0].second.count(), 2);
  ASSERT_EQ(interval.gauges.size(), 1u);
  EXPECT_EQ(interval.gauges[0].second, 3);
  ASSERT_EQ(interval.sets.size(), 1u);
  EXPECT_EQ(interval.sets[0].second, 2u);
  EXPECT_EQ(interval.packets_received, 1u);
  EXPECT_EQ(interval.metrics_received, 12u);
  EXPECT_EQ(interval.bad_lines_seen, 1u);
}

TEST(EtsyKeyTest, BuildsTheKeyAsEtsyHandlePacketDoes) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"a.b:1|c", "a.b"},
      {"a.b", "a.b"},
      {"tagged:1|c|#env:prod,role:web", "tagged;env=prod;role=web"},
      {"val:1|c|#tag;1:v", "val;tag_1=v"},
      {"cid:1|c|#a:b|c:abc", "cid;a=bcabc"},
      {"x:1|c|#", "x"},
      {"x:1|c|#a,", "x;a;"},
      {"fo/o:1|c", "fo-o"},
      {"b ar:1|c", "b_ar"},
      {"foo+bar:1|c", "foobar"},
      {"g;k=v:1|g", "g;k=v"},
      {"m[k=v]:1|c", "mk=v"},
  };
  std::string key;
  for (const auto& [line, expected] : cases) {
    EtsyKey(line, &key);
    EXPECT_EQ(key, expected) << line;
  }
}

}  // namespace
}  // namespace metricsgate::ingest

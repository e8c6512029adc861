#include "ingest/statsd_ingester.h"

#include <algorithm>
#include <map>
#include <string>

#include "gtest/gtest.h"

namespace metricsgate::ingest {
namespace {

using storage::MetricFamily;
using storage::MetricType;

class StatsdIngesterTest : public ::testing::Test {
 protected:
  // name -> (type, value) of every user series.
  std::map<std::string, std::pair<MetricType, double>> Series() const {
    std::vector<MetricFamily> families;
    table_.Collect(&families);
    std::map<std::string, std::pair<MetricType, double>> out;
    for (const MetricFamily& f : families) out[f.name] = {f.type, f.samples.at(0).value};
    return out;
  }

  // The ingester's own metrics as "name{label=value}" -> value.
  std::map<std::string, double> Own() const {
    std::vector<MetricFamily> families;
    ingester_.Collect(&families);
    std::map<std::string, double> out;
    for (const MetricFamily& f : families) {
      EXPECT_EQ(f.type, MetricType::kCounter) << f.name;
      for (const storage::Sample& s : f.samples) {
        std::string key = f.name;
        for (const auto& [k, v] : s.labels) key += "{" + k + "=" + v + "}";
        out[key] = s.value;
      }
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

  storage::SeriesTable table_;
  StatsdIngester ingester_{&table_};
};

using SeriesMap = std::map<std::string, std::pair<MetricType, double>>;

TEST_F(StatsdIngesterTest, CounterIsEscapedAndCounted) {
  ingester_.HandlePacket("deploys.web:1|c", StatsdTransport::kUdp);
  EXPECT_EQ(Series(), (SeriesMap{{"deploys_web", {MetricType::kCounter, 1}}}));
  EXPECT_EQ(Own().at("metricsgate_statsd_packets_total{transport=udp}"), 1);
  EXPECT_EQ(Own().at("metricsgate_statsd_lines_total"), 1);
  EXPECT_EQ(TotalBad(), 0);
}

TEST_F(StatsdIngesterTest, CounterIsScaledBySampleRate) {
  ingester_.HandlePacket("c1:1|c|@0.1\nc2:3|c|@0.5\nc2:1|c", StatsdTransport::kUdp);
  EXPECT_EQ(Series(),
            (SeriesMap{{"c1", {MetricType::kCounter, 10}}, {"c2", {MetricType::kCounter, 7}}}));
}

TEST_F(StatsdIngesterTest, GaugesFollowEtsyDeltaRules) {
  // In one packet, as Etsy's docs advise for a negative absolute value: 0 then -7.
  ingester_.HandlePacket("neg:0|g\nneg:-7|g", StatsdTransport::kUdp);
  ingester_.HandlePacket("g:10|g\ng:+5|g\ng:-3|g|@0.5", StatsdTransport::kUdp);  // rate ignored
  ingester_.HandlePacket("fresh:+5|g\nfresh2:-5|g", StatsdTransport::kUdp);
  ingester_.HandlePacket("abs:4|g\nabs:2|g", StatsdTransport::kUdp);
  EXPECT_EQ(Series(), (SeriesMap{{"abs", {MetricType::kGauge, 2}},
                                 {"fresh", {MetricType::kGauge, 5}},
                                 {"fresh2", {MetricType::kGauge, -5}},
                                 {"g", {MetricType::kGauge, 12}},
                                 {"neg", {MetricType::kGauge, -7}}}));
}

TEST_F(StatsdIngesterTest, BadLineIsCountedAndTheRestOfThePacketKept) {
  ingester_.HandlePacket("good.one:1|c\nbroken\ngood.two:2|g\nx:abc|c\r\n\ngood.one:4|c",
                         StatsdTransport::kUdp);
  EXPECT_EQ(Series(), (SeriesMap{{"good_one", {MetricType::kCounter, 5}},
                                 {"good_two", {MetricType::kGauge, 2}}}));
  EXPECT_EQ(Own().at("metricsgate_statsd_lines_total"), 5);
  EXPECT_EQ(Bad("malformed_line"), 1);
  EXPECT_EQ(Bad("malformed_value"), 1);
  EXPECT_EQ(TotalBad(), 2);
}

TEST_F(StatsdIngesterTest, RejectsWhatPrometheusCannotHold) {
  ingester_.HandlePacket(
      "dec:-1|c\n"                     // counters never go down
      "huge:1e308|c|@1e-10\n"          // overflows once scaled
      "metricsgate.series:1|g\n"       // our own namespace
      "bad\xff:1|c\n"                  // not UTF-8
      "t:5|ms\nh:1|h\nd:1|d\ns:a|s\n"  // not supported yet (issue #3)
      "x:1|c\nx:1|g\n",                // x is a counter now
      StatsdTransport::kUdp);
  EXPECT_EQ(Series(), (SeriesMap{{"x", {MetricType::kCounter, 1}}}));
  EXPECT_EQ(Bad("illegal_negative_counter"), 1);
  EXPECT_EQ(Bad("value_out_of_range"), 1);
  EXPECT_EQ(Bad("reserved_name"), 1);
  EXPECT_EQ(Bad("invalid_utf8"), 1);
  EXPECT_EQ(Bad("unsupported_type"), 4);
  EXPECT_EQ(Bad("type_conflict"), 1);
  EXPECT_EQ(TotalBad(), 9);
  EXPECT_EQ(Own().at("metricsgate_statsd_lines_total"), 10);
}

TEST_F(StatsdIngesterTest, EmptyPacketCountsAPacketAndNoLines) {
  ingester_.HandlePacket("", StatsdTransport::kUdp);
  ingester_.HandlePacket("\n\r\n", StatsdTransport::kUdp);
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

}  // namespace
}  // namespace metricsgate::ingest

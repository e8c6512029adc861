#include "export/exposition.h"

#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace metricsgate::exporter {
namespace {

using storage::Label;
using storage::MetricType;
using storage::NativeHistogramView;
using storage::Snapshot;
using ::testing::ElementsAre;

constexpr double kInf = std::numeric_limits<double>::infinity();

TEST(NegotiateTest, PicksWhatEachPrometheusVersionPrefers) {
  // The Accept headers of Prometheus releases (reference notes, scrape/scrape.go per tag).
  EXPECT_EQ(Negotiate("text/plain;version=0.0.4;q=1,*/*;q=0.1"), Format::kText);  // 2.0
  EXPECT_EQ(Negotiate("application/openmetrics-text; version=0.0.1,text/plain;version=0.0.4;"
                      "q=0.5,*/*;q=0.1"),
            Format::kOpenMetrics);  // 2.5-2.33
  EXPECT_EQ(Negotiate("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
                      "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
            Format::kOpenMetrics);  // 2.34-2.48
  EXPECT_EQ(Negotiate("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
                      "encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,"
                      "application/openmetrics-text;version=0.0.1;q=0.75,text/plain;"
                      "version=0.0.4;q=0.5,*/*;q=0.1"),
            Format::kProtobuf);  // native histograms on
  EXPECT_EQ(Negotiate("application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; "
                      "encoding=delimited; q=0.7, text/plain;version=0.0.4;q=0.3, */*;q=0.1"),
            Format::kProtobuf);  // 1.x, with spaces
  EXPECT_EQ(Negotiate("application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,"
                      "application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;"
                      "escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"),
            Format::kOpenMetrics);  // 3.x
  EXPECT_EQ(Negotiate("text/plain;version=0.0.4;q=0.3,application/openmetrics-text;q=0.5"),
            Format::kOpenMetrics);  // the highest q wins, not the first listed
}

TEST(NegotiateTest, FallsBackToTextForAnythingElse) {
  EXPECT_EQ(Negotiate(""), Format::kText);
  EXPECT_EQ(Negotiate("*/*"), Format::kText);
  EXPECT_EQ(Negotiate("application/json"), Format::kText);
  EXPECT_EQ(Negotiate("application/openmetrics-text;version=2.0.0"), Format::kText);
  EXPECT_EQ(Negotiate("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
                      "encoding=text"),
            Format::kText);  // only the delimited encoding is served
  EXPECT_EQ(Negotiate("application/openmetrics-text;q=0,text/plain"), Format::kText);  // refused
  EXPECT_EQ(Negotiate("application/openmetrics-text;q=banana"), Format::kText);
  EXPECT_EQ(Negotiate(",,;;=,"), Format::kText);
  EXPECT_EQ(Negotiate("APPLICATION/OpenMetrics-Text; VERSION=1.0.0"), Format::kOpenMetrics);
}

TEST(NegotiateTest, ContentTypes) {
  EXPECT_EQ(ContentType(Format::kText), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(ContentType(Format::kOpenMetrics),
            "application/openmetrics-text; version=1.0.0; charset=utf-8");
  EXPECT_EQ(ContentType(Format::kProtobuf),
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; "
            "encoding=delimited");
}

// One of each type, with escaping, units and a counter with and without `_total`.
Snapshot EveryType() {
  Snapshot s;
  const auto key = [&](std::string_view name, std::vector<Label> labels = {}) {
    return s.EncodeKey(name, labels);
  };
  s.AddScalar(key("requests_total", {{"path", "/a\"b\\c\nd"}}), MetricType::kCounter,
              s.AddHelp("Requests \"served\".\nAll of them."), 7);
  s.AddScalar(key("hits"), MetricType::kCounter, s.AddHelp("Hits."), 2.5);
  s.AddScalar(key("temperature"), MetricType::kGauge, s.AddHelp(""), -1.5);
  s.AddScalar(key("pushed", {{"job", "j"}}), MetricType::kUntyped, 0, 1e6);
  const std::vector<double> bounds = {0.1, 1, kInf}, cumulative = {1, 3, 4};
  s.AddHistogram(key("latency_seconds", {{"code", "200"}}), s.AddHelp("Latency."), bounds,
                 cumulative, 2.25);
  const std::vector<double> quantiles = {0.5, 0.2, 0.99, 0.9};
  s.AddSummary(key("size_bytes"), s.AddHelp("Size."), quantiles, 30, 6);
  s.Sort();
  return s;
}

TEST(RendererTest, TextHasEveryTypeAsExpfmtWritesIt) {
  EXPECT_EQ(Render(EveryType(), Format::kText),
            "# HELP hits Hits.\n"
            "# TYPE hits counter\n"
            "hits 2.5\n"
            "# HELP latency_seconds Latency.\n"
            "# TYPE latency_seconds histogram\n"
            "latency_seconds_bucket{code=\"200\",le=\"0.1\"} 1\n"
            "latency_seconds_bucket{code=\"200\",le=\"1\"} 3\n"
            "latency_seconds_bucket{code=\"200\",le=\"+Inf\"} 4\n"
            "latency_seconds_sum{code=\"200\"} 2.25\n"
            "latency_seconds_count{code=\"200\"} 4\n"
            "# TYPE pushed untyped\n"
            "pushed{job=\"j\"} 1e+06\n"
            "# HELP requests_total Requests \"served\".\\nAll of them.\n"
            "# TYPE requests_total counter\n"
            "requests_total{path=\"/a\\\"b\\\\c\\nd\"} 7\n"
            "# HELP size_bytes Size.\n"
            "# TYPE size_bytes summary\n"
            "size_bytes{quantile=\"0.5\"} 0.2\n"
            "size_bytes{quantile=\"0.99\"} 0.9\n"
            "size_bytes_sum 30\n"
            "size_bytes_count 6\n"
            "# TYPE temperature gauge\n"
            "temperature -1.5\n");
}

// Counters keep the series name text gives them: `requests_total` is the counter `requests`,
// `hits` (no suffix) is written as unknown rather than renamed `hits_total`.
TEST(RendererTest, OpenMetricsHasTotalsUnitsCanonicalNumbersAndEof) {
  EXPECT_EQ(Render(EveryType(), Format::kOpenMetrics),
            "# TYPE hits unknown\n"
            "# HELP hits Hits.\n"
            "hits 2.5\n"
            "# TYPE latency_seconds histogram\n"
            "# UNIT latency_seconds seconds\n"
            "# HELP latency_seconds Latency.\n"
            "latency_seconds_bucket{code=\"200\",le=\"0.1\"} 1\n"
            "latency_seconds_bucket{code=\"200\",le=\"1.0\"} 3\n"
            "latency_seconds_bucket{code=\"200\",le=\"+Inf\"} 4\n"
            "latency_seconds_sum{code=\"200\"} 2.25\n"
            "latency_seconds_count{code=\"200\"} 4\n"
            "# TYPE pushed unknown\n"
            "pushed{job=\"j\"} 1e+06\n"
            "# TYPE requests counter\n"
            "# HELP requests Requests \\\"served\\\".\\nAll of them.\n"
            "requests_total{path=\"/a\\\"b\\\\c\\nd\"} 7\n"
            "# TYPE size_bytes summary\n"
            "# UNIT size_bytes bytes\n"
            "# HELP size_bytes Size.\n"
            "size_bytes{quantile=\"0.5\"} 0.2\n"
            "size_bytes{quantile=\"0.99\"} 0.9\n"
            "size_bytes_sum 30\n"
            "size_bytes_count 6\n"
            "# TYPE temperature gauge\n"
            "temperature -1.5\n"
            "# EOF\n");
  EXPECT_EQ(Render(Snapshot(), Format::kOpenMetrics), "# EOF\n");
  EXPECT_EQ(Render(Snapshot(), Format::kText), "");
}

TEST(RendererTest, PiecesOfAnySizeMakeTheSameBody) {
  Snapshot snapshot = EveryType();
  for (Format format : {Format::kText, Format::kOpenMetrics, Format::kProtobuf}) {
    const std::string whole = Render(snapshot, format);
    Renderer renderer(std::shared_ptr<const Snapshot>(std::shared_ptr<void>(), &snapshot), format);
    std::string pieces;
    int calls = 0;
    while (renderer.Next(&pieces, 1)) ++calls;
    EXPECT_EQ(pieces, whole);
    EXPECT_GT(calls, 3);
    EXPECT_FALSE(renderer.Next(&pieces));  // done stays done
  }
}

// A small protobuf reader for the test: each message as field -> raw values (varints as
// numbers, fixed64 as doubles, length-delimited as bytes).
struct Message {
  std::multimap<int, uint64_t> varints;
  std::multimap<int, double> doubles;
  std::multimap<int, std::string> bytes;
  std::vector<int64_t> Sints(int field) const {
    std::vector<int64_t> out;
    for (auto [it, end] = varints.equal_range(field); it != end; ++it) {
      out.push_back(static_cast<int64_t>(it->second >> 1) ^ -static_cast<int64_t>(it->second & 1));
    }
    return out;
  }
  std::vector<Message> Messages(int field) const;
};

uint64_t ReadVarint(std::string_view& in) {
  uint64_t value = 0;
  for (int shift = 0; !in.empty(); shift += 7) {
    const auto byte = static_cast<unsigned char>(in[0]);
    in.remove_prefix(1);
    value |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if (byte < 0x80) break;
  }
  return value;
}

Message Parse(std::string_view in) {
  Message m;
  while (!in.empty()) {
    const uint64_t tag = ReadVarint(in);
    const int field = static_cast<int>(tag >> 3);
    switch (tag & 7) {
      case 0:
        m.varints.emplace(field, ReadVarint(in));
        break;
      case 1: {
        double d;
        std::memcpy(&d, in.data(), 8);
        in.remove_prefix(8);
        m.doubles.emplace(field, d);
        break;
      }
      case 2: {
        const uint64_t size = ReadVarint(in);
        m.bytes.emplace(field, std::string(in.substr(0, size)));
        in.remove_prefix(size);
        break;
      }
      default:
        ADD_FAILURE() << "wire type " << (tag & 7);
        return m;
    }
  }
  return m;
}

std::vector<Message> Message::Messages(int field) const {
  std::vector<Message> out;
  for (auto [it, end] = bytes.equal_range(field); it != end; ++it) out.push_back(Parse(it->second));
  return out;
}

std::vector<Message> Families(std::string_view body) {
  std::vector<Message> out;
  while (!body.empty()) {
    const uint64_t size = ReadVarint(body);
    out.push_back(Parse(body.substr(0, size)));
    body.remove_prefix(size);
  }
  return out;
}

TEST(RendererTest, ProtobufHasOneMessagePerFamilyWithClientModelFields) {
  const std::vector<Message> families = Families(Render(EveryType(), Format::kProtobuf));
  ASSERT_EQ(families.size(), 6u);
  std::vector<std::string> names;
  for (const Message& f : families) names.push_back(f.bytes.find(1)->second);
  EXPECT_THAT(names, ElementsAre("hits", "latency_seconds", "pushed", "requests_total",
                                 "size_bytes", "temperature"));
  // hits: COUNTER (0), Counter{value 2.5}.
  EXPECT_EQ(families[0].varints.find(3)->second, 0u);
  EXPECT_EQ(families[0].bytes.find(2)->second, "Hits.");
  const Message counter = families[0].Messages(4)[0].Messages(3)[0];
  EXPECT_EQ(counter.doubles.find(1)->second, 2.5);
  // latency_seconds: HISTOGRAM (4), label, classic buckets without +Inf, count and sum.
  EXPECT_EQ(families[1].varints.find(3)->second, 4u);
  const Message metric = families[1].Messages(4)[0];
  const Message label = metric.Messages(1)[0];
  EXPECT_EQ(label.bytes.find(1)->second, "code");
  EXPECT_EQ(label.bytes.find(2)->second, "200");
  const Message histogram = metric.Messages(7)[0];
  EXPECT_EQ(histogram.varints.find(1)->second, 4u);
  EXPECT_EQ(histogram.doubles.find(2)->second, 2.25);
  const std::vector<Message> buckets = histogram.Messages(3);
  ASSERT_EQ(buckets.size(), 2u);
  EXPECT_EQ(buckets[1].varints.find(1)->second, 3u);
  EXPECT_EQ(buckets[1].doubles.find(2)->second, 1.0);
  EXPECT_EQ(histogram.varints.count(5), 0u);  // no native part was given
  // pushed: UNTYPED (3) in field 5; size_bytes: SUMMARY (2); temperature: GAUGE (1), no help.
  EXPECT_EQ(families[2].varints.find(3)->second, 3u);
  EXPECT_EQ(families[2].Messages(4)[0].Messages(5)[0].doubles.find(1)->second, 1e6);
  EXPECT_EQ(families[4].varints.find(3)->second, 2u);
  const Message summary = families[4].Messages(4)[0].Messages(4)[0];
  EXPECT_EQ(summary.varints.find(1)->second, 6u);
  EXPECT_EQ(summary.Messages(3)[1].doubles.find(1)->second, 0.99);
  EXPECT_EQ(families[5].varints.find(3)->second, 1u);
  EXPECT_EQ(families[5].bytes.count(2), 0u);
}

TEST(RendererTest, ProtobufCarriesNativeBucketsAsSpansAndDeltas) {
  Snapshot s;
  const std::vector<double> bounds = {kInf}, cumulative = {9};
  // Positive buckets 3, 4, 5 and 9 (a gap of 3), negative bucket -2; weights integral.
  const std::vector<double> positive = {3, 1, 4, 4, 5, 2, 9, 1}, negative = {-2, 1};
  NativeHistogramView native{3, 2.938735877055719e-39, 0, positive, negative};
  s.AddHistogram(s.EncodeKey("t", std::vector<Label>{}), 0, bounds, cumulative, 12, &native);
  // A histogram with no observations gets the no-op span.
  NativeHistogramView empty{3, 2.938735877055719e-39, 0, {}, {}};
  const std::vector<double> zero = {0};
  s.AddHistogram(s.EncodeKey("u", std::vector<Label>{}), 0, bounds, zero, 0, &empty);
  s.Sort();
  const std::vector<Message> families = Families(Render(s, Format::kProtobuf));
  ASSERT_EQ(families.size(), 2u);
  const Message h = families[0].Messages(4)[0].Messages(7)[0];
  EXPECT_THAT(h.Sints(5), ElementsAre(3));  // schema
  EXPECT_EQ(h.doubles.find(6)->second, 2.938735877055719e-39);
  EXPECT_EQ(h.varints.find(7)->second, 0u);  // zero count
  const std::vector<Message> spans = h.Messages(12);
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_THAT(spans[0].Sints(1), ElementsAre(3));  // offset of the first span: its index
  EXPECT_EQ(spans[0].varints.find(2)->second, 3u);
  EXPECT_THAT(spans[1].Sints(1), ElementsAre(3));  // 6, 7, 8 empty
  EXPECT_EQ(spans[1].varints.find(2)->second, 1u);
  EXPECT_THAT(h.Sints(13), ElementsAre(1, 3, -2, -1));  // 1, 4, 2, 1 as deltas
  const std::vector<Message> negative_spans = h.Messages(9);
  ASSERT_EQ(negative_spans.size(), 1u);
  EXPECT_THAT(negative_spans[0].Sints(1), ElementsAre(-2));
  EXPECT_THAT(h.Sints(10), ElementsAre(1));
  EXPECT_EQ(h.bytes.count(3), 0u);  // no finite classic bucket

  const Message u = families[1].Messages(4)[0].Messages(7)[0];
  const std::vector<Message> noop = u.Messages(12);
  ASSERT_EQ(noop.size(), 1u);
  EXPECT_THAT(noop[0].Sints(1), ElementsAre(0));
  EXPECT_EQ(noop[0].varints.find(2)->second, 0u);
}

TEST(RendererTest, ProtobufWritesFractionalCountsAsFloats) {
  Snapshot s;
  const std::vector<double> bounds = {1, kInf}, cumulative = {2.5, 3.5};
  const std::vector<double> positive = {0, 2.5}, negative;
  NativeHistogramView native{3, 2.938735877055719e-39, 1, positive, negative};
  s.AddHistogram(s.EncodeKey("t", std::vector<Label>{}), 0, bounds, cumulative, 3, &native);
  s.Sort();
  const Message h = Families(Render(s, Format::kProtobuf))[0].Messages(4)[0].Messages(7)[0];
  EXPECT_EQ(h.varints.count(1), 0u);
  EXPECT_EQ(h.doubles.find(4)->second, 3.5);                 // sample_count_float
  EXPECT_EQ(h.Messages(3)[0].doubles.find(4)->second, 2.5);  // cumulative_count_float
  EXPECT_EQ(h.doubles.find(8)->second, 1.0);                 // zero_count_float
  EXPECT_EQ(h.doubles.find(14)->second, 2.5);                // positive_count
  EXPECT_TRUE(h.Sints(13).empty());
}

}  // namespace
}  // namespace metricsgate::exporter

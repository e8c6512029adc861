#include "ingest/exposition_parser.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace metricsgate::ingest {
namespace {

using storage::Label;
using storage::MetricType;
using ::testing::ElementsAre;
using ::testing::Pair;

constexpr double kInf = std::numeric_limits<double>::infinity();

TEST(TextFormatTest, ParsesEveryTypeWithHelpLabelsAndEscapes) {
  const auto parsed = ParseTextFormat(
      "# HELP requests_total Requests \\\\ served\\nso far.\n"
      "# TYPE requests_total counter\n"
      "requests_total{code=\"200\",path=\"/a\\\"b\\\\c\\nd\"} 1027\n"
      "requests_total{code=\"500\" , } 3\n"
      "\n"
      "# a comment\n"
      "temperature -1.5e1\n"
      "# TYPE latency histogram\n"
      "latency_bucket{le=\"1\"} 2\n"
      "latency_bucket{le=\"0.5\"} 1\n"
      "latency_sum 1.75\n"
      "latency_count 3\n"
      "# TYPE rpc summary\n"
      "rpc{quantile=\"0.5\",x=\"y\"} 0.2\n"
      "rpc_sum{x=\"y\"} 9\n"
      "rpc_count{x=\"y\"} 40\n"
      "\tspaced \t +Inf\n"
      "# TYPE empty histogram\n"
      "empty 1\n");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_FALSE(parsed->has_timestamp);
  const auto& f = parsed->families;
  ASSERT_EQ(f.size(), 6u);
  EXPECT_EQ(f[0].name, "requests_total");
  EXPECT_EQ(f[0].help, "Requests \\ served\nso far.");
  EXPECT_EQ(f[0].type, MetricType::kCounter);
  ASSERT_EQ(f[0].samples.size(), 2u);
  EXPECT_THAT(f[0].samples[0].labels,
              ElementsAre(Pair("code", "200"), Pair("path", "/a\"b\\c\nd")));
  EXPECT_EQ(f[0].samples[0].value, 1027);
  EXPECT_EQ(f[0].samples[1].value, 3);
  EXPECT_EQ(f[1].name, "temperature");
  EXPECT_EQ(f[1].type, MetricType::kUntyped);
  EXPECT_EQ(f[1].samples[0].value, -15);
  EXPECT_EQ(f[2].name, "latency");
  ASSERT_EQ(f[2].samples.size(), 1u);
  ASSERT_TRUE(f[2].samples[0].histogram);
  EXPECT_THAT(f[2].samples[0].histogram->buckets,
              ElementsAre(Pair(0.5, 1), Pair(1, 2), Pair(kInf, 3)));  // sorted, +Inf from _count
  EXPECT_EQ(f[2].samples[0].histogram->sum, 1.75);
  EXPECT_EQ(f[3].name, "rpc");
  ASSERT_TRUE(f[3].samples[0].summary);
  EXPECT_THAT(f[3].samples[0].labels, ElementsAre(Pair("x", "y")));
  EXPECT_THAT(f[3].samples[0].summary->quantiles, ElementsAre(Pair(0.5, 0.2)));
  EXPECT_EQ(f[3].samples[0].summary->sum, 9);
  EXPECT_EQ(f[3].samples[0].summary->count, 40);
  EXPECT_EQ(f[4].samples[0].value, kInf);
  // A histogram line without a suffix makes an empty series, as in Go's parser.
  ASSERT_EQ(f[5].samples.size(), 1u);
  EXPECT_THAT(f[5].samples[0].histogram->buckets, ElementsAre(Pair(kInf, 0)));
}

TEST(TextFormatTest, EmptyBodyAndTimestamps) {
  auto parsed = ParseTextFormat("");
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->families.empty());
  parsed = ParseTextFormat("a 1 1700000000000\n");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->has_timestamp);
}

TEST(TextFormatTest, RejectsMalformedBodiesWithTheLineAndGosReason) {
  const std::pair<const char*, const char*> cases[] = {
      {"a 1", "text format parsing error in line 1: unexpected end of input stream"},
      {"a 1\r\n", "text format parsing error in line 1: expected float as value, got \"1\\r\""},
      {"a\n", "text format parsing error in line 1: expected float as value, got \"\""},
      {"ok 1\na x\n", "text format parsing error in line 2: expected float as value, got \"x\""},
      {"a 0x10\n", "text format parsing error in line 1: expected float as value, got \"0x10\""},
      {"a 1 2.5\n",
       "text format parsing error in line 1: expected integer as timestamp, got \"2.5\""},
      {"a 1 2 3\n", "text format parsing error in line 1: spurious string after timestamp: \" 3\""},
      {"a 1 \n", "text format parsing error in line 1: expected integer as timestamp, got \"\""},
      {"a 1 5 \n", "text format parsing error in line 1: spurious string after timestamp: \" \""},
      {"# TYPE a counter x\n",
       "text format parsing error in line 1: unknown metric type \"counter x\""},
      {"a{b=\"\xff\"} 1\n", "text format parsing error in line 1: invalid label value \"\xff\""},
      {"# HELP a \\\"\n", "text format parsing error in line 1: invalid escape sequence '\\\"'"},
      {"# TYPE a foo\n", "text format parsing error in line 1: unknown metric type \"foo\""},
      {"# TYPE a gauge\n# TYPE a gauge\n",
       "text format parsing error in line 2: second TYPE line for metric name \"a\", or TYPE "
       "reported after samples"},
      {"a 1\n# TYPE a gauge\n",
       "text format parsing error in line 2: second TYPE line for metric name \"a\", or TYPE "
       "reported after samples"},
      {"# HELP a x\n# HELP a y\n",
       "text format parsing error in line 2: second HELP line for metric name \"a\""},
      {"# HELP a bad \\t\n", "text format parsing error in line 1: invalid escape sequence '\\t'"},
      {"# HELP 1a x\n", "text format parsing error in line 1: invalid metric name in comment"},
      {"a{1b=\"x\"} 1\n",
       "text format parsing error in line 1: invalid label name for metric \"a\""},
      {"a{__name__=\"x\"} 1\n",
       "text format parsing error in line 1: label name \"__name__\" is reserved"},
      {"a{b=\"x\",b=\"y\"} 1\n",
       "text format parsing error in line 1: duplicate label names for metric \"a\""},
      {"a{b \"x\"} 1\n",
       "text format parsing error in line 1: expected '=' after label name, found \"\\\"\""},
      {"a{b=x} 1\n",
       "text format parsing error in line 1: expected '\"' at start of label value, found \"x\""},
      {"a{b=\"x\n\"} 1\n",
       "text format parsing error in line 1: label value \"x\" contains unescaped new-line"},
      {"# TYPE h histogram\nh_bucket{le=\"x\"} 1\n",
       "text format parsing error in line 2: expected float as value for 'le' label, got \"x\""},
      {"-a 1\n", "text format parsing error in line 1: invalid metric name \"-a\""},
  };
  for (const auto& [body, message] : cases) {
    const auto parsed = ParseTextFormat(body);
    ASSERT_FALSE(parsed.ok()) << body;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(parsed.status().message(), message) << body;
  }
}

TEST(GoFloatTest, AcceptsWhatStrconvAccepts) {
  double v;
  ASSERT_TRUE(ParseGoFloat("1e3", &v));
  EXPECT_EQ(v, 1000);
  ASSERT_TRUE(ParseGoFloat("+.5", &v));
  EXPECT_EQ(v, 0.5);
  ASSERT_TRUE(ParseGoFloat("-Inf", &v));
  EXPECT_EQ(v, -kInf);
  ASSERT_TRUE(ParseGoFloat("infinity", &v));
  EXPECT_EQ(v, kInf);
  ASSERT_TRUE(ParseGoFloat("NaN", &v));
  EXPECT_TRUE(std::isnan(v));
  for (const char* bad : {"", "+", "1e", "--1", "0x10", "0x1p-2", "1_000", " 1", "1e999", "inf1"}) {
    EXPECT_FALSE(ParseGoFloat(bad, &v)) << bad;
  }
}

// Protobuf helpers: just enough of the wire format to build test messages.
std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
  return out;
}
std::string Field(int number, std::string_view bytes) {
  return Varint(static_cast<uint64_t>(number) << 3 | 2) + Varint(bytes.size()) + std::string(bytes);
}
std::string DoubleField(int number, double value) {
  std::string out = Varint(static_cast<uint64_t>(number) << 3 | 1);
  out.append(reinterpret_cast<const char*>(&value), 8);
  return out;
}
std::string VarintField(int number, uint64_t value) {
  return Varint(static_cast<uint64_t>(number) << 3) + Varint(value);
}
std::string Delimited(std::string_view message) {
  return Varint(message.size()) + std::string(message);
}

TEST(ProtoDelimitedTest, ParsesGaugeCounterHistogramAndSummary) {
  const std::string label = Field(1, Field(1, "code") + Field(2, "200"));
  std::string body =
      Delimited(Field(1, "g") + Field(2, "a gauge") + VarintField(3, 1) +
                Field(4, label + Field(2, DoubleField(1, 2.5)))) +
      Delimited(Field(1, "c_total") + VarintField(3, 0) + Field(4, Field(3, DoubleField(1, 7)))) +
      Delimited(Field(1, "h") + VarintField(3, 4) +
                Field(4, Field(7, VarintField(1, 3) + DoubleField(2, 4.5) +
                                      Field(3, VarintField(1, 1) + DoubleField(2, 0.5)) +
                                      Field(3, VarintField(1, 2) + DoubleField(2, 1))))) +
      Delimited(Field(1, "s") + VarintField(3, 2) +
                Field(4, Field(4, VarintField(1, 10) + DoubleField(2, 3) +
                                      Field(3, DoubleField(1, 0.9) + DoubleField(2, 0.7)))));
  const auto parsed = ParseProtoDelimited(body);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const auto& f = parsed->families;
  ASSERT_EQ(f.size(), 4u);
  EXPECT_EQ(f[0].name, "g");
  EXPECT_EQ(f[0].help, "a gauge");
  EXPECT_EQ(f[0].type, MetricType::kGauge);
  EXPECT_THAT(f[0].samples[0].labels, ElementsAre(Pair("code", "200")));
  EXPECT_EQ(f[0].samples[0].value, 2.5);
  EXPECT_EQ(f[1].type, MetricType::kCounter);
  EXPECT_EQ(f[1].samples[0].value, 7);
  ASSERT_TRUE(f[2].samples[0].histogram);
  EXPECT_THAT(f[2].samples[0].histogram->buckets,
              ElementsAre(Pair(0.5, 1), Pair(1, 2), Pair(kInf, 3)));
  EXPECT_EQ(f[2].samples[0].histogram->sum, 4.5);
  ASSERT_TRUE(f[3].samples[0].summary);
  EXPECT_EQ(f[3].samples[0].summary->count, 10);
  EXPECT_THAT(f[3].samples[0].summary->quantiles, ElementsAre(Pair(0.9, 0.7)));
  EXPECT_FALSE(parsed->has_timestamp);
}

TEST(ProtoDelimitedTest, LaterFamilyOfOneNameWinsAndTimestampsAreReported) {
  const std::string body =
      Delimited(Field(1, "g") + VarintField(3, 1) + Field(4, Field(2, DoubleField(1, 1)))) +
      Delimited(Field(1, "g") + VarintField(3, 1) +
                Field(4, Field(2, DoubleField(1, 2)) + VarintField(6, 1700000000000)));
  const auto parsed = ParseProtoDelimited(body);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->families.size(), 1u);
  EXPECT_EQ(parsed->families[0].samples.size(), 1u);
  EXPECT_EQ(parsed->families[0].samples[0].value, 2);
  EXPECT_TRUE(parsed->has_timestamp);
}

TEST(ProtoDelimitedTest, RejectsTruncatedAndMismatchedMessages) {
  const std::string good =
      Delimited(Field(1, "g") + VarintField(3, 1) + Field(4, Field(2, DoubleField(1, 1))));
  EXPECT_FALSE(ParseProtoDelimited(good.substr(0, good.size() - 1)).ok());
  EXPECT_FALSE(ParseProtoDelimited("\xff").ok());
  // A GAUGE family whose metric holds a counter value.
  const auto mismatched = ParseProtoDelimited(
      Delimited(Field(1, "g") + VarintField(3, 1) + Field(4, Field(3, DoubleField(1, 1)))));
  ASSERT_FALSE(mismatched.ok());
  EXPECT_EQ(mismatched.status().message(), "metric of family \"g\" is not a GAUGE");
  EXPECT_FALSE(ParseProtoDelimited(Delimited(Field(1, "gh") + VarintField(3, 5))).ok());
}

}  // namespace
}  // namespace metricsgate::ingest

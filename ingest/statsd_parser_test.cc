#include "ingest/statsd_parser.h"

#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace metricsgate::ingest {
namespace {

using ::testing::ElementsAre;

std::string_view TypeText(StatsdType type) {
  switch (type) {
    case StatsdType::kCounter:
      return "c";
    case StatsdType::kGauge:
      return "g";
    case StatsdType::kTimer:
      return "ms";
    case StatsdType::kHistogram:
      return "h";
    case StatsdType::kDistribution:
      return "d";
    case StatsdType::kSet:
      return "s";
  }
  return "?";
}

// A compact, exact account of a parsed line:
//   each sample as `type:name=value_text` (+ `@rate` when not 1),
//   then `#k=v,k2=v2` for the tags, `!reason` per error, `tag_errors=N`.
std::string Describe(std::string_view line) {
  ParsedLine parsed;
  parsed.name_buffer = "stale";
  ParseStatsdLine(line, &parsed);
  std::ostringstream out;
  const char* sep = "";
  for (const StatsdSample& s : parsed.samples) {
    out << sep << TypeText(s.type) << ":" << s.name << "=" << s.value_text;
    if (s.sample_rate != 1) out << "@" << s.sample_rate;
    sep = " ";
  }
  if (!parsed.tags.empty()) {
    out << sep << "#";
    const char* comma = "";
    for (const StatsdTag& tag : parsed.tags) {
      out << comma << tag.key << "=" << tag.value;
      comma = ",";
    }
    sep = " ";
  }
  for (BadLineReason reason : parsed.errors) {
    out << sep << "!" << BadLineReasonName(reason);
    sep = " ";
  }
  if (parsed.tag_errors > 0) out << sep << "tag_errors=" << parsed.tag_errors;
  return out.str();
}

struct Case {
  std::string_view line;
  std::string_view want;
};

// Every example of Etsy statsd's docs/metric_types.md and statsd_exporter's README and
// line_test.go that is a single line, every tag style, and every malformed variant.
const Case kCases[] = {
    // Etsy statsd docs/metric_types.md.
    {"gorets:1|c", "c:gorets=1"},
    {"gorets:1|c|@0.1", "c:gorets=1@0.1"},
    {"glork:320|ms", "ms:glork=320"},
    {"glork:320|ms|@0.1", "ms:glork=320@0.1"},
    {"gaugor:333|g", "g:gaugor=333"},
    {"gaugor:-10|g", "g:gaugor=-10"},
    {"gaugor:+4|g", "g:gaugor=+4"},
    {"uniques:765|s", "s:uniques=765"},
    {"gorets:1|c:320|ms", "c:gorets=1 ms:gorets=320"},
    {"foo:1|c|@0.5:2|ms", "c:foo=1@0.5 ms:foo=2"},
    {"foo:1|c:2|c:3|c", "c:foo=1 c:foo=2 c:foo=3"},
    // Etsy conformance vectors (reference/statsd.md, "Observed edge cases").
    {"c1:1|c|@0.1", "c:c1=1@0.1"},
    {"c2:1|c|@2e-1", "c:c2=1@0.2"},
    {"c3:1|c|@0", "!invalid_sample_rate"},
    {"y:1|c|@0.5|T123", "c:y=1@0.5"},
    {"x:1|c|T123", "c:x=1"},
    {"hex:0x10|c", "!malformed_value"},
    {"ws: 4|c", "!malformed_value"},
    {"neg:-1|ms", "!illegal_negative_timer"},
    {"emp:|s", "!malformed_value"},
    {"sp ace/x:1|c", "c:sp ace/x=1"},
    {"inf:Infinity|g", "!malformed_value"},
    {"t2:7|ms|@0.25", "ms:t2=7@0.25"},
    // Types.
    {"foo:200|c", "c:foo=200"},
    {"foo:200|g", "g:foo=200"},
    {"foo:200|ms", "ms:foo=200"},
    {"foo:200|h", "h:foo=200"},
    {"foo:200|d", "d:foo=200"},
    {"foo:-200|h", "h:foo=-200"},
    {"foo:-200|d", "d:foo=-200"},
    {"foo:0|ms", "ms:foo=0"},
    {"foo:+5|ms", "ms:foo=+5"},
    {"foo:1.5e3|ms", "ms:foo=1.5e3"},
    {"users:alice|s", "s:users=alice"},
    {"users:a b=c|s", "s:users=a b=c"},
    {"foo:1|C", "!unknown_type"},
    {"foo:1|x", "!unknown_type"},
    {"foo:1|", "!unknown_type"},
    {"foo:1|c ", "!unknown_type"},
    {"foo:1|kv", "!unknown_type"},
    {"foo:1| c", "!unknown_type"},
    // Sample rates.
    {"foo:100|c|@0.1", "c:foo=100@0.1"},
    {"foo:100|ms|@0.1", "ms:foo=100@0.1"},
    {"foo:100|g|@0.1", "g:foo=100@0.1"},
    {"foo:100|c|@1", "c:foo=100"},
    {"foo:100|c|@2", "c:foo=100@2"},
    {"foo:100|c|@", "!invalid_sample_rate"},
    {"foo:100|c|@-0.5", "!invalid_sample_rate"},
    {"foo:100|c|@abc", "!invalid_sample_rate"},
    {"foo:100|c|@inf", "!invalid_sample_rate"},
    {"foo:100|c|@0.5|@0.5", "!unknown_field"},
    {"foo:100|c|@0.5x", "!invalid_sample_rate"},
    // DogStatsD tags, container IDs, timestamps.
    {"foo:100|c|#tag1:bar,tag2:baz", "c:foo=100 #tag1=bar,tag2=baz"},
    {"foo:100|c|@0.1|#tag1:bar,#tag2:baz", "c:foo=100@0.1 #tag1=bar,tag2=baz"},
    {"foo:100|c|#tag1:bar:baz", "c:foo=100 #tag1=bar:baz"},
    {"foo:100|c|#url:http://x/y?a=b", "c:foo=100 #url=http://x/y?a=b"},
    {"foo:100|c|#tag1,tag2:baz", "c:foo=100 #tag2=baz tag_errors=1"},
    {"foo:100|c|#:bar", "c:foo=100 tag_errors=1"},
    {"foo:100|c|#tag1:", "c:foo=100 tag_errors=1"},
    {"foo:100|c|#tag1:a,,tag2:b", "c:foo=100 #tag1=a,tag2=b tag_errors=1"},
    {"foo:100|c|#", "c:foo=100"},
    {"foo:100|c|#a:1|@0.5", "c:foo=100@0.5 #a=1"},
    {"foo:100|c|#a:1|#b:2", "#a=1 !unknown_field"},
    {"foo:100|c|c:abc123", "c:foo=100"},
    {"foo:100|c|c:", "!malformed_container_id"},
    {"foo:100|c|T1656581400", "c:foo=100"},
    {"foo:100|c|T-5", "c:foo=100"},
    {"foo:100|c|T", "!malformed_timestamp"},
    {"foo:100|c|Tabc", "!malformed_timestamp"},
    {"foo:100|c|T1.5", "!malformed_timestamp"},
    {"foo:100|c|T+5", "!malformed_timestamp"},
    {"foo:100|c|@0.1|c:abc|T123|#a:b", "c:foo=100@0.1 #a=b"},
    {"foo:100|c|#a:b|c:abc|T123", "c:foo=100 #a=b"},
    {"foo:100|c|", "!unknown_field"},
    {"foo:100|c|x", "!unknown_field"},
    {"foo:100|c||@0.1", "!unknown_field"},
    // DogStatsD v1.1 packing.
    {"foo:1:2:3|ms", "ms:foo=1 ms:foo=2 ms:foo=3"},
    {"foo:1:2|h|@0.5", "h:foo=1@0.5 h:foo=2@0.5"},
    {"foo:1:2|d|#a:b", "d:foo=1 d:foo=2 #a=b"},
    {"foo:1:2|c", "c:foo=1 c:foo=2"},
    {"foo:+1:-2|g", "g:foo=+1 g:foo=-2"},
    {"foo:1:x:3|ms", "ms:foo=1 ms:foo=3 !malformed_value"},
    {"foo:1::3|ms", "ms:foo=1 ms:foo=3 !malformed_value"},
    {"foo:a:b|s", "!invalid_packing"},
    // Tags in the name: InfluxDB, Librato, SignalFx, Graphite.
    {"foo#tag1=bar,tag2=baz:100|c", "c:foo=100 #tag1=bar,tag2=baz"},
    {"foo,tag1=bar,tag2=baz:100|c", "c:foo=100 #tag1=bar,tag2=baz"},
    {"foo[tag1=bar,tag2=baz]:100|c", "c:foo=100 #tag1=bar,tag2=baz"},
    {"foo[tag1=bar,tag2=baz]test:100|c", "c:footest=100 #tag1=bar,tag2=baz"},
    {"[tag1=bar]foo:100|c", "c:foo=100 #tag1=bar"},
    {"foo;tag1=bar;tag2=baz:100|c", "c:foo=100 #tag1=bar,tag2=baz"},
    {"foo,tag1=a=b:1|c", "c:foo=1 #tag1=a=b"},
    {"foo,tag1:1|c", "c:foo=1 tag_errors=1"},
    {"foo,tag1=:1|c", "c:foo=1 tag_errors=1"},
    {"foo,=bar:1|c", "c:foo=1 tag_errors=1"},
    {"foo,:1|c", "c:foo=1"},
    {"foo#:1|c", "c:foo=1"},
    {"foo[tag1=bar:100|c", "c:foo[tag1=bar=100 tag_errors=1"},
    {"foo]tag1=bar:100|c", "c:foo]tag1=bar=100 tag_errors=1"},
    {"foo]x[:100|c", "c:foo]x[=100 tag_errors=1"},
    {"foo[]:100|c", "c:foo=100"},
    {"foo[a=1],b=2:1|c", "c:foo,b=2=1 #a=1"},
    {"foo,tag1=bar:100|c|#tag2:baz", "!mixed_tagging_styles"},
    {"foo#tag1=bar:100|c|#tag2:baz", "!mixed_tagging_styles"},
    {"foo[tag1=bar]:100|c|#tag2:baz", "!mixed_tagging_styles"},
    {"foo;tag1=bar:100|c|#tag2:baz", "!mixed_tagging_styles"},
    {"foo,tag1:100|c|#tag2:baz", "c:foo=100 #tag2=baz tag_errors=1"},
    {",tag1=bar:100|c", "!empty_name"},
    {"[tag1=bar]:100|c", "!empty_name"},
    // Lines that are not StatsD.
    {"foo", "!malformed_line"},
    {"foo:1", "!malformed_line"},
    {"foo:1|c:2", "c:foo=1 !malformed_line"},
    {"foo:1|c:", "c:foo=1 !malformed_line"},
    {":1|c", "!empty_name"},
    {"foo:|c", "!malformed_value"},
    {"foo:abc|c", "!malformed_value"},
    {"foo:1,5|c", "!malformed_value"},
    {"foo:1e|c", "!malformed_value"},
    {"foo:NaN|g", "!malformed_value"},
    {"foo:1|x:2|c", "c:foo=2 !unknown_type"},
    {"foo:1|c|@x:2|c", "c:foo=2 !invalid_sample_rate"},
    {"bad\xff:1|c", "!invalid_utf8"},
    {"foo:1|c|#a:\xc3", "!invalid_utf8"},
    {"caf\xc3\xa9:1|c|#k:\xe2\x82\xac", "c:caf\xc3\xa9=1 #k=\xe2\x82\xac"},
    {"a|b:1|c", "c:a|b=1"},
};

TEST(StatsdParserTest, TableOfLines) {
  EXPECT_GE(std::size(kCases), 100u);
  for (const Case& c : kCases) {
    EXPECT_EQ(Describe(c.line), c.want) << "line: " << c.line;
  }
}

// ParseStatsdLine's one-pass parser of the common shape must agree with the general parser
// on every line it accepts (and decline the rest): every table line, and variations of it.
TEST(StatsdParserTest, FastPathAgreesWithTheGeneralParser) {
  std::vector<std::string> lines;
  for (const Case& c : kCases) lines.emplace_back(c.line);
  for (std::string_view extra : {"a:1|c",
                                 "a:0|c",
                                 "a:123456789012345|c",
                                 "a:1234567890123456|c",
                                 "a:1.5|ms|@0.1",
                                 "a:1.|g",
                                 "a:.5|g",
                                 "a:1|c|#k:v,#x:y,bad",
                                 "a:1|c|@0.5|#k:v",
                                 "a:1|c|#k:v|@0.5",
                                 "a:1|c|@0|#k:v",
                                 "a:1|c|@-1",
                                 "a:1|c|@1:2|c",
                                 "a:1|c|#k:v|#x:y",
                                 "a:1|s",
                                 "a:1|h|@2",
                                 "a:1|d",
                                 "a:1|c||",
                                 "a:1|c|",
                                 "a:1|",
                                 "a:|c",
                                 "a::1|c",
                                 "a.b-c_d:7|ms",
                                 "a:1|c|T123",
                                 "a:1|c|c:abc",
                                 "a:1|cc",
                                 "a:1|c|#",
                                 "a:1|c|@",
                                 "a:07|c",
                                 "a:1|m",
                                 "a:1|m|s",
                                 "a:1|msx",
                                 "a:1|mss",
                                 "a:1|ms|",
                                 "a:1|ms|@0.5",
                                 "a:1|hh",
                                 "a:1|d|#k:v",
                                 "a:1|g:2|c",
                                 "a:1|x",
                                 "a:1|C",
                                 "a:1|g|#k:v|@0.5|"}) {
    lines.emplace_back(extra);
  }
  ParsedLine fast;
  ParsedLine general;
  int accepted_by_fast_path = 0;
  for (const std::string& line : lines) {
    ParseStatsdLine(line, &fast);
    ParseStatsdLineGeneral(line, &general);
    EXPECT_TRUE(fast == general) << "line: " << line;
    if (fast.errors.empty() && general.samples.size() == 1) ++accepted_by_fast_path;
  }
  EXPECT_GE(accepted_by_fast_path, 20);
}

TEST(StatsdParserTest, ParsesValuesAndSigns) {
  ParsedLine parsed;
  ParseStatsdLine("g:+3.5|g:-2|g:7|g", &parsed);
  ASSERT_EQ(parsed.samples.size(), 3u);
  EXPECT_EQ(parsed.samples[0].value, 3.5);
  EXPECT_TRUE(parsed.samples[0].has_sign);
  EXPECT_EQ(parsed.samples[1].value, -2);
  EXPECT_TRUE(parsed.samples[1].has_sign);
  EXPECT_EQ(parsed.samples[2].value, 7);
  EXPECT_FALSE(parsed.samples[2].has_sign);
  ParseStatsdLine("s:member|s", &parsed);
  ASSERT_EQ(parsed.samples.size(), 1u);
  EXPECT_EQ(parsed.samples[0].value, 0);
}

TEST(StatsdParserTest, ReusedParsedLineStartsClean) {
  ParsedLine parsed;
  ParseStatsdLine("a,k=v,bad:1|c", &parsed);
  EXPECT_EQ(parsed.tags.size(), 1u);
  ParseStatsdLine("b:2|g", &parsed);
  EXPECT_TRUE(parsed.tags.empty());
  EXPECT_TRUE(parsed.errors.empty());
  EXPECT_EQ(parsed.tag_errors, 0u);
  ASSERT_EQ(parsed.samples.size(), 1u);
  EXPECT_EQ(parsed.samples[0].name, "b");
}

TEST(StatsdParserTest, ParsesNumbersStrictly) {
  struct NumberCase {
    std::string_view text;
    double want;
  };
  for (const NumberCase& c : std::vector<NumberCase>{{"0", 0},
                                                     {"17", 17},
                                                     {"-17", -17},
                                                     {"+17", 17},
                                                     {".5", 0.5},
                                                     {"5.", 5},
                                                     {"1.25e3", 1250},
                                                     {"1E-2", 0.01},
                                                     {"-2.5e+1", -25},
                                                     {"00012", 12}}) {
    double value = -1;
    EXPECT_TRUE(ParseStatsdNumber(c.text, &value)) << c.text;
    EXPECT_EQ(value, c.want) << c.text;
  }
  for (std::string_view bad :
       {"",    "+",    "-",   ".",   "e5",  "1e",    "1e+", "0x10", " 4",    "4 ",     "Infinity",
        "inf", "-inf", "nan", "NaN", "1,5", "1.2.3", "--1", "+-1",  "1e400", "-1e400", "1_000"}) {
    double value = -1;
    EXPECT_FALSE(ParseStatsdNumber(bad, &value)) << bad;
    EXPECT_EQ(value, -1) << bad;
  }
}

TEST(StatsdParserTest, SplitsPacketIntoNonEmptyLinesWithTheirNumbers) {
  std::vector<std::pair<std::string_view, uint64_t>> lines;
  const auto collect = [&](std::string_view line, uint64_t number) {
    lines.emplace_back(line, number);
  };
  ForEachStatsdLine("a:1|c\nb:2|c\r\n\n\r\nc:3|g\n", collect);
  EXPECT_THAT(lines, ElementsAre(std::pair<std::string_view, uint64_t>{"a:1|c", 1},
                                 std::pair<std::string_view, uint64_t>{"b:2|c", 2},
                                 std::pair<std::string_view, uint64_t>{"c:3|g", 5}));
  lines.clear();
  ForEachStatsdLine("last:1|c", collect);
  EXPECT_THAT(lines, ElementsAre(std::pair<std::string_view, uint64_t>{"last:1|c", 1}));
  lines.clear();
  ForEachStatsdLine("", collect);
  ForEachStatsdLine("\n\n", collect);
  EXPECT_TRUE(lines.empty());
}

TEST(StatsdParserTest, SanitizesKeysAsEtsy) {
  std::string out;
  SanitizeEtsyKey("sp ace/x:1", &out);
  EXPECT_EQ(out, "sp_ace-x1");
  SanitizeEtsyKey("a  \t b", &out);
  EXPECT_EQ(out, "a_b");
  SanitizeEtsyKey("tagged;env=prod", &out);
  EXPECT_EQ(out, "tagged;env=prod");
  SanitizeEtsyKey("caf\xc3\xa9.x-y_z!@#$%", &out);
  EXPECT_EQ(out, "caf.x-y_z");
}

TEST(StatsdParserTest, EveryReasonHasADistinctName) {
  std::vector<std::string_view> names;
  for (size_t i = 0; i < kBadLineReasonCount; ++i) {
    std::string_view name = BadLineReasonName(static_cast<BadLineReason>(i));
    EXPECT_NE(name, "unknown");
    EXPECT_THAT(names, ::testing::Not(::testing::Contains(name)));
    names.push_back(name);
  }
}

}  // namespace
}  // namespace metricsgate::ingest

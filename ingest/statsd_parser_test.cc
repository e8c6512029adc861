#include "ingest/statsd_parser.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace metricsgate::ingest {
namespace {

using ::testing::ElementsAre;

StatsdSample ParseOk(std::string_view line) {
  StatsdSample sample;
  BadLineReason reason;
  EXPECT_TRUE(ParseStatsdLine(line, &sample, &reason)) << line << ": " << BadLineReasonName(reason);
  return sample;
}

TEST(StatsdParserTest, ParsesCounter) {
  StatsdSample s = ParseOk("deploys.web:1|c");
  EXPECT_EQ(s.name, "deploys.web");
  EXPECT_EQ(s.value_text, "1");
  EXPECT_EQ(s.value, 1);
  EXPECT_EQ(s.type, StatsdType::kCounter);
  EXPECT_EQ(s.sample_rate, 1);
  EXPECT_FALSE(s.has_sign);
}

TEST(StatsdParserTest, ParsesSampleRate) {
  StatsdSample s = ParseOk("c1:1|c|@0.1");
  EXPECT_EQ(s.sample_rate, 0.1);
  EXPECT_EQ(ParseOk("c2:1|c|@2e-1").sample_rate, 0.2);  // Etsy reads 2 here; we read 0.2
  EXPECT_EQ(ParseOk("c3:3|c|@1").sample_rate, 1);
  EXPECT_EQ(ParseOk("c4:3|c|@2").sample_rate, 2);  // Etsy takes rates above 1, so do we
}

TEST(StatsdParserTest, ParsesGaugesWithAndWithoutSign) {
  StatsdSample absolute = ParseOk("g:42.5|g");
  EXPECT_EQ(absolute.type, StatsdType::kGauge);
  EXPECT_EQ(absolute.value, 42.5);
  EXPECT_FALSE(absolute.has_sign);
  StatsdSample up = ParseOk("g:+3|g");
  EXPECT_EQ(up.value, 3);
  EXPECT_TRUE(up.has_sign);
  StatsdSample down = ParseOk("g:-7|g");
  EXPECT_EQ(down.value, -7);
  EXPECT_TRUE(down.has_sign);
}

TEST(StatsdParserTest, RecognisesEveryType) {
  EXPECT_EQ(ParseOk("t:320|ms").type, StatsdType::kTimer);
  EXPECT_EQ(ParseOk("h:1|h").type, StatsdType::kHistogram);
  EXPECT_EQ(ParseOk("d:1|d").type, StatsdType::kDistribution);
  StatsdSample set = ParseOk("users:alice|s");
  EXPECT_EQ(set.type, StatsdType::kSet);
  EXPECT_EQ(set.value_text, "alice");
}

TEST(StatsdParserTest, NameIsEverythingBeforeTheFirstColon) {
  EXPECT_EQ(ParseOk("a b/c|d:2|c").name, "a b/c|d");
}

TEST(StatsdParserTest, ParsesNumbersStrictly) {
  struct Case {
    std::string_view text;
    double want;
  };
  for (const Case& c : std::vector<Case>{{"0", 0},
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

TEST(StatsdParserTest, RejectsMalformedLinesWithTheirReason) {
  struct Case {
    std::string_view line;
    BadLineReason want;
  };
  for (const Case& c : std::vector<Case>{
           {"foo", BadLineReason::kMalformedLine},
           {"foo:1", BadLineReason::kMalformedLine},
           {":1|c", BadLineReason::kEmptyName},
           {"foo:|c", BadLineReason::kMalformedValue},
           {"foo:abc|c", BadLineReason::kMalformedValue},
           {"foo:0x10|c", BadLineReason::kMalformedValue},
           {"foo: 4|c", BadLineReason::kMalformedValue},
           {"foo:Infinity|g", BadLineReason::kMalformedValue},
           {"foo:1|", BadLineReason::kUnknownType},
           {"foo:1|x", BadLineReason::kUnknownType},
           {"foo:1|C", BadLineReason::kUnknownType},
           {"foo:1|c ", BadLineReason::kUnknownType},
           {"foo:1|c|@", BadLineReason::kInvalidSampleRate},
           {"foo:1|c|@0", BadLineReason::kInvalidSampleRate},
           {"foo:1|c|@-0.5", BadLineReason::kInvalidSampleRate},
           {"foo:1|c|@abc", BadLineReason::kInvalidSampleRate},
           {"foo:1|c|@inf", BadLineReason::kInvalidSampleRate},
           {"foo:1|c|", BadLineReason::kUnknownField},
           {"foo:1|c|T123", BadLineReason::kUnknownField},
           {"foo:1|c|@0.5|@0.5", BadLineReason::kUnknownField},
           {"foo:1|c|#env:prod", BadLineReason::kUnknownField},
       }) {
    StatsdSample sample;
    sample.name = "untouched";
    BadLineReason reason = BadLineReason::kUnsupportedType;
    EXPECT_FALSE(ParseStatsdLine(c.line, &sample, &reason)) << c.line;
    EXPECT_EQ(BadLineReasonName(reason), BadLineReasonName(c.want)) << c.line;
    EXPECT_EQ(sample.name, "untouched") << c.line;
  }
}

TEST(StatsdParserTest, SplitsPacketIntoNonEmptyLines) {
  std::vector<std::string_view> lines;
  ForEachStatsdLine("a:1|c\nb:2|c\r\n\n\r\nc:3|g\n",
                    [&](std::string_view line) { lines.push_back(line); });
  EXPECT_THAT(lines, ElementsAre("a:1|c", "b:2|c", "c:3|g"));
  lines.clear();
  ForEachStatsdLine("last:1|c", [&](std::string_view line) { lines.push_back(line); });
  EXPECT_THAT(lines, ElementsAre("last:1|c"));
  lines.clear();
  ForEachStatsdLine("", [&](std::string_view line) { lines.push_back(line); });
  ForEachStatsdLine("\n\n", [&](std::string_view line) { lines.push_back(line); });
  EXPECT_TRUE(lines.empty());
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

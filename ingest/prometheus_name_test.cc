#include "ingest/prometheus_name.h"

#include <string>

#include "gtest/gtest.h"

namespace metricsgate::ingest {
namespace {

std::string Escape(std::string_view name) {
  std::string out = "stale contents";
  EXPECT_TRUE(EscapeMetricName(name, &out)) << name;
  return out;
}

TEST(EscapeMetricNameTest, KeepsValidNames) {
  EXPECT_EQ(Escape("deploys_web"), "deploys_web");
  EXPECT_EQ(Escape("ABC_xyz_019"), "ABC_xyz_019");
  EXPECT_EQ(Escape(""), "");
}

TEST(EscapeMetricNameTest, ReplacesInvalidCharactersAsStatsdExporter) {
  EXPECT_EQ(Escape("deploys.web"), "deploys_web");
  EXPECT_EQ(Escape("a.b-c"), "a_b_c");
  EXPECT_EQ(Escape("a b/c:d"), "a_b_c_d");
  EXPECT_EQ(Escape("a--b"), "a_b");  // a dash after a dash is dropped
  EXPECT_EQ(Escape("a---b"), "a_b");
  EXPECT_EQ(Escape("a-.-b"), "a___b");
  EXPECT_EQ(Escape("caf\xc3\xa9"), "caf_");  // one `_` per character
  EXPECT_EQ(Escape("\xe2\x82\xac"
                   "5"),
            "_5");                                 // U+20AC is 3 bytes, one `_`, no digit first
  EXPECT_EQ(Escape("x\xf0\x9f\x98\x80y"), "x_y");  // U+1F600 is 4 bytes
}

TEST(EscapeMetricNameTest, PrefixesLeadingDigit) {
  EXPECT_EQ(Escape("5xx"), "_5xx");
  EXPECT_EQ(Escape("0"), "_0");
  EXPECT_EQ(Escape(".5"), "_5");  // only a leading digit gets the extra `_`
}

TEST(EscapeMetricNameTest, RejectsInvalidUtf8) {
  std::string out;
  for (std::string_view bad : {
           std::string_view("a\x80"),              // stray continuation byte
           std::string_view("a\xc3"),              // truncated 2-byte sequence
           std::string_view("a\xc0\xaf"),          // overlong '/'
           std::string_view("a\xe0\x80\xaf"),      // overlong 3-byte
           std::string_view("a\xed\xa0\x80"),      // surrogate U+D800
           std::string_view("a\xf4\x90\x80\x80"),  // above U+10FFFF
           std::string_view("a\xff"),
       }) {
    EXPECT_FALSE(EscapeMetricName(bad, &out)) << testing::PrintToString(bad);
  }
}

}  // namespace
}  // namespace metricsgate::ingest

#include "ingest/label_selector.h"

#include <gtest/gtest.h>

namespace metricsgate::ingest {
namespace {

using Labels = std::vector<storage::Label>;

TEST(LabelSelectorTest, MatchesEqualityAndAnchoredRegexes) {
  auto selector = LabelSelector::Parse(R"({job="batch", instance=~"web-.*",zone!='eu'})");
  ASSERT_TRUE(selector.ok()) << selector.status();
  EXPECT_TRUE(selector->Matches({{"instance", "web-1"}, {"job", "batch"}}));
  EXPECT_TRUE(selector->Matches({{"instance", "web-1"}, {"job", "batch"}, {"zone", "us"}}));
  EXPECT_FALSE(selector->Matches({{"instance", "web-1"}, {"job", "batch"}, {"zone", "eu"}}));
  EXPECT_FALSE(selector->Matches({{"instance", "xweb-1"}, {"job", "batch"}}));  // anchored
  EXPECT_FALSE(selector->Matches({{"instance", "web-1"}, {"job", "batch2"}}));
  EXPECT_FALSE(selector->Matches({{"job", "batch"}}));  // a missing label is ""
}

TEST(LabelSelectorTest, NegativeRegexAndEscapes) {
  auto selector = LabelSelector::Parse(R"({job!~"a|b", path="x\"y\\z"})");
  ASSERT_TRUE(selector.ok()) << selector.status();
  EXPECT_TRUE(selector->Matches({{"job", "c"}, {"path", "x\"y\\z"}}));
  EXPECT_FALSE(selector->Matches({{"job", "a"}, {"path", "x\"y\\z"}}));
}

TEST(LabelSelectorTest, RejectsMalformedAndUnselectiveSelectors) {
  for (const char* bad :
       {"", "job=\"a\"", "{job}", "{job=a}", "{job=\"a\"", "{job=\"a\"} x", "{1a=\"x\"}",
        "{job=~\"(\"}", "{job=\"a\\q\"}", "{}", "{job=\"\"}", "{job=~\".*\"}", "{job!=\"a\"}"}) {
    EXPECT_FALSE(LabelSelector::Parse(bad).ok()) << bad;
  }
  EXPECT_EQ(LabelSelector::Parse("{job=a}").status().message(),
            "bad selector {job=a} at character 6: expected a quoted value");
}

}  // namespace
}  // namespace metricsgate::ingest

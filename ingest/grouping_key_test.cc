#include "ingest/grouping_key.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace metricsgate::ingest {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

TEST(GroupingKeyTest, ReadsJobAndLabelsSortedByName) {
  auto key = ParseGroupingKey("job/batch/zone/eu/instance/web-1");
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_THAT(*key,
              ElementsAre(Pair("instance", "web-1"), Pair("job", "batch"), Pair("zone", "eu")));
}

TEST(GroupingKeyTest, DecodesBase64JobAndValuesWithOrWithoutPadding) {
  // "/var/tmp" padded, "a/b" unpadded ("YS9i"), "=" for the empty value.
  auto key = ParseGroupingKey("job@base64/L3Zhci90bXA=/path@base64/YS9i/empty@base64/=");
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_THAT(*key, ElementsAre(Pair("empty", ""), Pair("job", "/var/tmp"), Pair("path", "a/b")));
}

TEST(GroupingKeyTest, PlainEmptyValueAndTrailingSlash) {
  auto key = ParseGroupingKey("job/j/instance/");
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_THAT(*key, ElementsAre(Pair("instance", ""), Pair("job", "j")));
  key = ParseGroupingKey("job/j/");
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_THAT(*key, ElementsAre(Pair("job", "j")));
}

TEST(GroupingKeyTest, JobFromThePathWinsOverAJobLabelAndRepeatsKeepTheLast) {
  auto key = ParseGroupingKey("job/real/job/fake/a/1/a/2");
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_THAT(*key, ElementsAre(Pair("a", "2"), Pair("job", "real")));
}

TEST(GroupingKeyTest, RejectsBadPathsWithPushgatewaysMessages) {
  struct Case {
    const char* path;
    absl::StatusCode code;
    const char* message;
  };
  const Case cases[] = {
      {"job/j/a", absl::StatusCode::kInvalidArgument,
       "odd number of components in label string \"/a\""},
      {"job/j/a/b/", absl::StatusCode::kInvalidArgument,
       "odd number of components in label string \"/a/b/\""},
      {"job/j/__a/b", absl::StatusCode::kInvalidArgument, "improper label name \"__a\""},
      {"job/j/a-b/c", absl::StatusCode::kInvalidArgument, "improper label name \"a-b\""},
      {"job/j/1a/c", absl::StatusCode::kInvalidArgument, "improper label name \"1a\""},
      {"job@base64/=", absl::StatusCode::kInvalidArgument, "job name is required"},
      {"job@base64/a*b", absl::StatusCode::kInvalidArgument,
       "invalid base64 encoding in job name \"a*b\": illegal base64 data at input byte 1"},
      {"job/j/x@base64/abcde", absl::StatusCode::kInvalidArgument,
       "invalid base64 encoding for label x=\"abcde\": illegal base64 data at input byte 4"},
      {"jobs/j", absl::StatusCode::kNotFound, "404 page not found"},
      {"job/", absl::StatusCode::kNotFound, "404 page not found"},
  };
  for (const Case& c : cases) {
    auto key = ParseGroupingKey(c.path);
    ASSERT_FALSE(key.ok()) << c.path;
    EXPECT_EQ(key.status().code(), c.code) << c.path;
    EXPECT_EQ(key.status().message(), c.message) << c.path;
  }
}

TEST(GroupingKeyTest, PercentDecodingIsGosPathDecoding) {
  EXPECT_EQ(*PercentDecode("a%2Fb+c%20d"), "a/b+c d");
  EXPECT_FALSE(PercentDecode("a%2").ok());
  EXPECT_FALSE(PercentDecode("a%zz").ok());
  // A decoded %2F splits: the value "x/y" becomes two components.
  auto key = ParseGroupingKey(*PercentDecode("job/j/a/x%2Fy"));
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().message(), "odd number of components in label string \"/a/x/y\"");
}

}  // namespace
}  // namespace metricsgate::ingest

#include "storage/series_key.h"

#include "gtest/gtest.h"

namespace metricsgate::storage {
namespace {

TEST(SeriesKeyTest, NameAloneIsItsOwnKey) {
  std::string key = "stale";
  EncodeSeriesKey("requests", nullptr, 0, &key);
  EXPECT_EQ(key, "requests");
  EXPECT_EQ(SeriesKeyName(key), "requests");
  EXPECT_TRUE(SeriesKeyLabels(key).empty());
}

TEST(SeriesKeyTest, RoundTripsLabelsIncludingEmptyAndOddValues) {
  const LabelView labels[] = {{"a", ""}, {"env", "prod=1,x:y"}, {"z", "caf\xc3\xa9"}};
  std::string key;
  EncodeSeriesKey("m", labels, 3, &key);
  EXPECT_EQ(key,
            "m\xff"
            "a\xfe\xff"
            "env\xfeprod=1,x:y\xffz\xfe"
            "caf\xc3\xa9");
  EXPECT_EQ(SeriesKeyName(key), "m");
  EXPECT_EQ(SeriesKeyLabels(key),
            (std::vector<Label>{{"a", ""}, {"env", "prod=1,x:y"}, {"z", "caf\xc3\xa9"}}));
}

TEST(SeriesKeyTest, DifferentLabelSetsMakeDifferentKeys) {
  const LabelView ab[] = {{"a", "b"}};
  const LabelView a_b[] = {{"a_b", ""}};
  std::string k1, k2;
  EncodeSeriesKey("m", ab, 1, &k1);
  EncodeSeriesKey("m", a_b, 1, &k2);
  EXPECT_NE(k1, k2);
}

}  // namespace
}  // namespace metricsgate::storage

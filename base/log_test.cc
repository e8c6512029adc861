#include "base/log.h"

#include "gtest/gtest.h"

namespace metricsgate::log {
namespace {

const absl::Time kNoon = absl::FromUnixMillis(1795694400123);  // 2026-11-26T12:00:00.123Z

TEST(LogTest, FormatsLogfmtWithQuotingOnlyWhereNeeded) {
  EXPECT_EQ(FormatLine(kNoon, Level::kInfo, "HTTP server listening",
                       {{"address", "127.0.0.1:9091"}, {"path", ""}}),
            "ts=2026-11-26T12:00:00.123Z level=info msg=\"HTTP server listening\" "
            "address=127.0.0.1:9091 path=\"\"\n");
}

TEST(LogTest, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(FormatLine(kNoon, Level::kWarn, "bad", {{"line", "a\"b\\c\nd\x01"}}),
            "ts=2026-11-26T12:00:00.123Z level=warn msg=bad line=\"a\\\"b\\\\c\\nd\\x01\"\n");
}

TEST(LogTest, ParsesLevelsAndRejectsUnknownOnes) {
  EXPECT_EQ(*ParseLevel("debug"), Level::kDebug);
  EXPECT_EQ(*ParseLevel("error"), Level::kError);
  EXPECT_EQ(ParseLevel("verbose").status(),
            absl::InvalidArgumentError(
                "unknown log level \"verbose\" (want debug, info, warn or error)"));
}

TEST(LogTest, LevelFiltersLowerLevels) {
  SetLevel(Level::kWarn);
  EXPECT_FALSE(Enabled(Level::kInfo));
  EXPECT_TRUE(Enabled(Level::kError));
  SetLevel(Level::kInfo);
  EXPECT_TRUE(Enabled(Level::kInfo));
  EXPECT_FALSE(Enabled(Level::kDebug));
}

TEST(LogTest, RateLimiterLetsAFewThroughEachSecond) {
  RateLimiter limiter(2);
  const absl::Time t = absl::FromUnixSeconds(1000);
  EXPECT_TRUE(limiter.Allow(t));
  EXPECT_TRUE(limiter.Allow(t + absl::Milliseconds(10)));
  EXPECT_FALSE(limiter.Allow(t + absl::Milliseconds(20)));
  EXPECT_FALSE(limiter.Allow(t + absl::Milliseconds(999)));
  EXPECT_TRUE(limiter.Allow(t + absl::Seconds(1)));
  EXPECT_TRUE(limiter.Allow(t + absl::Seconds(1)));
  EXPECT_FALSE(limiter.Allow(t + absl::Seconds(1)));
}

}  // namespace
}  // namespace metricsgate::log

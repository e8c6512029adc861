#include "base/json.h"

#include "base/utf8.h"
#include "gtest/gtest.h"

namespace metricsgate {
namespace {

std::string Json(std::string_view text) {
  std::string out;
  AppendJsonString(text, &out);
  return out;
}

TEST(JsonTest, QuotesAndEscapes) {
  EXPECT_EQ(Json(""), "\"\"");
  EXPECT_EQ(Json("plain:1|c"), "\"plain:1|c\"");
  EXPECT_EQ(Json("a\"b\\c\nd\te\x01\x7f"), "\"a\\\"b\\\\c\\nd\\u0009e\\u0001\\u007f\"");
}

TEST(JsonTest, KeepsValidUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(Json("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
  EXPECT_EQ(Json("bad\xff\xc3"), "\"bad\xef\xbf\xbd\xef\xbf\xbd\"");
  EXPECT_TRUE(IsValidUtf8(Json("\xed\xa0\x80\xf4\x90\x80\x80")));
}

TEST(Utf8Test, ValidatesAsGo) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("long ascii run of more than eight bytes"));
  EXPECT_TRUE(IsValidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  for (std::string_view bad : {"\x80", "a\xc3", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80",
                               "\xf4\x90\x80\x80", "\xff", "12345678\xff"}) {
    EXPECT_FALSE(IsValidUtf8(bad)) << testing::PrintToString(bad);
  }
}

}  // namespace
}  // namespace metricsgate

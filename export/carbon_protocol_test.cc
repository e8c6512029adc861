#include "export/carbon_protocol.h"

#include <string>

#include "gtest/gtest.h"

namespace metricsgate::exporter {
namespace {

TEST(CarbonProtocolTest, PlaintextLineWritesValuesAsEtsy) {
  std::string out;
  AppendPlaintextLine("stats.a;k=v", 0.1 + 0.2, 1700000000, &out);
  AppendPlaintextLine("b", 1e21, 5, &out);
  EXPECT_EQ(out, "stats.a;k=v 0.30000000000000004 1700000000\nb 1e+21 5\n");
}

TEST(CarbonProtocolTest, PickleMessageBytes) {
  PickleMessage message;
  ASSERT_TRUE(message.Add("ab", 1.5, 258));
  EXPECT_EQ(message.points(), 1u);
  const std::string bytes = message.Finish();
  const std::string body = std::string("\x80\x02]", 3) + "(" +  // list, mark
                           std::string(
                               "X\x02\x00\x00\x00"
                               "ab",
                               7) +                                               // name
                           std::string("J\x02\x01\x00\x00", 5) +                  // 258
                           std::string("G\x3f\xf8\x00\x00\x00\x00\x00\x00", 9) +  // 1.5
                           "\x86\x86" +
                           "e.";
  const std::string length("\x00\x00\x00", 3);
  EXPECT_EQ(bytes, length + static_cast<char>(body.size()) + body);
  EXPECT_EQ(message.points(), 0u);  // ready for the next message
}

TEST(CarbonProtocolTest, PickleMessageStaysUnderItsLimit) {
  PickleMessage message(100);
  size_t added = 0;
  while (message.Add("name.of.a.metric", 1, 1)) ++added;
  EXPECT_EQ(added, 2u);  // 8 + 2 + 2 * 40 = 90; a third would pass 100
  EXPECT_LE(message.Finish().size(), 100u);
  // A point larger than the limit still goes out, alone.
  EXPECT_TRUE(message.Add(std::string(200, 'x'), 1, 1));
  EXPECT_FALSE(message.Add("y", 1, 1));
}

}  // namespace
}  // namespace metricsgate::exporter

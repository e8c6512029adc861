#include "export/carbon_ring.h"

#include <cstdio>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace metricsgate::exporter {
namespace {

std::string Hex(const std::array<uint8_t, 16>& digest) {
  std::string out;
  char buf[3];
  for (uint8_t b : digest) {
    std::snprintf(buf, sizeof buf, "%02x", b);
    out += buf;
  }
  return out;
}

TEST(Md5Test, MatchesRfc1321Vectors) {
  EXPECT_EQ(Hex(Md5("")), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(Hex(Md5("a")), "0cc175b9c0f1b6a831c399e269772661");
  EXPECT_EQ(Hex(Md5("abc")), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(Hex(Md5("message digest")), "f96b697d7cb7938d525a2f31aaf161d0");
  EXPECT_EQ(Hex(Md5("abcdefghijklmnopqrstuvwxyz")), "c3fcd3d76192e4007dfb496cca67e13b");
  EXPECT_EQ(
      Hex(Md5("12345678901234567890123456789012345678901234567890123456789012345678901234567890")),
      "57edf4a22be3c955ac49da2e2107b67a");
}

// Vectors computed with Debian's carbon 1.1.7 (`carbon.hashing`), from
// ../shared/reference/pushgateway-prometheus-graphite.md section 3.3.
TEST(CarbonRingTest, PlacesNodesAndMetricsAsCarbonRelay) {
  const CarbonRing ring({{"127.0.0.1", "a"}, {"127.0.0.1", "b"}, {"10.0.0.3", std::nullopt}},
                        CarbonRing::HashType::kCarbonCh);
  EXPECT_EQ(ring.Hash("foo.bar"), 1273u);
  EXPECT_EQ(ring.Hash("a"), 3265u);
  EXPECT_EQ(ring.Hash("carbon.agents.x.cpuUsage"), 24061u);
  ASSERT_EQ(ring.positions().size(), 300u);
  EXPECT_EQ(ring.positions()[0], (std::pair<uint32_t, size_t>{259, 2}));
  EXPECT_EQ(ring.positions()[1], (std::pair<uint32_t, size_t>{398, 0}));
  const auto first = [&](std::string_view metric) {
    std::vector<size_t> nodes;
    ring.NodesFor(metric, 1, false, &nodes);
    return nodes;
  };
  EXPECT_EQ(first("foo.bar"), std::vector<size_t>{2});
  EXPECT_EQ(first("a"), std::vector<size_t>{0});
  EXPECT_EQ(first("carbon.agents.x.cpuUsage"), std::vector<size_t>{1});
  // Replicas are distinct nodes; with diverse replicas, distinct hosts.
  std::vector<size_t> all;
  ring.NodesFor("foo.bar", 5, false, &all);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0], 2u);
  std::vector<size_t> diverse;
  ring.NodesFor("foo.bar", 3, true, &diverse);
  EXPECT_EQ(diverse.size(), 2u);
}

TEST(CarbonRingTest, Fnv1aHashesTheInstanceOnly) {
  const CarbonRing ring({{"h1", "x"}, {"h2", "y"}}, CarbonRing::HashType::kFnv1aCh);
  // FNV-1a 32 of "" is 0x811c9dc5: folded, 0x811c ^ 0x9dc5.
  EXPECT_EQ(ring.Hash(""), 0x811cu ^ 0x9dc5u);
  // "a": 0xe40c292c.
  EXPECT_EQ(ring.Hash("a"), 0xe40cu ^ 0x292cu);
  // The same instances on other hosts make the same ring.
  const CarbonRing moved({{"h9", "x"}, {"h8", "y"}}, CarbonRing::HashType::kFnv1aCh);
  EXPECT_EQ(ring.positions(), moved.positions());
}

TEST(CarbonRingTest, OneNodeTakesEverything) {
  const CarbonRing ring({{"127.0.0.1", std::nullopt}}, CarbonRing::HashType::kCarbonCh);
  std::vector<size_t> nodes;
  ring.NodesFor("anything", 3, false, &nodes);
  EXPECT_EQ(nodes, std::vector<size_t>{0});
}

}  // namespace
}  // namespace metricsgate::exporter

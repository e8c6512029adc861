#include "server/internal/snappy_frame.h"

#include <gtest/gtest.h>
#include <snappy.h>

#include <string>

namespace metricsgate::server::internal {
namespace {

std::string Chunk(unsigned char type, std::string_view data) {
  std::string out(1, static_cast<char>(type));
  const size_t n = data.size();
  out += static_cast<char>(n & 0xff);
  out += static_cast<char>((n >> 8) & 0xff);
  out += static_cast<char>((n >> 16) & 0xff);
  out += data;
  return out;
}

std::string Crc(std::string_view data) {
  const uint32_t crc = SnappyMaskedCrc(data);
  return std::string{static_cast<char>(crc & 0xff), static_cast<char>((crc >> 8) & 0xff),
                     static_cast<char>((crc >> 16) & 0xff), static_cast<char>(crc >> 24)};
}

std::string Compressed(std::string_view data) {
  std::string block;
  snappy::Compress(data.data(), data.size(), &block);
  return Chunk(0x00, Crc(data) + block);
}

const std::string kStream = Chunk(0xff, "sNaPpY");

TEST(SnappyFrameTest, KnownCrc) {
  // The masked CRC-32C of "" and of "123456789" (CRC-32C 0xE3069283), masked as the format says.
  EXPECT_EQ(SnappyMaskedCrc(""), 0xa282ead8u);
  const uint32_t crc = 0xE3069283u;
  EXPECT_EQ(SnappyMaskedCrc("123456789"), ((crc >> 15) | (crc << 17)) + 0xa282ead8u);
}

TEST(SnappyFrameTest, DecodesCompressedUncompressedAndSkippableChunks) {
  const std::string text = "push_metric{a=\"b\"} 1\n";
  const std::string framed = kStream + Compressed(text) + Chunk(0xfe, "padding") +
                             Chunk(0x01, Crc("more 2\n") + "more 2\n") + kStream;
  auto decoded = SnappyFrameDecode(framed, 1 << 20);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, text + "more 2\n");
  EXPECT_EQ(*SnappyFrameDecode("", 10), "");
}

TEST(SnappyFrameTest, RejectsCorruptStreams) {
  const std::string good = kStream + Compressed("abc\n");
  std::string bad_crc = good;
  bad_crc[kStream.size() + 4] ^= 1;
  for (const std::string& bad : {Compressed("abc\n"),              // no stream identifier
                                 Chunk(0xff, "sNaPpX"),            // a wrong one
                                 good.substr(0, good.size() - 1),  // truncated
                                 bad_crc,                          // checksum
                                 kStream + Chunk(0x02, "x"),       // reserved unskippable
                                 kStream + Chunk(0x00, "abc")}) {  // too short
    auto decoded = SnappyFrameDecode(bad, 1 << 20);
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(SnappyFrameDecode(good, 3).status().code(), absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace metricsgate::server::internal

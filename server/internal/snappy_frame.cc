#include "server/internal/snappy_frame.h"

#include <snappy.h>

#include <array>

#include "base/str_cat.h"

namespace metricsgate::server::internal {
namespace {

constexpr std::string_view kStreamId = "sNaPpY";
constexpr size_t kMaxChunkData = 65536;  // the format's limit on uncompressed data per chunk

uint32_t Crc32c(std::string_view data) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0x82F63B78u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char byte : data) crc = table[(crc ^ byte) & 0xff] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

uint32_t LoadLe32(const char* p) {
  return static_cast<uint32_t>(static_cast<unsigned char>(p[0])) |
         static_cast<uint32_t>(static_cast<unsigned char>(p[1])) << 8 |
         static_cast<uint32_t>(static_cast<unsigned char>(p[2])) << 16 |
         static_cast<uint32_t>(static_cast<unsigned char>(p[3])) << 24;
}

absl::Status Corrupt(std::string_view what) {
  return absl::InvalidArgumentError(StrCat("snappy: corrupt input (", what, ")"));
}

}  // namespace

uint32_t SnappyMaskedCrc(std::string_view data) {
  const uint32_t crc = Crc32c(data);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

absl::StatusOr<std::string> SnappyFrameDecode(std::string_view framed, size_t max_size) {
  std::string out;
  bool seen_id = false;
  while (!framed.empty()) {
    if (framed.size() < 4) return Corrupt("truncated chunk header");
    const unsigned char type = static_cast<unsigned char>(framed[0]);
    const size_t length = LoadLe32(framed.data()) >> 8;
    if (framed.size() - 4 < length) return Corrupt("truncated chunk");
    const std::string_view chunk = framed.substr(4, length);
    framed.remove_prefix(4 + length);
    if (type == 0xff) {
      if (chunk != kStreamId) return Corrupt("bad stream identifier");
      seen_id = true;
      continue;
    }
    if (!seen_id) return Corrupt("missing stream identifier");
    if (type >= 0x80) continue;  // padding and skippable chunks
    if (type > 0x01) return Corrupt(StrCat("reserved unskippable chunk type ", int{type}));
    if (chunk.size() < 4) return Corrupt("chunk too short for its checksum");
    const uint32_t expected = LoadLe32(chunk.data());
    std::string_view data = chunk.substr(4);
    std::string decompressed;
    if (type == 0x00) {
      size_t size;
      if (!snappy::GetUncompressedLength(data.data(), data.size(), &size) || size > kMaxChunkData) {
        return Corrupt("bad block length");
      }
      if (!snappy::Uncompress(data.data(), data.size(), &decompressed)) {
        return Corrupt("bad compressed block");
      }
      data = decompressed;
    } else if (data.size() > kMaxChunkData) {
      return Corrupt("uncompressed chunk too long");
    }
    if (SnappyMaskedCrc(data) != expected) return Corrupt("checksum mismatch");
    if (out.size() + data.size() > max_size) {
      return absl::ResourceExhaustedError(
          StrCat("snappy body expands beyond ", max_size, " bytes"));
    }
    out.append(data);
  }
  return out;
}

}  // namespace metricsgate::server::internal

#include "export/carbon_ring.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace metricsgate::exporter {
namespace {

constexpr int kReplicas = 100;

uint32_t RotateLeft(uint32_t x, int c) { return (x << c) | (x >> (32 - c)); }

// Python's repr() of a str, as carbon puts a host or instance in a replica key: single quotes,
// unless the text holds a ' and no ", then double quotes; backslashes and the chosen quote
// escaped. (Non-ASCII text is printed as is, as Python 3 does for printable characters.)
std::string PythonRepr(std::string_view text) {
  const bool has_single = text.find('\'') != std::string_view::npos;
  const bool has_double = text.find('"') != std::string_view::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  for (char c : text) {
    if (c == '\\' || c == quote) {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out.append("\\n");
    } else if (c == '\r') {
      out.append("\\r");
    } else if (c == '\t') {
      out.append("\\t");
    } else {
      out.push_back(c);
    }
  }
  out.push_back(quote);
  return out;
}

}  // namespace

std::array<uint8_t, 16> Md5(std::string_view data) {
  static constexpr uint32_t kShift[64] = {
      7,  12, 17, 22, 7,  12, 17, 22, 7,  12, 17, 22, 7,  12, 17, 22, 5,  9,  14, 20, 5,  9,
      14, 20, 5,  9,  14, 20, 5,  9,  14, 20, 4,  11, 16, 23, 4,  11, 16, 23, 4,  11, 16, 23,
      4,  11, 16, 23, 6,  10, 15, 21, 6,  10, 15, 21, 6,  10, 15, 21, 6,  10, 15, 21};
  static const auto kTable = [] {
    std::array<uint32_t, 64> table{};
    for (int i = 0; i < 64; ++i) {
      table[i] = static_cast<uint32_t>(std::floor(std::abs(std::sin(i + 1.0)) * 4294967296.0));
    }
    return table;
  }();
  uint32_t a0 = 0x67452301, b0 = 0xefcdab89, c0 = 0x98badcfe, d0 = 0x10325476;
  std::string message(data);
  const uint64_t bit_length = static_cast<uint64_t>(data.size()) * 8;
  message.push_back(static_cast<char>(0x80));
  while (message.size() % 64 != 56) message.push_back('\0');
  for (int i = 0; i < 8; ++i) message.push_back(static_cast<char>(bit_length >> (8 * i)));
  for (size_t chunk = 0; chunk < message.size(); chunk += 64) {
    uint32_t m[16];
    for (int i = 0; i < 16; ++i) {
      const auto* p = reinterpret_cast<const uint8_t*>(message.data() + chunk + 4 * i);
      m[i] = p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24);
    }
    uint32_t a = a0, b = b0, c = c0, d = d0;
    for (int i = 0; i < 64; ++i) {
      uint32_t f;
      int g;
      if (i < 16) {
        f = (b & c) | (~b & d);
        g = i;
      } else if (i < 32) {
        f = (d & b) | (~d & c);
        g = (5 * i + 1) % 16;
      } else if (i < 48) {
        f = b ^ c ^ d;
        g = (3 * i + 5) % 16;
      } else {
        f = c ^ (b | ~d);
        g = (7 * i) % 16;
      }
      f = f + a + kTable[i] + m[g];
      a = d;
      d = c;
      c = b;
      b = b + RotateLeft(f, static_cast<int>(kShift[i]));
    }
    a0 += a;
    b0 += b;
    c0 += c;
    d0 += d;
  }
  std::array<uint8_t, 16> digest;
  const uint32_t words[4] = {a0, b0, c0, d0};
  for (int w = 0; w < 4; ++w) {
    for (int i = 0; i < 4; ++i) digest[4 * w + i] = static_cast<uint8_t>(words[w] >> (8 * i));
  }
  return digest;
}

CarbonRing::CarbonRing(std::vector<Node> nodes, HashType type)
    : nodes_(std::move(nodes)), type_(type) {
  std::vector<uint32_t> taken;
  for (size_t n = 0; n < nodes_.size(); ++n) {
    const Node& node = nodes_[n];
    const std::string instance = node.instance ? *node.instance : "None";
    const std::string tuple = "(" + PythonRepr(node.host) + ", " +
                              (node.instance ? PythonRepr(*node.instance) : "None") + ")";
    for (int i = 0; i < kReplicas; ++i) {
      const std::string key = type_ == HashType::kCarbonCh ? tuple + ":" + std::to_string(i)
                                                           : std::to_string(i) + "-" + instance;
      uint32_t position = Hash(key);
      // carbon: `while position in self.ring_set: position += 1`.
      while (std::binary_search(taken.begin(), taken.end(), position)) ++position;
      taken.insert(std::upper_bound(taken.begin(), taken.end(), position), position);
      ring_.insert(std::upper_bound(ring_.begin(), ring_.end(), std::pair{position, n},
                                    [](const auto& a, const auto& b) { return a.first < b.first; }),
                   {position, n});
    }
  }
}

uint32_t CarbonRing::Hash(std::string_view key) const {
  if (type_ == HashType::kCarbonCh) {
    const std::array<uint8_t, 16> digest = Md5(key);
    return (static_cast<uint32_t>(digest[0]) << 8) | digest[1];
  }
  uint32_t h = 0x811c9dc5;
  for (char c : key) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x01000193;
  }
  return (h >> 16) ^ (h & 0xffff);
}

void CarbonRing::NodesFor(std::string_view metric, size_t count, bool diverse,
                          std::vector<size_t>* out) const {
  const size_t first_out = out->size();
  count = std::min(count, nodes_.size());
  if (nodes_.size() == 1) {
    if (count > 0) out->push_back(0);
    return;
  }
  const uint32_t position = Hash(metric);
  // bisect_left(ring, (position, ())): the first entry at or after the position.
  size_t index = static_cast<size_t>(
      std::lower_bound(ring_.begin(), ring_.end(), position,
                       [](const auto& entry, uint32_t p) { return entry.first < p; }) -
      ring_.begin());
  // carbon walks until it is back one short of where it started.
  for (size_t seen = 0; seen + 1 < ring_.size() && out->size() - first_out < count; ++seen) {
    const size_t node = ring_[(index + seen) % ring_.size()].second;
    bool skip = false;
    for (size_t i = first_out; i < out->size(); ++i) {
      if ((*out)[i] == node || (diverse && nodes_[(*out)[i]].host == nodes_[node].host)) {
        skip = true;
        break;
      }
    }
    if (!skip) out->push_back(node);
  }
}

}  // namespace metricsgate::exporter

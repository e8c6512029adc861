// CarbonRing: the consistent-hash ring carbon-relay 1.1 uses to pick the carbon nodes of a
// metric (`lib/carbon/hashing.py`, ConsistentHashRing), so metricsgate sends every metric to
// the node carbon-relay would choose.
//
// A node is (host, instance); its port is not hashed. Each node gets 100 positions, inserted in
// the order the nodes are given: position = hash16(key of replica i), moved up by one while
// taken (so it may pass 65535). A metric's nodes are found from the first position >= its
// hash16, walking on (and wrapping) and keeping distinct nodes.
// - carbon_ch: key `('host', 'instance'):i` (Python's repr of the tuple; `None` without an
//   instance); hash16 = the first two bytes of MD5, big-endian.
// - fnv1a_ch: key `i-instance` (`i-None` without one: the host is not in it); hash16 =
//   FNV-1a 32-bit folded, (h >> 16) ^ (h & 0xffff).
// Immutable after construction; safe from any thread.
#ifndef METRICSGATE_EXPORT_CARBON_RING_H_
#define METRICSGATE_EXPORT_CARBON_RING_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace metricsgate::exporter {

// MD5 of `data` (RFC 1321).
std::array<uint8_t, 16> Md5(std::string_view data);

class CarbonRing {
 public:
  enum class HashType { kCarbonCh, kFnv1aCh };
  struct Node {
    std::string host;
    std::optional<std::string> instance;
  };

  // REQUIRES: `nodes` not empty.
  CarbonRing(std::vector<Node> nodes, HashType type);

  // The ring position of `key` (a metric name or a replica key).
  uint32_t Hash(std::string_view key) const;

  // Appends to `*out` the indexes (into the nodes given) of up to `count` distinct nodes for
  // `metric`, the first being carbon-relay's choice. With `diverse`, nodes on a host already
  // chosen are skipped (carbon's DIVERSE_REPLICAS).
  void NodesFor(std::string_view metric, size_t count, bool diverse,
                std::vector<size_t>* out) const;

  // Positions, ascending, with the node index at each: for tests.
  const std::vector<std::pair<uint32_t, size_t>>& positions() const { return ring_; }

 private:
  std::vector<Node> nodes_;
  HashType type_;
  std::vector<std::pair<uint32_t, size_t>> ring_;
};

}  // namespace metricsgate::exporter

#endif  // METRICSGATE_EXPORT_CARBON_RING_H_

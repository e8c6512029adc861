// RollupTable: the current flush interval's StatsD values under Etsy statsd's keys, for the
// Graphite rollups (export/graphite_rollup.h).
//
// Etsy statsd keeps four maps, counters, timers, gauges and sets, each keyed by the sanitized
// name with its Graphite tags (`name;k=v`); one key may be in several maps. So does this
// table, split into 64 shards by the key's hash. Updates apply Etsy's rules: a counter adds
// value/rate (decrements included), a timer keeps its values (TimerSamples: exact up to a
// cap), a gauge with a sign adds to a non-zero value and otherwise sets it, a set collects
// distinct members.
//
// Concurrency: every method is safe from any thread. Each shard has its own mutex; an update
// holds one shard's for one hash lookup and one update. EndInterval() takes one shard at a
// time and holds its lock only to copy out and reset that shard's values (timers' values are
// moved, not copied): ingest into the other 63 shards goes on meanwhile, and ingest into that
// shard waits at most for that copy. EndInterval() calls must not overlap (the flush thread).
#ifndef METRICSGATE_STORAGE_ROLLUP_TABLE_H_
#define METRICSGATE_STORAGE_ROLLUP_TABLE_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/timer_samples.h"

namespace metricsgate::storage {

// What Etsy's idle-metric options say about a series with no update in an interval.
struct RollupRetention {
  bool delete_counters = false;  // else sent as 0
  bool delete_timers = false;    // else sent as count 0
  bool delete_sets = false;      // else sent as count 0
  bool delete_gauges = false;    // else the last value is sent again
  // With delete_gauges: a gauge is sent in this many flushes after its last update. Etsy
  // takes any value but an integer > 1 as 1.
  int gauges_max_ttl = 1;
  size_t max_timer_samples = TimerSamples::kDefaultMaxSamples;
};

// One interval's values, as EndInterval() latched them. Keys are views into `key_bytes`.
struct RollupInterval {
  struct Key {
    size_t offset = 0;
    uint32_t size = 0;
  };
  std::string key_bytes;
  std::vector<std::pair<Key, double>> counters;  // the interval's sum of value/rate
  std::vector<std::pair<Key, TimerSamples>> timers;
  std::vector<std::pair<Key, double>> gauges;
  std::vector<std::pair<Key, size_t>> sets;  // distinct members
  // Etsy's own counters (`statsd.packets_received` and the others) for the interval.
  uint64_t packets_received = 0;
  uint64_t metrics_received = 0;
  uint64_t bad_lines_seen = 0;

  std::string_view key(Key k) const { return {key_bytes.data() + k.offset, k.size}; }
  void Clear();
};

class RollupTable {
 public:
  explicit RollupTable(RollupRetention retention = {});
  ~RollupTable();
  RollupTable(const RollupTable&) = delete;
  RollupTable& operator=(const RollupTable&) = delete;

  // Etsy's updates. `key` is the sanitized key with its tags. REQUIRES: values finite,
  // `weight` (1/rate) finite and > 0.
  void AddCounter(std::string_view key, double value);
  void AddTimer(std::string_view key, double value, double weight);
  // `delta`: the value was sent with a sign, so it adds to a gauge that is not 0.
  void SetGauge(std::string_view key, double value, bool delta);
  void AddSetMember(std::string_view key, std::string_view member);
  // Etsy's self-counters: packets, non-empty lines, bad values.
  void CountReceived(uint64_t packets, uint64_t lines, uint64_t bad_lines) {
    if (packets) packets_.fetch_add(packets, std::memory_order_relaxed);
    if (lines) lines_.fetch_add(lines, std::memory_order_relaxed);
    if (bad_lines) bad_lines_.fetch_add(bad_lines, std::memory_order_relaxed);
  }

  // Ends the interval: fills `*out` (cleared first) with every series' values and resets them,
  // then applies the retention: idle series are deleted as it says, gauges age.
  void EndInterval(RollupInterval* out);

  // Series held, over the four maps.
  size_t size() const;

 private:
  struct Shard;
  Shard& ShardFor(std::string_view key);

  const RollupRetention retention_;
  std::unique_ptr<Shard[]> shards_;
  std::atomic<uint64_t> packets_{0};
  std::atomic<uint64_t> lines_{0};
  std::atomic<uint64_t> bad_lines_{0};
};

}  // namespace metricsgate::storage

#endif  // METRICSGATE_STORAGE_ROLLUP_TABLE_H_

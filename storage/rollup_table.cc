#include "storage/rollup_table.h"

#include <mutex>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "base/string_hash.h"

namespace metricsgate::storage {
namespace {

constexpr size_t kShards = 64;

template <typename V>
using KeyMap = absl::flat_hash_map<std::string, V, StringViewHash, StringViewEq>;

}  // namespace

void RollupInterval::Clear() {
  key_bytes.clear();
  counters.clear();
  timers.clear();
  gauges.clear();
  sets.clear();
  packets_received = metrics_received = bad_lines_seen = 0;
}

struct RollupTable::Shard {
  struct Gauge {
    double value = 0;
    int ttl = 0;  // flushes left, with delete_gauges
  };
  mutable std::mutex mu;
  KeyMap<double> counters;
  KeyMap<TimerSamples> timers;
  KeyMap<Gauge> gauges;
  KeyMap<absl::flat_hash_set<std::string, StringViewHash, StringViewEq>> sets;
};

RollupTable::RollupTable(RollupRetention retention)
    : retention_(retention), shards_(new Shard[kShards]) {}

RollupTable::~RollupTable() = default;

RollupTable::Shard& RollupTable::ShardFor(std::string_view key) {
  return shards_[StringViewHash{}(key) % kShards];
}

void RollupTable::AddCounter(std::string_view key, double value) {
  Shard& shard = ShardFor(key);
  std::lock_guard lock(shard.mu);
  auto it = shard.counters.find(key);
  if (it == shard.counters.end()) it = shard.counters.emplace(key, 0.0).first;
  it->second += value;
}

void RollupTable::AddTimer(std::string_view key, double value, double weight) {
  Shard& shard = ShardFor(key);
  std::lock_guard lock(shard.mu);
  auto it = shard.timers.find(key);
  if (it == shard.timers.end()) {
    it = shard.timers.emplace(key, TimerSamples(retention_.max_timer_samples)).first;
  }
  it->second.Add(value, weight);
}

void RollupTable::SetGauge(std::string_view key, double value, bool delta) {
  Shard& shard = ShardFor(key);
  std::lock_guard lock(shard.mu);
  auto it = shard.gauges.find(key);
  if (it == shard.gauges.end()) it = shard.gauges.emplace(key, Shard::Gauge{}).first;
  Shard::Gauge& gauge = it->second;
  // Etsy: `gauges[key] && /^[-+]/` adds; a missing or zero gauge takes the value as sent.
  if (delta && gauge.value != 0) {
    gauge.value += value;
  } else {
    gauge.value = value;
  }
  gauge.ttl = retention_.gauges_max_ttl > 1 ? retention_.gauges_max_ttl : 1;
}

void RollupTable::AddSetMember(std::string_view key, std::string_view member) {
  Shard& shard = ShardFor(key);
  std::lock_guard lock(shard.mu);
  auto it = shard.sets.find(key);
  if (it == shard.sets.end()) it = shard.sets.try_emplace(key).first;
  if (!it->second.contains(member)) it->second.emplace(member);
}

void RollupTable::EndInterval(RollupInterval* out) {
  out->Clear();
  out->packets_received = packets_.exchange(0, std::memory_order_relaxed);
  out->metrics_received = lines_.exchange(0, std::memory_order_relaxed);
  out->bad_lines_seen = bad_lines_.exchange(0, std::memory_order_relaxed);
  const auto copy_key = [out](std::string_view key) {
    RollupInterval::Key k{out->key_bytes.size(), static_cast<uint32_t>(key.size())};
    out->key_bytes.append(key);
    return k;
  };
  {
    // Reserves first, one short lock per shard: growing by doubling would touch (and copy) up
    // to twice the memory, and on a first flush each page touched is a page fault. Reserving
    // more than is used costs address space only.
    size_t counters = 0, timers = 0, gauges = 0, sets = 0;
    for (size_t s = 0; s < kShards; ++s) {
      const Shard& shard = shards_[s];
      std::lock_guard lock(shard.mu);
      counters += shard.counters.size();
      timers += shard.timers.size();
      gauges += shard.gauges.size();
      sets += shard.sets.size();
    }
    out->counters.reserve(counters);
    out->timers.reserve(timers);
    out->gauges.reserve(gauges);
    out->sets.reserve(sets);
    constexpr size_t kKeyBytes = 64;  // a generous average key
    out->key_bytes.reserve((counters + timers + gauges + sets) * kKeyBytes);
  }
  for (size_t s = 0; s < kShards; ++s) {
    Shard& shard = shards_[s];
    std::lock_guard lock(shard.mu);
    for (auto& [key, value] : shard.counters) {
      out->counters.emplace_back(copy_key(key), value);
      value = 0;
    }
    if (retention_.delete_counters) {
      // Etsy zeroes rather than deletes any counter whose key contains the name of one of its
      // own counters.
      absl::erase_if(shard.counters, [](const auto& entry) {
        const std::string& key = entry.first;
        return key.find("packets_received") == std::string::npos &&
               key.find("metrics_received") == std::string::npos &&
               key.find("bad_lines_seen") == std::string::npos;
      });
    }
    for (auto& [key, samples] : shard.timers) {
      out->timers.emplace_back(copy_key(key),
                               std::exchange(samples, TimerSamples(retention_.max_timer_samples)));
    }
    if (retention_.delete_timers) shard.timers.clear();
    for (auto& [key, gauge] : shard.gauges) out->gauges.emplace_back(copy_key(key), gauge.value);
    if (retention_.delete_gauges) {
      absl::erase_if(shard.gauges, [](auto& entry) { return --entry.second.ttl < 1; });
    }
    for (auto& [key, members] : shard.sets) {
      out->sets.emplace_back(copy_key(key), members.size());
      members.clear();
    }
    if (retention_.delete_sets) shard.sets.clear();
  }
}

size_t RollupTable::size() const {
  size_t total = 0;
  for (size_t s = 0; s < kShards; ++s) {
    const Shard& shard = shards_[s];
    std::lock_guard lock(shard.mu);
    total += shard.counters.size() + shard.timers.size() + shard.gauges.size() + shard.sets.size();
  }
  return total;
}

}  // namespace metricsgate::storage

// StatsdIngester turns StatsD packets into series updates and counts what it saw.
//
// Each line is parsed in place; the name is escaped to a Prometheus name and the tags become
// labels (keys escaped the same way; a repeated key keeps its last value). Then each sample
// goes to the SeriesTable: counters add value/rate; gauges set the value, or add it when it has
// a sign; timers are observed in a histogram (`ms` divided by 1000 into seconds, as
// statsd_exporter does; `h` and `d` as sent), weighted 1/rate; sets add their member.
// With a mapping (SetMapping), a sample whose name a rule matches takes the rule's name, labels
// (over its tags, unless the rule honors labels), help, buckets, ttl and scale (observers only), or
// is dropped by an `action: drop` rule and counted.
// A bad line or sample is counted by reason (metricsgate_statsd_bad_lines_total{reason}),
// logged at debug level at most 10 times a second, and skipped; the rest of the packet is kept.
//
// Thread safety: HandlePacket(), HandlePackets() and Collect() are safe from any number of threads
// at once; the counters are atomics, the parsing buffers are per thread, and the table is
// thread-safe.
#ifndef METRICSGATE_INGEST_STATSD_INGESTER_H_
#define METRICSGATE_INGEST_STATSD_INGESTER_H_

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/mapping.h"
#include "ingest/statsd_parser.h"
#include "storage/metric_family.h"
#include "storage/rollup_table.h"
#include "storage/series_table.h"

namespace metricsgate::ingest {

// The way a packet came in: the `transport` label of the packet counter.
enum class StatsdTransport : uint8_t { kUdp, kTcp, kUnixgram, kHttp };
inline constexpr size_t kStatsdTransportCount = 4;

std::string_view StatsdTransportName(StatsdTransport transport);

// What one packet did, for callers that answer the sender (StatsD over HTTP).
struct IngestReport {
  struct LineError {
    uint64_t line_number;  // 1-based, counting empty lines too
    BadLineReason reason;
    std::string line;
  };
  uint64_t lines = 0;                   // non-empty lines
  uint64_t rejected_lines = 0;          // lines with at least one error
  uint64_t samples = 0;                 // samples stored
  std::vector<LineError> first_errors;  // at most max_errors
  size_t max_errors = 10;
};

class StatsdIngester {
 public:
  // `table` must outlive the ingester. Series not matched by a mapping rule with a `ttl` (its own
  // or the mapping's defaults') expire `default_ttl` after their last update; 0: never.
  // `rollups`, if not null (it must then outlive the ingester), also gets every good sample
  // under Etsy statsd's key, whatever the mapping says, for the Graphite rollups: counter
  // decrements included, timers in their unit as sent.
  explicit StatsdIngester(storage::SeriesTable* table,
                          std::chrono::milliseconds default_ttl = std::chrono::milliseconds(0),
                          storage::RollupTable* rollups = nullptr);
  StatsdIngester(const StatsdIngester&) = delete;
  StatsdIngester& operator=(const StatsdIngester&) = delete;

  // Applies every line of one packet: a datagram, a chunk of complete TCP lines, or an HTTP
  // body. Fills `*report` if it is not null.
  void HandlePacket(std::string_view packet, StatsdTransport transport,
                    IngestReport* report = nullptr);
  // The same for several packets received together (one recvmmsg batch), with one read section
  // and one update of the shared counters for all: the receive threads' way in. Line numbers in
  // `*report` start again at 1 with each packet.
  void HandlePackets(std::span<const std::string_view> packets, StatsdTransport transport,
                     IngestReport* report = nullptr);

  // Replaces the mapping (null: none) for packets handled from now on. Safe from any thread.
  void SetMapping(std::shared_ptr<const MappingConfig> mapping) {
    mapping_.store(std::move(mapping), std::memory_order_release);
  }
  std::shared_ptr<const MappingConfig> mapping() const {
    return mapping_.load(std::memory_order_acquire);
  }

  // Appends the ingester's own metrics: packets, lines, samples, bad lines by reason, tag
  // errors. A packet is counted after all its lines are applied, so collecting this before the
  // table gives a table snapshot that holds at least every packet counted.
  void Collect(std::vector<storage::MetricFamily>* out) const;

 private:
  struct Scratch;
  struct BatchLine;
  // Stores one sample; returns false and sets `*reason` if it was dropped.
  bool Apply(const StatsdSample& sample, BatchLine& line,
             const std::shared_ptr<const MappingConfig>& mapping, Scratch& scratch,
             BadLineReason* reason);
  // The series key of `sample` (of line `parsed`) in scratch.key, with its options and scale, or
  // `*drop`; false and `*reason` for a name that cannot be stored.
  bool Resolve(const StatsdSample& sample, const ParsedLine& parsed,
               const std::shared_ptr<const MappingConfig>& mapping, Scratch& scratch,
               storage::SeriesOptions* options, double* scale, bool* drop, BadLineReason* reason);
  // Adds the line's samples to the rollups, under its Etsy key (built in `key`).
  void Rollup(std::string_view text, const ParsedLine& parsed, std::string& key);
  static void BuildLabels(const ParsedLine& parsed, Scratch& scratch);
  void CountBad(BadLineReason reason, std::string_view line);

  storage::SeriesTable* const table_;
  storage::RollupTable* const rollups_;
  const std::chrono::milliseconds default_ttl_;
  const uint64_t id_;  // tells this ingester's entries in the per-thread caches from others'
  // Written by every receive thread once per call: apart from the mapping's pointer, whose
  // load writes its own cache line.
  alignas(64) std::array<std::atomic<uint64_t>, kStatsdTransportCount> packets_{};
  std::atomic<uint64_t> lines_{0};
  std::atomic<uint64_t> samples_{0};
  std::atomic<uint64_t> tag_errors_{0};
  std::atomic<uint64_t> mapping_drops_{0};
  alignas(64) std::atomic<std::shared_ptr<const MappingConfig>> mapping_;
  std::array<std::atomic<uint64_t>, kBadLineReasonCount> bad_lines_{};
};

}  // namespace metricsgate::ingest

#endif  // METRICSGATE_INGEST_STATSD_INGESTER_H_

// StatsdIngester turns StatsD packets into series updates and counts what it saw.
//
// Each line is parsed in place, its name escaped to a Prometheus name, and the sample applied
// to the SeriesTable: counters add value/rate, gauges set (or, with a leading sign, add) the
// value. A bad line is counted by reason (metricsgate_statsd_bad_lines_total{reason}), logged
// at debug level, and skipped; the other lines of the packet are kept.
//
// Thread safety: HandlePacket() and Collect() are safe from any number of threads at once;
// the counters are relaxed atomics and the table is thread-safe.
#ifndef METRICSGATE_INGEST_STATSD_INGESTER_H_
#define METRICSGATE_INGEST_STATSD_INGESTER_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/statsd_parser.h"
#include "storage/metric_family.h"
#include "storage/series_table.h"

namespace metricsgate::ingest {

// The socket kind a packet came in on: the `transport` label of the packet counter.
enum class StatsdTransport : uint8_t { kUdp };

class StatsdIngester {
 public:
  // `table` must outlive the ingester.
  explicit StatsdIngester(storage::SeriesTable* table) : table_(table) {}
  StatsdIngester(const StatsdIngester&) = delete;
  StatsdIngester& operator=(const StatsdIngester&) = delete;

  // Applies every line of one packet (one UDP datagram).
  void HandlePacket(std::string_view packet, StatsdTransport transport);

  // Appends the ingester's own metrics: packets, lines and bad lines by reason. A packet is
  // counted after all its lines are applied, so collecting this before the table gives a
  // table snapshot that holds at least every packet counted.
  void Collect(std::vector<storage::MetricFamily>* out) const;

 private:
  // Applies one line; returns false and sets `*reason` if it was dropped.
  // `scratch` is reused across lines to hold the escaped name.
  bool HandleLine(std::string_view line, std::string* scratch, BadLineReason* reason);

  storage::SeriesTable* const table_;
  std::atomic<uint64_t> udp_packets_{0};
  std::atomic<uint64_t> lines_{0};
  std::array<std::atomic<uint64_t>, kBadLineReasonCount> bad_lines_{};
};

}  // namespace metricsgate::ingest

#endif  // METRICSGATE_INGEST_STATSD_INGESTER_H_

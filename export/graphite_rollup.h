// Graphite rollups computed, named and formatted exactly as Etsy statsd 0.10 computes them in
// `lib/process_metrics.js` and names them in `backends/graphite.js`, from one interval of a
// storage::RollupTable.
//
// Counters give a rate (per second of the configured interval) and a count; timers give
// count, count_ps, sum, sum_squares, mean, median, std (population), upper, lower, and per
// percent threshold P: count_P, mean_P, upper_P (lower_topP for negative P), sum_P and
// sum_squares_P over the round(|P|·n/100) lowest (or highest) values, JavaScript's
// Math.round; histogram bins count values below each bound, not cumulatively. Values format
// as JavaScript's Number#toString. A timer whose interval held more values than the table's
// cap is summarized from its sketch: count, sum, sum_squares, mean, std, upper and lower stay
// exact, the order statistics are within 1%.
// Pure functions; safe from any thread.
#ifndef METRICSGATE_EXPORT_GRAPHITE_ROLLUP_H_
#define METRICSGATE_EXPORT_GRAPHITE_ROLLUP_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/metric_family.h"
#include "storage/rollup_table.h"

namespace metricsgate::exporter {

// Appends `value` as JavaScript's Number#toString writes it: the shortest digits that read
// back to the same double, `Infinity`, `-Infinity`, `NaN`, `0` for -0, and exponent form
// (`1e+21`, `1.5e-7`) outside [1e-6, 1e21).
void AppendJsNumber(double value, std::string* out);

// Etsy's timer histogram: timers whose key contains `metric` get `bins` (upper bounds,
// increasing; +Inf is Etsy's 'inf').
struct TimerHistogramBins {
  std::string metric;
  std::vector<double> bins;
};

// Etsy statsd's Graphite options, with its defaults.
struct GraphiteRollupOptions {
  std::chrono::milliseconds flush_interval{10000};
  bool legacy_namespace = true;  // legacy: the prefixes below (but prefix_stats) are ignored
  std::string global_prefix = "stats";
  std::string prefix_counter = "counters";
  std::string prefix_timer = "timers";
  std::string prefix_gauge = "gauges";
  std::string prefix_set = "sets";
  std::string global_suffix;  // without its leading `.`; "" for none
  std::string prefix_stats = "statsd";
  bool flush_counts = true;  // counters' count beside their rate
  std::vector<double> percent_thresholds = {90};
  std::vector<TimerHistogramBins> histograms;  // the first whose metric the key contains wins
  // Etsy's calculatedTimerMetrics: the timer values to send (`count`, `upper_percent`,
  // `histogram`...); empty sends all.
  std::vector<std::string> calculated_timer_metrics;
};

// One flush's points, all at one timestamp. Names are views into `names`.
//
// With `drain` set, Add() hands the batch to it each time it holds `drain_points` points and
// then clears it, and End() hands over the rest: a flush of any size then holds one chunk at a
// time (a million series' names and values would be some 200 MB, touched anew on a first
// flush), and the chunks' buffers are reused.
struct GraphiteBatch {
  struct Point {
    size_t name_offset;
    uint32_t name_size;
    double value;
  };
  int64_t timestamp = 0;  // Unix seconds
  std::string names;
  std::vector<Point> points;
  std::function<void(const GraphiteBatch&)> drain;
  size_t drain_points = size_t{1} << 16;

  std::string_view name(const Point& p) const {
    return {names.data() + p.name_offset, p.name_size};
  }
  void Add(std::string_view name, double value) {
    points.push_back({names.size(), static_cast<uint32_t>(name.size()), value});
    names.append(name);
    if (drain && points.size() >= drain_points) {
      drain(*this);
      Clear();
    }
  }
  // Hands what is left to `drain` (when set).
  void End() {
    if (drain && !points.empty()) {
      drain(*this);
      Clear();
    }
  }
  void Clear() {
    names.clear();
    points.clear();
  }
};

// What the flush itself adds, as Etsy's self-metrics.
struct FlushSelfMetrics {
  // `statsd.timestamp_lag`: this flush's time less the last one's less the interval, seconds;
  // absent on the first flush.
  bool has_timestamp_lag = false;
  double timestamp_lag = 0;
  // The Graphite backend's own numbers from the flush before (graphiteStats.*).
  double last_flush = 0;
  double last_exception = 0;
  double flush_time_ms = 0;
  double flush_length = 0;
};

// Appends every rollup of `interval` to `out` (timestamp set by the caller). Timers' values
// are sorted in place.
void ComputeGraphiteRollups(storage::RollupInterval& interval, const FlushSelfMetrics& self,
                            const GraphiteRollupOptions& options, GraphiteBatch* out);

// Appends every sample of `families` (pushed groups) as Graphite 1.1 tagged series, one per
// series Prometheus would scrape: `name;label=value;...` with the tags sorted by name (carbon's
// normalized form, so carbon-relay hashes it as we do); histograms as `name_bucket;le=...`,
// `name_sum`, `name_count`; summaries as `name;quantile=...`, `name_sum`, `name_count`.
// `le` and `quantile` read as in /metrics (Go's formatting, `+Inf`). Graphite refuses an empty
// tag value, a `;` in one and a leading `~`, and the plaintext protocol splits on whitespace:
// labels with an empty value are left out (Prometheus reads them as absent), and `;`,
// whitespace and control characters become `_`, a leading `~` too.
void AppendTaggedFamilies(const std::vector<storage::MetricFamily>& families, GraphiteBatch* out);

}  // namespace metricsgate::exporter

#endif  // METRICSGATE_EXPORT_GRAPHITE_ROLLUP_H_

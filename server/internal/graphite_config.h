// Reads Etsy statsd's Graphite options from the `graphite:` section of --config.file, under
// Etsy's own names, so an Etsy config carries over key for key:
//   graphite:
//     legacyNamespace: false
//     globalPrefix: stats        prefixCounter: counters   prefixTimer: timers
//     prefixGauge: gauges        prefixSet: sets           globalSuffix: ""
//     prefixStats: statsd        flush_counts: true
//     percentThreshold: [90, 99.9, -10]
//     histogram: [{metric: api, bins: [100, 500, inf]}]
//     calculatedTimerMetrics: [count, upper_percent]
//     deleteIdleStats: false     deleteCounters / deleteTimers / deleteGauges / deleteSets
//     gaugesMaxTTL: 1            maxTimerSamples: 10000 (ours: values kept exactly per timer)
// Anything else is an error that names the key. Pure apart from reading the file.
#ifndef METRICSGATE_SERVER_INTERNAL_GRAPHITE_CONFIG_H_
#define METRICSGATE_SERVER_INTERNAL_GRAPHITE_CONFIG_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "export/graphite_rollup.h"
#include "storage/rollup_table.h"

namespace metricsgate::server::internal {

struct GraphiteConfig {
  exporter::GraphiteRollupOptions rollup;  // flush_interval left at its default
  storage::RollupRetention retention;
};

// Parses YAML text; a document without `graphite:` gives Etsy's defaults.
absl::StatusOr<GraphiteConfig> ParseGraphiteConfig(std::string_view yaml);
absl::StatusOr<GraphiteConfig> LoadGraphiteConfig(const std::string& path);

}  // namespace metricsgate::server::internal

#endif  // METRICSGATE_SERVER_INTERNAL_GRAPHITE_CONFIG_H_

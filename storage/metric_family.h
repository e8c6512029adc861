// The exposition-neutral snapshot model: what the store (and every module's own telemetry)
// hands to the exporters. Plain values, no references into the store, so a snapshot stays
// valid after the store changes. Not thread-safe by itself; a snapshot belongs to one thread.
#ifndef METRICSGATE_STORAGE_METRIC_FAMILY_H_
#define METRICSGATE_STORAGE_METRIC_FAMILY_H_

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace metricsgate::storage {

enum class MetricType { kCounter, kGauge, kHistogram, kSummary, kUntyped };

// A label pair; names are valid Prometheus label names.
using Label = std::pair<std::string, std::string>;

struct HistogramValue {
  // (upper bound, cumulative count) in increasing bound order; the last bound is +Inf and its
  // count is the histogram's count.
  std::vector<std::pair<double, double>> buckets;
  double sum = 0;
};

struct SummaryValue {
  std::vector<std::pair<double, double>> quantiles;  // (quantile, value); NaN when empty
  double sum = 0;
  double count = 0;
};

struct Sample {
  std::vector<Label> labels;                // Sorted by name.
  double value = 0;                         // Counters, gauges, untyped.
  std::optional<HistogramValue> histogram;  // Histograms only.
  std::optional<SummaryValue> summary;      // Summaries only.
};

// Prometheus' classic name rules: [a-zA-Z_:][a-zA-Z0-9_:]* for metric names,
// [a-zA-Z_][a-zA-Z0-9_]* for label names.
inline bool IsValidMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}
inline bool IsValidLabelName(std::string_view name) {
  return name.find(':') == std::string_view::npos && IsValidMetricName(name);
}

// The type's name as client_model's protobuf enum spells it: COUNTER, GAUGE, HISTOGRAM,
// SUMMARY, UNTYPED (Pushgateway's JSON API and messages use these).
inline std::string_view MetricTypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "COUNTER";
    case MetricType::kGauge:
      return "GAUGE";
    case MetricType::kHistogram:
      return "HISTOGRAM";
    case MetricType::kSummary:
      return "SUMMARY";
    case MetricType::kUntyped:
      break;
  }
  return "UNTYPED";
}

struct MetricFamily {
  std::string name;  // A valid Prometheus metric name.
  std::string help;
  MetricType type = MetricType::kUntyped;
  std::vector<Sample> samples;
};

}  // namespace metricsgate::storage

#endif  // METRICSGATE_STORAGE_METRIC_FAMILY_H_

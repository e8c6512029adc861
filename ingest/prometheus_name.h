// Turns a StatsD metric name into a Prometheus metric name the way statsd_exporter does for
// unmapped names (its pkg/mapper/escape.go): every character outside [a-zA-Z0-9_] becomes one
// `_` (a multi-byte character too), a `-` right after a `-` is dropped, and a name that starts
// with a digit gets a leading `_`. So `a.b-c` -> `a_b_c`, `5xx` -> `_5xx`, `a--b` -> `a_b`.
// Pure functions; safe from any thread.
#ifndef METRICSGATE_INGEST_PROMETHEUS_NAME_H_
#define METRICSGATE_INGEST_PROMETHEUS_NAME_H_

#include <string>
#include <string_view>

namespace metricsgate::ingest {

// Writes the escaped form of `name` to `*out` (replacing its contents) and returns true, or
// returns false if `name` is not valid UTF-8 (statsd_exporter drops such lines).
bool EscapeMetricName(std::string_view name, std::string* out);

}  // namespace metricsgate::ingest

#endif  // METRICSGATE_INGEST_PROMETHEUS_NAME_H_

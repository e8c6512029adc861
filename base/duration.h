// Durations as Prometheus and Go tools write them in flags and config files. Pure; thread-safe.
#ifndef METRICSGATE_BASE_DURATION_H_
#define METRICSGATE_BASE_DURATION_H_

#include <chrono>
#include <string_view>

#include "absl/status/statusor.h"

namespace metricsgate {

// Parses "10s", "500ms", "1m30s", "2h": whole numbers, each with a unit of ms, s, m or h; and
// "0", as Go does.
absl::StatusOr<std::chrono::milliseconds> ParseDuration(std::string_view text);

}  // namespace metricsgate

#endif  // METRICSGATE_BASE_DURATION_H_

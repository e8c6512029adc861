// Structured logging in logfmt, as Prometheus' own tools write it:
//   ts=2026-11-25T10:00:00.000Z level=info msg="HTTP server listening" address=127.0.0.1:9091
// One line per call, written to stderr with a single write so lines from different threads
// never interleave. Safe to call from any thread; SetLevel() is meant for start-up.
#ifndef METRICSGATE_BASE_LOG_H_
#define METRICSGATE_BASE_LOG_H_

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace metricsgate::log {

enum class Level { kDebug, kInfo, kWarn, kError };

// A key=value pair of a log line. `key` must be a bare word; `value` is quoted as needed.
struct Field {
  std::string_view key;
  std::string value;
};

// Parses "debug", "info", "warn" or "error".
absl::StatusOr<Level> ParseLevel(std::string_view name);

// Lines below `level` are dropped. Default: kInfo.
void SetLevel(Level level);
bool Enabled(Level level);

// Formats one logfmt line (with the trailing newline). Pure; exposed for tests.
std::string FormatLine(absl::Time now, Level level, std::string_view msg,
                       std::initializer_list<Field> fields);

void Write(Level level, std::string_view msg, std::initializer_list<Field> fields = {});

inline void Debug(std::string_view msg, std::initializer_list<Field> fields = {}) {
  if (Enabled(Level::kDebug)) Write(Level::kDebug, msg, fields);
}
inline void Info(std::string_view msg, std::initializer_list<Field> fields = {}) {
  Write(Level::kInfo, msg, fields);
}
inline void Warn(std::string_view msg, std::initializer_list<Field> fields = {}) {
  Write(Level::kWarn, msg, fields);
}
inline void Error(std::string_view msg, std::initializer_list<Field> fields = {}) {
  Write(Level::kError, msg, fields);
}

// Lets at most `per_second` events through in each second; for logging untrusted input without
// letting it flood the log. Safe from any thread.
class RateLimiter {
 public:
  explicit RateLimiter(int per_second) : per_second_(per_second) {}
  // True if this event may be logged now.
  bool Allow(absl::Time now = absl::Now());

 private:
  const int per_second_;
  std::atomic<int64_t> second_{0};
  std::atomic<int> count_{0};
};

}  // namespace metricsgate::log

#endif  // METRICSGATE_BASE_LOG_H_

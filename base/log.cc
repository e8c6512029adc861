#include "base/log.h"

#include <unistd.h>

#include <atomic>

#include "absl/status/status.h"
#include "base/str_cat.h"

namespace metricsgate::log {
namespace {

std::atomic<Level> g_level{Level::kInfo};

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "unknown";
}

bool NeedsQuotes(std::string_view value) {
  if (value.empty()) return true;
  for (char c : value) {
    if (c <= ' ' || c == '=' || c == '"' || c == '\\' || c == 0x7f) return true;
  }
  return false;
}

void AppendValue(std::string* out, std::string_view value) {
  if (!NeedsQuotes(value)) {
    out->append(value);
    return;
  }
  out->push_back('"');
  for (char c : value) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          static constexpr char kHex[] = "0123456789abcdef";
          out->append("\\x");
          out->push_back(kHex[(c >> 4) & 0xf]);
          out->push_back(kHex[c & 0xf]);
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

}  // namespace

absl::StatusOr<Level> ParseLevel(std::string_view name) {
  for (Level level : {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError}) {
    if (name == LevelName(level)) return level;
  }
  return absl::InvalidArgumentError(
      StrCat("unknown log level \"", name, "\" (want debug, info, warn or error)"));
}

void SetLevel(Level level) { g_level.store(level, std::memory_order_relaxed); }

bool Enabled(Level level) { return level >= g_level.load(std::memory_order_relaxed); }

std::string FormatLine(absl::Time now, Level level, std::string_view msg,
                       std::initializer_list<Field> fields) {
  std::string line =
      StrCat("ts=", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", now, absl::UTCTimeZone()),
             " level=", LevelName(level), " msg=");
  AppendValue(&line, msg);
  for (const Field& field : fields) {
    line.push_back(' ');
    line.append(field.key);
    line.push_back('=');
    AppendValue(&line, field.value);
  }
  line.push_back('\n');
  return line;
}

void Write(Level level, std::string_view msg, std::initializer_list<Field> fields) {
  if (!Enabled(level)) return;
  const std::string line = FormatLine(absl::Now(), level, msg, fields);
  // One write(2) per line keeps lines whole when several threads log at once.
  const char* data = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, data, left);
    if (n <= 0) return;  // Nowhere to report a failing stderr.
    data += n;
    left -= static_cast<size_t>(n);
  }
}

bool RateLimiter::Allow(absl::Time now) {
  const int64_t second = absl::ToUnixSeconds(now);
  int64_t seen = second_.load(std::memory_order_relaxed);
  if (seen != second && second_.compare_exchange_strong(seen, second)) {
    count_.store(0, std::memory_order_relaxed);
  }
  return count_.fetch_add(1, std::memory_order_relaxed) < per_second_;
}

}  // namespace metricsgate::log

// The StatsD line parser: Etsy statsd's `name:value|type[|@rate]`, read in place.
//
// A packet holds lines separated by `\n` (a `\r` before it is dropped); empty lines are
// skipped, as Etsy does. ParseStatsdLine() splits one line into views of the packet and a
// parsed value without allocating. Pure functions; safe from any thread.
//
// Deliberate differences from Etsy statsd 0.10 (see README): values must be plain decimal
// numbers (Etsy's JavaScript coercion also takes `0x10`, ` 4`, `Infinity`); `@2e-1` is a rate of
// 0.2 (Etsy reads 2); a rate must be a finite number > 0 (Etsy turns `@0` into Infinity).
// Tags and the multi-value forms (`k:1|c:2|ms`, `k:1:2|ms`) arrive with issue #3; until then a
// field other than `@rate` is rejected as `unknown_field`.
#ifndef METRICSGATE_INGEST_STATSD_PARSER_H_
#define METRICSGATE_INGEST_STATSD_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace metricsgate::ingest {

enum class StatsdType : uint8_t { kCounter, kGauge, kTimer, kHistogram, kDistribution, kSet };

// Why a line was dropped: the `reason` label of metricsgate_statsd_bad_lines_total.
enum class BadLineReason : uint8_t {
  kMalformedLine,           // not `name:value|type`: no `:` or no `|`
  kEmptyName,               // nothing before the first `:`
  kInvalidUtf8,             // the name is not valid UTF-8
  kMalformedValue,          // the value is not a plain decimal number
  kUnknownType,             // the type is none of c g ms h d s
  kInvalidSampleRate,       // `@` not followed by a finite number > 0
  kUnknownField,            // a field after the type other than `@rate`
  kValueOutOfRange,         // the value (scaled by 1/rate) is not a finite double
  kIllegalNegativeCounter,  // a counter decrement: Prometheus counters never go down
  kTypeConflict,            // the name already holds a series of another type
  kReservedName,            // the name is in metricsgate's own `metricsgate_` namespace
  kUnsupportedType,         // timers, histograms, distributions and sets (issue #3)
};
inline constexpr size_t kBadLineReasonCount =
    static_cast<size_t>(BadLineReason::kUnsupportedType) + 1;

// The label value for `reason`, e.g. "malformed_value".
std::string_view BadLineReasonName(BadLineReason reason);

// One parsed sample. The views alias the packet and are valid while it is.
struct StatsdSample {
  std::string_view name;        // as sent, not escaped
  std::string_view value_text;  // as sent; set members are strings
  double value = 0;             // the parsed value; 0 for sets
  StatsdType type = StatsdType::kCounter;
  double sample_rate = 1;  // from `|@rate`, 1 when absent
  bool has_sign = false;   // the value starts with `+` or `-` (a gauge delta)
};

// Parses a plain decimal number: optional sign, digits with an optional fraction (".5" and "5."
// included), optional exponent. No spaces, hex, "inf" or "nan". Returns false for anything
// else, and for values that overflow a double.
bool ParseStatsdNumber(std::string_view text, double* value);

// Parses one line, without its terminator. On success fills `*sample` and returns true; on
// failure sets `*reason` and returns false.
bool ParseStatsdLine(std::string_view line, StatsdSample* sample, BadLineReason* reason);

// Calls `fn(line)` for every non-empty line of `packet`, without the `\n` or `\r\n`.
template <typename Fn>
void ForEachStatsdLine(std::string_view packet, Fn&& fn) {
  while (!packet.empty()) {
    size_t end = packet.find('\n');
    std::string_view line = packet.substr(0, end);
    packet.remove_prefix(end == std::string_view::npos ? packet.size() : end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) fn(line);
  }
}

}  // namespace metricsgate::ingest

#endif  // METRICSGATE_INGEST_STATSD_PARSER_H_

// The StatsD line parser: Etsy statsd 0.10 syntax plus DogStatsD, InfluxDB, Librato, SignalFx
// and Graphite tags, read in place.
//
//   name:value|type[|@rate][|#tag:v,...][|c:container][|T<unix time>]   one sample
//   name:v1|c:v2|ms                                                      Etsy: several samples
//   name:1:2:3|ms                                                        DogStatsD v1.1 packing
//   name,k=v:1|c   name#k=v:1|c   name[k=v]:1|c   name;k=v:1|c           tags in the name
//
// Types: c (counter), g (gauge; a leading +/- is a delta), ms (timer), h and d (timers whose
// values are taken as sent), s (set; the value is a string member).
//
// A packet holds lines separated by `\n` (a `\r` before it is dropped); empty lines are
// skipped. ParseStatsdLine() splits one line into views of the packet; it allocates only when
// `ParsedLine`'s reused vectors grow, and to rebuild a name with SignalFx tags in its middle.
// Pure functions; safe from any thread.
//
// Deliberate differences from Etsy statsd 0.10 (see README): values must be plain decimal
// numbers (Etsy's JavaScript coercion also takes `0x10`, ` 4`, `Infinity`); `@2e-1` is a rate of
// 0.2 (Etsy reads 2); a rate must be a finite number > 0 (Etsy turns `@0` into Infinity);
// `h` and `d` are timers (Etsy makes them counters); a set member must not be empty (Etsy
// stores `0`); fields after the rate are checked, not ignored.
#ifndef METRICSGATE_INGEST_STATSD_PARSER_H_
#define METRICSGATE_INGEST_STATSD_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace metricsgate::ingest {

enum class StatsdType : uint8_t { kCounter, kGauge, kTimer, kHistogram, kDistribution, kSet };

// Why a line or a sample was dropped: the `reason` label of
// metricsgate_statsd_bad_lines_total.
enum class BadLineReason : uint8_t {
  kMalformedLine,           // no `:` after the name, or a sample without `|type`
  kEmptyName,               // nothing before the first `:`
  kInvalidUtf8,             // the line is not valid UTF-8
  kMalformedValue,          // not a plain decimal number; or an empty set member
  kUnknownType,             // none of c g ms h d s
  kInvalidSampleRate,       // `@` not followed by a finite number > 0
  kMalformedTimestamp,      // `|T` not followed by an integer
  kMalformedContainerId,    // `|c:` with nothing after it
  kUnknownField,            // another field after the type, or an empty one
  kInvalidPacking,          // several packed values (`k:1:2|s`) for a set
  kMixedTaggingStyles,      // DogStatsD tags and tags in the name on one line
  kIllegalNegativeTimer,    // an `ms` value below 0 (Etsy rejects these too)
  kValueOutOfRange,         // the value (scaled by 1/rate) is not a finite double
  kIllegalNegativeCounter,  // a counter decrement: Prometheus counters never go down
  kTypeConflict,            // the name already holds a series of another type
  kReservedName,            // the name is in metricsgate's own `metricsgate_` namespace
  kSeriesLimit,             // a new series, and the store holds --storage.max-series
};
inline constexpr size_t kBadLineReasonCount = static_cast<size_t>(BadLineReason::kSeriesLimit) + 1;

// The label value for `reason`, e.g. "malformed_value".
std::string_view BadLineReasonName(BadLineReason reason);

// A tag as sent (key not yet escaped). Views alias the packet.
struct StatsdTag {
  std::string_view key;
  std::string_view value;
  bool operator==(const StatsdTag&) const = default;  // by content
};

// One parsed sample. Views alias the packet (or ParsedLine::name_buffer) and stay valid until
// the next parse into the same ParsedLine, while the packet does.
struct StatsdSample {
  std::string_view name;        // without tags, not escaped
  std::string_view value_text;  // as sent; set members are strings
  double value = 0;             // the parsed value; 0 for sets
  StatsdType type = StatsdType::kCounter;
  double sample_rate = 1;  // from `|@rate`, 1 when absent
  bool has_sign = false;   // the value starts with `+` or `-` (a gauge delta)
  bool operator==(const StatsdSample&) const = default;  // by content
};

// The result of one line: its good samples, the reasons of its bad ones, and the tags that
// apply to every sample. Reuse one ParsedLine for many lines: its vectors keep their capacity.
struct ParsedLine {
  std::vector<StatsdSample> samples;
  std::vector<BadLineReason> errors;  // one per dropped sample, or one for the whole line
  std::vector<StatsdTag> tags;        // in the order sent; keys may repeat
  uint32_t tag_errors = 0;            // tags dropped: empty, or without a key or value
  std::string name_buffer;            // holds a name with SignalFx tags cut out of its middle
  // The text that names the line's series, as sent: everything before the first `:` (the name
  // with any tags in it), and the DogStatsD tags field without its `|#`. Two lines with the
  // same two texts have the same name and tags.
  std::string_view name_part;
  std::string_view dogstatsd_tags;

  // The same result, by content (not the buffers the views point into).
  bool operator==(const ParsedLine& other) const {
    return samples == other.samples && errors == other.errors && tags == other.tags &&
           tag_errors == other.tag_errors && name_part == other.name_part &&
           dogstatsd_tags == other.dogstatsd_tags;
  }

  void Clear() {
    samples.clear();
    errors.clear();
    tags.clear();
    tag_errors = 0;
    name_part = {};
    dogstatsd_tags = {};
  }
};

// Parses a plain decimal number: optional sign, digits with an optional fraction (".5" and "5."
// included), optional exponent. No spaces, hex, "inf" or "nan". Returns false for anything
// else, and for values that overflow a double.
bool ParseStatsdNumber(std::string_view text, double* value);

// Parses one line, without its terminator, into `*out` (cleared first). Each sample of the
// line stands alone, as in Etsy statsd: a bad one is reported in `errors` and the others kept.
// A problem with the name or its tags drops the whole line with one error.
void ParseStatsdLine(std::string_view line, ParsedLine* out);

// The general parser alone, which ParseStatsdLine() runs for any line its one-pass parser of
// the common shape declines; exposed so tests can check the two agree.
void ParseStatsdLineGeneral(std::string_view line, ParsedLine* out);

// Calls `fn(line, line_number)` for every non-empty line of `packet`, without the `\n` or
// `\r\n`. Line numbers start at 1 and count empty lines too, so they match the sender's.
template <typename Fn>
void ForEachStatsdLine(std::string_view packet, Fn&& fn) {
  uint64_t line_number = 0;
  while (!packet.empty()) {
    const size_t end = packet.find('\n');
    std::string_view line = packet.substr(0, end);
    packet.remove_prefix(end == std::string_view::npos ? packet.size() : end + 1);
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) fn(line, line_number);
  }
}

// Etsy statsd's key sanitizing, for Graphite names: runs of whitespace become `_`, `/` becomes
// `-`, and every character outside [a-zA-Z0-9_.;=-] is removed. Writes to `*out`.
void SanitizeEtsyKey(std::string_view key, std::string* out);

// Etsy statsd's Graphite key of a whole line, as its handlePacket builds it: the text before
// the first `:`, then each DogStatsD tag (the text after `|#`, split at `,`) as `;tag` with the
// tag's first `;` made `_` and its first `:` made `=`; all of it sanitized (SanitizeEtsyKey).
// So `a.b:1|c|#env:prod` is `a.b;env=prod`, and tags in the name (`a,k=v`) stay in the name.
void EtsyKey(std::string_view line, std::string* out);

}  // namespace metricsgate::ingest

#endif  // METRICSGATE_INGEST_STATSD_PARSER_H_

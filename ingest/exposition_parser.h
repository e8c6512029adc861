// Parsers of pushed metrics: the Prometheus text format 0.0.4 and delimited protobuf
// `io.prometheus.client.MetricFamily` messages, the two bodies Pushgateway takes, read as its
// Go parsers read them (prometheus/common expfmt.TextParser; pbutil.ReadDelimited).
//
// Text: `# HELP name text` (escapes `\\` and `\n`), `# TYPE name counter|gauge|histogram|
// summary|untyped`, other `#` lines are comments, empty lines are skipped, samples are
// `name{label="value",...} value [timestamp]`, and the body must end with a newline. A
// histogram's `_bucket{le=...}`, `_sum` and `_count` lines, and a summary's `{quantile=...}`,
// `_sum` and `_count` lines, join the series of the same other labels. A name's lines need not
// be adjacent (as in Go's parser). Every error names its line, as Go's does:
// `text format parsing error in line 3: expected float as value, got "x"`.
//
// Protobuf: a stream of [uvarint length][MetricFamily]; a family that repeats a name replaces
// the earlier one, as in Pushgateway. Gauge histograms are refused (nothing here stores them);
// native histogram fields are skipped.
//
// Timestamps are parsed and reported (`has_timestamp`), not stored: Pushgateway refuses them
// in its consistency check, so the caller decides. Pure functions; safe from any thread.
#ifndef METRICSGATE_INGEST_EXPOSITION_PARSER_H_
#define METRICSGATE_INGEST_EXPOSITION_PARSER_H_

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/metric_family.h"

namespace metricsgate::ingest {

struct ParsedExposition {
  // In the order their names first appear; names are unique. Histograms always end with a
  // `+Inf` bucket (their count, when it was not sent); samples keep the order sent, and may
  // repeat a label set (the push's consistency check finds that).
  std::vector<storage::MetricFamily> families;
  bool has_timestamp = false;  // some sample carried a timestamp
};

// Returns kInvalidArgument with Go's message for a malformed body.
absl::StatusOr<ParsedExposition> ParseTextFormat(std::string_view body);
absl::StatusOr<ParsedExposition> ParseProtoDelimited(std::string_view body);

// Parses a sample value as expfmt does: strconv.ParseFloat(text, 64) on text without `p`,
// `P` or `_` (so decimal forms only), an optional sign, `Inf`, `Infinity` and `NaN` in any
// case. Out of range is an error, as in Go.
bool ParseGoFloat(std::string_view text, double* value);

}  // namespace metricsgate::ingest

#endif  // METRICSGATE_INGEST_EXPOSITION_PARSER_H_

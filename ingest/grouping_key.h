// The grouping key of a Pushgateway push path, read as Pushgateway 1.x reads it:
//
//   /metrics/job/<JOB>{/<LABEL>/<VALUE>}        /metrics/job@base64/<JOB>{/<LABEL>@base64/<VALUE>}
//
// The path is percent-decoded first, as Go's server decodes it before routing: `%2F` becomes a
// `/` that splits (so a value with `/` needs base64), `+` stays a `+`. `@base64` on the job or
// a label name means its value is RFC 4648 URL-safe base64, padding optional, `=` for "". A
// label named twice keeps its last value; `job` always comes from the job part. Errors carry
// Pushgateway's messages: `odd number of components in label string "/a"`, `improper label
// name "__x"`, `job name is required`, `invalid base64 encoding ...`. Pure; safe from any thread.
#ifndef METRICSGATE_INGEST_GROUPING_KEY_H_
#define METRICSGATE_INGEST_GROUPING_KEY_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/metric_family.h"

namespace metricsgate::ingest {

// Decodes `%XX` escapes; kInvalidArgument for a malformed one (Go answers "400 Bad Request").
absl::StatusOr<std::string> PercentDecode(std::string_view text);

// Decodes URL-safe base64 after dropping trailing `=`, as Go's RawURLEncoding does.
absl::StatusOr<std::string> DecodeBase64Url(std::string_view text);

// The grouping labels (sorted by name, `job` among them) of `path`, the decoded request path
// after `/metrics/`. kNotFound when it is not a push path (no `job/` or `job@base64/` part);
// kInvalidArgument with Pushgateway's message when it is a bad one.
absl::StatusOr<std::vector<storage::Label>> ParseGroupingKey(std::string_view path);

}  // namespace metricsgate::ingest

#endif  // METRICSGATE_INGEST_GROUPING_KEY_H_

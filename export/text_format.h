// Renders metric families in the Prometheus text exposition format 0.0.4.
// Pure functions; safe from any thread.
#ifndef METRICSGATE_EXPORT_TEXT_FORMAT_H_
#define METRICSGATE_EXPORT_TEXT_FORMAT_H_

#include <string>
#include <string_view>
#include <vector>

#include "storage/metric_family.h"

namespace metricsgate::exporter {

inline constexpr std::string_view kTextContentType = "text/plain; version=0.0.4; charset=utf-8";

// Formats a sample value as Go's strconv.FormatFloat(v, 'g', -1, 64) does, which is what
// client_golang writes (so scrapes read the same as from statsd_exporter and Pushgateway):
// the shortest digits that round-trip, in exponent form when the decimal exponent is < -4 or
// >= 6: 1 -> "1", 999999 -> "999999", 1234567 -> "1.234567e+06", 0.0001 -> "0.0001",
// 0.00001 -> "1e-05", and "+Inf", "-Inf", "NaN".
void AppendValue(double value, std::string* out);

// Renders `families` as text 0.0.4 (through a storage::Snapshot and exposition.h's Renderer):
// for each family `# HELP` (unless its help is empty, as
// expfmt writes), `# TYPE`, then its samples.
// Families are written sorted by name and samples by their labels, so the output is the same
// for the same contents whatever order they arrive in. Families of the same name (several
// listeners each reporting theirs) are written as one, with the first one's type and the first help
// that is not empty. Families without samples are skipped. REQUIRES: names are valid metric names,
// label names valid label names; families of one name have one type and no two samples with the
// same labels.
std::string RenderText(const std::vector<storage::MetricFamily>& families);

}  // namespace metricsgate::exporter

#endif  // METRICSGATE_EXPORT_TEXT_FORMAT_H_

// The scrape body in every format Prometheus asks for: text 0.0.4, OpenMetrics 1.0 and
// delimited protobuf `io.prometheus.client.MetricFamily` (with native histograms), chosen from
// the Accept header as Prometheus 2.x and 3.x send it, and rendered from a sorted
// storage::Snapshot in chunks so a large scrape never sits in memory as one string.
//
// Pure functions and a Renderer that belongs to one thread; the snapshot it reads must not
// change while it renders (it is the renderer's own, shared read-only).
#ifndef METRICSGATE_EXPORT_EXPOSITION_H_
#define METRICSGATE_EXPORT_EXPOSITION_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "storage/snapshot.h"

namespace metricsgate::exporter {

enum class Format { kText, kOpenMetrics, kProtobuf };

inline constexpr std::string_view kOpenMetricsContentType =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";
inline constexpr std::string_view kProtobufContentType =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; "
    "encoding=delimited";

// The format for an Accept header: the acceptable media type with the highest q-value (the
// first listed on a tie) among text/plain (version 0.0.4, 1.0.0 or none), OpenMetrics
// (version 1.0.0, 0.0.1 or none) and protobuf MetricFamily delimited; text 0.0.4 when none
// is acceptable, the header is absent, or it cannot be parsed (as client_golang does).
Format Negotiate(std::string_view accept);

// The Content-Type header of a body in `format`.
std::string_view ContentType(Format format);

// Renders a sorted snapshot (Snapshot::Sort()) piece by piece.
//
// Text 0.0.4 is what client_golang's expfmt writes: `# HELP` (when there is a help text) and
// `# TYPE` once per family, families by name, series by labels, histograms as `_bucket` (with
// `le`), `_sum`, `_count`, summaries as `quantile` lines, `_sum`, `_count`. OpenMetrics writes
// a counter named `x_total` as the counter family `x`, and a counter without that suffix as
// `unknown` under its own name (so series keep the names text gives them, where OpenMetrics
// would rename them `x_total`), writes `unknown` for untyped,
// escapes `"` in HELP, writes `le` and `quantile` in canonical float form ("1.0"), `# UNIT` for
// families named `_seconds` or `_bytes`, and ends with `# EOF`. Protobuf writes one message per
// family; histograms that have a native form carry it next to their classic buckets.
// Where families of one name come from several sources, the first entry's type and the first
// non-empty help added to the snapshot are written.
class Renderer {
 public:
  Renderer(std::shared_ptr<const storage::Snapshot> snapshot, Format format);

  // Appends the next piece of the body (about `chunk_size` bytes, one family may make it
  // larger in protobuf) to `*out`. Returns false, appending nothing, once the body is done.
  bool Next(std::string* out, size_t chunk_size = 256 * 1024);

 private:
  // The help of the family `name` whose first entry is `first`.
  std::string_view FamilyHelp(size_t first, std::string_view name) const;
  void RenderFamilyHeader(size_t first, std::string* out);
  void RenderTextEntry(const storage::Snapshot::Entry& entry, std::string* out);
  // Renders the whole family starting at next_ (protobuf), advancing next_ past it.
  void RenderProtobufFamily(std::string* out);

  std::shared_ptr<const storage::Snapshot> snapshot_;
  Format format_;
  size_t next_ = 0;
  bool done_ = false;
  std::string_view family_;  // the name of the family being written (text formats)
  std::string labels_;       // scratch: one series' label pairs, rendered
  std::string value_;        // scratch
  std::string message_;      // scratch: one protobuf family
  std::string metric_;       // scratch: one protobuf metric
  std::string inner_;        // scratch: one nested protobuf message
};

// The whole body at once (tests, small scrapes).
std::string Render(const storage::Snapshot& snapshot, Format format);

}  // namespace metricsgate::exporter

#endif  // METRICSGATE_EXPORT_EXPOSITION_H_

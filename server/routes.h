// The HTTP routes:
//   GET  /-/healthy, /-/ready       200 OK
//   GET  <telemetry path>           the scrape (/metrics)
//   POST /api/v1/statsd             StatsD lines in the body (optionally gzip) -> JSON report
//   POST|PUT /-/reload              reload the mapping file
//   PUT|POST|DELETE /metrics/job/<JOB>{/<LABEL>/<VALUE>}   Pushgateway's push API
//   GET /api/v1/status, /api/v1/metrics; PUT /api/v1/admin/wipe (admin API only);
//   DELETE /api/v1/groups?match[]=<selector>               Pushgateway's JSON API, and more
//   PUT|POST /-/quit                shut down (lifecycle API only, else 403)
// GET routes also answer HEAD; another method gets 405 with an Allow header, another path
// 404. The handler is safe to call from any thread if `snapshot` is.
#ifndef METRICSGATE_SERVER_ROUTES_H_
#define METRICSGATE_SERVER_ROUTES_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "ingest/statsd_ingester.h"
#include "server/http_types.h"
#include "storage/snapshot.h"

namespace metricsgate::storage {
class PushStore;
}  // namespace metricsgate::storage

namespace metricsgate::server {

struct RouteOptions {
  std::string telemetry_path = "/metrics";
  // Returns a sorted snapshot (storage::Snapshot::Sort()) of everything the server exports,
  // which the scrape renders in the format the client asks for.
  std::function<std::shared_ptr<const storage::Snapshot>()> snapshot;
  // Takes StatsD lines posted to /api/v1/statsd; must outlive the handler.
  ingest::StatsdIngester* statsd = nullptr;
  // Reloads the mapping file for /-/reload; kFailedPrecondition when there is none.
  std::function<absl::Status()> reload;
  // The largest body /api/v1/statsd takes once decompressed.
  size_t max_statsd_body = 64 * 1024 * 1024;
  // Pushed groups; null disables the push API. Must outlive the handler.
  storage::PushStore* push = nullptr;
  bool push_consistency_check = true;       // false: pushes answer 202, as Pushgateway's
  size_t max_push_body = 64 * 1024 * 1024;  // once decompressed
  bool enable_admin_api = false;
  // Requests shutdown (PUT|POST /-/quit); null: the lifecycle API is off (403).
  std::function<void()> quit;
  // The JSON of GET /api/v1/status.
  std::function<std::string()> status_json;
};

HttpHandler MakeRoutes(RouteOptions options);

}  // namespace metricsgate::server

#endif  // METRICSGATE_SERVER_ROUTES_H_

// The Pushgateway-compatible routes (see server/routes.h): pushes and deletes under
// /metrics/job/..., and the JSON API under /api/v1/. Each handler runs on an I/O thread;
// parsing a body happens there, in parallel with other requests; only the store's apply is
// serialized (storage/push_store.h).
#ifndef METRICSGATE_SERVER_INTERNAL_PUSH_ROUTES_H_
#define METRICSGATE_SERVER_INTERNAL_PUSH_ROUTES_H_

#include "server/http_types.h"
#include "server/routes.h"

namespace metricsgate::server::internal {

// PUT, POST and DELETE of a group; `path` is the raw path (still percent-encoded).
HttpResponse HandlePush(const HttpRequest& request, std::string_view path,
                        const RouteOptions& options);

// /api/v1/status, /api/v1/metrics, /api/v1/admin/wipe, /api/v1/groups, with CORS headers.
// `path` starts with /api/v1/.
HttpResponse HandleApiV1(const HttpRequest& request, std::string_view path,
                         const RouteOptions& options);

}  // namespace metricsgate::server::internal

#endif  // METRICSGATE_SERVER_INTERNAL_PUSH_ROUTES_H_

// The HTTP routes: `GET /-/healthy`, `GET /-/ready`, and the telemetry path (`/metrics`).
// GET routes also answer HEAD; another method gets 405 with an Allow header, another path
// 404. The handler is safe to call from any thread if `render_metrics` is.
#ifndef METRICSGATE_SERVER_ROUTES_H_
#define METRICSGATE_SERVER_ROUTES_H_

#include <functional>
#include <string>

#include "server/http_types.h"

namespace metricsgate::server {

struct RouteOptions {
  std::string telemetry_path = "/metrics";
  // Returns the text-format scrape of everything the server holds.
  std::function<std::string()> render_metrics;
};

HttpHandler MakeRoutes(RouteOptions options);

}  // namespace metricsgate::server

#endif  // METRICSGATE_SERVER_ROUTES_H_

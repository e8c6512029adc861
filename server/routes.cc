#include "server/routes.h"

#include "export/text_format.h"

namespace metricsgate::server {
namespace {

HttpResponse Text(int status, std::string body) {
  return HttpResponse{status, "text/plain; charset=utf-8", std::move(body), {}};
}

}  // namespace

HttpHandler MakeRoutes(RouteOptions options) {
  return [options = std::move(options)](const HttpRequest& request) -> HttpResponse {
    const std::string_view path = request.path();
    const bool known = path == "/-/healthy" || path == "/-/ready" || path == options.telemetry_path;
    if (!known) return Text(404, "404 page not found\n");  // Go's net/http wording
    if (request.method != "GET" && request.method != "HEAD") {
      HttpResponse response = Text(405, "method not allowed\n");
      response.headers.emplace_back("Allow", "GET, HEAD");
      return response;
    }
    if (path == options.telemetry_path) {
      return HttpResponse{
          200, std::string(exporter::kTextContentType), options.render_metrics(), {}};
    }
    return Text(200, "OK\n");
  };
}

}  // namespace metricsgate::server

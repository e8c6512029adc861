#include "server/routes.h"

#include "base/json.h"
#include "base/str_cat.h"
#include "export/exposition.h"
#include "export/text_format.h"
#include "server/internal/gzip.h"
#include "server/internal/push_routes.h"

namespace metricsgate::server {
namespace {

constexpr std::string_view kJson = "application/json";

HttpResponse Text(int status, std::string body) {
  return HttpResponse{status, "text/plain; charset=utf-8", std::move(body), {}};
}

// Whether an Accept-Encoding header takes gzip (listed, and not with q=0).
bool AcceptsGzip(std::string_view accept_encoding) {
  while (!accept_encoding.empty()) {
    const size_t comma = accept_encoding.find(',');
    std::string_view coding = accept_encoding.substr(0, comma);
    accept_encoding =
        comma == std::string_view::npos ? std::string_view() : accept_encoding.substr(comma + 1);
    const size_t semicolon = coding.find(';');
    std::string_view params =
        semicolon == std::string_view::npos ? std::string_view() : coding.substr(semicolon + 1);
    coding = coding.substr(0, semicolon);
    while (!coding.empty() && coding.front() == ' ') coding.remove_prefix(1);
    while (!coding.empty() && coding.back() == ' ') coding.remove_suffix(1);
    if (coding != "gzip" && coding != "x-gzip") continue;
    params.remove_prefix(std::min(params.find_first_not_of(' '), params.size()));
    if (params.starts_with("q=0") && params.find_first_of("123456789") == std::string_view::npos) {
      return false;  // "q=0", "q=0.0": refused
    }
    return true;
  }
  return false;
}

// The scrape: the snapshot in the format the Accept header asks for, gzip-compressed when
// Accept-Encoding allows it. A body that fits in one piece is sent with its length; a larger
// one is rendered (and compressed) piece by piece as the connection takes it.
HttpResponse Scrape(const HttpRequest& request, const RouteOptions& options) {
  const exporter::Format format = exporter::Negotiate(request.header("accept"));
  auto renderer = std::make_shared<exporter::Renderer>(options.snapshot(), format);
  HttpResponse response{200, std::string(exporter::ContentType(format)), {}, {}};
  const bool gzip = AcceptsGzip(request.header("accept-encoding"));
  std::string first;
  const bool any = renderer->Next(&first);
  std::string second;
  const bool more = any && renderer->Next(&second);
  if (gzip) {
    response.headers.emplace_back("Content-Encoding", "gzip");
    response.headers.emplace_back("Vary", "Accept-Encoding");
  }
  if (!more) {
    if (!gzip) {
      response.body = std::move(first);
      return response;
    }
    internal::GzipWriter writer;
    writer.Write(first, /*finish=*/true, &response.body);
    return response;
  }
  std::shared_ptr<internal::GzipWriter> writer;
  if (gzip) writer = std::make_shared<internal::GzipWriter>();
  // The first two pieces are rendered already; later ones as the connection asks.
  auto pending = std::make_shared<std::vector<std::string>>();
  pending->push_back(std::move(first));
  pending->push_back(std::move(second));
  response.stream = [renderer, writer, pending, index = size_t{0},
                     raw = std::string()](std::string* out) mutable {
    bool more = true;
    if (index < pending->size()) {
      raw = std::move((*pending)[index++]);
    } else {
      raw.clear();
      more = renderer->Next(&raw);
    }
    if (writer == nullptr) {
      *out = std::move(raw);
      return more;
    }
    writer->Write(raw, /*finish=*/!more, out);
    return more;
  };
  return response;
}

HttpResponse MethodNotAllowed(std::string_view allow) {
  HttpResponse response = Text(405, "method not allowed\n");
  response.headers.emplace_back("Allow", std::string(allow));
  return response;
}

// An /api/v1 error, in Pushgateway's API envelope.
HttpResponse JsonError(int status, std::string_view message) {
  std::string body = "{\"status\":\"error\",\"error\":";
  AppendJsonString(message, &body);
  body += "}\n";
  return HttpResponse{status, std::string(kJson), std::move(body), {}};
}

// POST /api/v1/statsd: the body's lines go through the same ingester as UDP packets.
HttpResponse PostStatsd(const HttpRequest& request, const RouteOptions& options) {
  std::string_view body = request.body;
  std::string decoded;
  const std::string_view encoding = request.header("content-encoding");
  if (encoding == "gzip") {
    absl::StatusOr<std::string> gunzipped = internal::Gunzip(body, options.max_statsd_body);
    if (!gunzipped.ok()) {
      const bool too_large = gunzipped.status().code() == absl::StatusCode::kResourceExhausted;
      return JsonError(too_large ? 413 : 400, std::string(gunzipped.status().message()));
    }
    decoded = *std::move(gunzipped);
    body = decoded;
  } else if (!encoding.empty() && encoding != "identity") {
    return JsonError(
        415, StrCat("unsupported Content-Encoding \"", encoding, "\" (want gzip or identity)"));
  }
  ingest::IngestReport report;
  options.statsd->HandlePacket(body, ingest::StatsdTransport::kHttp, &report);
  std::string json = StrCat("{\"status\":\"success\",\"data\":{\"lines\":", report.lines,
                            ",\"accepted_lines\":", report.lines - report.rejected_lines,
                            ",\"rejected_lines\":", report.rejected_lines,
                            ",\"samples\":", report.samples, ",\"errors\":[");
  for (size_t i = 0; i < report.first_errors.size(); ++i) {
    const ingest::IngestReport::LineError& error = report.first_errors[i];
    json += StrCat(i ? "," : "", "{\"line\":", error.line_number, ",\"reason\":\"",
                   ingest::BadLineReasonName(error.reason), "\",\"text\":");
    AppendJsonString(error.line, &json);
    json += "}";
  }
  json += "]}}\n";
  return HttpResponse{200, std::string(kJson), std::move(json), {}};
}

}  // namespace

HttpHandler MakeRoutes(RouteOptions options) {
  return [options = std::move(options)](const HttpRequest& request) -> HttpResponse {
    const std::string_view path = request.path();
    if (options.push != nullptr && path.starts_with("/metrics/")) {
      return internal::HandlePush(request, path, options);
    }
    if (options.push != nullptr && path.starts_with("/api/v1/") && path != "/api/v1/statsd") {
      return internal::HandleApiV1(request, path, options);
    }
    if (path == "/-/quit") {
      if (request.method != "PUT" && request.method != "POST") {
        return Text(405, "Only POST or PUT requests allowed.");
      }
      if (!options.quit) return Text(403, "Lifecycle API is not enabled.");
      options.quit();
      return Text(200, "Requesting termination... Goodbye!");
    }
    if (path == "/api/v1/statsd" && options.statsd != nullptr) {
      if (request.method != "POST") return MethodNotAllowed("POST");
      return PostStatsd(request, options);
    }
    if (path == "/-/reload" && options.reload) {
      if (request.method != "POST" && request.method != "PUT") return MethodNotAllowed("POST, PUT");
      const absl::Status status = options.reload();
      if (status.ok()) return Text(200, "OK\n");
      const bool no_file = status.code() == absl::StatusCode::kFailedPrecondition;
      return Text(no_file ? 400 : 500, StrCat(std::string(status.message()), "\n"));
    }
    const bool known = path == "/-/healthy" || path == "/-/ready" || path == options.telemetry_path;
    if (!known) return Text(404, "404 page not found\n");  // Go's net/http wording
    if (request.method != "GET" && request.method != "HEAD") return MethodNotAllowed("GET, HEAD");
    if (path == options.telemetry_path) {
      return Scrape(request, options);
    }
    return Text(200, "OK\n");
  };
}

}  // namespace metricsgate::server

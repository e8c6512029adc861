#include "server/routes.h"

#include "export/exposition.h"
#include "gtest/gtest.h"
#include "server/internal/gzip.h"
#include "storage/series_table.h"

namespace metricsgate::server {
namespace {

HttpRequest Request(std::string method, std::string target) {
  HttpRequest request;
  request.method = std::move(method);
  request.target = std::move(target);
  return request;
}

// A sorted snapshot of `series` gauges named x_0, x_1, ... with help "y".
std::shared_ptr<const storage::Snapshot> Gauges(int series) {
  auto snapshot = std::make_shared<storage::Snapshot>();
  const uint32_t help = snapshot->AddHelp("y");
  for (int i = 0; i < series; ++i) {
    snapshot->AddScalar(snapshot->CopyKey("x_" + std::to_string(i)), storage::MetricType::kGauge,
                        help, i);
  }
  snapshot->Sort();
  return snapshot;
}

RouteOptions Options(std::string path,
                     std::function<std::shared_ptr<const storage::Snapshot>()> snapshot) {
  RouteOptions options;
  options.telemetry_path = std::move(path);
  options.snapshot = std::move(snapshot);
  return options;
}

// The whole body of a response, streamed or not.
std::string Body(HttpResponse& response) {
  if (!response.stream) return response.body;
  std::string body, piece;
  for (bool more = true; more;) {
    piece.clear();
    more = response.stream(&piece);
    body += piece;
  }
  return body;
}

class RoutesTest : public ::testing::Test {
 protected:
  int renders_ = 0;
  HttpHandler handler_ = MakeRoutes(Options("/metrics", [this] {
    ++renders_;
    return Gauges(1);
  }));
};

TEST_F(RoutesTest, HealthAndReadinessAnswerOk) {
  for (const char* path : {"/-/healthy", "/-/ready"}) {
    HttpResponse response = handler_(Request("GET", path));
    EXPECT_EQ(response.status, 200) << path;
    EXPECT_EQ(response.body, "OK\n") << path;
    EXPECT_EQ(response.content_type, "text/plain; charset=utf-8") << path;
  }
  EXPECT_EQ(renders_, 0);
}

TEST_F(RoutesTest, MetricsRendersTextFormat) {
  HttpResponse response = handler_(Request("GET", "/metrics?x=1"));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(response.body, "# HELP x_0 y\n# TYPE x_0 gauge\nx_0 0\n");
  EXPECT_FALSE(response.stream);
  EXPECT_TRUE(response.headers.empty());
  EXPECT_EQ(handler_(Request("HEAD", "/metrics")).status, 200);
  EXPECT_EQ(renders_, 2);
}

TEST_F(RoutesTest, MetricsNegotiatesTheFormatPrometheusAsksFor) {
  HttpRequest request = Request("GET", "/metrics");
  request.headers.emplace_back(
      "accept",
      "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
      "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1");
  HttpResponse response = handler_(request);
  EXPECT_EQ(response.content_type, "application/openmetrics-text; version=1.0.0; charset=utf-8");
  EXPECT_EQ(response.body, "# TYPE x_0 gauge\n# HELP x_0 y\nx_0 0\n# EOF\n");
  request.headers[0].second = "application/json, image/png;q=0.9";  // nothing we serve
  EXPECT_EQ(handler_(request).content_type, "text/plain; version=0.0.4; charset=utf-8");
}

TEST_F(RoutesTest, MetricsIsGzippedWhenTheClientTakesGzip) {
  HttpRequest request = Request("GET", "/metrics");
  request.headers.emplace_back("accept-encoding", "deflate, gzip");
  HttpResponse response = handler_(request);
  ASSERT_EQ(response.headers.size(), 2u);
  EXPECT_EQ(response.headers[0], (std::pair<std::string, std::string>{"Content-Encoding", "gzip"}));
  absl::StatusOr<std::string> body = internal::Gunzip(response.body, 1 << 20);
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(*body, "# HELP x_0 y\n# TYPE x_0 gauge\nx_0 0\n");
  for (const char* refused : {"gzip;q=0", "identity", "gzip ; q=0.0, br", ""}) {
    request.headers[0].second = refused;
    EXPECT_TRUE(handler_(request).headers.empty()) << refused;
  }
  request.headers[0].second = "br, gzip;q=0.5";
  EXPECT_EQ(handler_(request).headers.size(), 2u);
}

// A large scrape comes in pieces, plain or gzipped, and the pieces make the whole body.
TEST(LargeScrapeTest, IsStreamedInPiecesThatMakeTheWholeBody) {
  const std::shared_ptr<const storage::Snapshot> snapshot = Gauges(100000);
  HttpHandler handler = MakeRoutes(Options("/metrics", [&] { return snapshot; }));
  const std::string expected = exporter::Render(*snapshot, exporter::Format::kText);
  ASSERT_GT(expected.size(), 3u << 20);
  HttpResponse response = handler(Request("GET", "/metrics"));
  ASSERT_TRUE(response.stream);
  EXPECT_EQ(Body(response), expected);

  HttpRequest request = Request("GET", "/metrics");
  request.headers.emplace_back("accept-encoding", "gzip");
  response = handler(request);
  ASSERT_TRUE(response.stream);
  const std::string compressed = Body(response);
  EXPECT_LT(compressed.size(), expected.size() / 4);
  absl::StatusOr<std::string> body = internal::Gunzip(compressed, 64 << 20);
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(*body, expected);
}

TEST_F(RoutesTest, UnknownPathIs404AndWrongMethodIs405) {
  EXPECT_EQ(handler_(Request("GET", "/nope")).status, 404);
  EXPECT_EQ(handler_(Request("GET", "/metrics/")).status, 404);
  EXPECT_EQ(handler_(Request("GET", "/")).body, "404 page not found\n");
  HttpResponse response = handler_(Request("POST", "/-/healthy"));
  EXPECT_EQ(response.status, 405);
  ASSERT_EQ(response.headers.size(), 1u);
  EXPECT_EQ(response.headers[0], (std::pair<std::string, std::string>{"Allow", "GET, HEAD"}));
  EXPECT_EQ(handler_(Request("DELETE", "/metrics")).status, 405);
  EXPECT_EQ(renders_, 0);
}

TEST(RoutesCustomPathTest, TelemetryPathMoves) {
  HttpHandler handler = MakeRoutes(Options("/internal/metrics", [] { return Gauges(1); }));
  EXPECT_EQ(handler(Request("GET", "/internal/metrics")).body,
            "# HELP x_0 y\n# TYPE x_0 gauge\nx_0 0\n");
  EXPECT_EQ(handler(Request("GET", "/metrics")).status, 404);
}

TEST(ReloadRouteTest, ReportsTheReloadResult) {
  absl::Status next = absl::OkStatus();
  int calls = 0;
  RouteOptions options;
  options.snapshot = [] { return std::make_shared<const storage::Snapshot>(); };
  options.reload = [&] {
    ++calls;
    return next;
  };
  HttpHandler handler = MakeRoutes(options);
  HttpResponse response = handler(Request("POST", "/-/reload"));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "OK\n");
  next = absl::InvalidArgumentError("m.yml: line 2: bad");
  response = handler(Request("PUT", "/-/reload"));
  EXPECT_EQ(response.status, 500);
  EXPECT_EQ(response.body, "m.yml: line 2: bad\n");
  next = absl::FailedPreconditionError("no mapping file");
  EXPECT_EQ(handler(Request("POST", "/-/reload")).status, 400);
  EXPECT_EQ(handler(Request("GET", "/-/reload")).status, 405);
  EXPECT_EQ(calls, 3);
}

class StatsdRouteTest : public ::testing::Test {
 protected:
  HttpResponse Post(std::string body, std::string encoding = "") {
    HttpRequest request = Request("POST", "/api/v1/statsd");
    request.body = std::move(body);
    if (!encoding.empty()) request.headers.emplace_back("content-encoding", encoding);
    return handler_(request);
  }
  storage::SeriesTable table_;
  ingest::StatsdIngester ingester_{&table_};
  HttpHandler handler_ = MakeRoutes([this] {
    RouteOptions options = Options("/metrics", [] { return Gauges(0); });
    options.statsd = &ingester_;
    return options;
  }());
};

TEST_F(StatsdRouteTest, ReportsAcceptedAndRejectedLinesWithTheFirstErrors) {
  HttpResponse response = Post("a:1|c\n\nnope\nb:2|g\nc:x|c\n\"q\":1|z\n");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.content_type, "application/json");
  EXPECT_EQ(response.body,
            "{\"status\":\"success\",\"data\":{\"lines\":5,\"accepted_lines\":2,"
            "\"rejected_lines\":3,\"samples\":2,\"errors\":["
            "{\"line\":3,\"reason\":\"malformed_line\",\"text\":\"nope\"},"
            "{\"line\":5,\"reason\":\"malformed_value\",\"text\":\"c:x|c\"},"
            "{\"line\":6,\"reason\":\"unknown_type\",\"text\":\"\\\"q\\\":1|z\"}]}}\n");
  std::vector<storage::MetricFamily> families;
  table_.Collect(&families);
  EXPECT_EQ(families.size(), 2u);
}

TEST_F(StatsdRouteTest, RejectsBadEncodingsAndMethods) {
  HttpResponse response = Post("a:1|c", "br");
  EXPECT_EQ(response.status, 415);
  EXPECT_EQ(response.body,
            "{\"status\":\"error\",\"error\":\"unsupported Content-Encoding \\\"br\\\" (want "
            "gzip or identity)\"}\n");
  response = Post("not gzip", "gzip");
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(response.body,
            "{\"status\":\"error\",\"error\":\"invalid gzip body: incorrect header check\"}\n");
  EXPECT_EQ(Post("a:1|c", "identity").status, 200);
  response = handler_(Request("GET", "/api/v1/statsd"));
  EXPECT_EQ(response.status, 405);
  EXPECT_EQ(response.headers.at(0).second, "POST");
  std::vector<storage::MetricFamily> families;
  table_.Collect(&families);
  EXPECT_EQ(families.size(), 1u);  // only the identity post stored anything
}

}  // namespace
}  // namespace metricsgate::server

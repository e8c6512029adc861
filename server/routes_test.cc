#include "server/routes.h"

#include "gtest/gtest.h"
#include "storage/series_table.h"

namespace metricsgate::server {
namespace {

HttpRequest Request(std::string method, std::string target) {
  HttpRequest request;
  request.method = std::move(method);
  request.target = std::move(target);
  return request;
}

class RoutesTest : public ::testing::Test {
 protected:
  int renders_ = 0;
  HttpHandler handler_ = MakeRoutes({"/metrics",
                                     [this] {
                                       ++renders_;
                                       return std::string("# HELP x y\n");
                                     },
                                     nullptr});
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
  EXPECT_EQ(response.body, "# HELP x y\n");
  EXPECT_EQ(handler_(Request("HEAD", "/metrics")).status, 200);
  EXPECT_EQ(renders_, 2);
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
  HttpHandler handler = MakeRoutes({"/internal/metrics", [] { return std::string("m"); }, nullptr});
  EXPECT_EQ(handler(Request("GET", "/internal/metrics")).body, "m");
  EXPECT_EQ(handler(Request("GET", "/metrics")).status, 404);
}

TEST(ReloadRouteTest, ReportsTheReloadResult) {
  absl::Status next = absl::OkStatus();
  int calls = 0;
  RouteOptions options;
  options.render_metrics = [] { return std::string(); };
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
  HttpHandler handler_ = MakeRoutes({"/metrics", [] { return std::string(); }, &ingester_});
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

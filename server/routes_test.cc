#include "server/routes.h"

#include "gtest/gtest.h"

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
  HttpHandler handler_ = MakeRoutes({"/metrics", [this] {
                                       ++renders_;
                                       return std::string("# HELP x y\n");
                                     }});
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
  HttpHandler handler = MakeRoutes({"/internal/metrics", [] { return std::string("m"); }});
  EXPECT_EQ(handler(Request("GET", "/internal/metrics")).body, "m");
  EXPECT_EQ(handler(Request("GET", "/metrics")).status, 404);
}

}  // namespace
}  // namespace metricsgate::server

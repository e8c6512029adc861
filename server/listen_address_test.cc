#include "server/listen_address.h"

#include "gtest/gtest.h"

namespace metricsgate::server {
namespace {

void ExpectParsed(std::string_view text, std::string_view host, uint16_t port) {
  absl::StatusOr<ListenAddress> parsed = ParseListenAddress(text);
  ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.status();
  EXPECT_EQ(parsed->host, host) << text;
  EXPECT_EQ(parsed->port, port) << text;
}

TEST(ListenAddressTest, ParsesTheFormsGoToolsAccept) {
  ExpectParsed(":9091", "", 9091);
  ExpectParsed("127.0.0.1:8125", "127.0.0.1", 8125);
  ExpectParsed("[::1]:0", "::1", 0);
  ExpectParsed("[::]:65535", "::", 65535);
  ExpectParsed("localhost:9091", "localhost", 9091);
}

TEST(ListenAddressTest, RejectsMalformedAddressesByName) {
  struct Case {
    std::string_view text;
    std::string_view why;
  };
  for (const Case& c : {
           Case{"9091", "missing port (want host:port or :port)"},
           Case{"localhost:", "missing port (want host:port or :port)"},
           Case{"", "missing port (want host:port or :port)"},
           Case{":http", "port is not a number"},
           Case{":-1", "port is not a number"},
           Case{":65536", "port out of range 0-65535"},
           Case{":123456", "port out of range 0-65535"},
           Case{"::1:9091", "an IPv6 address must be in brackets, as [::1]:9091"},
           Case{"[::1:9091", "unbalanced brackets"},
           Case{"[]:9091", "unbalanced brackets"},
       }) {
    EXPECT_EQ(ParseListenAddress(c.text).status(),
              absl::InvalidArgumentError("invalid listen address \"" + std::string(c.text) +
                                         "\": " + std::string(c.why)))
        << c.text;
  }
}

}  // namespace
}  // namespace metricsgate::server

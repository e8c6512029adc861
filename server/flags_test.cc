#include "server/flags.h"

#include "base/duration.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace metricsgate::server {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<ParsedFlags> Parse(std::vector<std::string_view> args) { return ParseFlags(args); }

TEST(FlagsTest, DefaultsAreTheProductDefaults) {
  absl::StatusOr<ParsedFlags> parsed = Parse({});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->action, ParsedFlags::Action::kRun);
  EXPECT_EQ(parsed->config.web_listen_address, ":9091");
  EXPECT_EQ(parsed->config.web_telemetry_path, "/metrics");
  EXPECT_EQ(parsed->config.statsd_listen_udp, ":8125");
  EXPECT_EQ(parsed->config.log_level, log::Level::kInfo);
  EXPECT_EQ(parsed->config.flush_interval, std::chrono::milliseconds(10000));
  EXPECT_EQ(parsed->config.statsd_listen_tcp, ":8125");
  EXPECT_EQ(parsed->config.statsd_listen_unixgram, "");
  EXPECT_EQ(parsed->config.statsd_unixsocket_mode, 0755u);
  EXPECT_EQ(parsed->config.statsd_read_buffer, 0);
  EXPECT_EQ(parsed->config.storage_max_series, 1000000u);
  EXPECT_EQ(parsed->config.statsd_udp_sockets, 0);
  EXPECT_EQ(Parse({"--statsd.udp-sockets=3"})->config.statsd_udp_sockets, 3);
  EXPECT_EQ(Parse({"--statsd.udp-sockets=300"}).status(),
            absl::InvalidArgumentError(
                "invalid value for '--statsd.udp-sockets': not a number from 0 to 256: \"300\""));
  EXPECT_EQ(Parse({"--storage.max-series=5"})->config.storage_max_series, 5u);
  EXPECT_EQ(Parse({"--statsd.ttl=90s"})->config.statsd_ttl, std::chrono::seconds(90));
  EXPECT_EQ(Parse({})->config.statsd_ttl, std::chrono::milliseconds(0));
  EXPECT_FALSE(Parse({"--statsd.ttl=soon"}).ok());
  EXPECT_EQ(Parse({"--storage.max-series=0"}).status(),
            absl::InvalidArgumentError("invalid value for '--storage.max-series': not a number "
                                       "of series above 0: \"0\""));
}

TEST(FlagsTest, TakesBothKingpinSpellings) {
  absl::StatusOr<ParsedFlags> parsed =
      Parse({"--web.listen-address=127.0.0.1:0", "--statsd.listen-udp", "[::1]:0",
             "--web.telemetry-path=/m", "--log.level", "debug"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->config.web_listen_address, "127.0.0.1:0");
  EXPECT_EQ(parsed->config.statsd_listen_udp, "[::1]:0");
  EXPECT_EQ(parsed->config.web_telemetry_path, "/m");
  EXPECT_EQ(parsed->config.log_level, log::Level::kDebug);
}

TEST(FlagsTest, ParsesDurations) {
  EXPECT_EQ(*ParseDuration("10s"), std::chrono::milliseconds(10000));
  EXPECT_EQ(*ParseDuration("250ms"), std::chrono::milliseconds(250));
  EXPECT_EQ(*ParseDuration("1m30s"), std::chrono::milliseconds(90000));
  EXPECT_EQ(*ParseDuration("2h"), std::chrono::milliseconds(7200000));
  EXPECT_EQ(*ParseDuration("0s"), std::chrono::milliseconds(0));
  EXPECT_EQ(*ParseDuration("0"), std::chrono::milliseconds(0));
  for (std::string_view bad : {"", "10", "s", "10x", "1.5s", "-1s", "10 s", "99999999999s"}) {
    EXPECT_EQ(ParseDuration(bad).status(),
              absl::InvalidArgumentError("not a duration: \"" + std::string(bad) +
                                         "\" (want a number and a unit, as 10s, 500ms, 1m)"))
        << bad;
  }
  EXPECT_EQ(Parse({"--statsd.flush-interval=500ms"})->config.flush_interval,
            std::chrono::milliseconds(500));
  EXPECT_EQ(Parse({"--statsd.flush-interval=0s"}).status(),
            absl::InvalidArgumentError("invalid value for '--statsd.flush-interval': must be "
                                       "more than 0"));
}

TEST(FlagsTest, StatsdListenerFlags) {
  absl::StatusOr<ParsedFlags> parsed =
      Parse({"--statsd.listen-tcp=", "--statsd.listen-unixgram=/tmp/s.sock",
             "--statsd.unixsocket-mode=660", "--statsd.read-buffer=1048576",
             "--statsd.tcp-idle-timeout=30s"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->config.statsd_listen_tcp, "");
  EXPECT_EQ(parsed->config.statsd_listen_unixgram, "/tmp/s.sock");
  EXPECT_EQ(parsed->config.statsd_unixsocket_mode, 0660u);
  EXPECT_EQ(parsed->config.statsd_read_buffer, 1048576);
  EXPECT_EQ(parsed->config.statsd_tcp_idle_timeout, std::chrono::milliseconds(30000));
  EXPECT_EQ(Parse({"--statsd.unixsocket-mode=789"}).status(),
            absl::InvalidArgumentError(
                "invalid value for '--statsd.unixsocket-mode': not an octal mode: \"789\""));
  EXPECT_EQ(Parse({"--statsd.unixsocket-mode=17777"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Parse({"--statsd.read-buffer=-1"}).status(),
            absl::InvalidArgumentError("invalid value for '--statsd.read-buffer': not a size in "
                                       "bytes up to 1 GiB: \"-1\""));
  EXPECT_EQ(Parse({"--statsd.read-buffer=2000000000"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Parse({"--statsd.listen-tcp=nope"}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(FlagsTest, EmptyUdpAddressDisablesTheListener) {
  absl::StatusOr<ParsedFlags> parsed = Parse({"--statsd.listen-udp="});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->config.statsd_listen_udp, "");
}

TEST(FlagsTest, HelpAndVersionWin) {
  EXPECT_EQ(Parse({"--help"})->action, ParsedFlags::Action::kHelp);
  EXPECT_EQ(Parse({"-h"})->action, ParsedFlags::Action::kHelp);
  EXPECT_EQ(Parse({"--version"})->action, ParsedFlags::Action::kVersion);
}

TEST(FlagsTest, RejectsBadFlagsByName) {
  EXPECT_EQ(Parse({"--web.listen-adress=:1"}).status(),
            absl::InvalidArgumentError("unknown long flag '--web.listen-adress', try --help"));
  EXPECT_EQ(Parse({"--statsd.listen-udp"}).status(),
            absl::InvalidArgumentError("expected a value for '--statsd.listen-udp'"));
  EXPECT_EQ(Parse({"stray"}).status(),
            absl::InvalidArgumentError("unexpected argument \"stray\", try --help"));
  EXPECT_EQ(Parse({"--web.listen-address="}).status(),
            absl::InvalidArgumentError("invalid value for '--web.listen-address': invalid "
                                       "listen address \"\": missing port (want host:port or "
                                       ":port)"));
  EXPECT_EQ(Parse({"--statsd.listen-udp=:99999"}).status(),
            absl::InvalidArgumentError("invalid value for '--statsd.listen-udp': invalid listen "
                                       "address \":99999\": port out of range 0-65535"));
  EXPECT_EQ(Parse({"--web.telemetry-path=metrics"}).status(),
            absl::InvalidArgumentError(
                "invalid value for '--web.telemetry-path': must start with '/', got \"metrics\""));
  EXPECT_EQ(Parse({"--log.level=loud"}).status(),
            absl::InvalidArgumentError("invalid value for '--log.level': unknown log level "
                                       "\"loud\" (want debug, info, warn or error)"));
}

TEST(FlagsTest, PushgatewayFlagsIncludingKingpinBooleans) {
  absl::StatusOr<ParsedFlags> parsed = Parse({});
  ASSERT_TRUE(parsed.ok());
  EXPECT_FALSE(parsed->config.web_enable_admin_api);
  EXPECT_FALSE(parsed->config.web_enable_lifecycle);
  EXPECT_FALSE(parsed->config.push_disable_consistency_check);
  EXPECT_EQ(parsed->config.persistence_file, "");
  EXPECT_EQ(parsed->config.persistence_interval, std::chrono::minutes(5));
  EXPECT_EQ(parsed->config.push_default_ttl, std::chrono::milliseconds(0));
  parsed =
      Parse({"--web.enable-admin-api", "--web.enable-lifecycle=true",
             "--push.disable-consistency-check", "--no-web.enable-lifecycle", "--persistence.file",
             "/tmp/x", "--persistence.interval=30s", "--push.default-ttl=1h"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->config.web_enable_admin_api);
  EXPECT_FALSE(parsed->config.web_enable_lifecycle);  // the last one wins
  EXPECT_TRUE(parsed->config.push_disable_consistency_check);
  EXPECT_EQ(parsed->config.persistence_file, "/tmp/x");
  EXPECT_EQ(parsed->config.persistence_interval, std::chrono::seconds(30));
  EXPECT_EQ(parsed->config.push_default_ttl, std::chrono::hours(1));
  // Every flag's value, for /api/v1/status.
  const auto& values = parsed->config.flag_values;
  const auto value_of = [&](std::string_view name) {
    for (const auto& [k, v] : values) {
      if (k == name) return v;
    }
    return std::string("missing");
  };
  EXPECT_EQ(value_of("web.enable-admin-api"), "true");
  EXPECT_EQ(value_of("web.enable-lifecycle"), "false");
  EXPECT_EQ(value_of("persistence.file"), "/tmp/x");
  EXPECT_EQ(value_of("web.listen-address"), ":9091");
  EXPECT_EQ(Parse({"--web.enable-admin-api=yes"}).status(),
            absl::InvalidArgumentError(
                "invalid value for '--web.enable-admin-api': not true or false: \"yes\""));
  EXPECT_EQ(Parse({"--no-persistence.file"}).status(),
            absl::InvalidArgumentError("unknown long flag '--no-persistence.file', try --help"));
  EXPECT_FALSE(Parse({"--persistence.interval=0s"}).ok());
}

TEST(FlagsTest, HelpListsEveryFlagWithItsDefault) {
  const std::string help = HelpText();
  EXPECT_THAT(help, HasSubstr("--web.listen-address=\":9091\""));
  EXPECT_THAT(help, HasSubstr("--web.telemetry-path=\"/metrics\""));
  EXPECT_THAT(help, HasSubstr("--statsd.listen-udp=\":8125\""));
  EXPECT_THAT(help, HasSubstr("--log.level=\"info\""));
  EXPECT_THAT(help, HasSubstr("--version"));
  EXPECT_THAT(help, HasSubstr("--[no-]web.enable-admin-api"));
}

TEST(FlagsTest, VersionNamesTheProgram) {
  EXPECT_THAT(VersionText(), HasSubstr("metricsgate, version "));
}

}  // namespace
}  // namespace metricsgate::server

// Command-line flags. Names follow the tools metricsgate replaces (Pushgateway's `--web.*`,
// statsd_exporter's `--statsd.*`), in kingpin's two spellings `--name=value` and
// `--name value`. Pure; safe from any thread.
#ifndef METRICSGATE_SERVER_FLAGS_H_
#define METRICSGATE_SERVER_FLAGS_H_

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "base/log.h"

namespace metricsgate::server {

// Everything the server needs to start; the defaults are PRODUCT.md's.
struct Config {
  std::string web_listen_address = ":9091";
  std::string web_telemetry_path = "/metrics";
  std::string statsd_listen_udp = ":8125";  // "" disables the listener
  std::string statsd_listen_tcp = ":8125";  // "" disables the listener
  std::string statsd_listen_unixgram;       // "" (the default) disables the listener
  unsigned statsd_unixsocket_mode = 0755;
  int statsd_read_buffer = 0;  // SO_RCVBUF bytes; 0: as large as the kernel allows
  int statsd_udp_sockets = 0;  // SO_REUSEPORT sockets on the UDP address; 0: one per core
  std::chrono::milliseconds statsd_tcp_idle_timeout{5 * 60 * 1000};
  std::string statsd_mapping_config;        // a statsd_exporter mapping file; "" for none
  std::chrono::milliseconds statsd_ttl{0};  // series' TTL unless a mapping rule sets one; 0: never
  size_t storage_max_series = 1'000'000;
  bool storage_sort_ahead = true;  // a background thread sorts bursts of new series
  std::chrono::milliseconds flush_interval{10000};
  log::Level log_level = log::Level::kInfo;
  // Pushgateway's.
  bool web_enable_admin_api = false;  // PUT /api/v1/admin/wipe
  bool web_enable_lifecycle = false;  // PUT|POST /-/quit
  std::string persistence_file;       // "" keeps pushed groups in memory only
  std::chrono::milliseconds persistence_interval{5 * 60 * 1000};
  bool push_disable_consistency_check = false;
  std::chrono::milliseconds push_default_ttl{0};  // pushed groups' TTL; 0: never expire
  // Graphite forwarding: off while graphite_addresses is empty.
  std::vector<std::string> graphite_addresses;  // host:port[:instance], carbon's form
  bool graphite_pickle = false;                 // else plaintext
  bool graphite_all = false;                    // every point to every destination
  bool graphite_fnv1a = false;                  // fnv1a_ch, else carbon_ch
  size_t graphite_replication_factor = 1;
  bool graphite_diverse_replicas = false;
  bool graphite_push_groups = true;  // pushed groups go to Graphite as tagged series
  size_t graphite_queue_points = 36'000'000;
  std::string graphite_spool_dir;  // "": no spool
  uint64_t graphite_spool_bytes = uint64_t{1} << 30;
  // A YAML file with Etsy statsd's Graphite options (see README); "" for Etsy's defaults.
  std::string config_file;
  // Every flag's value as given or defaulted, by name, for GET /api/v1/status.
  std::vector<std::pair<std::string, std::string>> flag_values;
};

struct ParsedFlags {
  enum class Action { kRun, kHelp, kVersion };
  Action action = Action::kRun;
  Config config;
};

// Parses `args` (argv without the program name). Returns kInvalidArgument naming the flag for
// an unknown flag, a missing value or a bad value. Boolean flags, as kingpin's, are `--name`,
// `--no-name` or `--name=true|false`.
absl::StatusOr<ParsedFlags> ParseFlags(const std::vector<std::string_view>& args);

// The --help text: usage and every flag with its default.
std::string HelpText();

// The --version text.
std::string VersionText();

}  // namespace metricsgate::server

#endif  // METRICSGATE_SERVER_FLAGS_H_

#include "server/flags.h"

#include <functional>

#include "base/duration.h"
#include "base/status_macros.h"
#include "base/str_cat.h"
#include "server/listen_address.h"

#ifndef MG_VERSION
#error "MG_VERSION must be defined by the build"
#endif

namespace metricsgate::server {
namespace {

// Accepts a listen address, or "" where the listener may be disabled.
absl::Status CheckAddress(std::string_view value, bool may_be_empty) {
  if (value.empty() && may_be_empty) return absl::OkStatus();
  return ParseListenAddress(value).status();
}

// Digits in `base` (8 or 10) making a number no larger than `max`.
bool ParseUnsigned(std::string_view text, unsigned base, uint64_t max, uint64_t* value) {
  if (text.empty()) return false;
  uint64_t n = 0;
  for (char ch : text) {
    if (ch < '0' || ch >= static_cast<char>('0' + base)) return false;
    n = n * base + static_cast<uint64_t>(ch - '0');
    if (n > max) return false;
  }
  *value = n;
  return true;
}

// A count from 1 to `max` (decimal), or an error naming what it counts.
template <typename T>
absl::Status ParseCount(std::string_view text, uint64_t max, std::string_view what, T* out) {
  uint64_t n = 0;
  if (!ParseUnsigned(text, 10, max, &n) || n == 0) {
    return absl::InvalidArgumentError(StrCat("not a number of ", what, " above 0: \"", text, "\""));
  }
  *out = static_cast<T>(n);
  return absl::OkStatus();
}

struct FlagDef {
  std::string_view name;
  std::string_view default_value;
  std::string_view help;
  std::function<absl::Status(std::string_view, Config*)> set;
  bool boolean = false;  // takes no value: --name, --no-name
};

absl::Status ParseBool(std::string_view v, bool* out) {
  if (v == "true") {
    *out = true;
  } else if (v == "false") {
    *out = false;
  } else {
    return absl::InvalidArgumentError(StrCat("not true or false: \"", v, "\""));
  }
  return absl::OkStatus();
}

const std::vector<FlagDef>& Flags() {
  static const std::vector<FlagDef> flags = {
      {"web.listen-address", ":9091",
       "Address to listen on for HTTP: /metrics, health and readiness.",
       [](std::string_view v, Config* c) {
         MG_RETURN_IF_ERROR(CheckAddress(v, /*may_be_empty=*/false));
         c->web_listen_address = std::string(v);
         return absl::OkStatus();
       }},
      {"web.telemetry-path", "/metrics", "Path under which to expose metrics.",
       [](std::string_view v, Config* c) {
         if (v.empty() || v[0] != '/') {
           return absl::InvalidArgumentError(StrCat("must start with '/', got \"", v, "\""));
         }
         c->web_telemetry_path = std::string(v);
         return absl::OkStatus();
       }},
      {"statsd.listen-udp", ":8125",
       "The UDP address on which to receive StatsD lines. \"\" disables it.",
       [](std::string_view v, Config* c) {
         MG_RETURN_IF_ERROR(CheckAddress(v, /*may_be_empty=*/true));
         c->statsd_listen_udp = std::string(v);
         return absl::OkStatus();
       }},
      {"statsd.listen-tcp", ":8125",
       "The TCP address on which to receive StatsD lines. \"\" disables it.",
       [](std::string_view v, Config* c) {
         MG_RETURN_IF_ERROR(CheckAddress(v, /*may_be_empty=*/true));
         c->statsd_listen_tcp = std::string(v);
         return absl::OkStatus();
       }},
      {"statsd.listen-unixgram", "",
       "The unix datagram socket path on which to receive StatsD lines. \"\" disables it.",
       [](std::string_view v, Config* c) {
         c->statsd_listen_unixgram = std::string(v);
         return absl::OkStatus();
       }},
      {"statsd.unixsocket-mode", "755", "The permission mode of the unix datagram socket, octal.",
       [](std::string_view v, Config* c) {
         uint64_t mode = 0;
         if (!ParseUnsigned(v, 8, 07777, &mode)) {
           return absl::InvalidArgumentError(StrCat("not an octal mode: \"", v, "\""));
         }
         c->statsd_unixsocket_mode = static_cast<unsigned>(mode);
         return absl::OkStatus();
       }},
      {"statsd.read-buffer", "0",
       "Size in bytes of the StatsD sockets' receive buffers (SO_RCVBUF); 0 takes the largest "
       "the kernel allows (net.core.rmem_max).",
       [](std::string_view v, Config* c) {
         uint64_t bytes = 0;
         if (!ParseUnsigned(v, 10, uint64_t{1} << 30, &bytes)) {
           return absl::InvalidArgumentError(
               StrCat("not a size in bytes up to 1 GiB: \"", v, "\""));
         }
         c->statsd_read_buffer = static_cast<int>(bytes);
         return absl::OkStatus();
       }},
      {"statsd.udp-sockets", "0",
       "UDP sockets receiving on --statsd.listen-udp (SO_REUSEPORT), each read by its own "
       "I/O thread at a time; 0 makes one per core.",
       [](std::string_view v, Config* c) {
         uint64_t sockets = 0;
         if (!ParseUnsigned(v, 10, 256, &sockets)) {
           return absl::InvalidArgumentError(StrCat("not a number from 0 to 256: \"", v, "\""));
         }
         c->statsd_udp_sockets = static_cast<int>(sockets);
         return absl::OkStatus();
       }},
      {"statsd.tcp-idle-timeout", "5m",
       "Close a StatsD TCP connection that has sent nothing for this long.",
       [](std::string_view v, Config* c) {
         MG_ASSIGN_OR_RETURN(c->statsd_tcp_idle_timeout, ParseDuration(v));
         if (c->statsd_tcp_idle_timeout.count() <= 0) {
           return absl::InvalidArgumentError("must be more than 0");
         }
         return absl::OkStatus();
       }},
      {"statsd.mapping-config", "",
       "A statsd_exporter mapping file (YAML). Reloaded on SIGHUP and POST /-/reload.",
       [](std::string_view v, Config* c) {
         c->statsd_mapping_config = std::string(v);
         return absl::OkStatus();
       }},
      {"statsd.flush-interval", "10s",
       "How often StatsD intervals end: rollups go to Graphite, sets report their distinct "
       "members of the last one.",
       [](std::string_view v, Config* c) {
         MG_ASSIGN_OR_RETURN(c->flush_interval, ParseDuration(v));
         if (c->flush_interval.count() <= 0) {
           return absl::InvalidArgumentError("must be more than 0");
         }
         return absl::OkStatus();
       }},
      {"statsd.ttl", "0",
       "How long a StatsD series is kept without updates before it is removed (0: for ever). "
       "A mapping rule's ttl, or the mapping's defaults', takes precedence.",
       [](std::string_view v, Config* c) {
         MG_ASSIGN_OR_RETURN(c->statsd_ttl, ParseDuration(v));
         if (c->statsd_ttl.count() < 0) return absl::InvalidArgumentError("must not be negative");
         return absl::OkStatus();
       }},
      {"graphite.address", "",
       "Carbon destinations to forward rollups to, comma-separated, each host:port[:instance] "
       "as in carbon's DESTINATIONS; \"\" (the default) forwards nothing.",
       [](std::string_view v, Config* c) {
         c->graphite_addresses.clear();
         while (!v.empty()) {
           const size_t comma = v.find(',');
           const std::string_view one = v.substr(0, comma);
           if (one.empty()) return absl::InvalidArgumentError("an empty destination");
           c->graphite_addresses.emplace_back(one);
           v.remove_prefix(comma == std::string_view::npos ? v.size() : comma + 1);
         }
         return absl::OkStatus();
       }},
      {"graphite.protocol", "plaintext",
       "How to talk to carbon: plaintext (its port 2003) or pickle (2004).",
       [](std::string_view v, Config* c) {
         if (v != "plaintext" && v != "pickle") {
           return absl::InvalidArgumentError(StrCat("not plaintext or pickle: \"", v, "\""));
         }
         c->graphite_pickle = v == "pickle";
         return absl::OkStatus();
       }},
      {"graphite.relay-method", "consistent-hashing",
       "With several destinations: consistent-hashing sends each metric to the node "
       "carbon-relay would pick; all sends everything everywhere.",
       [](std::string_view v, Config* c) {
         if (v != "consistent-hashing" && v != "all") {
           return absl::InvalidArgumentError(StrCat("not consistent-hashing or all: \"", v, "\""));
         }
         c->graphite_all = v == "all";
         return absl::OkStatus();
       }},
      {"graphite.hash-type", "carbon_ch",
       "The ring of consistent-hashing, as carbon's ROUTER_HASH_TYPE: carbon_ch or fnv1a_ch.",
       [](std::string_view v, Config* c) {
         if (v != "carbon_ch" && v != "fnv1a_ch") {
           return absl::InvalidArgumentError(StrCat("not carbon_ch or fnv1a_ch: \"", v, "\""));
         }
         c->graphite_fnv1a = v == "fnv1a_ch";
         return absl::OkStatus();
       }},
      {"graphite.replication-factor", "1",
       "Destinations each metric goes to under consistent-hashing (carbon's REPLICATION_FACTOR).",
       [](std::string_view v, Config* c) {
         uint64_t n = 0;
         if (!ParseUnsigned(v, 10, 1000, &n) || n == 0) {
           return absl::InvalidArgumentError(StrCat("not a number from 1 to 1000: \"", v, "\""));
         }
         c->graphite_replication_factor = static_cast<size_t>(n);
         return absl::OkStatus();
       }},
      {"graphite.diverse-replicas", "false",
       "Replicas go to distinct hosts (carbon's DIVERSE_REPLICAS).",
       [](std::string_view v, Config* c) { return ParseBool(v, &c->graphite_diverse_replicas); },
       true},
      {"graphite.push-groups", "true",
       "Forward pushed groups too, each flush, as Graphite tagged series (name;label=value).",
       [](std::string_view v, Config* c) { return ParseBool(v, &c->graphite_push_groups); }, true},
      {"graphite.queue-points", "36000000",
       "Points each destination may hold while it is unreachable (default: one hour of "
       "100,000 points every 10 s); beyond it the oldest are dropped and counted.",
       [](std::string_view v, Config* c) {
         return ParseCount(v, uint64_t{1} << 40, "points", &c->graphite_queue_points);
       }},
      {"graphite.spool-dir", "",
       "A directory where points beyond --graphite.queue-points wait on disk instead of being "
       "dropped, one spool per destination, sent first when it is back and kept across "
       "restarts (also what a shutdown could not send); \"\" (the default): no spool.",
       [](std::string_view v, Config* c) {
         c->graphite_spool_dir = std::string(v);
         return absl::OkStatus();
       }},
      {"graphite.spool-bytes", "1073741824",
       "The most bytes each destination's spool holds; beyond it its oldest 64 MiB segments "
       "are dropped and counted.",
       [](std::string_view v, Config* c) {
         return ParseCount(v, uint64_t{1} << 50, "bytes", &c->graphite_spool_bytes);
       }},
      {"config.file", "",
       "A YAML file with Etsy statsd's Graphite options under `graphite:` (see README).",
       [](std::string_view v, Config* c) {
         c->config_file = std::string(v);
         return absl::OkStatus();
       }},
      {"storage.max-series", "1000000",
       "The most series the store holds; new series beyond it are refused and counted "
       "(metricsgate_series_rejected_total), the series held are unaffected.",
       [](std::string_view v, Config* c) {
         return ParseCount(v, uint64_t{1} << 40, "series", &c->storage_max_series);
       }},
      {"storage.sort-ahead", "true",
       "Sort the store's series in the background, within 100 ms of many new ones (4,096 "
       "and 1/16 of the store), so the next scrape only merges them in; false leaves every "
       "sort to the scrape.",
       [](std::string_view v, Config* c) { return ParseBool(v, &c->storage_sort_ahead); }, true},
      {"web.enable-admin-api", "false",
       "Enable the admin API: PUT /api/v1/admin/wipe deletes every pushed group.",
       [](std::string_view v, Config* c) { return ParseBool(v, &c->web_enable_admin_api); }, true},
      {"web.enable-lifecycle", "false", "Enable shutdown via HTTP: PUT or POST /-/quit.",
       [](std::string_view v, Config* c) { return ParseBool(v, &c->web_enable_lifecycle); }, true},
      {"persistence.file", "",
       "File to keep pushed groups in across restarts; \"\" keeps them in memory only.",
       [](std::string_view v, Config* c) {
         c->persistence_file = std::string(v);
         return absl::OkStatus();
       }},
      {"persistence.interval", "5m",
       "The most often pushed groups are written to --persistence.file after a change.",
       [](std::string_view v, Config* c) {
         MG_ASSIGN_OR_RETURN(c->persistence_interval, ParseDuration(v));
         if (c->persistence_interval.count() <= 0) {
           return absl::InvalidArgumentError("must be more than 0");
         }
         return absl::OkStatus();
       }},
      {"push.disable-consistency-check", "false",
       "Apply pushes without checking them against each other and the StatsD series "
       "(answers 202). A family whose name another type holds is then kept out of /metrics.",
       [](std::string_view v, Config* c) {
         return ParseBool(v, &c->push_disable_consistency_check);
       },
       true},
      {"push.default-ttl", "0",
       "How long a pushed group is kept after its last successful push (0: for ever). A push's "
       "?ttl= query parameter takes precedence.",
       [](std::string_view v, Config* c) {
         MG_ASSIGN_OR_RETURN(c->push_default_ttl, ParseDuration(v));
         if (c->push_default_ttl.count() < 0) {
           return absl::InvalidArgumentError("must not be negative");
         }
         return absl::OkStatus();
       }},
      {"log.level", "info",
       "Only log messages with the given severity or above: "
       "debug, info, warn, error.",
       [](std::string_view v, Config* c) {
         MG_ASSIGN_OR_RETURN(c->log_level, log::ParseLevel(v));
         return absl::OkStatus();
       }},
  };
  return flags;
}

}  // namespace

absl::StatusOr<ParsedFlags> ParseFlags(const std::vector<std::string_view>& args) {
  ParsedFlags parsed;
  std::vector<std::pair<std::string, std::string>>& values = parsed.config.flag_values;
  for (const FlagDef& flag : Flags()) {
    values.emplace_back(std::string(flag.name), std::string(flag.default_value));
  }
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (arg == "-h" || arg == "--help") {
      parsed.action = ParsedFlags::Action::kHelp;
      return parsed;
    }
    if (arg == "--version") {
      parsed.action = ParsedFlags::Action::kVersion;
      return parsed;
    }
    if (!arg.starts_with("--")) {
      return absl::InvalidArgumentError(StrCat("unexpected argument \"", arg, "\", try --help"));
    }
    const size_t equals = arg.find('=');
    std::string_view name = arg.substr(2, equals == std::string_view::npos ? arg.npos : equals - 2);
    const auto find = [](std::string_view wanted) -> const FlagDef* {
      for (const FlagDef& candidate : Flags()) {
        if (candidate.name == wanted) return &candidate;
      }
      return nullptr;
    };
    const FlagDef* flag = find(name);
    bool negated = false;
    if (flag == nullptr && name.starts_with("no-") && equals == std::string_view::npos) {
      flag = find(name.substr(3));
      negated = flag != nullptr && flag->boolean;
      if (!negated) flag = nullptr;
    }
    if (flag == nullptr) {
      return absl::InvalidArgumentError(StrCat("unknown long flag '--", name, "', try --help"));
    }
    name = flag->name;
    std::string_view value;
    if (equals != std::string_view::npos) {
      value = arg.substr(equals + 1);
    } else if (flag->boolean) {
      value = negated ? "false" : "true";
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return absl::InvalidArgumentError(StrCat("expected a value for '--", name, "'"));
    }
    if (absl::Status status = flag->set(value, &parsed.config); !status.ok()) {
      return absl::InvalidArgumentError(
          StrCat("invalid value for '--", name, "': ", std::string(status.message())));
    }
    for (auto& [known, held] : values) {
      if (known == name) held = std::string(value);
    }
  }
  return parsed;
}

std::string HelpText() {
  std::string text =
      "usage: metricsgate [<flags>]\n\n"
      "One server for StatsD clients and Pushgateway pushes, scraped by Prometheus.\n\n"
      "Flags:\n"
      "  -h, --help     Show this help and exit.\n"
      "      --version  Show the version and exit.\n";
  for (const FlagDef& flag : Flags()) {
    text += flag.boolean ? StrCat("      --[no-]", flag.name, "\n          ", flag.help, "\n")
                         : StrCat("      --", flag.name, "=\"", flag.default_value,
                                  "\"\n          ", flag.help, "\n");
  }
  return text;
}

std::string VersionText() { return StrCat("metricsgate, version ", MG_VERSION, "\n"); }

}  // namespace metricsgate::server

#include "server/internal/graphite_config.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>

#include "base/status_macros.h"
#include "base/str_cat.h"

namespace metricsgate::server::internal {
namespace {

absl::Status Bad(std::string_view key, std::string_view want) {
  return absl::InvalidArgumentError(StrCat("config file: graphite.", key, ": ", want));
}

absl::StatusOr<bool> Bool(const YAML::Node& node, std::string_view key) {
  bool value = false;
  if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) {
    return Bad(key, "want true or false");
  }
  return value;
}

absl::StatusOr<std::string> String(const YAML::Node& node, std::string_view key) {
  if (node.IsNull()) return std::string();
  if (!node.IsScalar()) return Bad(key, "want a string");
  return node.Scalar();
}

// A number, or `inf` where `allow_inf`.
absl::StatusOr<double> Number(const YAML::Node& node, std::string_view key, bool allow_inf) {
  if (!node.IsScalar()) return Bad(key, "want a number");
  const std::string& text = node.Scalar();
  if (allow_inf && (text == "inf" || text == "Infinity")) {
    return std::numeric_limits<double>::infinity();
  }
  double value = 0;
  if (!YAML::convert<double>::decode(node, value) || !std::isfinite(value)) {
    return Bad(key, StrCat("not a finite number: \"", text, "\""));
  }
  return value;
}

}  // namespace

absl::StatusOr<GraphiteConfig> ParseGraphiteConfig(std::string_view yaml) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(StrCat("config file: ", e.what()));
  }
  GraphiteConfig config;
  if (!root.IsDefined() || root.IsNull()) return config;
  if (!root.IsMap()) return absl::InvalidArgumentError("config file: want a map at the top");
  for (const auto& top : root) {
    const std::string key = top.first.as<std::string>("");
    if (key != "graphite") {
      return absl::InvalidArgumentError(StrCat("config file: unknown section \"", key, "\""));
    }
  }
  const YAML::Node graphite = root["graphite"];
  if (!graphite || graphite.IsNull()) return config;
  if (!graphite.IsMap()) return absl::InvalidArgumentError("config file: graphite: want a map");
  exporter::GraphiteRollupOptions& r = config.rollup;
  storage::RollupRetention& keep = config.retention;
  std::optional<bool> delete_idle;
  std::optional<bool> deletes[4];  // counters, timers, gauges, sets
  for (const auto& entry : graphite) {
    const std::string key = entry.first.as<std::string>("");
    const YAML::Node& v = entry.second;
    if (key == "legacyNamespace") {
      MG_ASSIGN_OR_RETURN(r.legacy_namespace, Bool(v, key));
    } else if (key == "globalPrefix") {
      MG_ASSIGN_OR_RETURN(r.global_prefix, String(v, key));
    } else if (key == "prefixCounter") {
      MG_ASSIGN_OR_RETURN(r.prefix_counter, String(v, key));
    } else if (key == "prefixTimer") {
      MG_ASSIGN_OR_RETURN(r.prefix_timer, String(v, key));
    } else if (key == "prefixGauge") {
      MG_ASSIGN_OR_RETURN(r.prefix_gauge, String(v, key));
    } else if (key == "prefixSet") {
      MG_ASSIGN_OR_RETURN(r.prefix_set, String(v, key));
    } else if (key == "globalSuffix") {
      MG_ASSIGN_OR_RETURN(r.global_suffix, String(v, key));
    } else if (key == "prefixStats") {
      MG_ASSIGN_OR_RETURN(r.prefix_stats, String(v, key));
    } else if (key == "flush_counts") {
      MG_ASSIGN_OR_RETURN(r.flush_counts, Bool(v, key));
    } else if (key == "percentThreshold") {
      r.percent_thresholds.clear();
      if (v.IsSequence()) {
        for (const auto& item : v) {
          MG_ASSIGN_OR_RETURN(double pct, Number(item, key, false));
          r.percent_thresholds.push_back(pct);
        }
      } else {
        MG_ASSIGN_OR_RETURN(double pct, Number(v, key, false));
        r.percent_thresholds.push_back(pct);
      }
      for (double pct : r.percent_thresholds) {
        if (pct == 0 || std::abs(pct) > 100) return Bad(key, "each must be in [-100, 100], not 0");
      }
    } else if (key == "histogram") {
      if (!v.IsSequence()) return Bad(key, "want a list of {metric, bins}");
      for (const auto& item : v) {
        if (!item.IsMap() || !item["metric"] || !item["bins"] || !item["bins"].IsSequence()) {
          return Bad(key, "want a list of {metric, bins}");
        }
        exporter::TimerHistogramBins bins;
        MG_ASSIGN_OR_RETURN(bins.metric, String(item["metric"], key));
        for (const auto& bound : item["bins"]) {
          MG_ASSIGN_OR_RETURN(double b, Number(bound, key, true));
          if (!bins.bins.empty() && b <= bins.bins.back()) return Bad(key, "bins must increase");
          bins.bins.push_back(b);
        }
        r.histograms.push_back(std::move(bins));
      }
    } else if (key == "calculatedTimerMetrics") {
      if (!v.IsSequence()) return Bad(key, "want a list of names");
      for (const auto& item : v) {
        MG_ASSIGN_OR_RETURN(std::string name, String(item, key));
        r.calculated_timer_metrics.push_back(std::move(name));
      }
    } else if (key == "deleteIdleStats") {
      MG_ASSIGN_OR_RETURN(delete_idle, Bool(v, key));
    } else if (key == "deleteCounters") {
      MG_ASSIGN_OR_RETURN(deletes[0], Bool(v, key));
    } else if (key == "deleteTimers") {
      MG_ASSIGN_OR_RETURN(deletes[1], Bool(v, key));
    } else if (key == "deleteGauges") {
      MG_ASSIGN_OR_RETURN(deletes[2], Bool(v, key));
    } else if (key == "deleteSets") {
      MG_ASSIGN_OR_RETURN(deletes[3], Bool(v, key));
    } else if (key == "gaugesMaxTTL") {
      MG_ASSIGN_OR_RETURN(double ttl, Number(v, key, false));
      // Etsy: anything but an integer above 1 is 1.
      keep.gauges_max_ttl =
          ttl > 1 && ttl == std::floor(ttl) && ttl < 1e9 ? static_cast<int>(ttl) : 1;
    } else if (key == "maxTimerSamples") {
      MG_ASSIGN_OR_RETURN(double n, Number(v, key, false));
      if (n < 1 || n != std::floor(n) || n > 1e8) return Bad(key, "want a whole number from 1");
      keep.max_timer_samples = static_cast<size_t>(n);
    } else {
      return absl::InvalidArgumentError(StrCat("config file: unknown option graphite.", key));
    }
  }
  // deleteIdleStats sets the four defaults; each may still be set on its own.
  const bool idle = delete_idle.value_or(false);
  keep.delete_counters = deletes[0].value_or(idle);
  keep.delete_timers = deletes[1].value_or(idle);
  keep.delete_gauges = deletes[2].value_or(idle);
  keep.delete_sets = deletes[3].value_or(idle);
  return config;
}

absl::StatusOr<GraphiteConfig> LoadGraphiteConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(StrCat("cannot read the config file ", path));
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<GraphiteConfig> config = ParseGraphiteConfig(text.str());
  if (!config.ok()) {
    return absl::InvalidArgumentError(StrCat(path, ": ", config.status().message()));
  }
  return config;
}

}  // namespace metricsgate::server::internal

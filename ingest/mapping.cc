#include "ingest/mapping.h"

#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <optional>
#include <sstream>

#include "base/duration.h"
#include "base/status_macros.h"
#include "base/str_cat.h"

namespace metricsgate::ingest {
namespace {

int Line(const YAML::Node& node) { return node.Mark().line + 1; }

absl::Status Error(const YAML::Node& node, std::string_view message) {
  return absl::InvalidArgumentError(StrCat("line ", Line(node), ": ", message));
}

// Every key of `node` must be one of `allowed`.
absl::Status CheckKeys(const YAML::Node& node, std::string_view where,
                       std::initializer_list<std::string_view> allowed) {
  if (!node.IsMap()) return Error(node, StrCat(where, " must be a map"));
  for (const auto& entry : node) {
    const std::string key = entry.first.as<std::string>();
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return Error(entry.first, StrCat("unknown key \"", key, "\" in ", where));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Scalar(const YAML::Node& node, std::string_view key) {
  if (!node.IsScalar()) return Error(node, StrCat("\"", key, "\" must be a string"));
  return node.as<std::string>();
}

absl::StatusOr<double> Number(const YAML::Node& node, std::string_view key) {
  // YAML spells infinity `.inf`; Prometheus users write `+Inf`.
  if (node.IsScalar() && (node.Scalar() == "+Inf" || node.Scalar() == "Inf")) {
    return std::numeric_limits<double>::infinity();
  }
  double value;
  if (!node.IsScalar() || !YAML::convert<double>::decode(node, value) || std::isnan(value)) {
    return Error(node, StrCat("\"", key, "\" must be a number"));
  }
  return value;
}

absl::StatusOr<bool> Bool(const YAML::Node& node, std::string_view key) {
  bool value;
  if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) {
    return Error(node, StrCat("\"", key, "\" must be true or false"));
  }
  return value;
}

absl::StatusOr<std::chrono::milliseconds> Duration(const YAML::Node& node, std::string_view key) {
  MG_ASSIGN_OR_RETURN(std::string text, Scalar(node, key));
  absl::StatusOr<std::chrono::milliseconds> duration = ParseDuration(text);
  if (!duration.ok()) return Error(node, std::string(duration.status().message()));
  return *duration;
}

// Bucket bounds: numbers in increasing order; a trailing +Inf is implied and dropped.
absl::StatusOr<storage::Buckets> Buckets(const YAML::Node& node) {
  if (!node.IsSequence()) return Error(node, "\"buckets\" must be a list of numbers");
  std::vector<double> bounds;
  for (const YAML::Node& item : node) {
    MG_ASSIGN_OR_RETURN(double bound, Number(item, "buckets"));
    if (std::isinf(bound) && bound > 0) continue;
    if (!std::isfinite(bound) || (!bounds.empty() && bound <= bounds.back())) {
      return Error(item, "\"buckets\" must be finite and increasing");
    }
    bounds.push_back(bound);
  }
  if (bounds.empty()) return storage::Buckets();
  return std::make_shared<const std::vector<double>>(std::move(bounds));
}

bool IsLabelName(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) {
      return false;
    }
  }
  return true;
}

bool IsGlobChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

// Splits a glob into segments; each is `*`, `prefix*`, or a literal.
absl::StatusOr<std::vector<std::string>> GlobSegments(const YAML::Node& node,
                                                      std::string_view match) {
  std::vector<std::string> segments;
  for (size_t start = 0;;) {
    const size_t end = match.find('.', start);
    std::string_view segment =
        match.substr(start, end == std::string_view::npos ? end : end - start);
    const size_t star = segment.find('*');
    bool ok = !segment.empty() && (star == std::string_view::npos || star + 1 == segment.size());
    for (char c : segment.substr(0, star)) ok = ok && IsGlobChar(c);
    if (!ok) {
      return Error(node, StrCat("invalid glob \"", match,
                                "\": a segment is `*`, `prefix*` or letters, digits, `_`, `-`"));
    }
    segments.emplace_back(segment);
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return segments;
}

// The observer settings shared by `defaults:` and each mapping.
struct ObserverSettings {
  bool set = false;  // observer_type given
  bool summary = false;
  storage::Buckets buckets;
  bool histogram_options = false;
  bool summary_options = false;
  std::optional<std::vector<double>> quantiles;
  std::optional<std::chrono::milliseconds> max_age;
  std::optional<int> age_buckets;
};

absl::Status ReadQuantiles(const YAML::Node& node, ObserverSettings* settings) {
  if (!node.IsSequence()) {
    return Error(node, "\"quantiles\" must be a list of {quantile, error}");
  }
  std::vector<double> quantiles;
  for (const YAML::Node& item : node) {
    MG_RETURN_IF_ERROR(CheckKeys(item, "a quantile", {"quantile", "error"}));
    if (!item["quantile"]) return Error(item, "a quantile needs \"quantile\"");
    MG_ASSIGN_OR_RETURN(double q, Number(item["quantile"], "quantile"));
    if (q < 0 || q > 1) return Error(item["quantile"], "a quantile must be between 0 and 1");
    if (item["error"]) MG_RETURN_IF_ERROR(Number(item["error"], "error").status());
    quantiles.push_back(q);
  }
  settings->quantiles = std::move(quantiles);
  return absl::OkStatus();
}

// observer_type, timer_type (its old name), buckets, quantiles, histogram_options and
// summary_options, in `defaults:` or a mapping.
absl::Status ReadObserver(const YAML::Node& node, ObserverSettings* settings) {
  for (const char* key : {"observer_type", "timer_type"}) {
    if (!node[key]) continue;
    MG_ASSIGN_OR_RETURN(std::string type, Scalar(node[key], key));
    if (type != "histogram" && type != "summary" && !type.empty()) {
      return Error(node[key],
                   StrCat("observer_type must be histogram or summary, not \"", type, "\""));
    }
    settings->set = !type.empty();
    settings->summary = type == "summary";
  }
  if (node["buckets"]) {
    MG_ASSIGN_OR_RETURN(settings->buckets, Buckets(node["buckets"]));
  }
  if (node["quantiles"]) MG_RETURN_IF_ERROR(ReadQuantiles(node["quantiles"], settings));
  if (const YAML::Node h = node["histogram_options"]) {
    MG_RETURN_IF_ERROR(
        CheckKeys(h, "histogram_options",
                  {"buckets", "native_histogram_bucket_factor", "native_histogram_max_buckets"}));
    settings->histogram_options = true;
    if (h["buckets"]) {
      MG_ASSIGN_OR_RETURN(settings->buckets, Buckets(h["buckets"]));
    }
  }
  if (const YAML::Node o = node["summary_options"]) {
    MG_RETURN_IF_ERROR(
        CheckKeys(o, "summary_options", {"quantiles", "max_age", "age_buckets", "buf_cap"}));
    settings->summary_options = true;
    if (o["quantiles"]) MG_RETURN_IF_ERROR(ReadQuantiles(o["quantiles"], settings));
    if (o["max_age"]) {
      MG_ASSIGN_OR_RETURN(settings->max_age, Duration(o["max_age"], "max_age"));
    }
    if (o["age_buckets"]) {
      MG_ASSIGN_OR_RETURN(double buckets, Number(o["age_buckets"], "age_buckets"));
      if (buckets < 1 || buckets > 1000 || buckets != std::floor(buckets)) {
        return Error(o["age_buckets"], "age_buckets must be a whole number from 1 to 1000");
      }
      settings->age_buckets = static_cast<int>(buckets);
    }
    if (o["buf_cap"]) MG_RETURN_IF_ERROR(Number(o["buf_cap"], "buf_cap").status());
  }
  return absl::OkStatus();
}

// `$1`, `${1}` -> captures[1]; `$0` is the whole match. Anything else is kept as written.
std::string Format(std::string_view pattern, const std::vector<std::string_view>& captures) {
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '$' && i + 1 < pattern.size()) {
      const bool braced = pattern[i + 1] == '{';
      size_t j = i + 1 + (braced ? 1 : 0);
      size_t index = 0;
      const size_t digits_start = j;
      while (j < pattern.size() && pattern[j] >= '0' && pattern[j] <= '9') {
        index = index * 10 + static_cast<size_t>(pattern[j++] - '0');
      }
      if (j > digits_start && (!braced || (j < pattern.size() && pattern[j] == '}'))) {
        if (index < captures.size()) out.append(captures[index]);
        i = braced ? j : j - 1;
        continue;
      }
    }
    out.push_back(pattern[i]);
  }
  return out;
}

bool TypeMatches(MappingRule::MetricType want, StatsdType type) {
  switch (want) {
    case MappingRule::MetricType::kAny:
      return true;
    case MappingRule::MetricType::kCounter:
      return type == StatsdType::kCounter;
    case MappingRule::MetricType::kGauge:
      return type == StatsdType::kGauge;
    case MappingRule::MetricType::kObserver:
      return type == StatsdType::kTimer || type == StatsdType::kHistogram ||
             type == StatsdType::kDistribution;
  }
  return false;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const MappingConfig>> MappingConfig::Parse(std::string_view yaml) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {  // the YAML library reports errors by throwing
    return absl::InvalidArgumentError(StrCat("line ", e.mark.line + 1, ": invalid YAML: ", e.msg));
  }
  auto config = std::make_shared<MappingConfig>();
  if (root.IsNull()) return std::shared_ptr<const MappingConfig>(config);
  MG_RETURN_IF_ERROR(CheckKeys(root, "the mapping file", {"defaults", "mappings"}));

  ObserverSettings defaults;
  bool defaults_regex = false;
  std::optional<std::chrono::milliseconds> default_ttl;
  if (const YAML::Node node = root["defaults"]) {
    MG_RETURN_IF_ERROR(
        CheckKeys(node, "defaults",
                  {"observer_type", "timer_type", "buckets", "quantiles", "match_type",
                   "glob_disable_ordering", "ttl", "summary_options", "histogram_options"}));
    MG_RETURN_IF_ERROR(ReadObserver(node, &defaults));
    if (node["match_type"]) {
      MG_ASSIGN_OR_RETURN(std::string type, Scalar(node["match_type"], "match_type"));
      if (type != "glob" && type != "regex") {
        return Error(node["match_type"], "match_type must be glob or regex");
      }
      defaults_regex = type == "regex";
    }
    if (node["glob_disable_ordering"]) {
      MG_ASSIGN_OR_RETURN(config->glob_disable_ordering_,
                          Bool(node["glob_disable_ordering"], "glob_disable_ordering"));
    }
    if (node["ttl"]) {
      MG_ASSIGN_OR_RETURN(std::chrono::milliseconds ttl, Duration(node["ttl"], "ttl"));
      default_ttl = ttl;
    }
  }

  std::vector<MappingRule> globs;
  std::vector<MappingRule> regexes;
  const YAML::Node mappings = root["mappings"];
  if (mappings && !mappings.IsNull() && !mappings.IsSequence()) {
    return Error(mappings, "\"mappings\" must be a list");
  }
  for (const YAML::Node& node : mappings) {
    MG_RETURN_IF_ERROR(
        CheckKeys(node, "a mapping",
                  {"match", "name", "labels", "observer_type", "timer_type", "buckets", "quantiles",
                   "match_type", "help", "action", "match_metric_type", "ttl", "summary_options",
                   "histogram_options", "scale", "honor_labels"}));
    MappingRule rule;
    rule.line = Line(node);
    rule.ttl = default_ttl;
    if (!node["match"]) return Error(node, "a mapping needs \"match\"");
    MG_ASSIGN_OR_RETURN(rule.match, Scalar(node["match"], "match"));
    rule.regex = defaults_regex;
    if (node["match_type"]) {
      MG_ASSIGN_OR_RETURN(std::string type, Scalar(node["match_type"], "match_type"));
      if (type != "glob" && type != "regex") {
        return Error(node["match_type"], "match_type must be glob or regex");
      }
      rule.regex = type == "regex";
    }
    if (node["action"]) {
      MG_ASSIGN_OR_RETURN(std::string action, Scalar(node["action"], "action"));
      if (action != "map" && action != "drop") {
        return Error(node["action"], "action must be map or drop");
      }
      rule.drop = action == "drop";
    }
    if (node["name"]) {
      MG_ASSIGN_OR_RETURN(rule.name, Scalar(node["name"], "name"));
    }
    if (rule.name.empty() && !rule.drop) return Error(node, "a mapping needs a \"name\"");
    if (const YAML::Node labels = node["labels"]) {
      if (!labels.IsMap()) return Error(labels, "\"labels\" must be a map");
      for (const auto& entry : labels) {
        const std::string key = entry.first.as<std::string>();
        if (!IsLabelName(key) || key.starts_with("__")) {
          return Error(entry.first, StrCat("invalid label name \"", key, "\""));
        }
        MG_ASSIGN_OR_RETURN(std::string value, Scalar(entry.second, key));
        rule.labels.emplace_back(key, std::move(value));
      }
      std::sort(rule.labels.begin(), rule.labels.end());
    }
    if (node["match_metric_type"]) {
      MG_ASSIGN_OR_RETURN(std::string type, Scalar(node["match_metric_type"], "match_metric_type"));
      if (type == "counter") {
        rule.metric_type = MappingRule::MetricType::kCounter;
      } else if (type == "gauge") {
        rule.metric_type = MappingRule::MetricType::kGauge;
      } else if (type == "observer" || type == "timer") {
        rule.metric_type = MappingRule::MetricType::kObserver;
      } else {
        return Error(node["match_metric_type"],
                     "match_metric_type must be counter, gauge or observer");
      }
    }
    if (node["help"]) {
      MG_ASSIGN_OR_RETURN(rule.help, Scalar(node["help"], "help"));
    }
    if (node["honor_labels"]) {
      MG_ASSIGN_OR_RETURN(rule.honor_labels, Bool(node["honor_labels"], "honor_labels"));
    }
    if (node["scale"]) {
      MG_ASSIGN_OR_RETURN(rule.scale, Number(node["scale"], "scale"));
    }
    if (node["ttl"]) {
      MG_ASSIGN_OR_RETURN(std::chrono::milliseconds ttl, Duration(node["ttl"], "ttl"));
      rule.ttl = ttl;
    }
    ObserverSettings observer;
    MG_RETURN_IF_ERROR(ReadObserver(node, &observer));
    // Summary options alone ask for a summary; an explicit type decides.
    const bool summary =
        observer.set ? observer.summary : (observer.summary_options || defaults.summary);
    if (!summary && observer.summary_options) {
      return Error(node, "cannot use histogram observer and summary options at the same time");
    }
    if (summary && (observer.histogram_options || observer.buckets)) {
      return Error(node, "cannot use summary observer and histogram options at the same time");
    }
    if (summary) {
      auto spec = std::make_shared<storage::SummarySpec>();
      spec->quantiles = observer.quantiles.value_or(
          defaults.quantiles.value_or(std::vector<double>{0.5, 0.9, 0.99}));
      spec->max_age = observer.max_age.value_or(defaults.max_age.value_or(spec->max_age));
      spec->age_buckets =
          observer.age_buckets.value_or(defaults.age_buckets.value_or(spec->age_buckets));
      rule.summary = std::move(spec);
    } else {
      rule.buckets = observer.buckets ? observer.buckets : defaults.buckets;
    }
    if (rule.regex) {
      auto compiled = std::make_shared<re2::RE2>(rule.match, RE2::Quiet);
      if (!compiled->ok()) {
        return Error(node["match"],
                     StrCat("invalid regex \"", rule.match, "\": ", compiled->error()));
      }
      rule.compiled = std::move(compiled);
      regexes.push_back(std::move(rule));
    } else {
      MG_ASSIGN_OR_RETURN(rule.glob, GlobSegments(node["match"], rule.match));
      globs.push_back(std::move(rule));
    }
  }
  config->glob_count_ = globs.size();
  for (size_t i = 0; i < globs.size(); ++i) {
    size_t node = 0;
    for (const std::string& segment : globs[i].glob) {
      auto& tree = config->glob_tree_;
      size_t child = 0;
      if (segment == "*") {
        child = tree[node].star;
      } else if (segment.back() == '*') {
        const std::string prefix = segment.substr(0, segment.size() - 1);
        for (const auto& [p, n] : tree[node].prefix) {
          if (p == prefix) child = n;
        }
      } else if (auto it = tree[node].literal.find(segment); it != tree[node].literal.end()) {
        child = it->second;
      }
      if (child == 0) {
        child = tree.size();
        tree.emplace_back();
        if (segment == "*") {
          tree[node].star = child;
        } else if (segment.back() == '*') {
          tree[node].prefix.emplace_back(segment.substr(0, segment.size() - 1), child);
        } else {
          tree[node].literal.emplace(segment, child);
        }
      }
      node = child;
    }
    config->glob_tree_[node].rules.push_back(i);
  }
  config->rules_ = std::move(globs);
  std::move(regexes.begin(), regexes.end(), std::back_inserter(config->rules_));
  return std::shared_ptr<const MappingConfig>(config);
}

absl::StatusOr<std::shared_ptr<const MappingConfig>> MappingConfig::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(StrCat(path, ": cannot read the mapping file"));
  }
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<std::shared_ptr<const MappingConfig>> config = Parse(text.str());
  if (!config.ok()) {
    return absl::InvalidArgumentError(StrCat(path, ": ", config.status().message()));
  }
  return config;
}

void MappingConfig::MatchGlobs(size_t node, const std::vector<std::string_view>& segments,
                               size_t depth, StatsdType type,
                               std::vector<std::string_view>* captures, size_t* best,
                               std::vector<std::string_view>* best_captures) const {
  const GlobNode& here = glob_tree_[node];
  if (depth == segments.size()) {
    for (size_t rule : here.rules) {
      if (rule >= *best) break;
      if (!TypeMatches(rules_[rule].metric_type, type)) continue;
      *best = rule;
      *best_captures = *captures;
      break;
    }
    return;
  }
  // Without ordering the first rule found wins: literal, then prefix, then `*`, at the
  // earliest segment. With ordering every branch is searched for the earliest rule.
  const auto done = [&] { return glob_disable_ordering_ && *best != rules_.size(); };
  const std::string_view segment = segments[depth];
  if (auto it = here.literal.find(segment); it != here.literal.end()) {
    MatchGlobs(it->second, segments, depth + 1, type, captures, best, best_captures);
    if (done()) return;
  }
  for (const auto& [prefix, child] : here.prefix) {
    if (!segment.starts_with(prefix)) continue;
    captures->push_back(segment.substr(prefix.size()));
    MatchGlobs(child, segments, depth + 1, type, captures, best, best_captures);
    captures->pop_back();
    if (done()) return;
  }
  if (here.star != 0) {
    captures->push_back(segment);
    MatchGlobs(here.star, segments, depth + 1, type, captures, best, best_captures);
    captures->pop_back();
  }
}

bool MappingConfig::Find(std::string_view statsd_name, StatsdType type, Result* result) const {
  std::vector<std::string_view> captures;
  const MappingRule* found = nullptr;
  if (glob_count_ > 0) {
    std::vector<std::string_view> segments;
    for (size_t start = 0;;) {
      const size_t end = statsd_name.find('.', start);
      segments.push_back(
          statsd_name.substr(start, end == std::string_view::npos ? end : end - start));
      if (end == std::string_view::npos) break;
      start = end + 1;
    }
    std::vector<std::string_view> walk = {statsd_name};  // $0 is the whole name
    size_t best = rules_.size();
    MatchGlobs(0, segments, 0, type, &walk, &best, &captures);
    if (best != rules_.size()) found = &rules_[best];
  }
  for (size_t i = glob_count_; found == nullptr && i < rules_.size(); ++i) {
    const MappingRule& rule = rules_[i];
    if (!TypeMatches(rule.metric_type, type)) continue;
    const int groups = rule.compiled->NumberOfCapturingGroups();
    std::vector<re2::StringPiece> pieces(groups + 1);
    if (!rule.compiled->Match(re2::StringPiece(statsd_name.data(), statsd_name.size()), 0,
                              statsd_name.size(), RE2::UNANCHORED, pieces.data(), groups + 1)) {
      continue;
    }
    found = &rule;
    for (const re2::StringPiece& piece : pieces) captures.emplace_back(piece.data(), piece.size());
  }
  if (found == nullptr) return false;
  result->rule = found;
  result->name = Format(found->name, captures);
  result->labels.clear();
  for (const auto& [key, pattern] : found->labels) {
    result->labels.emplace_back(key, Format(pattern, captures));
  }
  return true;
}

}  // namespace metricsgate::ingest

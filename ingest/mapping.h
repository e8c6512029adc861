// MappingConfig: statsd_exporter's mapping-file format, which turns StatsD names into
// Prometheus names and labels (--statsd.mapping-config).
//
//   defaults:
//     observer_type: histogram
//     match_type: glob
//   mappings:
//   - match: "test.dispatcher.*.*.*"
//     name: "dispatcher_events_total"
//     labels:
//       processor: "$1"
//       action: "$2"
//       outcome: "$3"
//   - match: "(.*)\.(.*)--(.*)\.status\.(.*)\.count"
//     match_type: regex
//     name: "request_total"
//     labels: {hostname: "${1}", exec: "${2}", protocol: "${3}", code: "${4}"}
//
// Glob rules (`*` stands for one dot-separated segment) are tried first, through a tree of
// their segments (statsd_exporter's FSM) so matching costs the name's length, not the number of
// rules: the first matching rule in file order wins (or, with `glob_disable_ordering`, the rule
// with literal segments earliest); then regex rules (RE2 syntax, Go's, unanchored as Go's
// FindStringSubmatch) in file order. `$1`/`${1}` in `name` and `labels` take the captures. Beyond
// statsd_exporter: a glob segment may end in
// `*` after a prefix (`api_*`), capturing the rest of the segment; and every unknown key is an
// error that names the key and its line (statsd_exporter ignores them silently).
//
// Timers are histograms unless `observer_type: summary` (in a rule or in `defaults:`) makes
// them summaries with `summary_options` (quantiles, max_age, age_buckets; buf_cap is read and
// not needed). A rule's `ttl` (or the defaults') makes its series expire that long after their
// last update.
//
// A MappingConfig is immutable once parsed: Find() is safe from any number of threads.
#ifndef METRICSGATE_INGEST_MAPPING_H_
#define METRICSGATE_INGEST_MAPPING_H_

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "ingest/statsd_parser.h"
#include "storage/series_table.h"

namespace re2 {
class RE2;
}  // namespace re2

namespace metricsgate::ingest {

struct MappingRule {
  enum class MetricType { kAny, kCounter, kGauge, kObserver };

  std::string match;
  bool regex = false;
  std::vector<std::string> glob;                            // segments: "*", "prefix*" or literal
  std::shared_ptr<const re2::RE2> compiled;                 // regex rules
  std::string name;                                         // template
  std::vector<std::pair<std::string, std::string>> labels;  // sorted by name; templates
  MetricType metric_type = MetricType::kAny;
  bool drop = false;
  bool honor_labels = false;  // tags win over mapping labels
  std::string help;
  storage::Buckets buckets;                             // observers, as histograms
  std::shared_ptr<const storage::SummarySpec> summary;  // observers, as summaries
  double scale = 1;
  std::optional<std::chrono::milliseconds> ttl;  // unset: the global default (--statsd.ttl)
  int line = 0;                                  // of the rule in the file, 1-based
};

class MappingConfig {
 public:
  // Parses a mapping file's text. Errors name the line: `line 12: unknown key "nme"`.
  static absl::StatusOr<std::shared_ptr<const MappingConfig>> Parse(std::string_view yaml);
  // Reads and parses `path`; errors start with the path.
  static absl::StatusOr<std::shared_ptr<const MappingConfig>> Load(const std::string& path);

  struct Result {
    const MappingRule* rule = nullptr;
    std::string name;                                         // formatted, not yet escaped
    std::vector<std::pair<std::string, std::string>> labels;  // sorted by name
  };

  // Finds the rule for a StatsD name (as sent, tags removed) of type `type`. Returns false
  // when no rule matches: the name is then escaped as an unmapped name.
  bool Find(std::string_view statsd_name, StatsdType type, Result* result) const;

  size_t rule_count() const { return rules_.size(); }

 private:
  // One node of the glob tree: the rules ending here, and the children by the next segment.
  struct GlobNode {
    std::map<std::string, size_t, std::less<>> literal;  // segment -> node
    std::vector<std::pair<std::string, size_t>> prefix;  // "api_" (of `api_*`) -> node
    size_t star = 0;                                     // `*` -> node; 0 for none
    std::vector<size_t> rules;                           // indexes into rules_, ascending
  };
  // Walks the tree below `node` for name segments from `depth`, keeping the best rule found.
  void MatchGlobs(size_t node, const std::vector<std::string_view>& segments, size_t depth,
                  StatsdType type, std::vector<std::string_view>* captures, size_t* best,
                  std::vector<std::string_view>* best_captures) const;

  std::vector<MappingRule> rules_;  // globs first, then regexes, each in file order
  size_t glob_count_ = 0;
  std::vector<GlobNode> glob_tree_ = std::vector<GlobNode>(1);  // [0] is the root
  bool glob_disable_ordering_ = false;
};

}  // namespace metricsgate::ingest

#endif  // METRICSGATE_INGEST_MAPPING_H_

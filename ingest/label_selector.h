// A Prometheus label selector over grouping labels: `{job="batch",instance=~"web-.*"}` with
// the matchers =, !=, =~ and !~; regular expressions are RE2 (Go's syntax), anchored at both
// ends as in PromQL; values are quoted with " or ' and take Go's backslash escapes; a label a
// group lacks has the value "". A selector must hold a matcher that an empty value fails, so a
// typo cannot select every group (as Prometheus' delete API demands). Parse() once, then
// Matches() from any thread.
#ifndef METRICSGATE_INGEST_LABEL_SELECTOR_H_
#define METRICSGATE_INGEST_LABEL_SELECTOR_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/metric_family.h"

namespace re2 {
class RE2;
}  // namespace re2

namespace metricsgate::ingest {

class LabelSelector {
 public:
  // kInvalidArgument naming the problem and its position for a malformed selector.
  static absl::StatusOr<LabelSelector> Parse(std::string_view text);

  // REQUIRES: `labels` sorted by name.
  bool Matches(const std::vector<storage::Label>& labels) const;

 private:
  enum class Op { kEqual, kNotEqual, kRegex, kNotRegex };
  struct Matcher {
    std::string name;
    Op op;
    std::string value;
    std::shared_ptr<const re2::RE2> regex;  // for kRegex and kNotRegex
    bool Matches(std::string_view value) const;
  };
  std::vector<Matcher> matchers_;
};

}  // namespace metricsgate::ingest

#endif  // METRICSGATE_INGEST_LABEL_SELECTOR_H_

#include "export/text_format.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <iterator>

namespace metricsgate::exporter {
namespace {

using storage::Label;
using storage::MetricFamily;
using storage::MetricType;
using storage::Sample;

std::string_view TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
    case MetricType::kSummary:
      return "summary";
    case MetricType::kUntyped:
      return "untyped";
  }
  return "untyped";
}

// HELP text escapes `\` and newline; label values also escape `"`.
void AppendEscaped(std::string_view text, bool escape_quote, std::string* out) {
  for (char c : text) {
    if (c == '\\') {
      out->append("\\\\");
    } else if (c == '\n') {
      out->append("\\n");
    } else if (c == '"' && escape_quote) {
      out->append("\\\"");
    } else {
      out->push_back(c);
    }
  }
}

// One sample line: `name{labels,extra_label="extra_value"} value`.
void AppendLine(std::string_view name, std::string_view suffix, const std::vector<Label>& labels,
                std::string_view extra_label, std::string_view extra_value, double value,
                std::string* out) {
  out->append(name);
  out->append(suffix);
  if (!labels.empty() || !extra_label.empty()) {
    out->push_back('{');
    bool first = true;
    const auto append_label = [&](std::string_view label, std::string_view label_value) {
      if (!first) out->push_back(',');
      first = false;
      out->append(label);
      out->append("=\"");
      AppendEscaped(label_value, /*escape_quote=*/true, out);
      out->push_back('"');
    };
    for (const Label& label : labels) append_label(label.first, label.second);
    if (!extra_label.empty()) append_label(extra_label, extra_value);
    out->push_back('}');
  }
  out->push_back(' ');
  AppendValue(value, out);
  out->push_back('\n');
}

void AppendSample(std::string_view name, const Sample& sample, std::string* out) {
  if (sample.summary) {
    // As client_golang writes a summary: one line per quantile, then sum and count.
    std::string quantile;
    for (const auto& [q, value] : sample.summary->quantiles) {
      quantile.clear();
      AppendValue(q, &quantile);
      AppendLine(name, "", sample.labels, "quantile", quantile, value, out);
    }
    AppendLine(name, "_sum", sample.labels, "", "", sample.summary->sum, out);
    AppendLine(name, "_count", sample.labels, "", "", sample.summary->count, out);
    return;
  }
  if (!sample.histogram) {
    AppendLine(name, "", sample.labels, "", "", sample.value, out);
    return;
  }
  // As client_golang writes a histogram: cumulative buckets with `le` last, then sum, count.
  std::string le;
  for (const auto& [upper_bound, count] : sample.histogram->buckets) {
    le.clear();
    AppendValue(upper_bound, &le);
    AppendLine(name, "_bucket", sample.labels, "le", le, count, out);
  }
  AppendLine(name, "_sum", sample.labels, "", "", sample.histogram->sum, out);
  const double count =
      sample.histogram->buckets.empty() ? 0 : sample.histogram->buckets.back().second;
  AppendLine(name, "_count", sample.labels, "", "", count, out);
}

}  // namespace

void AppendValue(double value, std::string* out) {
  if (std::isnan(value)) {
    out->append("NaN");
    return;
  }
  if (std::isinf(value)) {
    out->append(value > 0 ? "+Inf" : "-Inf");
    return;
  }
  if (value == 0) {  // also -0, which Go writes as "0"
    out->push_back('0');
    return;
  }
  char buf[64];
  // Shortest round-trip digits in scientific form tell the decimal exponent.
  auto sci = std::to_chars(buf, buf + sizeof(buf), value, std::chars_format::scientific);
  std::string_view scientific(buf, sci.ptr - buf);
  int exponent = 0;
  const char* exponent_text = scientific.data() + scientific.find('e') + 1;
  if (*exponent_text == '+') ++exponent_text;  // from_chars takes '-' but not '+'
  std::from_chars(exponent_text, sci.ptr, exponent);
  if (exponent < -4 || exponent >= 6) {
    out->append(scientific);  // "1.5e+06", two exponent digits at least, as Go
    return;
  }
  auto fixed = std::to_chars(buf, buf + sizeof(buf), value, std::chars_format::fixed);
  out->append(buf, fixed.ptr - buf);
}

std::string RenderText(std::vector<MetricFamily> families) {
  std::stable_sort(families.begin(), families.end(),
                   [](const MetricFamily& a, const MetricFamily& b) { return a.name < b.name; });
  std::string out;
  for (size_t i = 0; i < families.size(); ++i) {
    MetricFamily& family = families[i];
    for (; i + 1 < families.size() && families[i + 1].name == family.name; ++i) {
      std::move(families[i + 1].samples.begin(), families[i + 1].samples.end(),
                std::back_inserter(family.samples));
      if (family.help.empty()) family.help = std::move(families[i + 1].help);
    }
    if (family.samples.empty()) continue;
    std::sort(family.samples.begin(), family.samples.end(),
              [](const Sample& a, const Sample& b) { return a.labels < b.labels; });
    if (!family.help.empty()) {  // as expfmt: no HELP line without a help text
      out.append("# HELP ");
      out.append(family.name);
      out.push_back(' ');
      AppendEscaped(family.help, /*escape_quote=*/false, &out);
      out.push_back('\n');
    }
    out.append("# TYPE ");
    out.append(family.name);
    out.push_back(' ');
    out.append(TypeName(family.type));
    out.push_back('\n');
    for (const Sample& sample : family.samples) AppendSample(family.name, sample, &out);
  }
  return out;
}

}  // namespace metricsgate::exporter

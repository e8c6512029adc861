#include "export/exposition.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "export/text_format.h"

namespace metricsgate::exporter {
namespace {

using storage::HistogramView;
using storage::MetricType;
using storage::Snapshot;
using storage::SummaryView;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// HELP (escape_quote: OpenMetrics) and label values escape `\`, newline and (label values,
// OpenMetrics HELP) `"`.
void AppendEscaped(std::string_view text, bool escape_quote, std::string* out) {
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c != '\\' && c != '\n' && !(c == '"' && escape_quote)) continue;
    out->append(text.data() + start, i - start);
    out->append(c == '\\' ? "\\\\" : c == '\n' ? "\\n" : "\\\"");
    start = i + 1;
  }
  out->append(text.data() + start, text.size() - start);
}

// OpenMetrics' canonical number for `le` and `quantile`: Go's %g with ".0" when it has
// neither a point nor an exponent.
void AppendCanonical(double value, std::string* out) {
  const size_t start = out->size();
  AppendValue(value, out);
  const std::string_view written(out->data() + start, out->size() - start);
  if (written.find_first_of(".eIN") == std::string_view::npos) out->append(".0");
}

std::string_view TypeName(MetricType type, bool open_metrics) {
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
      break;
  }
  return open_metrics ? "unknown" : "untyped";
}

// --- protobuf writing ---

void PutVarint(uint64_t value, std::string* out) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>(value | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}
void PutTag(uint32_t field, uint32_t wire, std::string* out) { PutVarint(field << 3 | wire, out); }
void PutDouble(uint32_t field, double value, std::string* out) {
  PutTag(field, 1, out);
  char bytes[8];
  std::memcpy(bytes, &value, 8);  // little-endian, as this machine
  out->append(bytes, 8);
}
void PutUint(uint32_t field, uint64_t value, std::string* out) {
  PutTag(field, 0, out);
  PutVarint(value, out);
}
void PutSint(uint32_t field, int64_t value, std::string* out) {
  PutTag(field, 0, out);
  PutVarint((static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63), out);
}
void PutBytes(uint32_t field, std::string_view bytes, std::string* out) {
  PutTag(field, 2, out);
  PutVarint(bytes.size(), out);
  out->append(bytes);
}

bool AllIntegral(std::span<const double> values, size_t stride, size_t offset) {
  for (size_t i = offset; i < values.size(); i += stride) {
    if (!(values[i] >= 0 && values[i] < 9.2e18 && values[i] == std::floor(values[i]))) {
      return false;
    }
  }
  return true;
}

uint64_t ToCount(double value) {
  return value > 0 && value < 1.8e19 ? static_cast<uint64_t>(value) : 0;
}

// One side of a native histogram: spans of consecutive indexes, then the counts as deltas
// (integer histograms) or as absolute counts (float ones).
void PutNativeSide(std::span<const double> pairs, bool integral, uint32_t span_field,
                   uint32_t delta_field, uint32_t count_field, std::string* scratch,
                   std::string* out) {
  int64_t previous_index = 0;
  size_t i = 0;
  while (i < pairs.size()) {
    const auto start = static_cast<int64_t>(pairs[i]);
    size_t length = 1;
    while (i + 2 * length < pairs.size() &&
           static_cast<int64_t>(pairs[i + 2 * length]) == start + static_cast<int64_t>(length)) {
      ++length;
    }
    scratch->clear();
    PutSint(1, i == 0 ? start : start - previous_index - 1, scratch);
    PutUint(2, length, scratch);
    PutBytes(span_field, *scratch, out);
    previous_index = start + static_cast<int64_t>(length) - 1;
    i += 2 * length;
  }
  int64_t previous_count = 0;
  for (size_t j = 1; j < pairs.size(); j += 2) {
    if (integral) {
      const auto count = static_cast<int64_t>(pairs[j]);
      PutSint(delta_field, count - previous_count, out);
      previous_count = count;
    } else {
      PutDouble(count_field, pairs[j], out);
    }
  }
}

// Whether `entry` is a series of the family `name`: its key is the name, or the name and labels.
inline bool InFamily(const Snapshot::Entry& entry, std::string_view name) {
  return entry.key_size >= name.size() && std::memcmp(entry.key, name.data(), name.size()) == 0 &&
         (entry.key_size == name.size() || entry.key[name.size()] == '\xff');
}

}  // namespace

Format Negotiate(std::string_view accept) {
  Format best = Format::kText;
  double best_q = -1;
  while (!accept.empty()) {
    const size_t comma = accept.find(',');
    std::string_view range = accept.substr(0, comma);
    accept = comma == std::string_view::npos ? std::string_view() : accept.substr(comma + 1);
    const size_t semicolon = range.find(';');
    const std::string_view type = Trim(range.substr(0, semicolon));
    std::string_view params =
        semicolon == std::string_view::npos ? std::string_view() : range.substr(semicolon + 1);
    double q = 1;
    std::string_view version, proto, encoding;
    bool bad = false;
    while (!params.empty()) {
      const size_t next = params.find(';');
      const std::string_view param = params.substr(0, next);
      params = next == std::string_view::npos ? std::string_view() : params.substr(next + 1);
      const size_t eq = param.find('=');
      if (eq == std::string_view::npos) continue;
      const std::string_view key = Trim(param.substr(0, eq));
      std::string_view value = Trim(param.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      if (EqualsIgnoreCase(key, "q")) {
        char* end = nullptr;
        const std::string copy(value);
        q = std::strtod(copy.c_str(), &end);
        if (end == copy.c_str() || !(q >= 0 && q <= 1)) bad = true;
      } else if (EqualsIgnoreCase(key, "version")) {
        version = value;
      } else if (EqualsIgnoreCase(key, "proto")) {
        proto = value;
      } else if (EqualsIgnoreCase(key, "encoding")) {
        encoding = value;
      }
    }
    if (bad || q <= 0) continue;
    Format format;
    if (EqualsIgnoreCase(type, "application/vnd.google.protobuf") &&
        proto == "io.prometheus.client.MetricFamily" && encoding == "delimited") {
      format = Format::kProtobuf;
    } else if (EqualsIgnoreCase(type, "application/openmetrics-text") &&
               (version.empty() || version == "1.0.0" || version == "0.0.1")) {
      format = Format::kOpenMetrics;
    } else if ((EqualsIgnoreCase(type, "text/plain") &&
                (version.empty() || version == "0.0.4" || version == "1.0.0")) ||
               type == "*/*" || EqualsIgnoreCase(type, "text/*")) {
      format = Format::kText;
    } else {
      continue;
    }
    if (q > best_q) {
      best_q = q;
      best = format;
    }
  }
  return best;
}

std::string_view ContentType(Format format) {
  switch (format) {
    case Format::kOpenMetrics:
      return kOpenMetricsContentType;
    case Format::kProtobuf:
      return kProtobufContentType;
    case Format::kText:
      break;
  }
  return kTextContentType;
}

Renderer::Renderer(std::shared_ptr<const Snapshot> snapshot, Format format)
    : snapshot_(std::move(snapshot)), format_(format) {}

bool Renderer::Next(std::string* out, size_t chunk_size) {
  if (done_) return false;
  const size_t start = out->size();
  const auto& entries = snapshot_->entries();
  while (next_ < entries.size() && out->size() - start < chunk_size) {
    if (format_ == Format::kProtobuf) {
      RenderProtobufFamily(out);
      continue;
    }
    const Snapshot::Entry& entry = entries[next_];
    // Keys lie in the order the store gave them, not in this one: ask for them ahead.
    if (next_ + 32 < entries.size()) {
      const Snapshot::Entry& ahead = entries[next_ + 32];
      __builtin_prefetch(ahead.key);
      __builtin_prefetch(ahead.key + ahead.key_size - 1);
    }
    if (next_ == 0 || !InFamily(entry, family_)) {
      family_ = entry.Name();
      RenderFamilyHeader(next_, out);
    }
    RenderTextEntry(entry, out);
    ++next_;
  }
  if (next_ == entries.size()) {
    if (format_ == Format::kOpenMetrics) out->append("# EOF\n");
    done_ = true;
  }
  return out->size() > start;
}

// Helps are numbered in the order they were added to the snapshot, so the lowest non-zero
// number among the family's entries is the first help given.
std::string_view Renderer::FamilyHelp(size_t first, std::string_view name) const {
  const auto& entries = snapshot_->entries();
  uint32_t help = 0;
  for (size_t i = first; i < entries.size() && InFamily(entries[i], name); ++i) {
    if (entries[i].help != 0 && (help == 0 || entries[i].help < help)) help = entries[i].help;
  }
  return snapshot_->help(help);
}

void Renderer::RenderFamilyHeader(size_t first, std::string* out) {
  const Snapshot::Entry& entry = snapshot_->entries()[first];
  const std::string_view help = FamilyHelp(first, family_);
  std::string_view name = family_;
  if (format_ == Format::kText) {
    if (!help.empty()) {  // as expfmt: no HELP line without a help text
      out->append("# HELP ").append(name).push_back(' ');
      AppendEscaped(help, /*escape_quote=*/false, out);
      out->push_back('\n');
    }
    out->append("# TYPE ").append(name).push_back(' ');
    out->append(TypeName(entry.type, false)).push_back('\n');
    return;
  }
  // A counter's samples must be named <family>_total. One named so already is a counter of
  // that family; one that is not (StatsD counters usually are not) is written as `unknown`
  // under its own name, so Prometheus stores the same series name from both text formats,
  // the name statsd_exporter gave it, instead of a new `_total` one.
  MetricType type = entry.type;
  if (type == MetricType::kCounter) {
    if (name.ends_with("_total")) {
      name.remove_suffix(6);
    } else {
      type = MetricType::kUntyped;
    }
  }
  out->append("# TYPE ").append(name).push_back(' ');
  out->append(TypeName(type, true)).push_back('\n');
  for (std::string_view unit : {"seconds", "bytes"}) {
    if (name.size() > unit.size() + 1 && name.ends_with(unit) &&
        name[name.size() - unit.size() - 1] == '_') {
      out->append("# UNIT ").append(name).push_back(' ');
      out->append(unit).push_back('\n');
    }
  }
  if (!help.empty()) {
    out->append("# HELP ").append(name).push_back(' ');
    AppendEscaped(help, /*escape_quote=*/true, out);
    out->push_back('\n');
  }
}

namespace {

// Renders the labels of a key (the part after its name) as `a="x",b="y"`.
void AppendLabels(std::string_view rest, std::string* out) {
  bool first = true;
  while (!rest.empty()) {  // rest: \xff name \xfe value ...
    const size_t value_start = rest.find('\xfe');
    const size_t next = rest.find('\xff', value_start);
    if (!first) out->push_back(',');
    first = false;
    out->append(rest.substr(1, value_start - 1)).append("=\"");
    AppendEscaped(
        rest.substr(value_start + 1, next == std::string_view::npos ? std::string_view::npos
                                                                    : next - value_start - 1),
        /*escape_quote=*/true, out);
    out->push_back('"');
    rest = next == std::string_view::npos ? std::string_view() : rest.substr(next);
  }
}

void AppendLine(std::string_view name, std::string_view suffix, std::string_view labels,
                std::string_view extra, double value, std::string* out) {
  out->append(name).append(suffix);
  if (!labels.empty() || !extra.empty()) {
    out->push_back('{');
    out->append(labels);
    if (!extra.empty()) {
      if (!labels.empty()) out->push_back(',');
      out->append(extra);
    }
    out->push_back('}');
  }
  out->push_back(' ');
  AppendValue(value, out);
  out->push_back('\n');
}

// Whether any of the eight bytes of `word` is a key's separator (0xff, 0xfe) or, in a label
// value (`value`), a byte to escape (`\`, `"`, newline): has-zero-byte tests, which may only
// err towards yes, and then the bytes go one at a time.
inline bool MayHoldSpecial(uint64_t word, bool value) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL, kHighs = 0x8080808080808080ULL;
  const auto has_zero = [](uint64_t v) { return (v - kOnes) & ~v & kHighs; };
  uint64_t found = has_zero(~(word | kOnes));  // a byte of 0xfe or 0xff: (b | 1) == 0xff
  if (value) {
    found |= has_zero(word ^ (kOnes * '\\')) | has_zero(word ^ (kOnes * '"')) |
             has_zero(word ^ (kOnes * '\n'));
  }
  return found != 0;
}

// Writes a whole key as `name{a="x",b="y"}` in one pass over its bytes: the common line's
// series, without building its labels apart first. Eight bytes at a time where none is special
// (most of a key: the name, label names, plain values).
void AppendSeries(std::string_view key, std::string* out) {
  const size_t start = out->size();
  // Each label's two separators become `,` or `{`, `="` and `"` (one byte more each, which its
  // escaped value's room covers), a value byte at most two, and `}` closes.
  out->resize(start + 2 * key.size() + 2);
  char* p = out->data() + start;
  bool labels = false, in_value = false;
  const char* s = key.data();
  const char* const end = s + key.size();
  while (s < end) {
    if (end - s >= 8) {
      uint64_t word;
      std::memcpy(&word, s, 8);
      if (!MayHoldSpecial(word, in_value)) {
        std::memcpy(p, s, 8);
        p += 8;
        s += 8;
        continue;
      }
    }
    const char c = *s++;
    if (c == '\xff') {  // a label starts
      if (in_value) *p++ = '"';
      *p++ = labels ? ',' : '{';
      labels = true;
      in_value = false;
    } else if (c == '\xfe') {  // its value starts
      *p++ = '=';
      *p++ = '"';
      in_value = true;
    } else if (in_value && (c == '\\' || c == '"' || c == '\n')) {
      *p++ = '\\';
      *p++ = c == '\n' ? 'n' : c;
    } else {
      *p++ = c;
    }
  }
  if (in_value) *p++ = '"';
  if (labels) *p++ = '}';
  out->resize(p - out->data());
}

}  // namespace

void Renderer::RenderTextEntry(const Snapshot::Entry& entry, std::string* out) {
  const std::string_view key = entry.Key();
  const std::string_view name = family_;
  if (entry.shape == Snapshot::Shape::kScalar) {  // the common line
    AppendSeries(key, out);
    out->push_back(' ');
    AppendValue(entry.value, out);
    out->push_back('\n');
    return;
  }
  labels_.clear();
  if (key.size() > name.size()) AppendLabels(key.substr(name.size()), &labels_);
  // A bucket's `le` or a quantile's `quantile`, in OpenMetrics' canonical form or Go's.
  const auto bound_label = [this](std::string_view label, double bound) {
    value_.assign(label).append("=\"");
    if (format_ == Format::kOpenMetrics) {
      AppendCanonical(bound, &value_);
    } else {
      AppendValue(bound, &value_);
    }
    value_.push_back('"');
    return std::string_view(value_);
  };
  double sum, count;
  if (entry.shape == Snapshot::Shape::kHistogram) {
    const HistogramView view = snapshot_->Histogram(entry);
    for (size_t i = 0; i < view.bounds.size(); ++i) {
      AppendLine(name, "_bucket", labels_, bound_label("le", view.bounds[i]), view.cumulative[i],
                 out);
    }
    sum = view.sum;
    count = view.count;
  } else {
    const SummaryView view = snapshot_->Summary(entry);
    for (size_t i = 0; i + 1 < view.quantiles.size(); i += 2) {
      AppendLine(name, "", labels_, bound_label("quantile", view.quantiles[i]),
                 view.quantiles[i + 1], out);
    }
    sum = view.sum;
    count = view.count;
  }
  AppendLine(name, "_sum", labels_, "", sum, out);
  AppendLine(name, "_count", labels_, "", count, out);
}

void Renderer::RenderProtobufFamily(std::string* out) {
  const auto& entries = snapshot_->entries();
  const Snapshot::Entry& first = entries[next_];
  const std::string_view name = first.Name();
  message_.clear();
  PutBytes(1, name, &message_);
  int type = 3;  // UNTYPED
  switch (first.type) {
    case MetricType::kCounter:
      type = 0;
      break;
    case MetricType::kGauge:
      type = 1;
      break;
    case MetricType::kSummary:
      type = 2;
      break;
    case MetricType::kHistogram:
      type = 4;
      break;
    case MetricType::kUntyped:
      break;
  }
  const std::string_view help = FamilyHelp(next_, name);
  for (; next_ < entries.size() && InFamily(entries[next_], name); ++next_) {
    const Snapshot::Entry& entry = entries[next_];
    metric_.clear();
    std::string_view rest = entry.Key().substr(name.size());
    while (!rest.empty()) {
      const size_t value_start = rest.find('\xfe');
      const size_t end = rest.find('\xff', value_start);
      inner_.clear();
      PutBytes(1, rest.substr(1, value_start - 1), &inner_);
      PutBytes(2,
               rest.substr(value_start + 1, end == std::string_view::npos ? std::string_view::npos
                                                                          : end - value_start - 1),
               &inner_);
      PutBytes(1, inner_, &metric_);
      rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
    }
    inner_.clear();
    switch (entry.shape) {
      case Snapshot::Shape::kScalar:
        PutDouble(1, entry.value, &inner_);
        PutBytes(first.type == MetricType::kCounter ? 3
                 : first.type == MetricType::kGauge ? 2
                                                    : 5,
                 inner_, &metric_);
        break;
      case Snapshot::Shape::kSummary: {
        const SummaryView view = snapshot_->Summary(entry);
        PutUint(1, ToCount(view.count), &inner_);
        PutDouble(2, view.sum, &inner_);
        std::string quantile;
        for (size_t i = 0; i + 1 < view.quantiles.size(); i += 2) {
          quantile.clear();
          PutDouble(1, view.quantiles[i], &quantile);
          PutDouble(2, view.quantiles[i + 1], &quantile);
          PutBytes(3, quantile, &inner_);
        }
        PutBytes(4, inner_, &metric_);
        break;
      }
      case Snapshot::Shape::kHistogram: {
        const HistogramView view = snapshot_->Histogram(entry);
        const bool integral = AllIntegral(view.cumulative, 1, 0);
        if (integral) {
          PutUint(1, ToCount(view.count), &inner_);
        } else {
          PutDouble(4, view.count, &inner_);
        }
        PutDouble(2, view.sum, &inner_);
        std::string bucket;
        for (size_t i = 0; i < view.bounds.size(); ++i) {
          if (std::isinf(view.bounds[i])) continue;  // +Inf is implied, as client_golang
          bucket.clear();
          if (integral) {
            PutUint(1, ToCount(view.cumulative[i]), &bucket);
          } else {
            PutDouble(4, view.cumulative[i], &bucket);
          }
          PutDouble(2, view.bounds[i], &bucket);
          PutBytes(3, bucket, &inner_);
        }
        if (view.has_native) {
          const storage::NativeHistogramView& native = view.native;
          const bool native_integral =
              integral && std::floor(native.zero_count) == native.zero_count &&
              AllIntegral(native.positive, 2, 1) && AllIntegral(native.negative, 2, 1);
          PutSint(5, native.schema, &inner_);
          PutDouble(6, native.zero_threshold, &inner_);
          if (native_integral) {
            PutUint(7, ToCount(native.zero_count), &inner_);
          } else {
            PutDouble(8, native.zero_count, &inner_);
          }
          std::string span;
          PutNativeSide(native.negative, native_integral, 9, 10, 11, &span, &inner_);
          if (native.positive.empty() && native.negative.empty()) {
            // No buckets: a no-op span tells Prometheus this is a native histogram.
            span.clear();
            PutSint(1, 0, &span);
            PutUint(2, 0, &span);
            PutBytes(12, span, &inner_);
          }
          PutNativeSide(native.positive, native_integral, 12, 13, 14, &span, &inner_);
        }
        PutBytes(7, inner_, &metric_);
        break;
      }
    }
    PutBytes(4, metric_, &message_);
  }
  // Field order is free in protobuf: help and type go after the metrics, once help is known.
  if (!help.empty()) PutBytes(2, help, &message_);
  PutUint(3, static_cast<uint64_t>(type), &message_);
  PutVarint(message_.size(), out);
  out->append(message_);
}

std::string Render(const Snapshot& snapshot, Format format) {
  Renderer renderer(std::shared_ptr<const Snapshot>(std::shared_ptr<void>(), &snapshot), format);
  std::string out;
  while (renderer.Next(&out)) {
  }
  return out;
}

}  // namespace metricsgate::exporter

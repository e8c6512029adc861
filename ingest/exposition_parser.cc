#include "ingest/exposition_parser.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "base/str_cat.h"
#include "base/string_hash.h"
#include "base/utf8.h"

namespace metricsgate::ingest {
namespace {

using storage::HistogramValue;
using storage::Label;
using storage::MetricFamily;
using storage::MetricType;
using storage::Sample;
using storage::SummaryValue;

constexpr double kInf = std::numeric_limits<double>::infinity();

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (x != b[i]) return false;
  }
  return true;
}

// Builds families as lines (or messages) arrive: one per name, and for histograms and
// summaries one sample per label set (without `le` / `quantile`).
class FamilyBuilder {
 public:
  struct Family {
    MetricFamily family;
    bool has_help = false;
    bool has_type = false;
    bool has_samples = false;
    // Histograms: per sample, the buckets as sent and the count if sent.
    // Histograms and summaries only (allocated on first use, so a plain family stays light):
    // their samples by label set, and each histogram's count if sent.
    struct Grouped {
      absl::flat_hash_map<std::string, size_t, StringViewHash, StringViewEq> by_labels;
      std::vector<std::optional<double>> counts;
    };
    std::unique_ptr<Grouped> grouped;
  };

  // The family `name` belongs to: its own, or a histogram's or summary's whose suffixed line
  // it is; created untyped if none. Sets `*suffix` to "", "_sum", "_count" or "_bucket".
  Family& For(std::string_view name, std::string_view* suffix) {
    *suffix = {};
    if (auto it = index_.find(name); it != index_.end()) return families_[it->second];
    for (std::string_view s : {"_sum", "_count", "_bucket"}) {
      if (!name.ends_with(s)) continue;
      auto it = index_.find(name.substr(0, name.size() - s.size()));
      if (it == index_.end()) continue;
      Family& base = families_[it->second];
      const MetricType type = base.family.type;
      if (type == MetricType::kHistogram || (type == MetricType::kSummary && s != "_bucket")) {
        *suffix = s;
        return base;
      }
    }
    return Create(name);
  }

  Family& Create(std::string_view name) {
    index_.emplace(name, families_.size());
    families_.emplace_back();
    families_.back().family.name = std::string(name);
    return families_.back();
  }

  // Replaces the family `name` (protobuf: a later message of one name wins).
  Family& Replace(std::string_view name) {
    if (auto it = index_.find(name); it != index_.end()) {
      Family& family = families_[it->second];
      family = Family{};
      family.family.name = std::string(name);
      return family;
    }
    return Create(name);
  }

  // The sample of `family` with `labels` (histograms and summaries share one per label set).
  Sample& SampleFor(Family& family, std::vector<Label> labels) {
    std::string signature;
    for (const Label& label : labels)
      StrAppend(&signature, label.first, '\xff', label.second, '\xff');
    auto [it, inserted] =
        grouped(family).by_labels.emplace(std::move(signature), family.family.samples.size());
    if (inserted) {
      Sample sample;
      sample.labels = std::move(labels);
      if (family.family.type == MetricType::kHistogram) sample.histogram.emplace();
      if (family.family.type == MetricType::kSummary) sample.summary.emplace();
      family.family.samples.push_back(std::move(sample));
      family.grouped->counts.emplace_back();
    }
    return family.family.samples[it->second];
  }

  static Family::Grouped& grouped(Family& family) {
    if (!family.grouped) family.grouped = std::make_unique<Family::Grouped>();
    return *family.grouped;
  }

  void SetCount(Family& family, const Sample& sample, double count) {
    grouped(family).counts[&sample - family.family.samples.data()] = count;
  }

  ParsedExposition Finish(bool has_timestamp) {
    ParsedExposition out;
    out.has_timestamp = has_timestamp;
    for (Family& f : families_) {
      for (size_t i = 0; i < f.family.samples.size(); ++i) {
        Sample& sample = f.family.samples[i];
        std::sort(sample.labels.begin(), sample.labels.end());
        if (sample.histogram) {
          auto& buckets = sample.histogram->buckets;
          std::stable_sort(buckets.begin(), buckets.end(),
                           [](const auto& a, const auto& b) { return a.first < b.first; });
          if (buckets.empty() || buckets.back().first != kInf) {
            const auto* counts = f.grouped ? &f.grouped->counts : nullptr;
            const double count = counts && i < counts->size() && (*counts)[i] ? *(*counts)[i]
                                 : buckets.empty()                            ? 0
                                                   : buckets.back().second;
            buckets.emplace_back(kInf, count);
          }
        }
      }
      out.families.push_back(std::move(f.family));
    }
    return out;
  }

 private:
  std::vector<Family> families_;
  // Names are views of the body, which outlives the parse.
  absl::flat_hash_map<std::string_view, size_t, StringViewHash, StringViewEq> index_;
};

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

class TextParser {
 public:
  explicit TextParser(std::string_view body) : body_(body) {}

  absl::StatusOr<ParsedExposition> Parse() {
    size_t pos = 0;
    while (pos < body_.size()) {
      ++line_number_;
      const size_t end = body_.find('\n', pos);
      if (end == std::string_view::npos) return Error("unexpected end of input stream");
      line_ = body_.substr(pos, end - pos);
      pos = end + 1;
      cur_ = 0;
      SkipBlanks();
      if (cur_ == line_.size()) continue;
      absl::Status status = line_[cur_] == '#' ? Comment() : SampleLine();
      if (!status.ok()) return status;
    }
    return builder_.Finish(has_timestamp_);
  }

 private:
  absl::Status Error(std::string_view message) const {
    return absl::InvalidArgumentError(
        StrCat("text format parsing error in line ", line_number_, ": ", message));
  }
  void SkipBlanks() {
    while (cur_ < line_.size() && IsBlank(line_[cur_])) ++cur_;
  }
  // Reads up to a blank or the end of the line.
  std::string_view Token() {
    const size_t start = cur_;
    while (cur_ < line_.size() && !IsBlank(line_[cur_])) ++cur_;
    return line_.substr(start, cur_ - start);
  }
  // Reads the longest run of metric name characters.
  std::string_view MetricName() {
    const size_t start = cur_;
    while (cur_ < line_.size()) {
      const char c = line_[cur_];
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
                      (cur_ > start && c >= '0' && c <= '9');
      if (!ok) break;
      ++cur_;
    }
    return line_.substr(start, cur_ - start);
  }

  absl::Status Comment() {
    ++cur_;  // '#'
    SkipBlanks();
    const std::string_view keyword = Token();
    if (keyword != "HELP" && keyword != "TYPE") return absl::OkStatus();  // a comment
    SkipBlanks();
    const std::string_view name = MetricName();
    if (name.empty() || (cur_ < line_.size() && !IsBlank(line_[cur_]))) {
      return Error("invalid metric name in comment");
    }
    SkipBlanks();
    std::string_view suffix;
    FamilyBuilder::Family& family = builder_.For(name, &suffix);
    if (keyword == "HELP") {
      if (family.has_help) return Error(StrCat("second HELP line for metric name ", GoQuote(name)));
      std::string help;
      for (; cur_ < line_.size(); ++cur_) {
        const char c = line_[cur_];
        if (c != '\\') {
          help += c;
          continue;
        }
        if (++cur_ == line_.size()) return Error("invalid escape sequence '\\' at end of line");
        if (line_[cur_] == '\\') {
          help += '\\';
        } else if (line_[cur_] == 'n') {
          help += '\n';
        } else {
          return Error(StrCat("invalid escape sequence '\\", line_[cur_], "'"));
        }
      }
      family.family.help = std::move(help);
      family.has_help = true;
      return absl::OkStatus();
    }
    const std::string_view type = line_.substr(cur_);  // the rest of the line, as Go reads it
    if (family.has_type || family.has_samples) {
      return Error(StrCat("second TYPE line for metric name ", GoQuote(family.family.name),
                          ", or TYPE reported after samples"));
    }
    if (EqualsIgnoreCase(type, "counter")) {
      family.family.type = MetricType::kCounter;
    } else if (EqualsIgnoreCase(type, "gauge")) {
      family.family.type = MetricType::kGauge;
    } else if (EqualsIgnoreCase(type, "histogram")) {
      family.family.type = MetricType::kHistogram;
    } else if (EqualsIgnoreCase(type, "summary")) {
      family.family.type = MetricType::kSummary;
    } else if (EqualsIgnoreCase(type, "untyped")) {
      family.family.type = MetricType::kUntyped;
    } else if (EqualsIgnoreCase(type, "gauge_histogram")) {
      return Error("gauge histograms are not supported");
    } else {
      return Error(StrCat("unknown metric type ", GoQuote(type)));
    }
    family.has_type = true;
    return absl::OkStatus();
  }

  absl::Status SampleLine() {
    const std::string_view name = MetricName();
    if (name.empty()) return Error(StrCat("invalid metric name ", GoQuote(Token())));
    std::string_view suffix;
    FamilyBuilder::Family& family = builder_.For(name, &suffix);
    const MetricType type = family.family.type;
    std::vector<Label> labels;
    labels.reserve(6);  // room for the push's grouping labels too: no reallocation later
    std::optional<std::string> le;
    std::optional<std::string> quantile;
    SkipBlanks();
    if (cur_ < line_.size() && line_[cur_] == '{') {
      ++cur_;
      for (;;) {
        SkipBlanks();
        if (cur_ < line_.size() && line_[cur_] == '}') break;
        const size_t start = cur_;
        const std::string_view label = MetricName();
        if (label.empty() || label.find(':') != std::string_view::npos) {
          cur_ = start;
          return Error(StrCat("invalid label name for metric ", GoQuote(name)));
        }
        if (label == "__name__")
          return Error(StrCat("label name ", GoQuote(label), " is reserved"));
        SkipBlanks();
        if (cur_ == line_.size() || line_[cur_] != '=') {
          return Error(
              StrCat("expected '=' after label name, found ", GoQuote(line_.substr(cur_, 1))));
        }
        ++cur_;
        SkipBlanks();
        if (cur_ == line_.size() || line_[cur_] != '"') {
          return Error(StrCat("expected '\"' at start of label value, found ",
                              GoQuote(line_.substr(cur_, 1))));
        }
        ++cur_;
        std::string value;
        for (;;) {
          if (cur_ == line_.size())
            return Error(StrCat("label value ", GoQuote(value), " contains unescaped new-line"));
          // Copy up to the next quote or backslash in one go.
          const size_t stop = line_.find_first_of("\"\\", cur_);
          const size_t end = stop == std::string_view::npos ? line_.size() : stop;
          value.append(line_.substr(cur_, end - cur_));
          cur_ = end;
          if (cur_ == line_.size()) continue;  // reported above
          const char c = line_[cur_++];
          if (c == '"') break;
          if (cur_ == line_.size()) return Error("invalid escape sequence at end of line");
          const char e = line_[cur_++];
          if (e == '\\' || e == '"') {
            value += e;
          } else if (e == 'n') {
            value += '\n';
          } else {
            return Error(StrCat("invalid escape sequence '\\", e, "'"));
          }
        }
        if (!IsValidUtf8(value)) return Error(StrCat("invalid label value ", GoQuote(value)));
        const bool special =
            (type == MetricType::kHistogram && suffix == "_bucket" && label == "le") ||
            (type == MetricType::kSummary && suffix.empty() && label == "quantile");
        for (const Label& held : labels) {
          if (held.first == label) {
            return Error(StrCat("duplicate label names for metric ", GoQuote(name)));
          }
        }
        if ((label == "le" && le) || (label == "quantile" && quantile)) {
          return Error(StrCat("duplicate label names for metric ", GoQuote(name)));
        }
        if (special && label == "le") {
          le = std::move(value);
        } else if (special) {
          quantile = std::move(value);
        } else {
          labels.emplace_back(std::string(label), std::move(value));
        }
        SkipBlanks();
        if (cur_ < line_.size() && line_[cur_] == ',') {
          ++cur_;
          continue;
        }
        if (cur_ < line_.size() && line_[cur_] == '}') break;
        return Error(StrCat("unexpected end of label value ",
                            GoQuote(labels.empty() ? "" : labels.back().second)));
      }
      ++cur_;  // '}'
    }
    SkipBlanks();
    const std::string_view value_text = Token();
    double value;
    if (!ParseGoFloat(value_text, &value)) {
      return Error(StrCat("expected float as value, got ", GoQuote(value_text)));
    }
    if (cur_ < line_.size()) {  // a blank: a timestamp follows, as Go reads it
      SkipBlanks();
      const std::string_view timestamp = Token();
      int64_t ms;
      const auto [end, ec] =
          std::from_chars(timestamp.data(), timestamp.data() + timestamp.size(), ms);
      if (ec != std::errc() || end != timestamp.data() + timestamp.size()) {
        return Error(StrCat("expected integer as timestamp, got ", GoQuote(timestamp)));
      }
      if (cur_ < line_.size()) {
        return Error(StrCat("spurious string after timestamp: ", GoQuote(line_.substr(cur_))));
      }
      has_timestamp_ = true;
    }
    family.has_samples = true;
    if (type == MetricType::kHistogram) {
      Sample& sample = builder_.SampleFor(family, std::move(labels));
      if (suffix == "_sum") {
        sample.histogram->sum = value;
      } else if (suffix == "_count") {
        builder_.SetCount(family, sample, value);
      } else if (suffix == "_bucket" && le) {
        double bound;
        if (!ParseGoFloat(*le, &bound)) {
          return Error(StrCat("expected float as value for 'le' label, got ", GoQuote(*le)));
        }
        sample.histogram->buckets.emplace_back(bound, value);
      }  // a bucket without `le`, or no suffix: the series exists, empty (as in Go)
    } else if (type == MetricType::kSummary) {
      Sample& sample = builder_.SampleFor(family, std::move(labels));
      if (suffix == "_sum") {
        sample.summary->sum = value;
      } else if (suffix == "_count") {
        sample.summary->count = value;
      } else if (quantile) {
        double q;
        if (!ParseGoFloat(*quantile, &q)) {
          return Error(
              StrCat("expected float as value for 'quantile' label, got ", GoQuote(*quantile)));
        }
        sample.summary->quantiles.emplace_back(q, value);
      }
    } else {
      Sample sample;
      sample.labels = std::move(labels);
      sample.value = value;
      family.family.samples.push_back(std::move(sample));
    }
    return absl::OkStatus();
  }

  const std::string_view body_;
  std::string_view line_;
  size_t cur_ = 0;
  uint64_t line_number_ = 0;
  bool has_timestamp_ = false;
  FamilyBuilder builder_;
};

// A protobuf reader over one message's bytes.
class ProtoReader {
 public:
  explicit ProtoReader(std::string_view data) : data_(data) {}

  bool done() const { return pos_ == data_.size(); }

  bool Varint(uint64_t* value) {
    *value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ == data_.size()) return false;
      const uint8_t byte = static_cast<uint8_t>(data_[pos_++]);
      *value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return true;
    }
    return false;
  }
  // The next field's number and wire type.
  bool Tag(uint32_t* field, uint32_t* wire) {
    uint64_t tag;
    if (!Varint(&tag) || (tag >> 3) == 0 || (tag >> 3) > UINT32_MAX) return false;
    *field = static_cast<uint32_t>(tag >> 3);
    *wire = static_cast<uint32_t>(tag & 7);
    return true;
  }
  bool Bytes(std::string_view* bytes) {
    uint64_t size;
    if (!Varint(&size) || size > data_.size() - pos_) return false;
    *bytes = data_.substr(pos_, size);
    pos_ += size;
    return true;
  }
  bool Double(double* value) {
    if (data_.size() - pos_ < 8) return false;
    std::memcpy(value, data_.data() + pos_, 8);  // little-endian, as this machine
    pos_ += 8;
    return true;
  }
  bool Skip(uint32_t wire) {
    uint64_t ignored;
    std::string_view bytes;
    switch (wire) {
      case 0:
        return Varint(&ignored);
      case 1:
        if (data_.size() - pos_ < 8) return false;
        pos_ += 8;
        return true;
      case 2:
        return Bytes(&bytes);
      case 5:
        if (data_.size() - pos_ < 4) return false;
        pos_ += 4;
        return true;
      default:
        return false;  // groups are not in this schema
    }
  }
  // Reads a double field (wire type 1) into `*value`, or skips another wire type.
  bool DoubleField(uint32_t wire, double* value) { return wire == 1 ? Double(value) : Skip(wire); }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

absl::Status ProtoError(std::string_view what) {
  return absl::InvalidArgumentError(StrCat("invalid protobuf MetricFamily: ", what));
}

// Reads a message holding only double fields (Gauge, Counter, Untyped: field 1 is the value).
bool ReadValueMessage(std::string_view bytes, double* value) {
  ProtoReader reader(bytes);
  while (!reader.done()) {
    uint32_t field, wire;
    if (!reader.Tag(&field, &wire)) return false;
    if (field == 1 && wire == 1) {
      if (!reader.Double(value)) return false;
    } else if (!reader.Skip(wire)) {
      return false;
    }
  }
  return true;
}

// Reads one Metric; `*value_field` is set to the field number of the value it held.
absl::Status ReadMetric(std::string_view bytes, Sample* sample, bool* has_timestamp,
                        std::vector<uint32_t>* value_fields, std::optional<double>* hist_count) {
  ProtoReader reader(bytes);
  while (!reader.done()) {
    uint32_t field, wire;
    if (!reader.Tag(&field, &wire)) return ProtoError("truncated Metric");
    std::string_view sub;
    if (field == 6) {
      uint64_t ignored;
      if (wire != 0 || !reader.Varint(&ignored)) return ProtoError("bad timestamp_ms");
      *has_timestamp = true;
      continue;
    }
    if (field > 7 || wire != 2) {
      if (!reader.Skip(wire)) return ProtoError("truncated Metric");
      continue;
    }
    if (!reader.Bytes(&sub)) return ProtoError("truncated Metric");
    ProtoReader inner(sub);
    switch (field) {
      case 1: {  // LabelPair
        Label label;
        while (!inner.done()) {
          uint32_t f, w;
          std::string_view text;
          if (!inner.Tag(&f, &w)) return ProtoError("truncated LabelPair");
          if ((f == 1 || f == 2) && w == 2) {
            if (!inner.Bytes(&text)) return ProtoError("truncated LabelPair");
            (f == 1 ? label.first : label.second) = std::string(text);
          } else if (!inner.Skip(w)) {
            return ProtoError("truncated LabelPair");
          }
        }
        sample->labels.push_back(std::move(label));
        break;
      }
      case 2:
      case 3:
      case 5:
        if (!ReadValueMessage(sub, &sample->value)) return ProtoError("truncated value");
        value_fields->push_back(field);
        break;
      case 4: {  // Summary
        SummaryValue summary;
        while (!inner.done()) {
          uint32_t f, w;
          if (!inner.Tag(&f, &w)) return ProtoError("truncated Summary");
          bool ok;
          if (f == 1 && w == 0) {
            uint64_t count;
            ok = inner.Varint(&count);
            summary.count = static_cast<double>(count);
          } else if (f == 2) {
            ok = inner.DoubleField(w, &summary.sum);
          } else if (f == 3 && w == 2) {
            std::string_view q;
            ok = inner.Bytes(&q);
            ProtoReader quantile(q);
            double at = 0, value = 0;
            while (ok && !quantile.done()) {
              uint32_t qf, qw;
              ok = quantile.Tag(&qf, &qw) && (qf == 1   ? quantile.DoubleField(qw, &at)
                                              : qf == 2 ? quantile.DoubleField(qw, &value)
                                                        : quantile.Skip(qw));
            }
            summary.quantiles.emplace_back(at, value);
          } else {
            ok = inner.Skip(w);
          }
          if (!ok) return ProtoError("truncated Summary");
        }
        sample->summary = std::move(summary);
        value_fields->push_back(field);
        break;
      }
      case 7: {  // Histogram: classic buckets; native fields skipped
        HistogramValue histogram;
        while (!inner.done()) {
          uint32_t f, w;
          if (!inner.Tag(&f, &w)) return ProtoError("truncated Histogram");
          bool ok;
          if (f == 1 && w == 0) {
            uint64_t count;
            ok = inner.Varint(&count);
            *hist_count = static_cast<double>(count);
          } else if (f == 4 && w == 1) {
            double count;
            ok = inner.Double(&count);
            *hist_count = count;
          } else if (f == 2) {
            ok = inner.DoubleField(w, &histogram.sum);
          } else if (f == 3 && w == 2) {
            std::string_view b;
            ok = inner.Bytes(&b);
            ProtoReader bucket(b);
            double bound = 0, count = 0;
            while (ok && !bucket.done()) {
              uint32_t bf, bw;
              ok = bucket.Tag(&bf, &bw);
              if (!ok) break;
              if (bf == 1 && bw == 0) {
                uint64_t c;
                ok = bucket.Varint(&c);
                count = static_cast<double>(c);
              } else if (bf == 4 && bw == 1) {
                ok = bucket.Double(&count);
              } else if (bf == 2) {
                ok = bucket.DoubleField(bw, &bound);
              } else {
                ok = bucket.Skip(bw);
              }
            }
            histogram.buckets.emplace_back(bound, count);
          } else {
            ok = inner.Skip(w);
          }
          if (!ok) return ProtoError("truncated Histogram");
        }
        sample->histogram = std::move(histogram);
        value_fields->push_back(field);
        break;
      }
      default:
        break;
    }
  }
  return absl::OkStatus();
}

}  // namespace

bool ParseGoFloat(std::string_view text, double* value) {
  if (text.empty()) return false;
  std::string_view rest = text;
  bool negative = false;
  if (rest[0] == '+' || rest[0] == '-') {
    negative = rest[0] == '-';
    rest.remove_prefix(1);
  }
  if (EqualsIgnoreCase(rest, "inf") || EqualsIgnoreCase(rest, "infinity")) {
    *value = negative ? -kInf : kInf;
    return true;
  }
  if (EqualsIgnoreCase(rest, "nan")) {
    *value = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  // Decimal only: expfmt refuses `p` and `_` before strconv sees them, so hexadecimal floats
  // (which need a `p` exponent) and digit separators never parse.
  if (rest.empty() || rest.find_first_not_of("0123456789.eE+-") != std::string_view::npos ||
      rest[0] == '+' || rest[0] == '-') {
    return false;
  }
  double parsed;
  const auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), parsed);
  if (ec != std::errc() || end != rest.data() + rest.size()) return false;
  *value = negative ? -parsed : parsed;
  return true;
}

absl::StatusOr<ParsedExposition> ParseTextFormat(std::string_view body) {
  return TextParser(body).Parse();
}

absl::StatusOr<ParsedExposition> ParseProtoDelimited(std::string_view body) {
  FamilyBuilder builder;
  bool has_timestamp = false;
  ProtoReader stream(body);
  while (!stream.done()) {
    std::string_view message;
    if (!stream.Bytes(&message)) return ProtoError("truncated length-delimited message");
    std::string_view name;  // a view of the body, as the builder keeps it
    std::string help;
    uint64_t type = 0;  // COUNTER, proto2's default
    std::vector<std::string_view> metrics;
    ProtoReader reader(message);
    while (!reader.done()) {
      uint32_t field, wire;
      if (!reader.Tag(&field, &wire)) return ProtoError("truncated MetricFamily");
      std::string_view bytes;
      bool ok;
      if (field == 3 && wire == 0) {
        ok = reader.Varint(&type);
      } else if ((field == 1 || field == 2 || field == 4) && wire == 2) {
        ok = reader.Bytes(&bytes);
        if (field == 1) name = bytes;
        if (field == 2) help = std::string(bytes);
        if (field == 4) metrics.push_back(bytes);
      } else {
        ok = reader.Skip(wire);
      }
      if (!ok) return ProtoError("truncated MetricFamily");
    }
    static constexpr MetricType kTypes[] = {MetricType::kCounter, MetricType::kGauge,
                                            MetricType::kSummary, MetricType::kUntyped,
                                            MetricType::kHistogram};
    if (type == 5)
      return ProtoError(
          StrCat("family ", GoQuote(name), " is a gauge histogram, which is not supported"));
    if (type > 4) return ProtoError(StrCat("family ", GoQuote(name), " has unknown type ", type));
    FamilyBuilder::Family& family = builder.Replace(name);
    family.family.help = std::move(help);
    family.family.type = kTypes[type];
    // The field that holds a value of this type: gauge 2, counter 3, summary 4, untyped 5,
    // histogram 7.
    static constexpr uint32_t kValueField[] = {3, 2, 4, 5, 7};
    for (std::string_view bytes : metrics) {
      Sample sample;
      std::vector<uint32_t> value_fields;
      std::optional<double> count;
      if (absl::Status status = ReadMetric(bytes, &sample, &has_timestamp, &value_fields, &count);
          !status.ok()) {
        return status;
      }
      if (std::find(value_fields.begin(), value_fields.end(), kValueField[type]) ==
          value_fields.end()) {
        static constexpr const char* kNames[] = {"COUNTER", "GAUGE", "SUMMARY", "UNTYPED",
                                                 "HISTOGRAM"};
        return absl::InvalidArgumentError(
            StrCat("metric of family ", GoQuote(name), " is not a ", kNames[type]));
      }
      family.family.samples.push_back(std::move(sample));
      if (family.family.type == MetricType::kHistogram) {
        FamilyBuilder::grouped(family).counts.push_back(count);
      }
      family.has_samples = true;
    }
  }
  return builder.Finish(has_timestamp);
}

}  // namespace metricsgate::ingest

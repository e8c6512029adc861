#include "export/graphite_rollup.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <utility>

#include "export/text_format.h"

namespace metricsgate::exporter {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// JavaScript's Math.round: to the nearest integer, halves up. Not floor(x + 0.5), which
// rounds 0.49999999999999994 to 1.
double JsRound(double x) {
  const double floor = std::floor(x);
  return x - floor >= 0.5 ? floor + 1 : floor;
}

// A timer's values in ascending order, read the way Etsy's process_metrics reads its sorted
// array: by rank, and by running sums of the lowest k values and of their squares, added up
// in the same order as Etsy (so the sums are the same doubles). Either every value (exact), or
// a sketch's buckets, each standing for `weight` values.
class SortedValues {
 public:
  explicit SortedValues(const std::vector<double>& sorted) : values_(sorted) {
    weights_.assign(values_.size(), 1);
    Accumulate();
  }
  explicit SortedValues(const std::vector<std::pair<double, double>>& buckets) {
    for (const auto& [value, weight] : buckets) {
      values_.push_back(value);
      weights_.push_back(std::round(weight));
    }
    Accumulate();
  }

  size_t size() const { return size_; }
  // The value of rank `r` (0-based). REQUIRES: r < size().
  double At(size_t r) const { return values_[Run(r)]; }
  // The sum of the lowest `k` values (Etsy's cumulativeValues[k - 1]). REQUIRES: 1 <= k <= size().
  double Sum(size_t k) const { return Partial(k, sums_, false); }
  double SumSquares(size_t k) const { return Partial(k, squares_, true); }
  // The sum of (v - mean)^2 over all values, in order (Etsy's two-pass deviation).
  double SquaredDeviations(double mean) const {
    double total = 0;
    for (size_t j = 0; j < values_.size(); ++j) {
      const double d = values_[j] - mean;
      if (weights_[j] == 1) {
        total += d * d;
      } else {
        total += weights_[j] * d * d;
      }
    }
    return total;
  }
  // Values below `bound`, from rank `*from` on; moves `*from` past them.
  size_t CountBelow(double bound, size_t* from) const {
    size_t counted = 0;
    while (*from < size_ && At(*from) < bound) {
      const size_t run = Run(*from);
      const size_t run_end = static_cast<size_t>(ends_[run]);
      counted += run_end - *from;
      *from = run_end;
    }
    return counted;
  }

 private:
  void Accumulate() {
    double count = 0;
    double sum = 0;
    double squares = 0;
    for (size_t j = 0; j < values_.size(); ++j) {
      const double v = values_[j];
      const double w = weights_[j];
      // Etsy: cumulativeValues[i] = values[i] + cumulativeValues[i - 1], starting at min.
      sum = j == 0 ? v * w : (w == 1 ? v + sum : v * w + sum);
      squares = j == 0 ? v * v * w : (w == 1 ? v * v + squares : v * v * w + squares);
      count += w;
      ends_.push_back(count);
      sums_.push_back(sum);
      squares_.push_back(squares);
    }
    size_ = static_cast<size_t>(count);
  }
  // The run that holds rank r.
  size_t Run(size_t r) const {
    return static_cast<size_t>(
        std::upper_bound(ends_.begin(), ends_.end(), static_cast<double>(r)) - ends_.begin());
  }
  double Partial(size_t k, const std::vector<double>& running, bool squared) const {
    const size_t run = Run(k - 1);
    const double before_count = run == 0 ? 0 : ends_[run - 1];
    if (static_cast<double>(k) == ends_[run]) return running[run];
    const double before = run == 0 ? 0 : running[run - 1];
    const double v = values_[run];
    return before + (static_cast<double>(k) - before_count) * (squared ? v * v : v);
  }

  std::vector<double> values_;
  std::vector<double> weights_;
  std::vector<double> ends_;  // values up to and including each run
  std::vector<double> sums_;
  std::vector<double> squares_;
  size_t size_ = 0;
};

// Etsy's calculatedTimerMetrics name for a timer value: `_P` or `_topP` at the end becomes
// `_percent` (the regex /_(top)?\d+$/).
std::string FilterName(std::string_view key) {
  size_t digits = key.size();
  while (digits > 0 && key[digits - 1] >= '0' && key[digits - 1] <= '9') --digits;
  if (digits == key.size()) return std::string(key);
  size_t underscore = digits;
  if (underscore >= 4 && key.substr(underscore - 3, 3) == "top" && key[underscore - 4] == '_') {
    underscore -= 4;
  } else if (underscore >= 1 && key[underscore - 1] == '_') {
    underscore -= 1;
  } else {
    return std::string(key);
  }
  return std::string(key.substr(0, underscore)) + "_percent";
}

// Etsy's percent-threshold label: the number as JavaScript writes it, its first `.` made `_`
// and its first `-` made `top`.
std::string PercentLabel(double pct) {
  std::string text;
  AppendJsNumber(pct, &text);
  if (size_t dot = text.find('.'); dot != std::string::npos) text[dot] = '_';
  if (size_t minus = text.find('-'); minus != std::string::npos) text.replace(minus, 1, "top");
  return text;
}

std::string BinLabel(double bound) {
  if (std::isinf(bound) && bound > 0) return "bin_inf";
  std::string text = "bin_";
  AppendJsNumber(bound, &text);
  if (size_t dot = text.find('.'); dot != std::string::npos) text[dot] = '_';
  return text;
}

// Builds Graphite names as Etsy's `format(namespace, key, ...parts)`: the namespace, the key's
// name, the parts, joined by `.`, then the global suffix, then the key's tags.
class Namer {
 public:
  explicit Namer(const GraphiteRollupOptions& options) : options_(options) {
    if (!options.global_suffix.empty()) suffix_ = "." + options.global_suffix;
    if (options.legacy_namespace) {
      global_ = counter_ = {"stats"};
      timer_ = {"stats", "timers"};
      gauge_ = {"stats", "gauges"};
      set_ = {"stats", "sets"};
      return;
    }
    for (auto* ns : {&global_, &counter_, &timer_, &gauge_, &set_}) {
      if (!options.global_prefix.empty()) ns->push_back(options.global_prefix);
    }
    const auto add = [](std::vector<std::string>* ns, const std::string& prefix) {
      if (!prefix.empty()) ns->push_back(prefix);
    };
    add(&counter_, options.prefix_counter);
    add(&timer_, options.prefix_timer);
    add(&gauge_, options.prefix_gauge);
    add(&set_, options.prefix_set);
  }

  const std::vector<std::string>& global() const { return global_; }
  const std::vector<std::string>& counter() const { return counter_; }
  const std::vector<std::string>& timer() const { return timer_; }
  const std::vector<std::string>& gauge() const { return gauge_; }
  const std::vector<std::string>& set() const { return set_; }
  const std::string& suffix() const { return suffix_; }

  // The name into `*out`.
  void Format(const std::vector<std::string>& ns, std::string_view key,
              std::initializer_list<std::string_view> parts, std::string* out) const {
    out->clear();
    const size_t semicolon = key.find(';');
    const std::string_view name = key.substr(0, semicolon);
    for (const std::string& element : ns) {
      out->append(element);
      out->push_back('.');
    }
    out->append(name);
    for (std::string_view part : parts) {
      out->push_back('.');
      out->append(part);
    }
    out->append(suffix_);
    if (semicolon != std::string_view::npos) out->append(key.substr(semicolon));
  }

 private:
  const GraphiteRollupOptions& options_;
  std::vector<std::string> global_, counter_, timer_, gauge_, set_;
  std::string suffix_;
};

struct TimerWriter {
  const GraphiteRollupOptions& options;
  const Namer& namer;
  std::string_view key;
  GraphiteBatch* out;
  std::string name;

  bool Wanted(std::string_view value_name) const {
    const auto& wanted = options.calculated_timer_metrics;
    if (wanted.empty()) return true;
    return std::find(wanted.begin(), wanted.end(), FilterName(value_name)) != wanted.end();
  }
  void Emit(std::string_view value_name, double value) {
    if (!Wanted(value_name)) return;
    namer.Format(namer.timer(), key, {value_name}, &name);
    out->Add(name, value);
  }
};

void ComputeTimer(std::string_view key, storage::TimerSamples& samples,
                  const GraphiteRollupOptions& options, const Namer& namer, GraphiteBatch* out) {
  TimerWriter writer{options, namer, key, out, {}};
  const double interval_s = static_cast<double>(options.flush_interval.count()) / 1000;
  if (samples.values() == 0) {
    writer.Emit("count", 0);
    writer.Emit("count_ps", 0);
    return;
  }
  const SortedValues values =
      samples.exact() ? SortedValues(samples.Sorted()) : SortedValues(samples.sketch().Buckets());
  const size_t count = values.size();
  const double min = samples.min();
  const double max = samples.max();
  double sum = min;
  double sum_squares = min * min;
  double mean = min;
  double boundary = max;
  for (double pct : options.percent_thresholds) {
    double in_threshold = static_cast<double>(count);
    if (count > 1) {
      in_threshold = JsRound(std::abs(pct) / 100 * static_cast<double>(count));
      if (in_threshold == 0) continue;
      const size_t k = static_cast<size_t>(in_threshold);
      if (pct > 0) {
        boundary = values.At(k - 1);
        sum = values.Sum(k);
        sum_squares = values.SumSquares(k);
      } else {
        boundary = values.At(count - k);
        // Etsy reads cumulativeValues[-1] (undefined) when the top P holds every value: NaN.
        sum = k == count ? kNaN : values.Sum(count) - values.Sum(count - k);
        sum_squares = k == count ? kNaN : values.SumSquares(count) - values.SumSquares(count - k);
      }
      mean = sum / in_threshold;
    }
    const std::string label = PercentLabel(pct);
    writer.Emit("count_" + label, in_threshold);
    writer.Emit("mean_" + label, mean);
    writer.Emit((pct > 0 ? "upper_" : "lower_") + label, boundary);
    writer.Emit("sum_" + label, sum);
    writer.Emit("sum_squares_" + label, sum_squares);
  }
  if (samples.exact()) {
    sum = values.Sum(count);
    sum_squares = values.SumSquares(count);
  } else {
    sum = samples.sum();
    sum_squares = samples.sum_of_squares();
  }
  mean = sum / static_cast<double>(count);
  const double deviations =
      samples.exact() ? values.SquaredDeviations(mean)
                      : std::max(0.0, sum_squares - sum * sum / static_cast<double>(count));
  const size_t mid = count / 2;
  const double median = count % 2 ? values.At(mid) : (values.At(mid - 1) + values.At(mid)) / 2;
  writer.Emit("std", std::sqrt(deviations / static_cast<double>(count)));
  writer.Emit("upper", max);
  writer.Emit("lower", min);
  writer.Emit("count", samples.count());
  writer.Emit("count_ps", samples.count() / interval_s);
  writer.Emit("sum", sum);
  writer.Emit("sum_squares", sum_squares);
  writer.Emit("mean", mean);
  writer.Emit("median", median);
  const std::vector<double>* bins = nullptr;
  for (const TimerHistogramBins& histogram : options.histograms) {
    if (key.find(histogram.metric) != std::string_view::npos) {
      bins = &histogram.bins;
      break;
    }
  }
  if (bins == nullptr || bins->empty() || !writer.Wanted("histogram")) return;
  size_t from = 0;
  for (double bound : *bins) {
    const std::string label = BinLabel(bound);
    const size_t freq = std::isinf(bound) && bound > 0 ? count - std::min(from, count)
                                                       : values.CountBelow(bound, &from);
    if (std::isinf(bound) && bound > 0) from = count;
    namer.Format(namer.timer(), key, {"histogram", label}, &writer.name);
    out->Add(writer.name, static_cast<double>(freq));
  }
}

}  // namespace

void AppendJsNumber(double value, std::string* out) {
  if (std::isnan(value)) {
    out->append("NaN");
    return;
  }
  if (std::isinf(value)) {
    out->append(value > 0 ? "Infinity" : "-Infinity");
    return;
  }
  if (value == 0) {
    out->push_back('0');
    return;
  }
  char buf[64];
  // Whole numbers below 2^53 (counts, most values) are their digits.
  if (std::abs(value) < 9007199254740992.0 && value == std::trunc(value)) {
    const auto end = std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(value)).ptr;
    out->append(buf, static_cast<size_t>(end - buf));
    return;
  }
  // Shortest round-trip digits, as [-]d[.ddd]e±x.
  const auto result = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific);
  std::string_view text(buf, static_cast<size_t>(result.ptr - buf));
  if (text.front() == '-') {
    out->push_back('-');
    text.remove_prefix(1);
  }
  const size_t e = text.find('e');
  char digits[32];
  int k = 0;
  for (char c : text.substr(0, e)) {
    if (c != '.') digits[k++] = c;
  }
  int exponent = 0;
  std::from_chars(text.data() + e + 1 + (text[e + 1] == '+'), text.data() + text.size(), exponent);
  const int n = exponent + 1;  // ECMAScript's n: the decimal point after n digits
  const std::string_view all(digits, static_cast<size_t>(k));
  if (k <= n && n <= 21) {
    out->append(all);
    out->append(static_cast<size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out->append(all.substr(0, static_cast<size_t>(n)));
    out->push_back('.');
    out->append(all.substr(static_cast<size_t>(n)));
  } else if (-6 < n && n <= 0) {
    out->append("0.");
    out->append(static_cast<size_t>(-n), '0');
    out->append(all);
  } else {
    out->push_back(digits[0]);
    if (k > 1) {
      out->push_back('.');
      out->append(all.substr(1));
    }
    out->push_back('e');
    out->push_back(n - 1 >= 0 ? '+' : '-');
    const auto end = std::to_chars(buf, buf + sizeof buf, std::abs(n - 1)).ptr;
    out->append(buf, static_cast<size_t>(end - buf));
  }
}

void ComputeGraphiteRollups(storage::RollupInterval& interval, const FlushSelfMetrics& self,
                            const GraphiteRollupOptions& options, GraphiteBatch* out) {
  const Namer namer(options);
  const double interval_s = static_cast<double>(options.flush_interval.count()) / 1000;
  std::string name;
  size_t num_stats = 0;
  {
    // Reserves about what this flush adds: growing by doubling would touch (and copy) up to
    // twice the memory, and on a first flush each page touched is a page fault.
    size_t bins = 0;
    for (const auto& histogram : options.histograms) bins = std::max(bins, histogram.bins.size());
    const size_t per_timer = 10 + 5 * options.percent_thresholds.size() + bins;
    const auto key_bytes = [&](const auto& entries) {
      size_t bytes = 0;
      for (const auto& entry : entries) bytes += entry.first.size;
      return bytes;
    };
    constexpr size_t kNameExtra = 32;  // prefixes and suffixes, about
    const size_t points = 2 * interval.counters.size() + per_timer * interval.timers.size() +
                          interval.gauges.size() + interval.sets.size() + 32;
    const size_t bytes =
        2 * (key_bytes(interval.counters) + kNameExtra * interval.counters.size()) +
        per_timer * (key_bytes(interval.timers) + kNameExtra * interval.timers.size()) +
        key_bytes(interval.gauges) + kNameExtra * interval.gauges.size() +
        key_bytes(interval.sets) + kNameExtra * interval.sets.size() + 32 * 64;
    // A draining batch holds one chunk at most.
    const size_t chunk = out->drain ? std::min(points, out->drain_points) : points;
    out->points.reserve(out->points.size() + chunk);
    out->names.reserve(out->names.size() + bytes / points * chunk + 4096);
  }
  const auto counter = [&](std::string_view key, double value) {
    if (options.legacy_namespace) {
      namer.Format(namer.counter(), key, {}, &name);
      out->Add(name, value / interval_s);
      if (options.flush_counts) {
        namer.Format({"stats_counts"}, key, {}, &name);
        out->Add(name, value);
      }
    } else {
      namer.Format(namer.counter(), key, {"rate"}, &name);
      out->Add(name, value / interval_s);
      if (options.flush_counts) {
        namer.Format(namer.counter(), key, {"count"}, &name);
        out->Add(name, value);
      }
    }
    ++num_stats;
  };
  const std::string& stats = options.prefix_stats;
  counter(stats + ".bad_lines_seen", static_cast<double>(interval.bad_lines_seen));
  counter(stats + ".packets_received", static_cast<double>(interval.packets_received));
  counter(stats + ".metrics_received", static_cast<double>(interval.metrics_received));
  for (const auto& [key, value] : interval.counters) counter(interval.key(key), value);
  for (auto& [key, samples] : interval.timers) {
    ComputeTimer(interval.key(key), samples, options, namer, out);
    ++num_stats;
  }
  const auto gauge = [&](std::string_view key, double value) {
    namer.Format(namer.gauge(), key, {}, &name);
    out->Add(name, value);
    ++num_stats;
  };
  if (self.has_timestamp_lag) gauge(stats + ".timestamp_lag", self.timestamp_lag);
  for (const auto& [key, value] : interval.gauges) gauge(interval.key(key), value);
  for (const auto& [key, members] : interval.sets) {
    namer.Format(namer.set(), interval.key(key), {"count"}, &name);
    out->Add(name, static_cast<double>(members));
    ++num_stats;
  }
  // Etsy's self-metrics. processing_time and calculationtime are milliseconds Etsy spends in
  // its own code; ours take less than one, as Etsy's do on a small interval.
  const std::string& suffix = namer.suffix();
  const auto self_metric = [&](std::initializer_list<std::string_view> parts, double value) {
    namer.Format(namer.global(), stats, parts, &name);
    out->Add(name, value);
  };
  if (options.legacy_namespace) {
    out->Add(stats + ".numStats" + suffix, static_cast<double>(num_stats));
    out->Add("stats." + stats + ".graphiteStats.calculationtime" + suffix, 0);
    out->Add("stats." + stats + ".processing_time" + suffix, 0);
  } else {
    self_metric({"numStats"}, static_cast<double>(num_stats));
    self_metric({"graphiteStats", "calculationtime"}, 0);
    self_metric({"processing_time"}, 0);
  }
  self_metric({"graphiteStats", "last_exception"}, self.last_exception);
  self_metric({"graphiteStats", "last_flush"}, self.last_flush);
  self_metric({"graphiteStats", "flush_time"}, self.flush_time_ms);
  self_metric({"graphiteStats", "flush_length"}, self.flush_length);
}

namespace {

// Appends a tag value Graphite accepts (see AppendTaggedFamilies).
void AppendTagValue(std::string_view value, std::string* out) {
  for (size_t i = 0; i < value.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    const bool bad = c == ';' || c <= ' ' || c == 0x7f || (i == 0 && c == '~');
    out->push_back(bad ? '_' : static_cast<char>(c));
  }
}

// One series: `name` + `suffix`, the sample's labels and an extra tag (`le`, `quantile`)
// when `extra_name` is not empty, in tag-name order. A label called `name` (Graphite's tag for
// the metric's name) goes out as `exported_name`, as Prometheus renames a clashing label.
void AddTaggedPoint(std::string_view name, std::string_view suffix,
                    const std::vector<storage::Label>& labels, std::string_view extra_name,
                    std::string_view extra_value, double value,
                    std::vector<std::pair<std::string_view, std::string_view>>* tags,
                    std::string* key, GraphiteBatch* out) {
  tags->clear();
  for (const auto& [label, label_value] : labels) {
    if (label_value.empty() || label == extra_name) continue;
    tags->emplace_back(label == "name" ? std::string_view("exported_name") : label, label_value);
  }
  if (!extra_name.empty()) tags->emplace_back(extra_name, extra_value);
  std::sort(tags->begin(), tags->end());
  key->assign(name);
  key->append(suffix);
  for (const auto& [tag, tag_value] : *tags) {
    key->push_back(';');
    key->append(tag);
    key->push_back('=');
    AppendTagValue(tag_value, key);
  }
  out->Add(*key, value);
}

}  // namespace

void AppendTaggedFamilies(const std::vector<storage::MetricFamily>& families, GraphiteBatch* out) {
  std::string key;
  std::string bound;
  std::vector<std::pair<std::string_view, std::string_view>> tags;
  for (const auto& family : families) {
    for (const auto& sample : family.samples) {
      if (family.type == storage::MetricType::kHistogram && sample.histogram) {
        for (const auto& [le, count] : sample.histogram->buckets) {
          bound.clear();
          AppendValue(le, &bound);
          AddTaggedPoint(family.name, "_bucket", sample.labels, "le", bound, count, &tags, &key,
                         out);
        }
        const double total =
            sample.histogram->buckets.empty() ? 0 : sample.histogram->buckets.back().second;
        AddTaggedPoint(family.name, "_sum", sample.labels, {}, {}, sample.histogram->sum, &tags,
                       &key, out);
        AddTaggedPoint(family.name, "_count", sample.labels, {}, {}, total, &tags, &key, out);
      } else if (family.type == storage::MetricType::kSummary && sample.summary) {
        for (const auto& [q, v] : sample.summary->quantiles) {
          bound.clear();
          AppendValue(q, &bound);
          AddTaggedPoint(family.name, "", sample.labels, "quantile", bound, v, &tags, &key, out);
        }
        AddTaggedPoint(family.name, "_sum", sample.labels, {}, {}, sample.summary->sum, &tags, &key,
                       out);
        AddTaggedPoint(family.name, "_count", sample.labels, {}, {}, sample.summary->count, &tags,
                       &key, out);
      } else {
        AddTaggedPoint(family.name, "", sample.labels, {}, {}, sample.value, &tags, &key, out);
      }
    }
  }
}

}  // namespace metricsgate::exporter

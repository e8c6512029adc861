#include "storage/series_table.h"

#include <algorithm>
#include <limits>
#include <span>

#include "base/status_macros.h"
#include "base/str_cat.h"
#include "storage/series_key.h"

namespace metricsgate::storage {
namespace {

constexpr std::string_view kHistogramSuffixes[] = {"_bucket", "_sum", "_count"};
constexpr std::string_view kSummarySuffixes[] = {"_sum", "_count"};

}  // namespace

const Buckets& DefaultBuckets() {
  static const Buckets buckets = std::make_shared<const std::vector<double>>(
      std::vector<double>{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10});
  return buckets;
}

SeriesTable::Summary::Summary(std::shared_ptr<const SummarySpec> s, absl::Time now)
    : spec(std::move(s)), parts(std::max(1, spec->age_buckets)), current_start(now) {}

void SeriesTable::Summary::Rotate(absl::Time now) {
  const absl::Duration width = absl::FromChrono(spec->max_age) / static_cast<int64_t>(parts.size());
  if (width <= absl::ZeroDuration()) return;
  if (now - current_start >= width * static_cast<int64_t>(parts.size() + 1)) {
    for (QuantileSketch& part : parts) part.Clear();  // idle for longer than the window
    current_start = now;
    return;
  }
  while (now - current_start >= width) {
    current = (current + 1) % parts.size();
    parts[current].Clear();
    current_start += width;
  }
}

SeriesTable::Histogram::Histogram(Buckets b)
    : bounds(std::move(b)), counts(new std::atomic<double>[bounds->size() + 1]) {
  for (size_t i = 0; i <= bounds->size(); ++i) counts[i].store(0, std::memory_order_relaxed);
}

std::string_view SeriesTable::KindName(Kind kind) {
  switch (kind) {
    case Kind::kCounter:
      return "counter";
    case Kind::kGauge:
      return "gauge";
    case Kind::kHistogram:
      return "timer";
    case Kind::kSummary:
      return "summary timer";
    case Kind::kSet:
      return "set";
  }
  return "unknown";
}

absl::Status SeriesTable::ClaimName(std::string_view name, Kind kind, std::string_view help) {
  absl::MutexLock lock(&names_mu_);
  auto it = names_.find(name);
  if (it != names_.end()) {
    if (it->second.derived) {
      return absl::FailedPreconditionError(StrCat("metric \"", name,
                                                  "\" is written by a timer's histogram; a ",
                                                  KindName(kind), " sample cannot take the name"));
    }
    if (it->second.kind != kind) {
      return absl::FailedPreconditionError(StrCat("metric \"", name, "\" is a ",
                                                  KindName(it->second.kind), "; a ", KindName(kind),
                                                  " sample cannot update it"));
    }
    ++it->second.series;
    return absl::OkStatus();  // another label set of a known name
  }
  if (kind == Kind::kHistogram || kind == Kind::kSummary) {
    const std::span<const std::string_view> suffixes =
        kind == Kind::kHistogram ? std::span<const std::string_view>(kHistogramSuffixes)
                                 : std::span<const std::string_view>(kSummarySuffixes);
    for (std::string_view suffix : suffixes) {
      const std::string derived = StrCat(name, suffix);
      if (names_.contains(derived)) {
        return absl::FailedPreconditionError(
            StrCat("metric \"", derived, "\" exists; a timer \"", name, "\" would write it too"));
      }
    }
    for (std::string_view suffix : suffixes) {
      names_.emplace(StrCat(name, suffix), NameOwner{kind, /*derived=*/true, {}, 0});
    }
  }
  names_.emplace(std::string(name),
                 NameOwner{kind, /*derived=*/false, std::string(help.empty() ? kStatsdHelp : help),
                           /*series=*/1});
  return absl::OkStatus();
}

template <typename Update>
absl::Status SeriesTable::WithSeries(std::string_view key, Kind kind, const SeriesOptions& options,
                                     Update&& update) {
  // The high bits pick the shard; the map inside uses the low ones.
  Shard& shard = shards_[(KeyHash{}(key) >> 48) % kShards];
  const auto apply = [&](Series& series) {
    if (series.kind != kind) {
      return absl::FailedPreconditionError(StrCat("metric \"", SeriesKeyName(key), "\" is a ",
                                                  KindName(series.kind), "; a ", KindName(kind),
                                                  " sample cannot update it"));
    }
    update(series);
    if (series.ttl_ms > 0) {
      series.last_update_ms.store(absl::ToUnixMillis(clock_()), std::memory_order_relaxed);
    }
    return absl::OkStatus();
  };
  {
    absl::ReaderMutexLock lock(&shard.mu);
    auto it = shard.series.find(key);
    if (it != shard.series.end()) return apply(*it->second);
  }
  absl::MutexLock lock(&shard.mu);
  auto it = shard.series.find(key);
  if (it != shard.series.end()) return apply(*it->second);
  // Reserve a place under the cap first, so shards creating at once never pass it together.
  for (size_t held = size_.load(std::memory_order_relaxed);;) {
    if (held >= max_series_) {
      rejected_.fetch_add(1, std::memory_order_relaxed);
      return absl::ResourceExhaustedError(
          StrCat("the store holds its maximum of ", max_series_,
                 " series (--storage.max-series); new series are refused"));
    }
    if (size_.compare_exchange_weak(held, held + 1, std::memory_order_relaxed)) break;
  }
  if (absl::Status claimed = ClaimName(SeriesKeyName(key), kind, options.help); !claimed.ok()) {
    size_.fetch_sub(1, std::memory_order_relaxed);
    return claimed;
  }
  auto series = std::make_unique<Series>(kind);
  if (kind == Kind::kHistogram) {
    series->histogram =
        std::make_unique<Histogram>(options.buckets ? options.buckets : DefaultBuckets());
  } else if (kind == Kind::kSummary) {
    series->summary = std::make_unique<Summary>(options.summary, clock_());
  } else if (kind == Kind::kSet) {
    series->set = std::make_unique<Set>();
  }
  series->ttl_ms = options.ttl.count();
  if (series->ttl_ms > 0) any_ttl_.store(true, std::memory_order_relaxed);
  Series& created = *shard.series.emplace(std::string(key), std::move(series)).first->second;
  return apply(created);
}

absl::Status SeriesTable::AddToCounter(std::string_view key, double delta,
                                       const SeriesOptions& options) {
  return WithSeries(key, Kind::kCounter, options, [delta](Series& series) {
    series.value.fetch_add(delta, std::memory_order_relaxed);
  });
}

absl::Status SeriesTable::SetGauge(std::string_view key, double value,
                                   const SeriesOptions& options) {
  return WithSeries(key, Kind::kGauge, options, [value](Series& series) {
    series.value.store(value, std::memory_order_relaxed);
  });
}

absl::Status SeriesTable::AddToGauge(std::string_view key, double delta,
                                     const SeriesOptions& options) {
  return WithSeries(key, Kind::kGauge, options, [delta](Series& series) {
    series.value.fetch_add(delta, std::memory_order_relaxed);
  });
}

absl::Status SeriesTable::Observe(std::string_view key, double value, double weight,
                                  const SeriesOptions& options) {
  if (options.summary) {
    return WithSeries(key, Kind::kSummary, options, [&](Series& series) {
      Summary& summary = *series.summary;
      absl::MutexLock lock(&summary.mu);
      summary.Rotate(clock_());
      summary.parts[summary.current].Add(value, weight);
      summary.sum += value * weight;
      summary.count += weight;
    });
  }
  return WithSeries(key, Kind::kHistogram, options, [&](Series& series) {
    Histogram& histogram = *series.histogram;
    const std::vector<double>& bounds = *histogram.bounds;
    const size_t index = std::lower_bound(bounds.begin(), bounds.end(), value) - bounds.begin();
    histogram.counts[index].fetch_add(weight, std::memory_order_relaxed);
    histogram.sum.fetch_add(value * weight, std::memory_order_relaxed);
  });
}

absl::Status SeriesTable::AddToSet(std::string_view key, std::string_view member,
                                   const SeriesOptions& options) {
  return WithSeries(key, Kind::kSet, options, [member](Series& series) {
    absl::MutexLock lock(&series.set->mu);
    if (!series.set->members.contains(member)) series.set->members.emplace(std::string(member));
  });
}

void SeriesTable::ReleaseName(std::string_view name, Kind kind) {
  absl::MutexLock lock(&names_mu_);
  auto it = names_.find(name);
  if (it == names_.end() || --it->second.series > 0) return;
  names_.erase(it);
  const std::span<const std::string_view> suffixes =
      kind == Kind::kHistogram ? std::span<const std::string_view>(kHistogramSuffixes)
      : kind == Kind::kSummary ? std::span<const std::string_view>(kSummarySuffixes)
                               : std::span<const std::string_view>();
  for (std::string_view suffix : suffixes) names_.erase(StrCat(name, suffix));
}

size_t SeriesTable::Expire() {
  if (!any_ttl_.load(std::memory_order_relaxed)) return 0;
  const int64_t now_ms = absl::ToUnixMillis(clock_());
  size_t removed = 0;
  for (Shard& shard : shards_) {
    absl::MutexLock lock(&shard.mu);
    for (auto it = shard.series.begin(); it != shard.series.end();) {
      const Series& series = *it->second;
      if (series.ttl_ms > 0 &&
          now_ms - series.last_update_ms.load(std::memory_order_relaxed) >= series.ttl_ms) {
        ReleaseName(SeriesKeyName(it->first), series.kind);
        shard.series.erase(it++);
        ++removed;
      } else {
        ++it;
      }
    }
  }
  size_.fetch_sub(removed, std::memory_order_relaxed);
  expired_.fetch_add(removed, std::memory_order_relaxed);
  return removed;
}

void SeriesTable::EndInterval() {
  for (Shard& shard : shards_) {
    absl::ReaderMutexLock lock(&shard.mu);
    for (auto& [key, series] : shard.series) {
      if (series->kind != Kind::kSet) continue;
      absl::MutexLock set_lock(&series->set->mu);
      series->value.store(static_cast<double>(series->set->members.size()),
                          std::memory_order_relaxed);
      series->set->members.clear();
    }
  }
}

void SeriesTable::Collect(std::vector<MetricFamily>* out) const {
  absl::flat_hash_map<std::string, size_t, KeyHash, KeyEq> family_index;
  const auto help_of = [this](std::string_view name) {
    absl::MutexLock lock(&names_mu_);
    auto it = names_.find(name);
    return it == names_.end() ? std::string(kStatsdHelp) : it->second.help;
  };
  for (const Shard& shard : shards_) {
    absl::ReaderMutexLock lock(&shard.mu);
    for (const auto& [key, series] : shard.series) {
      const std::string_view name = SeriesKeyName(key);
      auto it = family_index.find(name);
      if (it == family_index.end()) {
        it = family_index.emplace(std::string(name), out->size()).first;
        MetricFamily& family = out->emplace_back();
        family.name = std::string(name);
        family.help = help_of(name);
        family.type = series->kind == Kind::kCounter     ? MetricType::kCounter
                      : series->kind == Kind::kHistogram ? MetricType::kHistogram
                      : series->kind == Kind::kSummary   ? MetricType::kSummary
                                                         : MetricType::kGauge;
      }
      Sample& sample = (*out)[it->second].samples.emplace_back();
      sample.labels = SeriesKeyLabels(key);
      if (series->kind == Kind::kSummary) {
        Summary& summary = *series->summary;
        SummaryValue value;
        QuantileSketch window;
        absl::MutexLock summary_lock(&summary.mu);
        summary.Rotate(clock_());
        for (const QuantileSketch& part : summary.parts) window.Merge(part);
        for (double q : summary.spec->quantiles)
          value.quantiles.emplace_back(q, window.Quantile(q));
        value.sum = summary.sum;
        value.count = summary.count;
        sample.summary = std::move(value);
        continue;
      }
      if (series->kind != Kind::kHistogram) {
        sample.value = series->value.load(std::memory_order_relaxed);
        continue;
      }
      const Histogram& histogram = *series->histogram;
      HistogramValue value;
      double cumulative = 0;
      for (size_t i = 0; i <= histogram.bounds->size(); ++i) {
        cumulative += histogram.counts[i].load(std::memory_order_relaxed);
        value.buckets.emplace_back(i < histogram.bounds->size()
                                       ? (*histogram.bounds)[i]
                                       : std::numeric_limits<double>::infinity(),
                                   cumulative);
      }
      value.sum = histogram.sum.load(std::memory_order_relaxed);
      sample.histogram = std::move(value);
    }
  }
}

void SeriesTable::CollectOwnMetrics(std::vector<MetricFamily>* out) const {
  out->push_back(MetricFamily{"metricsgate_series",
                              "Series held in the store.",
                              MetricType::kGauge,
                              {Sample{{}, static_cast<double>(size())}}});
  out->push_back(MetricFamily{"metricsgate_series_limit",
                              "The most series the store holds (--storage.max-series).",
                              MetricType::kGauge,
                              {Sample{{}, static_cast<double>(max_series_)}}});
  out->push_back(
      MetricFamily{"metricsgate_series_rejected_total",
                   "New series refused because the store held --storage.max-series series.",
                   MetricType::kCounter,
                   {Sample{{}, static_cast<double>(rejected_.load(std::memory_order_relaxed))}}});
  out->push_back(
      MetricFamily{"metricsgate_series_expired_total",
                   "Series removed because their TTL passed without an update.",
                   MetricType::kCounter,
                   {Sample{{}, static_cast<double>(expired_.load(std::memory_order_relaxed))}}});
}

}  // namespace metricsgate::storage

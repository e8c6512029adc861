#include "ingest/statsd_ingester.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include "absl/container/flat_hash_map.h"
#include "base/log.h"
#include "base/string_hash.h"
#include "ingest/line_cache.h"
#include "ingest/prometheus_name.h"
#include "storage/epoch.h"
#include "storage/rollup_table.h"
#include "storage/series_key.h"

namespace metricsgate::ingest {
namespace {

constexpr std::string_view kReservedPrefix = "metricsgate_";

log::RateLimiter bad_line_log(10);

}  // namespace

std::string_view StatsdTransportName(StatsdTransport transport) {
  switch (transport) {
    case StatsdTransport::kUdp:
      return "udp";
    case StatsdTransport::kTcp:
      return "tcp";
    case StatsdTransport::kUnixgram:
      return "unixgram";
    case StatsdTransport::kHttp:
      return "http";
  }
  return "unknown";
}

// One line of a batch (see Scratch::batch).
struct StatsdIngester::BatchLine {
  std::string_view text;
  uint64_t number = 0;
  ParsedLine parsed;
  LineKey key;      // the series cache key; its type is set per sample
  size_t hash = 0;  // of `key` as it is now
};

// Per-thread buffers, reused from line to line so the common path does not allocate.
struct StatsdIngester::Scratch {
  std::vector<std::string> tag_keys;       // escaped tag keys, by tag index
  std::vector<size_t> order;               // tag indexes sorted by escaped key
  std::vector<storage::LabelView> labels;  // the line's labels, sorted, unique
  std::string name;                        // the escaped metric name
  std::string key;                         // the series key
  std::vector<storage::LabelView> merged;  // the line's labels with the rule's
  std::string etsy_key;                    // the line's Graphite key (rollups)

  // What the mapping made of each name seen lately, so a known name costs one hash lookup
  // instead of trying the rules. Keys are the type's letter and the name; the config is held
  // so its rules outlive the entries, and a new config empties the cache.
  struct Mapped {
    bool matched;
    MappingConfig::Result result;
  };
  static constexpr size_t kMaxCached = 1 << 16;
  std::shared_ptr<const MappingConfig> cached_for;
  absl::flat_hash_map<std::string, Mapped, StringViewHash, StringViewEq> cache;
  std::string cache_key;

  // The series each line text resolved to lately, so a known series costs one lookup here
  // and no escaping, sorting, mapping or shared-table lookup. Keys are the type's letter, the
  // line's name part, `\xff` (never in UTF-8) and its DogStatsD tags, which together fix the
  // series (ParsedLine). Entries hold table handles: valid for one ingester's table and mapping
  // while the table's generation() stays, all checked at the start of each packet.
  struct Resolved {
    storage::SeriesTable::Handle handle;  // null: an `action: drop` rule
    double scale = 1;                     // the rule's, for observers
    uint32_t reserved_tags = 0;           // the line's tags dropped for a reserved key
  };
  uint64_t series_owner = 0;  // the ingester whose entries these are
  uint64_t series_generation = 0;
  const MappingConfig* series_mapping = nullptr;
  LineCache<Resolved> series{kMaxCached};
  bool labels_ready = false;   // `labels` and `reserved_tags` hold this line's
  uint32_t reserved_tags = 0;  // this line's tags whose escaped key starts with `__`

  // A packet is handled in batches of lines: all parsed first, then their cache slots,
  // entries and series loaded ahead of use, so the memory latency of one line overlaps the
  // others' instead of adding up (with 10,000 names most lookups miss the CPU caches).
  static constexpr size_t kBatchLines = 32;
  std::array<BatchLine, kBatchLines> batch;

  // The mapping's result for `sample`, or null when no rule matches.
  const MappingConfig::Result* Map(const std::shared_ptr<const MappingConfig>& mapping,
                                   const StatsdSample& sample) {
    if (cached_for != mapping) {
      cache.clear();
      cached_for = mapping;
    }
    cache_key.assign(1, static_cast<char>('0' + static_cast<int>(sample.type)));
    cache_key.append(sample.name);
    auto it = cache.find(cache_key);
    if (it == cache.end()) {
      if (cache.size() >= kMaxCached) cache.clear();
      Mapped mapped;
      mapped.matched = mapping->Find(sample.name, sample.type, &mapped.result);
      it = cache.emplace(cache_key, std::move(mapped)).first;
    }
    return it->second.matched ? &it->second.result : nullptr;
  }

  // Empties the series cache unless it was filled by `owner` with `mapping` at `generation`.
  void CheckSeriesCache(uint64_t owner, const MappingConfig* mapping, uint64_t generation) {
    if (series_owner == owner && series_mapping == mapping && series_generation == generation) {
      return;
    }
    series.Clear();
    series_owner = owner;
    series_mapping = mapping;
    series_generation = generation;
  }
};

namespace {
std::atomic<uint64_t> next_ingester_id{1};
}  // namespace

StatsdIngester::StatsdIngester(storage::SeriesTable* table, std::chrono::milliseconds default_ttl,
                               storage::RollupTable* rollups)
    : table_(table),
      rollups_(rollups),
      default_ttl_(default_ttl),
      id_(next_ingester_id.fetch_add(1, std::memory_order_relaxed)) {}

void StatsdIngester::CountBad(BadLineReason reason, std::string_view line) {
  bad_lines_[static_cast<size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
  if (log::Enabled(log::Level::kDebug) && bad_line_log.Allow()) {
    log::Debug("dropped a bad StatsD line",
               {{"reason", std::string(BadLineReasonName(reason))}, {"line", std::string(line)}});
  }
}

// Labels from the line's tags: escaped keys, sorted, the last value of a repeated key. A key
// that escapes to `__...` is reserved for Prometheus' own use: the tag is dropped and counted.
void StatsdIngester::BuildLabels(const ParsedLine& parsed, Scratch& scratch) {
  scratch.labels_ready = true;
  scratch.reserved_tags = 0;
  scratch.labels.clear();
  if (parsed.tags.empty()) return;
  scratch.tag_keys.resize(std::max(scratch.tag_keys.size(), parsed.tags.size()));
  scratch.order.clear();
  for (size_t i = 0; i < parsed.tags.size(); ++i) {
    EscapeMetricName(parsed.tags[i].key, &scratch.tag_keys[i]);
    if (scratch.tag_keys[i].starts_with("__")) {
      ++scratch.reserved_tags;
      continue;
    }
    scratch.order.push_back(i);
  }
  std::stable_sort(scratch.order.begin(), scratch.order.end(),
                   [&](size_t a, size_t b) { return scratch.tag_keys[a] < scratch.tag_keys[b]; });
  for (size_t i : scratch.order) {
    const std::string_view key = scratch.tag_keys[i];
    if (!scratch.labels.empty() && scratch.labels.back().first == key) {
      scratch.labels.back().second = parsed.tags[i].value;
    } else {
      scratch.labels.emplace_back(key, parsed.tags[i].value);
    }
  }
}

bool StatsdIngester::Resolve(const StatsdSample& sample, const ParsedLine& parsed,
                             const std::shared_ptr<const MappingConfig>& mapping, Scratch& scratch,
                             storage::SeriesOptions* options, double* scale, bool* drop,
                             BadLineReason* reason) {
  if (!scratch.labels_ready) BuildLabels(parsed, scratch);
  const std::vector<storage::LabelView>* labels = &scratch.labels;
  const MappingConfig::Result* mapped = mapping ? scratch.Map(mapping, sample) : nullptr;
  options->ttl = default_ttl_;
  if (mapped != nullptr) {
    const MappingRule* rule = mapped->rule;
    if (rule->drop) {
      *drop = true;
      return true;
    }
    EscapeMetricName(mapped->name, &scratch.name);
    options->help = rule->help;
    options->buckets = rule->buckets;
    options->summary = rule->summary;
    options->ttl = rule->ttl.value_or(default_ttl_);
    *scale = rule->scale;
    // Merge the rule's labels (sorted) with the line's (sorted); on a shared key the rule wins,
    // unless it honors the sender's labels.
    scratch.merged.clear();
    const auto& tags = scratch.labels;
    const auto& ruled = mapped->labels;
    size_t t = 0;
    size_t r = 0;
    while (t < tags.size() || r < ruled.size()) {
      if (r == ruled.size() || (t < tags.size() && tags[t].first < ruled[r].first)) {
        scratch.merged.push_back(tags[t++]);
      } else if (t == tags.size() || ruled[r].first < tags[t].first) {
        scratch.merged.emplace_back(ruled[r].first, ruled[r].second);
        ++r;
      } else {
        scratch.merged.push_back(
            rule->honor_labels ? tags[t] : storage::LabelView(ruled[r].first, ruled[r].second));
        ++t, ++r;
      }
    }
    labels = &scratch.merged;
  } else {
    EscapeMetricName(sample.name, &scratch.name);  // the line is valid UTF-8 already
  }
  *drop = false;
  if (scratch.name.empty()) {
    *reason = BadLineReason::kEmptyName;  // a rule made an empty name
    return false;
  }
  if (scratch.name.starts_with(kReservedPrefix)) {
    *reason = BadLineReason::kReservedName;
    return false;
  }
  storage::EncodeSeriesKey(scratch.name, labels->data(), labels->size(), &scratch.key);
  return true;
}

namespace {

using Kind = storage::SeriesTable::Kind;

// The kind of series a sample updates (a timer's is decided by its rule: see Resolve).
Kind KindOf(StatsdType type, const storage::SeriesOptions& options) {
  switch (type) {
    case StatsdType::kCounter:
      return Kind::kCounter;
    case StatsdType::kGauge:
      return Kind::kGauge;
    case StatsdType::kSet:
      return Kind::kSet;
    default:
      return options.summary ? Kind::kSummary : Kind::kHistogram;
  }
}

// Checks a sample's value; sets `*weight` (1/rate). Returns false with `*reason` if it is bad.
bool CheckValue(const StatsdSample& sample, double* weight, BadLineReason* reason) {
  *weight = sample.sample_rate == 1 ? 1 : 1 / sample.sample_rate;
  if (!std::isfinite(*weight)) {
    *reason = BadLineReason::kValueOutOfRange;
    return false;
  }
  if (sample.type == StatsdType::kCounter) {
    const double delta = sample.value * *weight;
    if (!std::isfinite(delta)) {
      *reason = BadLineReason::kValueOutOfRange;
      return false;
    }
    if (delta < 0) {
      *reason = BadLineReason::kIllegalNegativeCounter;
      return false;
    }
  }
  return true;
}

}  // namespace

bool StatsdIngester::Apply(const StatsdSample& sample, BatchLine& line,
                           const std::shared_ptr<const MappingConfig>& mapping, Scratch& scratch,
                           BadLineReason* reason) {
  const char type = static_cast<char>('0' + static_cast<int>(sample.type));
  if (line.key.type != type) {  // a line with samples of several types
    line.key.type = type;
    line.hash = LineCache<Scratch::Resolved>::Hash(line.key);
  }
  const Scratch::Resolved* cached = nullptr;
  if (Scratch::Resolved* found = scratch.series.Find(line.key, line.hash); found != nullptr) {
    cached = found;
  }
  double weight;
  if (cached == nullptr) {
    storage::SeriesOptions options;
    Scratch::Resolved resolved;
    bool drop;
    if (!Resolve(sample, line.parsed, mapping, scratch, &options, &resolved.scale, &drop, reason)) {
      return false;
    }
    resolved.reserved_tags = scratch.reserved_tags;
    if (!drop) {
      if (!CheckValue(sample, &weight, reason)) return false;  // before creating the series
      absl::StatusOr<storage::SeriesTable::Handle> handle =
          table_->Resolve(scratch.key, KindOf(sample.type, options), options);
      if (!handle.ok()) {
        *reason = handle.status().code() == absl::StatusCode::kResourceExhausted
                      ? BadLineReason::kSeriesLimit
                      : BadLineReason::kTypeConflict;
        return false;
      }
      resolved.handle = *handle;
    }
    cached = scratch.series.Insert(line.key, line.hash, resolved, resolved.handle.address());
  }
  const Scratch::Resolved& resolved = *cached;
  scratch.reserved_tags = resolved.reserved_tags;  // the same for every sample of the line
  if (!resolved.handle) {
    mapping_drops_.fetch_add(1, std::memory_order_relaxed);
    return true;  // dropped on purpose: not a bad line
  }
  if (!CheckValue(sample, &weight, reason)) return false;
  switch (sample.type) {
    case StatsdType::kCounter:
      table_->Add(resolved.handle, sample.value * weight);
      break;
    case StatsdType::kGauge:  // the sample rate is ignored, as Etsy ignores it
      if (sample.has_sign) {
        table_->Add(resolved.handle, sample.value);
      } else {
        table_->Set(resolved.handle, sample.value);
      }
      break;
    case StatsdType::kTimer:
      table_->Observe(resolved.handle, sample.value / 1000 * resolved.scale, weight);
      break;
    case StatsdType::kHistogram:
    case StatsdType::kDistribution:
      table_->Observe(resolved.handle, sample.value * resolved.scale, weight);
      break;
    case StatsdType::kSet:
      table_->AddMember(resolved.handle, sample.value_text);
      break;
  }
  return true;
}

void StatsdIngester::Rollup(std::string_view text, const ParsedLine& parsed, std::string& key) {
  EtsyKey(text, &key);
  for (const StatsdSample& sample : parsed.samples) {
    switch (sample.type) {
      case StatsdType::kCounter:
        rollups_->AddCounter(key, sample.value * (1 / sample.sample_rate));
        break;
      case StatsdType::kGauge:
        rollups_->SetGauge(key, sample.value, sample.has_sign);
        break;
      case StatsdType::kTimer:
      case StatsdType::kHistogram:
      case StatsdType::kDistribution:
        rollups_->AddTimer(key, sample.value, 1 / sample.sample_rate);
        break;
      case StatsdType::kSet:
        rollups_->AddSetMember(key, sample.value_text);
        break;
    }
  }
}

void StatsdIngester::HandlePacket(std::string_view packet, StatsdTransport transport,
                                  IngestReport* report) {
  HandlePackets({&packet, 1}, transport, report);
}

void StatsdIngester::HandlePackets(std::span<const std::string_view> packets,
                                   StatsdTransport transport, IngestReport* report) {
  thread_local Scratch scratch;
  // Once per call, not per packet: the mapping's pointer and the counters below are shared by
  // every receive thread, so touching them per datagram made the cores fight over their cache
  // lines (BENCHMARKS.md).
  const std::shared_ptr<const MappingConfig> mapping = this->mapping();
  // One read section per call: the cached handles are checked once here and stay valid to
  // the end of the call (storage/epoch.h).
  storage::EpochGuard guard;
  scratch.CheckSeriesCache(id_, mapping.get(), table_->generation());
  uint64_t lines = 0;
  uint64_t samples = 0;
  uint64_t tag_errors = 0;
  uint64_t bad_values = 0;  // for the rollups: bad samples as the parser saw them
  const auto handle_line = [&](BatchLine& line) {
    ++lines;
    const ParsedLine& parsed = line.parsed;
    scratch.labels_ready = false;
    scratch.reserved_tags = 0;
    bool line_ok = parsed.errors.empty();
    const auto reject = [&](BadLineReason reason) {
      CountBad(reason, line.text);
      if (report != nullptr && report->first_errors.size() < report->max_errors) {
        report->first_errors.push_back({line.number, reason, std::string(line.text)});
      }
      line_ok = false;
    };
    for (BadLineReason reason : parsed.errors) reject(reason);
    for (const StatsdSample& sample : parsed.samples) {
      BadLineReason reason;
      if (Apply(sample, line, mapping, scratch, &reason)) {
        ++samples;
      } else {
        reject(reason);
      }
    }
    if (parsed.samples.empty() && !parsed.tags.empty()) BuildLabels(parsed, scratch);
    if (rollups_ != nullptr) {
      bad_values += parsed.errors.size();
      if (!parsed.samples.empty()) Rollup(line.text, parsed, scratch.etsy_key);
    }
    tag_errors += parsed.tag_errors + scratch.reserved_tags;
    if (report != nullptr && !line_ok) ++report->rejected_lines;
  };
  size_t batched = 0;
  const auto handle_batch = [&] {
    // The slots were prefetched while parsing; now start loading the series they point to.
    for (size_t i = 0; i < batched; ++i) {
      const BatchLine& line = scratch.batch[i];
      if (line.parsed.samples.empty()) continue;
      // Loads the slot, and the series whose address was the entry's hint.
      if (const void* series = scratch.series.Candidate(line.hash); series != nullptr) {
        __builtin_prefetch(series, 1);
      }
    }
    for (size_t i = 0; i < batched; ++i) handle_line(scratch.batch[i]);
    batched = 0;
  };
  // A batch may span packets: the line views stay valid to the end of the call.
  for (std::string_view packet : packets) {
    ForEachStatsdLine(packet, [&](std::string_view text, uint64_t number) {
      BatchLine& line = scratch.batch[batched++];
      line.text = text;
      line.number = number;
      ParseStatsdLine(text, &line.parsed);
      if (!line.parsed.samples.empty()) {
        // The key as the first sample's type has it; Apply changes the type byte for others.
        line.key = {static_cast<char>('0' + static_cast<int>(line.parsed.samples[0].type)),
                    line.parsed.name_part, line.parsed.dogstatsd_tags};
        line.hash = LineCache<Scratch::Resolved>::Hash(line.key);
        scratch.series.Prefetch(line.hash);
      }
      if (batched == Scratch::kBatchLines) handle_batch();
    });
  }
  handle_batch();
  lines_.fetch_add(lines, std::memory_order_release);
  samples_.fetch_add(samples, std::memory_order_relaxed);
  if (tag_errors > 0) tag_errors_.fetch_add(tag_errors, std::memory_order_relaxed);
  if (report != nullptr) {
    report->lines += lines;
    report->samples += samples;
  }
  if (rollups_ != nullptr) rollups_->CountReceived(packets.size(), lines, bad_values);
  // Counted last, with release: whoever reads this count (acquire, in Collect) and then the
  // table sees every update of the packets counted.
  packets_[static_cast<size_t>(transport)].fetch_add(packets.size(), std::memory_order_release);
}

void StatsdIngester::Collect(std::vector<storage::MetricFamily>* out) const {
  using storage::MetricFamily;
  using storage::MetricType;
  using storage::Sample;
  // One counter family labelled by an enum: every value exported from the start, at 0.
  const auto by_label = [&](std::string name, std::string help, std::string label,
                            const auto& counts, auto value_name) {
    MetricFamily family{std::move(name), std::move(help), MetricType::kCounter, {}};
    for (size_t i = 0; i < counts.size(); ++i) {
      family.samples.push_back(
          Sample{{{label, std::string(value_name(i))}},
                 static_cast<double>(counts[i].load(std::memory_order_acquire))});
    }
    out->push_back(std::move(family));
  };
  by_label("metricsgate_statsd_packets_total",
           "StatsD packets received: UDP and unix datagrams, TCP reads, HTTP bodies.", "transport",
           packets_, [](size_t i) { return StatsdTransportName(static_cast<StatsdTransport>(i)); });
  const auto counter = [&](std::string name, std::string help, const std::atomic<uint64_t>& value) {
    // Acquire pairs with the release at the end of HandlePacket: the table read after this
    // holds at least the lines counted.
    out->push_back(MetricFamily{
        std::move(name),
        std::move(help),
        MetricType::kCounter,
        {Sample{{}, static_cast<double>(value.load(std::memory_order_acquire)), std::nullopt}}});
  };
  counter("metricsgate_statsd_lines_total", "Non-empty StatsD lines received, good and bad.",
          lines_);
  counter("metricsgate_statsd_samples_total", "StatsD samples stored.", samples_);
  counter("metricsgate_statsd_mapping_dropped_samples_total",
          "StatsD samples dropped by an `action: drop` mapping rule.", mapping_drops_);
  counter("metricsgate_statsd_tag_errors_total",
          "StatsD tags dropped: empty, without a key or a value, or with a reserved key.",
          tag_errors_);
  by_label("metricsgate_statsd_bad_lines_total",
           "StatsD lines dropped (or samples, of a line with several), by reason.", "reason",
           bad_lines_, [](size_t i) { return BadLineReasonName(static_cast<BadLineReason>(i)); });
}

}  // namespace metricsgate::ingest
